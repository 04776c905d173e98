"""The public site over years of history (issue #19): each incident's public status is kept on its
row as updates and corrections are written, the public view reads its unresolved incidents and one
page of history (never every incident ever published), and the history page pages by a cursor made
of public fields only."""
from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pytest

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.status import public
from incidents.status import service as status
from incidents.timeline.models import TimelineEntry, Visibility
from incidents.timeline.service import correct_entry


def _actor(email):
    return db.session.scalar(db.select(User).where(User.email == email))


def _publish(app, reference, email, *, title, updates=(), at=None):
    """Publish the incident (investigating) at `at`, then post each (status, body) a minute apart."""
    at = at or utcnow() - timedelta(days=1)
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        status.publish_incident(session=db.session, actor=_actor(email), incident=incident, public_title=title,
                                impact="minor", body=f"{title}: investigating.", occurred_at=at)
        for n, (state, body) in enumerate(updates, start=1):
            status.publish_update(session=db.session, actor=_actor(email), incident=incident, status=state,
                                  body=body, occurred_at=at + timedelta(minutes=n))
        db.session.commit()
        return incident.public_id


def _stored_status(app, reference):
    with app.app_context():
        db.session.expire_all()
        return get_incident(session=db.session, reference=reference).public_status


def _view(app, **selection):
    with app.test_request_context():
        return public.build_public_view(session=db.session, base_url="http://status.test/status", **selection)


def test_the_public_status_follows_the_newest_update_and_its_corrections(app, make):
    email = make.user(role="responder")
    reference = make.incident(by=email)
    assert _stored_status(app, reference) is None  # never published
    _publish(app, reference, email, title="Photos missing", updates=[("monitoring", "Restored; watching.")])
    assert _stored_status(app, reference) == "monitoring"

    _publish_more = [("resolved", "All photos are back.")]
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        for state, body in _publish_more:
            status.publish_update(session=db.session, actor=_actor(email), incident=incident, status=state, body=body)
        db.session.commit()
    assert _stored_status(app, reference) == "resolved"
    assert _view(app).incidents[0].status == "resolved"

    # The resolving update is taken off the public side by a correction: the public is back to the
    # update before it, on the row as in the view, in the same transaction as the correction.
    with app.app_context():
        resolving = db.session.scalars(db.select(TimelineEntry).where(TimelineEntry.public_status == "resolved")).one()
        correct_entry(session=db.session, author=_actor(email), entry=resolving, expected_revision=1,
                      body="Posted too early.", reason="Not yet verified", visibility=Visibility.internal)
        db.session.commit()
    assert _stored_status(app, reference) == "monitoring"
    view = _view(app)
    assert view.incidents[0].status == "monitoring" and view.unresolved == view.incidents


def test_a_rolled_back_update_leaves_the_public_status_as_it_was(app, make):
    email = make.user(role="responder")
    reference = make.incident(by=email)
    _publish(app, reference, email, title="Contacts missing")
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        status.publish_update(session=db.session, actor=_actor(email), incident=incident, status="resolved",
                              body="Fixed.")
        assert incident.public_status == "resolved"  # the loaded incident sees it at once
        db.session.rollback()
    assert _stored_status(app, reference) == "investigating"


def test_an_unresolved_incident_older_than_the_history_window_stays_on_the_page(app, make, monkeypatch):
    from incidents.status import views

    monkeypatch.setattr(public, "RECENT", 2)
    monkeypatch.setattr(views, "PAST_SHOWN", 2)
    email = make.user(role="responder")
    old = make.incident(by=email, title="The old one")
    _publish(app, old, email, title="Calendars missing", at=utcnow() - timedelta(days=30))
    for n in range(4):
        _publish(app, make.incident(by=email), email, title=f"Resolved later {n}",
                 updates=[("resolved", "Back.")], at=utcnow() - timedelta(days=20 - n))
    view = _view(app)
    assert [i.name for i in view.listed] == ["Resolved later 3", "Resolved later 2"]
    assert [i.name for i in view.unresolved] == ["Calendars missing"]
    assert view.indicator == "minor"
    client = app.test_client()
    summary = client.get("/status/api/v2/summary.json").get_json()
    assert [i["name"] for i in summary["incidents"]] == ["Calendars missing"]
    page = client.get("/status/").get_data(as_text=True)
    assert "Calendars missing" in page and "Resolved later 3" in page and "Resolved later 1" not in page
    assert "(including older incidents)" in page


def test_the_history_page_walks_every_published_incident_once_newest_first(app, make, monkeypatch):
    monkeypatch.setattr(public, "RECENT", 2)
    email = make.user(role="responder")
    names = []
    for n in range(5):
        name = f"Incident number {n}"
        _publish(app, make.incident(by=email), email, title=name, updates=[("resolved", "Back.")],
                 at=utcnow() - timedelta(days=10 - n))
        names.append(name)
    make.incident(by=email, title="Never published")
    client = app.test_client()
    seen, url, cursors = [], "/status/history", []
    for _ in range(5):
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r"Incident number \d", page)
        found = re.search(r'href="([^"]*/status/history\?before=([^"]+))"', page)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
        cursors.append(unquote(found.group(2)))
    assert seen == list(reversed(names))
    assert len(cursors) == 2
    # The cursor is made of public fields: a publication time and a public id, no row id.
    with app.app_context():
        public_ids = set(db.session.scalars(db.select(public_id_column()).where(public_id_column().is_not(None))))
    for cursor in cursors:
        assert cursor.split("~")[1] in public_ids
    # Later pages link back to the newest; a cursor nobody made is the first page, not an error.
    assert "Newest incidents" in client.get(url).get_data(as_text=True)
    for junk in ("x", "~", "2026-01-01~", "2026-01-01T00:00:00~abc", "9999-12-31T23:59:59+14:00~" + "a" * 30,
                 "2026-01-01T00:00:00+00:00~a'b", "2026-99-01T00:00:00+00:00~abc"):
        response = client.get("/status/history", query_string={"before": junk})
        assert response.status_code == 200
        assert "Incident number 4" in response.get_data(as_text=True), junk
    # A well-formed cursor at the edge of the calendar is an empty page, not a server error.
    assert client.get("/status/history", query_string={"before": "0001-01-01T00:00:00-05:00~abc"}).status_code == 200


def public_id_column():
    from incidents.incident.models import Incident

    return Incident.public_id


@pytest.mark.parametrize("selection", [{}, {"public_id": "nosuchincident"}])
def test_the_public_view_reads_a_bounded_number_of_incidents(app, make, monkeypatch, selection):
    """However many incidents were published, a view builds at most its window plus the unresolved."""
    monkeypatch.setattr(public, "RECENT", 3)
    email = make.user(role="responder")
    for n in range(6):
        _publish(app, make.incident(by=email), email, title=f"Past {n}", updates=[("resolved", "Back.")],
                 at=utcnow() - timedelta(days=10 - n))
    _publish(app, make.incident(by=email), email, title="Still open", at=utcnow() - timedelta(days=40))
    view = _view(app, **selection)
    built = {i.name for i in view.incidents}
    assert "Still open" in built
    assert len(built) == (4 if not selection else 1)
