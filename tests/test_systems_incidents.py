"""Incidents name the systems affected (issue #15): each with its owner and backup state as they
were when the incident was declared, kept; the RPO target defaults from them; the incident page,
the postmortem and the executive report show them; the public never sees them."""
from __future__ import annotations

import io
from datetime import timedelta

import pypdf
import pytest
from sqlalchemy import event, func, select

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident, update_incident
from incidents.systems import heartbeats, links
from incidents.systems import service as systems
from incidents.systems.models import IncidentSystem, System
from incidents.timeline.models import TimelineEntry, Visibility
from tests.helpers import field_errors, flashes, section, text_of

DAY = timedelta(days=1)


# --- building the story ------------------------------------------------------------------------

def _user(email: str) -> User:
    return db.session.scalar(select(User).where(User.email == email))


def add_system(app, name: str, *, owner: str | None = None, rpo: int | None = 1440,
               method: str = "Nightly snapshot", personal: bool = False) -> int:
    with app.app_context():
        system = systems.create_system(session=db.session, actor=None, fields_=systems.SystemFields(
            name=name, owner=_user(owner) if owner else None, team="Storage", personal_data=personal,
            backup_method=method, rpo_target_minutes=rpo))
        db.session.commit()
        return system.id


def backup(app, system_id: int, at, *, ok: bool) -> None:
    with app.app_context():
        heartbeats.record_report(session=db.session, system_id=system_id, rpo_target_minutes=1440, ok=ok, at=at)
        db.session.commit()


def restore_test(app, system_id: int, at, *, ok: bool, by: str) -> None:
    with app.app_context():
        actor = _user(by)
        systems.record_restore_test(session=db.session, actor=actor, system=db.session.get(System, system_id),
                                    tested_at=at, ok=ok, performed_by=actor)
        db.session.commit()


def name_on(app, reference: str, by: str, *system_ids: int) -> list[int]:
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        made = links.link_systems(session=db.session, actor=_user(by), incident=incident,
                                  systems=[db.session.get(System, i) for i in system_ids])
        db.session.commit()
        return [link.id for link in made]


def links_of(app, reference: str) -> list[IncidentSystem]:
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        found = db.session.scalars(select(IncidentSystem).where(IncidentSystem.incident_id == incident.id)
                                   .order_by(IncidentSystem.system_name)).all()
        db.session.expunge_all()
        return list(found)


def rpo_of(app, reference: str) -> int | None:
    with app.app_context():
        return get_incident(session=db.session, reference=reference).rpo_target_minutes


@pytest.fixture
def story(app, make):
    """A storage cluster whose backups were failing when an incident was declared two days ago: a
    good backup 5 days before, a failed report 1 day before, a good one after (not known then); a
    restore test 10 days before."""
    owner = make.user(role="responder", name="Olga Owner")
    responder = make.user(role="responder", name="Rory Responder")
    declared = (utcnow() - 2 * DAY).replace(microsecond=0)
    reference = make.incident(by=responder, title="Photos gone after a storage upgrade", declared_at=declared)
    cluster = add_system(app, "Storage cluster", owner=owner, rpo=1440, personal=True)
    backup(app, cluster, declared - 5 * DAY, ok=True)
    backup(app, cluster, declared - DAY, ok=False)
    backup(app, cluster, declared + timedelta(hours=1), ok=True)
    restore_test(app, cluster, declared - 10 * DAY, ok=True, by=owner)
    return {"reference": reference, "declared": declared, "cluster": cluster, "owner": owner,
            "responder": responder}


# --- the snapshot --------------------------------------------------------------------------------

