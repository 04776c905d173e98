"""Live updates of the incident page: the version token, its conditional endpoint, the regions the
page's script swaps. (The browser side is tests/test_live_updates.py.)"""
from __future__ import annotations

import re

from sqlalchemy import select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.live import page_state, page_version
from incidents.incident.service import get_incident
from tests.fixtures.plans import plan, statements


def token(app, reference: str) -> str:
    with app.app_context():
        value = page_version(session=db.session, incident_id=get_incident(session=db.session,
                                                                          reference=reference).id)
        db.session.remove()
        return value


def test_every_kind_of_change_the_page_shows_moves_the_token_and_nothing_else_does(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    other = make.incident(by=email, title="Another incident")
    seen = [token(app, ref)]

    def moved(why: str) -> None:
        now = token(app, ref)
        assert now not in seen, f"{why} did not move the token"
        seen.append(now)

    client.get(f"/incidents/{ref}")
    make.entry(other, by=email, body="On the other incident")
    assert token(app, ref) == seen[-1], "reading the page or changing another incident moved it"

    make.entry(ref, by=email, body="Restore started")
    moved("a timeline entry")
    make.impact(ref, by=email, affected=1000, restored=10)
    moved("an impact update")
    workstream = make.workstream(ref, by=email, name="Replay journals", target=100)
    moved("a new workstream")
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    version = re.search(r'name="version" type="hidden" value="(\d+)"', page[page.index('id="status-change"'):])
    client.post(f"/incidents/{ref}/status", data={"version": version.group(1), "status": "identified"})
    moved("a status change")
    with app.app_context():
        from incidents.recovery import service as recovery

        ws = recovery.get_workstream(session=db.session, incident=get_incident(session=db.session, reference=ref),
                                     workstream_id=workstream)
        recovery.record_progress(session=db.session, actor=db.session.scalar(select(User).where(User.email == email)),
                                 incident=get_incident(session=db.session, reference=ref), workstream=ws,
                                 expected_version=ws.version, done=40)
        db.session.commit()
    moved("workstream progress")
    client.post(f"/incidents/{ref}/obligations/regimes", data={"regimes": ["gdpr"]})
    moved("notification obligations")


def test_the_live_endpoint_answers_304_until_something_changes(app, client, auth, make):
    email = make.user(role="responder")
    ref = make.incident(by=email)
    auth.as_role("viewer")
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    held = re.search(r'data-live-version="([0-9a-f]+)"', page).group(1)
    assert f'data-live-url="/incidents/{ref}/live"' in page

    first = client.get(f"/incidents/{ref}/live")
    assert first.status_code == 200 and first.json == {"version": held}
    assert first.headers["ETag"] == f'"{held}"'
    same = client.get(f"/incidents/{ref}/live", headers={"If-None-Match": f'"{held}"'})
    assert same.status_code == 304 and same.data == b""

    make.entry(ref, by=email, body="A second session posts")
    changed = client.get(f"/incidents/{ref}/live", headers={"If-None-Match": f'"{held}"'})
    assert changed.status_code == 200 and changed.json["version"] != held
    assert client.get("/incidents/INC-1999-0001/live").status_code == 404
    auth.logout()
    assert client.get(f"/incidents/{ref}/live").status_code == 302  # signed out: to the login page


def test_the_page_marks_each_region_that_changes_with_a_stable_id(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    make.impact(ref, by=email, affected=10)
    make.workstream(ref, by=email, name="Replay journals", target=100)
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    regions = dict((name, ident) for ident, name in re.findall(r'id="([\w-]+)" data-live="([\w-]+)"', page))
    assert {"head", "moments", "impact", "workstreams", "timeline", "publish"} <= set(regions)
    assert len(set(regions.values())) == len(regions)
    assert '<script src="/static/js/live.js" defer></script>' in page
    # A refused form re-renders the page at the form's address: no live updates there.
    refused = client.post(f"/incidents/{ref}/timeline", data={"body": "", "kind": "note", "visibility": "internal"})
    assert refused.status_code == 422 and "data-live-url" not in refused.get_data(as_text=True)


def test_the_version_token_reads_no_table_through(app, make):
    """Pollers of every open page ask for the token every few seconds: its plan probes indexes
    (the newest entry through (incident_id, id)), so its cost does not grow with the timeline; so
    does the page's state, which adds the newest audit event."""
    ref = make.incident()
    with app.app_context():
        for read in (page_version, page_state):
            with statements() as seen:
                read(session=db.session, reference=ref)
            lines, scans = plan(*seen[-1])
            assert scans == [], lines
            if db.engine.dialect.name == "sqlite":  # PostgreSQL's planner picks among indexes by its statistics
                assert any("ix_timeline_entry_incident_id_id" in line for line in lines), lines
        db.session.remove()
