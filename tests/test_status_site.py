"""The public status page: publishing, component statuses, 404s and that nothing internal leaks."""
from __future__ import annotations

import re

import pytest

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.status import service as status
from incidents.status.models import Component
from incidents.status.public import build_public_view, last_published_change
from incidents.timeline.models import EntryKind, TimelineEntry, TimelineEntryError, Visibility


def _actor(email):
    return db.session.scalar(db.select(User).where(User.email == email))


def view(app):
    with app.test_request_context():
        return build_public_view(session=db.session, base_url="http://status.test/status")


def test_publishing_flow_through_the_incident_page(app, client, auth, make):
    admin = auth.as_role("admin")
    response = client.post("/admin/components", data={"name": "Contacts sync", "position": 1,
                                                      "status_override": "", "showcase": "y"})
    assert response.status_code == 302
    with app.app_context():
        component = db.session.scalar(db.select(Component))
        component_id = component.id
    reference = make.incident(by=admin, title="Internal title")
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert "Publish to status page" in page

    # Errors show beside the fields; nothing is published.
    response = client.post(f"/incidents/{reference}/publish", data={"public_title": "", "impact": "minor",
                                                                   "public_status": "investigating", "public_body": ""})
    assert response.status_code == 422
    assert 'id="public_title-errors"' in response.get_data(as_text=True)

    response = client.post(f"/incidents/{reference}/publish", data={
        "public_title": "Contacts not syncing", "impact": "major", "public_status": "investigating",
        "public_body": "We are investigating.", f"component_{component_id}": "major_outage"})
    assert response.status_code == 302
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        public_id = incident.public_id
        assert incident.published_at is not None and re.fullmatch(r"[a-z0-9]{12}", public_id)
    assert "Post public update" in client.get(f"/incidents/{reference}").get_data(as_text=True)

    public = client.get("/status/").get_data(as_text=True)
    assert "Contacts not syncing" in public and "We are investigating." in public
    assert "Major outage" in public and "Internal title" not in public

    response = client.post(f"/incidents/{reference}/publish/update", data={
        "public_status": "resolved", "public_body": "All contacts are back.",
        f"component_{component_id}": "operational"})
    assert response.status_code == 302
    page = client.get(f"/status/incidents/{public_id}").get_data(as_text=True)
    # Newest first.
    assert page.index("All contacts are back.") < page.index("We are investigating.")
    v = view(app)
    assert v.incidents[0].status == "resolved" and v.components[0].status == "operational"
    assert v.indicator == "none"

    with app.app_context():
        entries = db.session.scalars(db.select(TimelineEntry).where(
            TimelineEntry.public_status.is_not(None))).all()
        assert [(e.kind, e.visibility, e.public_status) for e in entries] == [
            (EntryKind.communication, Visibility.public, "investigating"),
            (EntryKind.communication, Visibility.public, "resolved")]
        # Published updates are append-only like every entry.
        entries[0].public_status = "monitoring"
        with pytest.raises(TimelineEntryError):
            db.session.flush()
        db.session.rollback()


