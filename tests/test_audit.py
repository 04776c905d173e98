"""The audit log: every change becomes an event in the same transaction, the log is append-only in
the database itself, its hash chain shows tampering, and admins can read it."""
from __future__ import annotations

import json
import re
import threading
from itertools import pairwise

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from incidents.audit.chain import verify
from incidents.audit.models import GENESIS, AuditEvent
from incidents.auth.models import User
from incidents.extensions import db
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory
from tests.helpers import behind_the_triggers


def events(app, *where) -> list[AuditEvent]:
    with app.app_context():
        rows = list(db.session.scalars(sa.select(AuditEvent).where(*where).order_by(AuditEvent.id)))
        db.session.expunge_all()
        db.session.remove()
        return rows


def changes(event: AuditEvent) -> tuple[dict, dict]:
    return json.loads(event.before or "{}"), json.loads(event.after or "{}")


def incident_id(app, reference: str) -> int:
    from incidents.incident.models import Incident

    with app.app_context():
        return db.session.scalar(sa.select(Incident.id).where(Incident.reference == reference))


# --- what gets recorded ---------------------------------------------------------------------------

def test_an_edit_through_the_app_is_recorded_with_who_when_before_and_after(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Photos missing")
    page = client.get(f"/incidents/{ref}/edit").get_data(as_text=True)
    version = re.search(r'name="version"[^>]*value="(\d+)"', page).group(1)
    declared = re.search(r'name="declared_at"[^>]*value="([^"]+)"', page).group(1)
    response = client.post(f"/incidents/{ref}/edit", data={
        "version": version, "title": "Photos and videos missing", "severity": "SEV1", "summary": "",
        "declared_at": declared, "commander": "0", "comms_lead": "0", "executive": "0"})
    assert response.status_code == 302

    [edit] = events(app, AuditEvent.entity_type == "incident", AuditEvent.action == "update")
    before, after = changes(edit)
    assert (edit.actor, edit.incident_id, edit.entity_id) == (email, incident_id(app, ref), str(incident_id(app, ref)))
    assert before["title"] == "Photos missing" and after["title"] == "Photos and videos missing"
    assert (before["severity"], after["severity"]) == ("SEV2", "SEV1")
    assert "version" not in after and "updated_at" not in after  # deliberate noise, left out
    # The timeline entry the edit wrote is in the log too, tied to the incident.
    entries = events(app, AuditEvent.entity_type == "timeline_entry", AuditEvent.incident_id == edit.incident_id)
    assert any("Photos and videos missing" in changes(e)[1]["body"] for e in entries)
    assert all("body_html" not in changes(e)[1] for e in entries)


def test_nested_records_are_tied_to_their_incident(app, make):
    email = make.user(role="responder")
    ref = make.incident(by=email, data_categories=["contacts"])
    make.impact(ref, by=email, affected=900, categories={"contacts": (4000, 10, 0)})
    [category] = events(app, AuditEvent.entity_type == "category_impact")
    assert category.incident_id == incident_id(app, ref)
    assert changes(category)[1]["records_affected"] == 4000


def test_a_change_that_is_rolled_back_leaves_no_event(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = len(events(app))
    # Refused by the service after the form was valid: nothing is saved, nothing is logged.
    response = client.post(f"/incidents/{ref}/timeline", data={"body": "x", "occurred_at": "2199-01-01T00:00"})
    assert response.status_code == 422
    with app.app_context():
        entry = TimelineEntry(incident_id=incident_id(app, ref), kind="note", body="never committed")
        db.session.add(entry)
        db.session.flush()
        db.session.rollback()
    assert len(events(app)) == before


def test_sign_ins_failed_sign_ins_and_sign_outs_are_recorded_without_secrets(app, client, make):
    email = make.user(role="viewer")
    wrong = "wrong-password-do-not-log"
    assert client.post("/login", data={"email": email, "password": wrong}).status_code == 401
    assert client.post("/login", data={"email": "nobody@example.com", "password": wrong}).status_code == 401
    assert client.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
    client.post("/logout")

    logged = events(app, AuditEvent.action.in_(["sign_in", "sign_in_failed", "sign_out"]))
    assert [(e.action, e.actor) for e in logged] == [
        ("sign_in_failed", "anonymous"), ("sign_in_failed", "anonymous"), ("sign_in", email), ("sign_out", email)]
    assert [changes(e)[1].get("email") for e in logged[:2]] == [email, "nobody@example.com"]
    assert all(e.remote_addr == "127.0.0.1" for e in logged)
    everything = json.dumps([[e.before, e.after] for e in events(app)])
    assert wrong not in everything and Factory.PASSWORD not in everything
    assert "scrypt" not in everything  # no password hash either
    # Session rows (they hold the session tokens) are not copied into the log.
    assert events(app, AuditEvent.entity_type == "login_session") == []


def test_role_changes_and_password_resets_are_recorded(app, client, auth, make):
    admin = auth.as_role("admin")
    target = make.user(role="viewer", name="Vic Viewer")
    user_id = make.user_id(target)
    response = client.post(f"/admin/users/{user_id}", data={"name": "Vic Viewer", "role": "responder",
                                                           "active": "y", "password": "a brand new password"})
    assert response.status_code == 302

    [change] = events(app, AuditEvent.action == "role_change")
    before, after = changes(change)
    assert (change.actor, change.entity_type, change.entity_id) == (admin, "user", str(user_id))
    assert (before["role"], after["role"]) == ("viewer", "responder")
    assert before["password_hash"] == after["password_hash"] == "(not recorded)"  # changed, not copied


# --- append-only, in the database ---------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE audit_event SET actor = 'someone else'",
    "DELETE FROM audit_event",
    "UPDATE timeline_entry SET body = 'rewritten'",
    "DELETE FROM timeline_entry",
])
def test_the_database_refuses_to_change_or_delete_logged_rows(app, make, statement):
    ref = make.incident(title="Append-only")
    make.entry(ref, body="As written")
    before = [(e.id, e.hash) for e in events(app)]
    with app.app_context():
        # straight SQL: no ORM guard in the way
        with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
            conn.execute(sa.text(statement))
        bodies = db.session.scalars(sa.select(TimelineEntry.body)).all()
        db.session.remove()
    assert [(e.id, e.hash) for e in events(app)] == before
    assert "As written" in bodies and "rewritten" not in bodies