def test_the_snapshot_is_as_of_the_declaration(app, story):
    name_on(app, story["reference"], story["responder"], story["cluster"])
    [link] = links_of(app, story["reference"])
    declared = story["declared"]
    assert link.as_of == declared
    assert link.system_name == "Storage cluster" and link.owner_name == "Olga Owner" and link.owner_active
    assert link.last_backup_ok_at == declared - 5 * DAY  # the good one after the declaration is not known
    assert link.last_backup_report_at == declared - DAY and link.last_backup_report_ok is False
    assert link.last_restore_test_at == declared - 10 * DAY and link.last_restore_test_ok is True
    # Judged at the declaration: failing and past its 24 h RPO then, restore test recent enough then.
    assert link.problems == ["backup_failing", "backup_overdue"]


def test_a_restore_test_after_the_declaration_does_not_count(app, make, story):
    other = add_system(app, "Mail archive", owner=story["owner"])
    restore_test(app, other, story["declared"] + timedelta(hours=2), ok=True, by=story["owner"])
    name_on(app, story["reference"], story["responder"], other)
    [link] = links_of(app, story["reference"])
    assert link.last_restore_test_at is None and link.last_backup_ok_at is None
    assert {"restore_never_tested", "backup_overdue"} <= set(link.problems)


def test_the_snapshot_is_kept_when_the_catalogue_changes(app, client, auth, make, story):
    name_on(app, story["reference"], story["responder"], story["cluster"])
    newcomer = make.user(role="responder", name="Nina Newowner")
    with app.app_context():  # later: a new owner, a good backup and a passed restore test
        system = db.session.get(System, story["cluster"])
        fields = systems.fields_of(system)
        fields.owner = _user(newcomer)
        systems.update_system(session=db.session, actor=_user(newcomer), system=system,
                              expected_version=system.version, fields_=fields)
        db.session.commit()
    backup(app, story["cluster"], utcnow() - timedelta(minutes=5), ok=True)
    restore_test(app, story["cluster"], utcnow() - timedelta(minutes=5), ok=True, by=newcomer)

    auth.as_role("viewer")
    panel = text_of(section(client.get(f"/incidents/{story['reference']}").get_data(as_text=True), "systems"))
    assert "Olga Owner" in panel and "Nina Newowner" not in panel
    declared = story["declared"]
    assert (declared - 5 * DAY).strftime("%Y-%m-%d %H:%M") in panel and "5 days before declaration" in panel
    assert "Last report failed" in panel
    assert (declared - 10 * DAY).strftime("%Y-%m-%d %H:%M") in panel
    assert "Last backup report a failure" in panel and "Last backup older than the RPO target" in panel
    assert "as they stood when the incident was declared" in panel.lower()
    assert "owner and policy as recorded when linked on" in panel.lower()


def test_a_system_without_an_owner_or_backups_says_so_in_red(app, client, auth, make):
    responder = auth.as_role("responder")
    reference = make.incident(by=responder)
    orphan = add_system(app, "Acquired file server", owner=None, rpo=None, method="")
    name_on(app, reference, responder, orphan)
    html = section(client.get(f"/incidents/{reference}").get_data(as_text=True), "systems")
    assert '<span class="unowned">no owner</span>' in html
    assert '<span class="unowned">never</span>' in html and "none reported" in html
    for label in ("No owner", "No backup policy", "Restore never tested"):
        assert label in html


# --- the RPO target --------------------------------------------------------------------------------

def test_the_rpo_target_defaults_to_the_strictest_of_the_systems(app, make, story):
    hourly = add_system(app, "Contacts database", owner=story["owner"], rpo=60)
    unset = add_system(app, "Scratch space", owner=story["owner"], rpo=None)
    name_on(app, story["reference"], story["responder"], story["cluster"], hourly, unset)
    assert rpo_of(app, story["reference"]) == 60
    # Recorded like any edit of the incident, on its timeline (internal).
    with app.app_context():
        edits = select(TimelineEntry).where(TimelineEntry.body.like("Details changed%RPO target (minutes)%"))
        entries = db.session.scalars(edits).all()
        assert len(entries) == 1 and "60" in entries[0].body
    # A stricter system named later does not override a target the incident has.
    stricter = add_system(app, "Payments ledger", owner=story["owner"], rpo=5)
    name_on(app, story["reference"], story["responder"], stricter)
    assert rpo_of(app, story["reference"]) == 60