def test_component_status_follows_open_incidents_unless_overridden(app, make):
    owner = make.user(role="responder")
    first, second = make.incident(by=owner), make.incident(by=owner)
    with app.app_context():
        s = db.session
        actor = _actor(owner)
        contacts = status.create_component(session=s, name="Contacts sync", position=1)
        photos = status.create_component(session=s, name="Photo backup", position=2)
        web = status.create_component(session=s, name="Web viewer", position=3)
        s.commit()
        ids = contacts.id, photos.id, web.id
    assert {c.name: c.status for c in view(app).components} == {
        "Contacts sync": "operational", "Photo backup": "operational", "Web viewer": "operational"}
    with app.app_context():
        s = db.session
        actor = _actor(owner)
        contacts, photos, web = (s.get(Component, i) for i in ids)
        status.publish_incident(session=s, actor=actor, incident=get_incident(session=s, reference=first),
                                public_title="Sync errors", impact="minor", body="Looking.",
                                components={contacts: "degraded_performance", photos: "partial_outage"})
        status.publish_incident(session=s, actor=actor, incident=get_incident(session=s, reference=second),
                                public_title="Contacts down", impact="critical", body="Looking.",
                                components={contacts: "major_outage"})
        status.update_component(session=s, component=web, name="Web viewer", description=None,
                                group_name=None, position=3, status_override="under_maintenance",
                                showcase=True, only_show_if_degraded=False)
        s.commit()
        before = last_published_change(session=s)
    v = view(app)
    assert {c.name: c.status for c in v.components} == {
        "Contacts sync": "major_outage", "Photo backup": "partial_outage", "Web viewer": "under_maintenance"}
    assert v.indicator == "critical" and v.page.updated_at == before
    with app.app_context():
        s = db.session
        status.publish_update(session=s, actor=_actor(owner), incident=get_incident(session=s, reference=second),
                              status="resolved", body="Fixed.")
        s.commit()
        assert last_published_change(session=s) > before
    assert {c.name: c.status for c in view(app).components}["Contacts sync"] == "degraded_performance"
    with app.app_context():
        s = db.session
        contacts = s.get(Component, ids[0])
        status.update_component(session=s, component=contacts, name="Contacts sync", description=None,
                                group_name=None, position=1, status_override="operational",
                                showcase=True, only_show_if_degraded=False)
        s.commit()
    assert {c.name: c.status for c in view(app).components}["Contacts sync"] == "operational"


def test_unpublished_and_unknown_incidents_are_404(app, client, make):
    reference = make.incident(title="Draft incident that is not public")
    for url in ("/status/incidents/nosuchid", f"/status/incidents/{reference}", "/status/nowhere"):
        response = client.get(url)
        assert response.status_code == 404
        body = response.get_data(as_text=True)
        assert "Draft incident" not in body and "Data-loss tracker" not in body
        assert "/login" not in body and "/incidents/" not in body.replace("/status/", "")
    assert "Draft incident" not in client.get("/status/").get_data(as_text=True)


def test_public_page_works_without_login_and_links_the_feeds(client, app):
    response = client.get("/status/")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert 'name="viewport"' in body and "<script" not in body
    assert re.search(r'<link rel="alternate" type="application/atom\+xml"[^>]*href="[^"]*/status/history\.atom"', body)
    assert re.search(r'<link rel="alternate" type="application/rss\+xml"[^>]*href="[^"]*/status/history\.rss"', body)
    assert "All Systems Operational" in body


def _assert_no_markers(text: str, markers: list[str], where: str) -> None:
    lowered = text.lower()
    leaked = [marker for marker in markers if marker.lower() in lowered]
    assert leaked == [], f"{where} leaks {leaked}"


def test_nothing_internal_reaches_the_public_pages(leak_world, client):
    app, markers, public_id = leak_world
    assert len(markers) >= 20
    page = client.get("/status/")
    assert page.status_code == 200
    incident = client.get(f"/status/incidents/{public_id}")
    assert incident.status_code == 200
    missing = client.get("/status/incidents/unknown")
    assert missing.status_code == 404
    maintenance_pages = [(f"maintenance page {m.id}", client.get(m.shortlink.removeprefix("http://localhost")))
                         for m in view(app).scheduled_maintenances]
    assert len(maintenance_pages) == 2 and all(r.status_code == 200 for _where, r in maintenance_pages)
    for where, response in (("/status/", page), ("incident page", incident), ("404 page", missing),
                            *maintenance_pages):
        _assert_no_markers(response.get_data(as_text=True), markers, where)
    # The published facts do show, with the corrected body of the corrected update.
    text = incident.get_data(as_text=True)
    assert "Contacts are not syncing" in text
    assert "We have found the cause and are restoring contacts." in text
    assert "We are investigating reports of missing contacts." in text
    # And the public records themselves carry no marker anywhere.
    _assert_no_markers(repr(view(app)), markers, "PublicView")