# --- the hash chain -----------------------------------------------------------------------------

def _tamper(app, backend: str, statement: str, params: dict) -> None:
    """Change the log behind the triggers' back, as someone with the database's owner rights could."""
    with app.app_context(), db.engine.begin() as conn:
        if backend == "postgresql":
            conn.execute(sa.text("ALTER TABLE audit_event DISABLE TRIGGER audit_event_append_only"))
            conn.execute(sa.text(statement), params)
            conn.execute(sa.text("ALTER TABLE audit_event ENABLE TRIGGER audit_event_append_only"))
        else:
            trigger = "audit_event_no_update" if statement.startswith("UPDATE") else "audit_event_no_delete"
            sql = conn.execute(sa.text("SELECT sql FROM sqlite_master WHERE name = :n"), {"n": trigger}).scalar()
            conn.execute(sa.text(f"DROP TRIGGER {trigger}"))
            conn.execute(sa.text(statement), params)
            conn.execute(sa.text(sql))


def _some_history(make) -> None:
    email = make.user(role="responder")
    ref = make.incident(by=email)
    for n in range(3):
        make.entry(ref, body=f"Update {n}", by=email)


def test_audit_verify_passes_on_an_untouched_log(app, make, runner):
    _some_history(make)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    rows = events(app)
    assert f"{len(rows)} events checked" in result.output and rows[-1].hash in result.output
    assert rows[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in pairwise(rows))


def test_audit_verify_names_a_changed_event(app, make, runner, backend):
    _some_history(make)
    victim = events(app)[3]
    _tamper(app, backend, "UPDATE audit_event SET after = :after WHERE id = :id",
            {"after": '{"body":"Nothing happened"}', "id": victim.id})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at event #{victim.id} " in result.output
    assert "does not match its hash" in result.output


def test_audit_verify_names_the_event_after_a_removed_one(app, make, runner, backend):
    _some_history(make)
    rows = events(app)
    _tamper(app, backend, "DELETE FROM audit_event WHERE id = :id", {"id": rows[2].id})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"BROKEN at event #{rows[3].id} " in result.output
    assert f"does not link to event #{rows[1].id}" in result.output