def test_an_rpo_target_already_set_is_kept(app, make, story):
    with app.app_context():
        incident = get_incident(session=db.session, reference=story["reference"])
        update_incident(session=db.session, actor=_user(story["responder"]), incident=incident,
                        expected_version=incident.version, changes={"rpo_target_minutes": 240})
        db.session.commit()
    name_on(app, story["reference"], story["responder"], add_system(app, "Contacts database", rpo=60))
    assert rpo_of(app, story["reference"]) == 240


# --- declaring with systems ----------------------------------------------------------------------

def test_declaring_names_the_systems_in_one_go(app, client, auth, make):
    responder = auth.as_role("responder")
    contacts = add_system(app, "Contacts database", owner=responder, rpo=60)
    photos = add_system(app, "Photo store", owner=responder, rpo=1440)
    retired = add_system(app, "Old tape library")
    with app.app_context():
        systems.retire_system(session=db.session, actor=_user(responder), system=db.session.get(System, retired))
        db.session.commit()
    form = client.get("/incidents/new").get_data(as_text=True)
    assert 'name="systems"' in form and "multiple" in form
    assert "Contacts database" in form and "Photo store" in form and "Old tape library" not in form

    response = client.post("/incidents/new", data={"title": "Contacts and photos gone", "severity": "SEV1",
                                                   "systems": [str(contacts), str(photos)]})
    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert [link.system_name for link in links_of(app, reference)] == ["Contacts database", "Photo store"]
    assert rpo_of(app, reference) == 60
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        named = db.session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == incident.id,
                                                               TimelineEntry.body.like("Affected system named%"))).all()
        assert len(named) == 2 and {e.visibility for e in named} == {Visibility.internal}


def test_declaring_with_a_system_not_offered_saves_nothing(app, client, auth, make):
    auth.as_role("responder")
    with app.app_context():
        before = db.session.scalar(select(func.count()).select_from(TimelineEntry))
    for bad in (["999999"], ["abc"], [str(2**63)]):
        response = client.post("/incidents/new", data={"title": "Contacts gone", "severity": "SEV2", "systems": bad})
        assert response.status_code == 422
        assert field_errors(response.get_data(as_text=True), "systems"), bad
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TimelineEntry)) == before


# --- naming and removing on the incident page ----------------------------------------------------

def test_a_responder_names_a_system_by_name_and_removes_it(app, client, auth, make):
    responder = auth.as_role("responder")
    reference = make.incident(by=responder)
    add_system(app, "Storage cluster (Halcyon)", owner=responder)
    add_system(app, "Storage cluster (Quillpad)", owner=responder)
    url = f"/incidents/{reference}/systems"

    ambiguous = client.post(url, data={"name": "storage cluster"})
    assert ambiguous.status_code == 422
    [error] = field_errors(ambiguous.get_data(as_text=True), "name")
    assert "Halcyon" in error and "Quillpad" in error
    unknown = client.post(url, data={"name": "tape robot"})
    assert unknown.status_code == 422 and field_errors(unknown.get_data(as_text=True), "name")
    assert links_of(app, reference) == []

    named = client.post(url, data={"name": "  HALCYON "}, follow_redirects=True)
    assert flashes(named.get_data(as_text=True))[0].startswith("Named as affected: Storage cluster (Halcyon).")
    again = client.post(url, data={"name": "Storage cluster (Halcyon)"}, follow_redirects=True)
    assert "Already named on this incident: nothing changed." in flashes(again.get_data(as_text=True))
    [link] = links_of(app, reference)

    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert f'action="/incidents/{reference}/systems/{link.id}/remove"' in page
    removed = client.post(f"/incidents/{reference}/systems/{link.id}/remove", follow_redirects=True)
    assert "Storage cluster (Halcyon) is no longer named as affected." in flashes(removed.get_data(as_text=True))
    assert links_of(app, reference) == []
    assert client.post(f"/incidents/{reference}/systems/{link.id}/remove").status_code == 404
    # Once one is named, part of a name picks among the others only.
    client.post(url, data={"name": "halcyon"})
    client.post(url, data={"name": "storage cluster"})
    assert [link.system_name for link in links_of(app, reference)] == ["Storage cluster (Halcyon)",
                                                                       "Storage cluster (Quillpad)"]
    client.post(f"/incidents/{reference}/systems/{links_of(app, reference)[0].id}/remove")
    with app.app_context():
        bodies = db.session.scalars(select(TimelineEntry.body).where(TimelineEntry.body.like("Affected system%"))
                                    .order_by(TimelineEntry.id)).all()
    assert bodies[0].startswith("Affected system named: **Storage cluster (Halcyon)**")
    assert bodies[-1] == "Affected system removed: **Storage cluster (Halcyon)**."