PUBLIC_MACHINE_URLS = [
    "/status/api/v2/summary.json", "/status/api/v2/status.json", "/status/api/v2/components.json",
    "/status/api/v2/incidents.json", "/status/api/v2/incidents/unresolved.json",
    "/status/api/v2/scheduled-maintenances.json", "/status/api/v2/scheduled-maintenances/upcoming.json",
    "/status/api/v2/scheduled-maintenances/active.json",
    "/status/history.atom", "/status/history.rss",
]


def test_nothing_internal_reaches_the_json_api_or_the_feeds(leak_world, client):
    """Every machine-readable public document, and the errors beside them, carry no internal field."""
    app, markers, public_id = leak_world
    for url in PUBLIC_MACHINE_URLS:
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        _assert_no_markers(body, markers, url)
        # Each document really carries the published incident, so "no marker" means something.
        if "scheduled-maintenances" not in url and "status.json" not in url and "components.json" not in url:
            assert public_id in body, url
        if "scheduled-maintenances" in url or "summary" in url or "history." in url:
            assert "Contacts storage upgrade" in body or "upcoming" in url, url
            assert "Photo backup move" in body or "active" in url or "summary" in url, url
    for url in ("/status/api/v2/nothing-here.json", "/status/api/v2/incidents/nope.json",
                "/status/history.json", "/status/incidents/" + "x" * 300):
        response = client.get(url)
        assert response.status_code == 404, url
        _assert_no_markers(response.get_data(as_text=True), markers, f"404 at {url}")


def test_demo_status_site_shows_recent_history_and_links_to_the_rest(app, runner, client):
    """The demo's week-long 2009 incident is past the 90-day window but stays one click away."""
    runner.invoke(args=["demo", "load"])
    page = client.get("/status/")
    html = page.get_data(as_text=True)
    assert "Some photo previews missing on the web" in html  # resolved 12 days ago
    assert "Contacts, calendars and photos not syncing" not in html  # October 2009
    assert 'href="http://localhost/status/history"' in html or 'href="/status/history"' in html
    history = client.get("/status/history").get_data(as_text=True)
    assert "Contacts, calendars and photos not syncing" in history
    assert "Some photo previews missing on the web" in history


def test_public_html_is_cached_until_something_is_published(app, runner, client):
    runner.invoke(args=["demo", "load"])
    first = client.get("/status/")
    assert first.status_code == 200 and first.headers["ETag"]
    assert first.headers["Cache-Control"] == "public, max-age=60"
    again = client.get("/status/", headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    with app.app_context():
        from incidents.incident.models import Incident

        incident = db.session.scalar(db.select(Incident).where(Incident.public_id.is_not(None))
                                     .order_by(Incident.declared_at.desc()))
        author = db.session.scalar(db.select(User).where(User.email == "tomas.wojcik@example.com"))
        status.publish_update(session=db.session, actor=author, incident=incident, status="resolved",
                              body="A follow-up for the record.")
        db.session.commit()
    after = client.get("/status/", headers={"If-None-Match": first.headers["ETag"]})
    assert after.status_code == 200 and after.headers["ETag"] != first.headers["ETag"]


def test_a_poller_using_if_modified_since_sees_an_update_posted_right_after_the_publish(app, client, auth, make):
    """Publishing and the first public update usually land within one second: a poller that sends
    back the Last-Modified of the first must get the second, not a 304."""
    responder = auth.as_role("responder")
    reference = make.incident(by=responder, title="Internal title")
    assert client.post(f"/incidents/{reference}/publish", data={
        "public_title": "Contacts not syncing", "impact": "major", "public_status": "investigating",
        "public_body": "We are investigating."}).status_code == 302
    poller = app.test_client()
    first = poller.get("/status/api/v2/incidents.json")
    assert first.status_code == 200 and "We are investigating." in first.get_data(as_text=True)

    assert client.post(f"/incidents/{reference}/publish/update", data={
        "public_status": "identified", "public_body": "We found the cause."}).status_code == 302
    again = poller.get("/status/api/v2/incidents.json",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert again.status_code == 200 and "We found the cause." in again.get_data(as_text=True)