def test_concurrent_writers_keep_one_unbroken_chain(app, make):
    email = make.user(role="responder")
    ref = make.incident(by=email)
    clients = []
    for _ in range(8):
        c = app.test_client()
        assert c.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
        clients.append(c)
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def post(n: int) -> None:
        barrier.wait(timeout=30)
        statuses.append(clients[n].post(f"/incidents/{ref}/timeline", data={"body": f"At once {n}"}).status_code)

    threads = [threading.Thread(target=post, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [302] * len(clients)
    with app.app_context():
        verdict = verify(session=db.session)
        assert verdict.ok, verdict.problem
    assert len([e for e in events(app, AuditEvent.entity_type == "timeline_entry")
                if changes(e)[1]["body"].startswith("At once")]) == len(clients)


# --- new features are covered without their code changing -------------------------------------------

class _Elsewhere(DeclarativeBase):
    pass


class Gadget(_Elsewhere):
    """A model the audit code has never heard of, on its own metadata (as a new feature's would be)."""

    __tablename__ = "audit_test_gadget"
    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int | None] = mapped_column()
    name: Mapped[str] = mapped_column(sa.String(50))


def test_a_model_added_later_is_audited_without_its_code_changing(app, make):
    ref = make.incident()
    with app.app_context():
        engine = db.engine
    _Elsewhere.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            gadget = Gadget(name="first", incident_id=incident_id(app, ref))
            session.add(gadget)
            session.commit()
            gadget.name = "renamed"
            session.commit()
            session.delete(gadget)
            session.commit()
    finally:
        _Elsewhere.metadata.drop_all(engine)
    logged = events(app, AuditEvent.entity_type == "audit_test_gadget")
    assert [(e.action, e.actor, e.incident_id) for e in logged] == [
        ("create", "system", incident_id(app, ref)), ("update", "system", incident_id(app, ref)),
        ("delete", "system", incident_id(app, ref))]
    assert [changes(e) for e in logged] == [
        ({}, {"id": 1, "incident_id": incident_id(app, ref), "name": "first"}),
        ({"name": "first"}, {"name": "renamed"}),
        ({"id": 1, "incident_id": incident_id(app, ref), "name": "renamed"}, {})]


# --- admins read it -----------------------------------------------------------------------------

def shown_ids(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="event-(\d+)">', html)]


def test_admins_browse_and_filter_the_log(app, client, auth, make):
    admin = auth.as_role("admin")
    responder = make.user(role="responder")
    ref = make.incident(by=responder, title="Filtered")
    other = make.incident(by=responder, title="Not this one")
    for n in range(55):
        make.entry(ref, body=f"Entry {n}", by=responder)
    someone = app.test_client()
    assert someone.post("/login", data={"email": responder, "password": Factory.PASSWORD}).status_code == 302
    for n in range(2):
        assert someone.post(f"/incidents/{ref}/timeline", data={"body": f"Posted {n}"}).status_code == 302
    assert someone.post(f"/incidents/{other}/timeline", data={"body": "Elsewhere"}).status_code == 302
    everything = events(app)

    page = client.get("/admin/audit").get_data(as_text=True)
    assert shown_ids(page) == [e.id for e in reversed(everything)][:50]
    older = re.search(r'href="([^"]+)">Older events', page).group(1).replace("&amp;", "&")
    assert shown_ids(client.get(older).get_data(as_text=True)) == [e.id for e in reversed(everything)][50:]

    def shown(**args):
        response = client.get("/admin/audit", query_string=args)
        assert response.status_code == 200
        return set(shown_ids(response.get_data(as_text=True)))

    posted = {e.id for e in everything if e.actor == responder and e.entity_type == "timeline_entry"
              and e.incident_id == incident_id(app, ref)}
    assert len(posted) == 2
    assert shown(actor=responder.upper(), incident=ref.lower(), entity_type="timeline_entry") == posted
    assert shown(action="sign_in") == {e.id for e in everything if e.action == "sign_in"}
    assert {e.actor for e in everything if e.id in shown(action="sign_in")} == {admin, responder}
    assert shown(incident=other) == {e.id for e in everything if e.incident_id == incident_id(app, other)}
    incident_event = next(e for e in everything if e.entity_type == "incident")
    assert shown(entity_type="incident", entity_id=incident_event.entity_id) == {incident_event.id}
    moment = everything[-1].occurred_at.strftime("%Y-%m-%dT%H:%M")
    assert shown(since="2199-01-01T00:00") == set()
    assert shown(until="2000-01-01T00:00") == set()
    assert everything[-1].id in shown(since=moment)


@pytest.mark.parametrize("args, field", [
    ({"since": "yesterday"}, "since"), ({"until": "2009-13-45T25:61"}, "until"),
    ({"since": "2009-10-03T00:00", "until": "2009-10-02T00:00"}, "until"),
    ({"action": "rm -rf"}, "action"), ({"entity_type": "pg_shadow"}, "entity_type"),
    ({"incident": "INC-1999-9999"}, "incident"), ({"actor": "\x00"}, "actor"),
    ({"entity_id": "x" * 101}, "entity_id"),
])
def test_bad_filters_are_explained_beside_the_field(app, client, auth, args, field):
    auth.as_role("admin")
    response = client.get("/admin/audit", query_string=args)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    block = re.search(rf'<div class="field[^"]*has-error[^"]*">(?:(?!</div>).)*name="{field}".*?</div>', html, re.S)
    assert block and 'class="errors"' in block.group(0), html[:3000]


def test_only_admins_read_the_log(client, auth):
    auth.as_role("responder")
    assert client.get("/admin/audit").status_code == 403


# --- #18: what a database owner could rewrite, and how verify notices ----------------------------

def _recompute_chain(app, backend: str, key: bytes | None = None) -> None:
    """Rehash every event from the first, as someone who rewrote an event would (without the app's key)."""
    from incidents.audit.chain import event_hash

    rows = events(app)
    previous, statements = GENESIS, []
    for n, row in enumerate(rows):
        # prev_hash is unique: park each row on a placeholder first so no two rows collide mid-way.
        statements.append(("UPDATE audit_event SET prev_hash = :p WHERE id = :id", {"p": f"x{n}", "id": row.id}))
    for row in rows:
        row.prev_hash = previous
        row.hash = previous = event_hash(row, key)
        statements.append(("UPDATE audit_event SET prev_hash = :p, hash = :h WHERE id = :id",
                           {"p": row.prev_hash, "h": row.hash, "id": row.id}))
    behind_the_triggers(app, backend, "audit_event", *statements)


def _rich_history(app, make) -> str:
    """Entries, impact, a workstream, a postmortem and an approved notice: every history table."""
    from incidents.incident.service import get_incident
    from incidents.notices import service as notices
    from incidents.notices.models import Notice

    commander, comms, reviewer = (make.user(role="responder") for _ in range(3))
    ref = make.incident(by=commander, data_categories=["contacts"])
    make.entry(ref, body="Contacts are missing", by=commander)
    make.impact(ref, by=commander, affected=900, categories={"contacts": (4000, 10, 0)})
    make.workstream(ref, by=commander)
    make.postmortem(ref, by=commander, reviewers=[reviewer], state="approved")
    with app.app_context():
        incident = get_incident(session=db.session, reference=ref)
        incident.comms_lead = db.session.scalar(sa.select(User).where(User.email == comms))
        db.session.commit()
    notice_id = make.notice(ref, by=comms)
    with app.app_context():
        incident = get_incident(session=db.session, reference=ref)
        notices.approve(session=db.session, actor=incident.commander, incident=incident,
                        notice=db.session.get(Notice, notice_id), number=1)
        db.session.commit()
    return ref


def test_verify_passes_on_every_kind_of_untouched_history(app, make, runner):
    _rich_history(app, make)
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert "history rows match the log" in result.output
    assert {e.entity_type for e in events(app)} >= {"timeline_entry", "notice_version", "postmortem_version",
                                                     "postmortem_approval", "impact_update", "category_impact"}


def test_verify_notices_a_timeline_entry_rewritten_behind_the_log(app, make, runner, backend):
    _some_history(make)
    with app.app_context():
        entry_id = db.session.scalar(sa.select(TimelineEntry.id).where(TimelineEntry.body == "Update 1"))
    behind_the_triggers(app, backend, "timeline_entry",
                         ("UPDATE timeline_entry SET body = 'Nothing happened' WHERE id = :id", {"id": entry_id}))
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"History CHANGED: timeline_entry row {entry_id}: its body is not what the log recorded " \
           '("Update 1")' in result.output


def test_verify_notices_an_approval_forged_behind_the_log(app, make, runner, backend):
    from incidents.notices.models import NoticeVersion

    _rich_history(app, make)
    outsider = make.user_id(make.user(role="responder"))
    with app.app_context():
        version_id = db.session.scalar(sa.select(NoticeVersion.id))
    with app.app_context(), db.engine.begin() as conn:  # notice versions have no trigger: the app sets approval
        conn.execute(sa.text("UPDATE notice_version SET approved_by_id = :u WHERE id = :id"),
                     {"u": outsider, "id": version_id})
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert f"notice_version row {version_id}: its approved_by_id is not what the log recorded" in result.output


def test_removing_the_newest_events_fails_against_the_expected_head(app, make, runner, backend):
    _some_history(make)
    head = events(app)[-1].hash
    assert runner.invoke(args=["audit", "verify", "--expect", head]).exit_code == 0
    newest = events(app)[-2:]
    behind_the_triggers(app, backend, "audit_event",
                         ("DELETE FROM audit_event WHERE id >= :id", {"id": newest[0].id}))
    result = runner.invoke(args=["audit", "verify", "--expect", head])
    assert result.exit_code == 1
    assert f"the expected hash {head} is not in the chain" in result.output
    # Even without the hash: the rows those events created are still there, unaccounted for.
    assert "the log has no record of its creation" in runner.invoke(args=["audit", "verify"]).output


def test_without_the_key_a_recomputed_chain_is_only_caught_by_the_expected_head(app, make, runner, backend):
    _some_history(make)
    head = events(app)[-1].hash
    victim = next(e for e in events(app) if e.entity_type == "user")
    behind_the_triggers(app, backend, "audit_event",
                         ("UPDATE audit_event SET actor = 'someone else' WHERE id = :id", {"id": victim.id}))
    _recompute_chain(app, backend)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0  # the limit the README states
    result = runner.invoke(args=["audit", "verify", "--expect", head])
    assert result.exit_code == 1 and "is not in the chain" in result.output


@pytest.fixture
def keyed(app_config):
    app_config["AUDIT_HMAC_KEY"] = "kept-outside-the-database"
    return app_config["AUDIT_HMAC_KEY"].encode()


def test_with_the_key_a_recomputed_chain_fails(keyed, app, make, runner, backend):
    _some_history(make)
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0
    victim = next(e for e in events(app) if e.entity_type == "timeline_entry")
    behind_the_triggers(app, backend, "audit_event",
                         ("UPDATE audit_event SET actor = 'someone else' WHERE id = :id", {"id": victim.id}))
    _recompute_chain(app, backend)  # plain SHA-256: the forger has no key
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1
    assert "the newest event is not keyed" in result.output
    _recompute_chain(app, backend, key=b"a guess")
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "BROKEN at event #1 " in result.output


def test_events_written_before_the_key_was_set_still_verify(app_config, backend, make, runner, request):
    from incidents import create_app

    _some_history(make)  # no key yet
    plain = len(events(request.getfixturevalue("app")))
    app_config["AUDIT_HMAC_KEY"] = "set-later"
    keyed_app = create_app(app_config)
    keyed_make = type(make)(keyed_app)
    keyed_make.entry(keyed_make.incident(), body="After the key")
    result = keyed_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 0, result.output
    assert f"Events before #{plain + 1} were written before the key was set" in result.output
    # A server without the key appending after keyed events is caught.
    make.entry(make.incident(), body="Without the key")
    result = keyed_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert result.exit_code == 1 and "hashed without the key although earlier events are keyed" in result.output
    with keyed_app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_the_audit_page_counts_no_further_than_it_needs(app, client, auth, make, monkeypatch):
    """A log of a million events is not counted on every view: past COUNT_AT_MOST it says "more than"."""
    from incidents.audit import service

    email = auth.as_role("admin")
    make.incident(by=email)
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    page = client.get("/admin/audit").get_data(as_text=True)
    assert f"{total:,} events" in page
    monkeypatch.setattr(service, "COUNT_AT_MOST", total - 1)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert f"More than {total - 1:,} events" in page and f"{total:,} events" not in page