def test_the_catalogue_page_offers_only_systems_not_named_yet(app, client, auth, make):
    responder = auth.as_role("responder")
    reference = make.incident(by=responder)
    first = add_system(app, "Contacts database", owner=responder)
    second = add_system(app, "Photo store", owner=responder)
    third = add_system(app, "Calendar store", owner=responder)
    name_on(app, reference, responder, first)
    page = client.get(f"/incidents/{reference}/systems").get_data(as_text=True)
    assert f'<option value="{second}">Photo store' in page and f'<option value="{first}"' not in page

    assert client.post(f"/incidents/{reference}/systems", data={}).status_code == 422
    stale = client.post(f"/incidents/{reference}/systems", data={"systems": [str(first)]})
    assert stale.status_code == 422 and field_errors(stale.get_data(as_text=True), "systems")
    response = client.post(f"/incidents/{reference}/systems", data={"systems": [str(second), str(third), str(third)]})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/incidents/{reference}#systems")
    assert [link.system_name for link in links_of(app, reference)] == ["Calendar store", "Contacts database",
                                                                       "Photo store"]


def test_duplicates_are_skipped_by_the_service(app, make, story):
    assert len(name_on(app, story["reference"], story["responder"], story["cluster"], story["cluster"])) == 1
    assert name_on(app, story["reference"], story["responder"], story["cluster"]) == []
    assert len(links_of(app, story["reference"])) == 1


def test_a_viewer_sees_the_panel_but_may_not_change_it(app, client, auth, make, story):
    [link_id] = name_on(app, story["reference"], story["responder"], story["cluster"])
    auth.as_role("viewer")
    page = client.get(f"/incidents/{story['reference']}").get_data(as_text=True)
    panel = section(page, "systems")
    assert "Storage cluster" in panel and f'href="/systems/{story["cluster"]}"' in panel
    assert "<form" not in panel and "Choose from the catalogue" not in panel
    assert client.post(f"/incidents/{story['reference']}/systems", data={"name": "Storage cluster"}).status_code == 403
    assert client.get(f"/incidents/{story['reference']}/systems").status_code == 403
    assert client.post(f"/incidents/{story['reference']}/systems/{link_id}/remove").status_code == 403
    assert len(links_of(app, story["reference"])) == 1


def test_a_link_of_another_incident_cannot_be_removed_here(app, client, auth, make, story):
    [link_id] = name_on(app, story["reference"], story["responder"], story["cluster"])
    responder = auth.as_role("responder")
    other = make.incident(by=responder)
    assert client.post(f"/incidents/{other}/systems/{link_id}/remove").status_code == 404
    assert len(links_of(app, story["reference"])) == 1


# --- the page's cost -----------------------------------------------------------------------------

def _statements(app, client, url: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen = []
    listener = lambda *args: seen.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return seen


def test_the_panel_costs_one_statement_however_many_systems(app, client, auth, make):
    responder = auth.as_role("responder")
    none, many = make.incident(by=responder), make.incident(by=responder)
    name_on(app, many, responder, *[add_system(app, f"System {n}", owner=responder) for n in range(6)])
    few, lots = _statements(app, client, f"/incidents/{none}"), _statements(app, client, f"/incidents/{many}")
    assert len(few) == len(lots)
    assert sum("incident_system" in s for s in lots) == 1
    # The catalogue and its backup history are not read: the snapshot holds what the panel shows.
    assert not any("FROM system " in s or "system_backup_report" in s for s in lots)


def test_the_cached_page_shows_a_system_named_since(app, client, auth, make, story):
    auth.as_role("viewer")
    url = f"/incidents/{story['reference']}"
    assert "No systems named yet." in client.get(url).get_data(as_text=True)
    name_on(app, story["reference"], story["responder"], story["cluster"])  # not through this browser
    assert "Storage cluster" in section(client.get(url).get_data(as_text=True), "systems")


# --- the postmortem and the executive report -----------------------------------------------------

def test_the_postmortem_has_a_systems_affected_section(app, client, auth, story):
    name_on(app, story["reference"], story["responder"], story["cluster"])
    auth.as_role("viewer")
    html = client.get(f"/incidents/{story['reference']}/postmortem").get_data(as_text=True)
    part = text_of(section(html, "systems"))
    assert "Systems affected" in part and "Storage cluster" in part and "Olga Owner" in part
    assert (story["declared"] - 5 * DAY).strftime("%Y-%m-%d %H:%M") in part
    assert (story["declared"] - 10 * DAY).strftime("%Y-%m-%d %H:%M") in part and "passed" in part
    assert "Last backup report a failure" in part


def test_the_executive_report_lists_owner_last_backup_and_restore_test(app, client, auth, make, story):
    name_on(app, story["reference"], story["responder"], story["cluster"],
            add_system(app, "Acquired file server", owner=None, rpo=None, method=""))
    auth.as_role("viewer")
    preview = text_of(client.get(f"/incidents/{story['reference']}/reports/executive").get_data(as_text=True))
    assert "Systems affected" in preview and "Olga Owner" in preview and "No owner" in preview
    response = client.get(f"/incidents/{story['reference']}/reports/executive.pdf")
    assert response.status_code == 200
    reader = pypdf.PdfReader(io.BytesIO(response.data))
    text = " ".join(" ".join(page.extract_text() or "" for page in reader.pages).split())
    assert "Systems affected" in text
    for expected in ("Storage cluster", "Olga Owner", (story["declared"] - 5 * DAY).strftime("%Y-%m-%d %H:%M"),
                     "5 days before declaration", (story["declared"] - 10 * DAY).strftime("%Y-%m-%d %H:%M"),
                     "Acquired file server", "No owner", "Never", "No backup policy"):
        assert expected in text, expected


# --- never public --------------------------------------------------------------------------------

def test_named_systems_never_reach_the_public_site(client, leak_world):
    app, markers, public_id = leak_world
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(IncidentSystem)) == 1
        entries = db.session.scalars(select(TimelineEntry).where(TimelineEntry.body.like("Affected system%"))).all()
        assert entries and all(e.visibility is Visibility.internal for e in entries)
    system_markers = [m for m in markers if "SYSTEM" in m or "BACKUPMETHOD" in m]
    assert len(system_markers) == 6
    for url in ("/status/", f"/status/incidents/{public_id}", "/status/history", "/status/api/v2/summary.json",
                "/status/api/v2/incidents.json", "/status/history.atom", "/status/history.rss"):
        response = client.get(url)
        assert response.status_code == 200, url
        body = response.get_data(as_text=True)
        assert not [m for m in system_markers if m in body], url
