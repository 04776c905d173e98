"""Backup heartbeats: what a report does to a system's kept state (out of order, failing streaks,
RPO changes), the token-only HTTP endpoint (201, 401 that reveals nothing, 422 per field, 405),
and the CLI (reports and tokens)."""
from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from incidents.auth.models import User
from incidents.db import clock_at, utcnow
from incidents.direct_write import PreparedWrite
from incidents.extensions import db
from incidents.group_commit import GroupCommit, NotCommitted
from incidents.systems import heartbeats, service
from incidents.systems.models import BackupReport, ReportToken, System, SystemState
from tests.helpers import drop_server_connections

NOW = datetime(2024, 6, 3, 12, 0, tzinfo=UTC)
URL = "/systems/backup-report"


def new_system(app, make, name: str = "Storage cluster", rpo: int | None = 24 * 60) -> int:
    email = make.user(role="responder")
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == email))
        with clock_at(NOW - timedelta(days=30)):
            system = service.create_system(session=db.session, actor=actor, fields_=service.SystemFields(
                name=name, owner=actor, backup_method="restic", rpo_target_minutes=rpo))
        db.session.commit()
        return system.id


def report(app, system_id: int, *, hours_ago: float, ok: bool, now: datetime = NOW) -> None:
    with app.app_context(), clock_at(now):
        system = db.session.get(System, system_id)
        heartbeats.record_report(session=db.session, system_id=system_id, rpo_target_minutes=system.rpo_target_minutes,
                                 ok=ok, at=now - timedelta(hours=hours_ago))
        db.session.commit()


def state(app, system_id: int) -> SystemState:
    with app.app_context():
        row = db.session.get(SystemState, system_id)
        db.session.expunge(row)
        return row


def token_for(app, system_id: int, label: str = "") -> tuple[int, str]:
    with app.app_context():
        token, secret = heartbeats.create_token(session=db.session, actor=None,
                                                system=db.session.get(System, system_id), label=label)
        db.session.commit()
        return token.id, secret


def at(hours_ago: float) -> datetime:
    return NOW - timedelta(hours=hours_ago)


# --- the kept state ------------------------------------------------------------------------------------

def test_a_late_report_never_moves_last_back(app, make):
    system_id = new_system(app, make)
    report(app, system_id, hours_ago=2, ok=True)
    report(app, system_id, hours_ago=10, ok=False)  # an older run's failure, reported late
    kept = state(app, system_id)
    assert kept.last_report_at == at(2) and kept.last_report_ok is True and kept.last_ok_at == at(2)
    assert kept.failing_since is None and kept.reports == 2
    report(app, system_id, hours_ago=5, ok=True)  # an older success, reported late
    kept = state(app, system_id)
    assert kept.last_ok_at == at(2) and kept.backup_due_at == at(2) + timedelta(days=1) and kept.reports == 3


def test_failing_since_starts_at_the_first_failure_after_a_success_and_clears_on_success(app, make):
    system_id = new_system(app, make)
    report(app, system_id, hours_ago=72, ok=True)
    for hours in (48, 24, 3):
        report(app, system_id, hours_ago=hours, ok=False)
    kept = state(app, system_id)
    assert kept.failing_since == at(48) and kept.last_report_ok is False and kept.last_ok_at == at(72)
    report(app, system_id, hours_ago=1, ok=True)
    kept = state(app, system_id)
    assert kept.failing_since is None and kept.last_report_ok is True and kept.last_ok_at == at(1)
    report(app, system_id, hours_ago=0.5, ok=False)
    assert state(app, system_id).failing_since == at(0.5)


def test_the_first_report_ever_a_failure_starts_the_streak(app, make):
    system_id = new_system(app, make)
    report(app, system_id, hours_ago=5, ok=False)
    kept = state(app, system_id)
    assert kept.failing_since == at(5) and kept.last_ok_at is None and kept.backup_due_at is None


def test_changing_the_rpo_moves_when_the_backup_falls_due(app, make):
    system_id = new_system(app, make, rpo=24 * 60)
    report(app, system_id, hours_ago=6, ok=True)
    assert state(app, system_id).backup_due_at == at(6) + timedelta(hours=24)
    with app.app_context(), clock_at(NOW):
        system = service.get_system(session=db.session, system_id=system_id)
        fields = service.fields_of(system)
        fields.rpo_target_minutes = 4 * 60
        service.update_system(session=db.session, actor=None, system=system, expected_version=system.version,
                              fields_=fields)
        db.session.commit()
    assert state(app, system_id).backup_due_at == at(6) + timedelta(hours=4)
    with app.app_context(), clock_at(NOW):
        system = service.get_system(session=db.session, system_id=system_id)
        fields = service.fields_of(system)
        fields.rpo_target_minutes = None
        service.update_system(session=db.session, actor=None, system=system, expected_version=system.version,
                              fields_=fields)
        db.session.commit()
    assert state(app, system_id).backup_due_at is None


# --- the endpoint --------------------------------------------------------------------------------------

def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def test_a_bare_post_with_the_token_records_a_success(app, client, make):
    system_id = new_system(app, make)
    token_id, secret = token_for(app, system_id)
    response = client.post(URL, headers=bearer(secret))
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert body["recorded"] is True and body["system"] == "Storage cluster" and body["ok"] is True
    assert abs(datetime.fromisoformat(body["at"]) - utcnow()) < timedelta(minutes=1)
    assert "Set-Cookie" not in response.headers
    kept = state(app, system_id)
    assert kept.last_ok_at == datetime.fromisoformat(body["at"]) and kept.reports == 1
    with app.app_context():
        stored = db.session.scalars(sa.select(BackupReport)).one()
        assert (stored.source, stored.token_id, stored.ok) == ("http", token_id, True)
        assert db.session.get(ReportToken, token_id).last_used_at is not None


@pytest.mark.parametrize("send", ["form", "json", "query"])
def test_a_failure_with_its_time_and_note(app, client, make, send):
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    when = (utcnow() - timedelta(hours=3)).replace(microsecond=0)
    fields = {"status": "failed", "at": when.astimezone(UTC).isoformat().replace("+00:00", "Z"),
              "note": "disk full on backup host"}
    if send == "json":
        response = client.post(URL, headers=bearer(secret), json=fields)
    elif send == "query":
        response = client.post(URL, headers=bearer(secret), query_string=fields)
    else:
        response = client.post(URL, headers=bearer(secret), data=fields)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.get_json()["ok"] is False and datetime.fromisoformat(response.get_json()["at"]) == when
    kept = state(app, system_id)
    assert kept.last_report_ok is False and kept.failing_since == when and kept.last_report_note == fields["note"]


def test_a_time_in_another_zone_is_stored_in_utc(app, client, make):
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    sent = (utcnow() - timedelta(hours=3)).replace(microsecond=0).astimezone(timezone(timedelta(hours=2)))
    response = client.post(URL, headers=bearer(secret), data={"at": sent.isoformat()})
    assert response.status_code == 201 and "+02:00" in sent.isoformat()
    assert response.get_json()["at"] == sent.astimezone(UTC).isoformat()
    assert state(app, system_id).last_ok_at == sent


FUTURE = (datetime.now(UTC) + timedelta(days=2)).isoformat()
BAD_INPUT = [
    ({"status": "maybe"}, "status"),
    ({"status": ""}, "status"),
    ({"at": "2024-05-01T03:00:00"}, "at"),  # no zone
    ({"at": "2024-05-01"}, "at"),
    ({"at": "yesterday"}, "at"),
    ({"at": "0001-01-01T00:00+05:00"}, "at"),
    ({"at": "9999-12-31T23:59-05:00"}, "at"),
    ({"at": "x" * 5000}, "at"),
    ({"at": FUTURE}, "at"),
    ({"note": "x" * 501}, "note"),
    ({"note": "bad\x00note"}, "note"),
    ({"note": "escape \x1b[31m"}, "note"),
    ({"stauts": "failed"}, "stauts"),  # a typo is refused, not read as a success
    ({'{"status": "failed"}': ""}, '{"status": "failed"}'),  # JSON sent as a form
]


@pytest.mark.parametrize(("fields", "field"), BAD_INPUT)
def test_bad_input_gets_a_422_naming_the_field(app, client, make, fields, field):
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    response = client.post(URL, headers=bearer(secret), data=fields)
    assert response.status_code == 422, response.get_data(as_text=True)
    body = response.get_json()
    assert body["field"] == field and body["error"]
    assert state(app, system_id).reports == 0


@pytest.mark.parametrize("raw", [b"[1, 2]", b"not json", b'{"status": 1}', b'{"status": "ok", "extra": true}',
                                 b"[" * 100_000, b'"ok"'])
def test_bad_json_gets_a_422(app, client, make, raw):
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    response = client.post(URL, headers=bearer(secret), data=raw, content_type="application/json")
    assert response.status_code == 422 and response.get_json()["error"]
    assert state(app, system_id).reports == 0


def test_a_field_given_twice_is_refused(app, client, make):
    _, secret = token_for(app, new_system(app, make))
    response = client.post(URL + "?status=ok", headers=bearer(secret), data={"status": "failed"})
    assert response.status_code == 422 and response.get_json()["field"] == "status"


def test_every_unusable_token_gets_the_same_401(app, client, make):
    """Wrong, revoked, a retired system's, missing, malformed: byte-identical answers, so a caller
    cannot tell which systems or tokens exist."""
    live_id = new_system(app, make, name="Live")
    _, live = token_for(app, live_id)
    revoked_id, revoked = token_for(app, live_id, label="old job")
    retired_system = new_system(app, make, name="Retired")
    _, retired = token_for(app, retired_system)
    with app.app_context():
        heartbeats.revoke_token(session=db.session, actor=None, token=db.session.get(ReportToken, revoked_id))
        service.retire_system(session=db.session, actor=None, system=db.session.get(System, retired_system))
        db.session.commit()
    cases = {
        "wrong": bearer(heartbeats.TOKEN_PREFIX + "x" * 43), "revoked": bearer(revoked), "retired": bearer(retired),
        "missing": {}, "empty": {"Authorization": "Bearer "}, "basic": {"Authorization": f"Basic {live}"},
        "two words": {"Authorization": f"Bearer {live} {live}"}, "huge": bearer("x" * 10_000),
        "odd characters": bearer("sysb_\u202e\x00"),
    }
    answers = {}
    for case, headers in cases.items():
        response = client.post(URL, headers=headers, data={"status": "failed"})
        answers[case] = (response.status_code, response.get_data(), sorted(response.headers.items()))
    first = answers["wrong"]
    assert first[0] == 401 and dict(first[2])["WWW-Authenticate"].startswith("Bearer")
    assert b"Authorization: Bearer" in first[1] and "Set-Cookie" not in dict(first[2])
    for case, answer in answers.items():
        assert answer == first, case
    # Nothing was recorded, and the live token still works.
    assert state(app, live_id).reports == 0 and state(app, retired_system).reports == 0
    assert client.post(URL, headers=bearer(live)).status_code == 201


def test_a_session_alone_gets_401_and_the_walk_form_gets_nowhere(app, client, auth, make):
    system_id = new_system(app, make)
    auth.as_role("admin")
    response = client.post(URL, data={"status": "ok"})
    assert response.status_code == 401 and state(app, system_id).reports == 0


def test_get_is_405_and_no_cookie_is_ever_set(app, client, make):
    _, secret = token_for(app, new_system(app, make))
    assert client.get(URL).status_code == 405
    assert client.get(URL, headers=bearer(secret)).status_code == 405
    for headers, data in ((bearer(secret), {}), (bearer(secret), {"status": "nope"}), ({}, {})):
        response = client.post(URL, headers=headers, data=data)
        assert "Set-Cookie" not in response.headers, response.status_code


def test_reports_count_right_when_jobs_report_at_once(app, make):
    """Four threads posting for one system at once (so the group commit batches them): every
    report is counted (the state row is updated in SQL, not read and written back)."""
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    barrier, codes = threading.Barrier(4), []

    def post_many():
        client = app.test_client()
        barrier.wait()
        for n in range(15):
            codes.append(client.post(URL, headers=bearer(secret), data={"status": "ok" if n % 3 else "failed"})
                         .status_code)

    threads = [threading.Thread(target=post_many) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert codes == [201] * 60
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(BackupReport.id))) == 60
        newest = db.session.scalar(sa.select(sa.func.max(BackupReport.reported_at)))
    kept = state(app, system_id)
    assert kept.reports == 60 and kept.last_report_at == newest


class FakeSession:
    def __init__(self):
        self.commits = self.rollbacks = 0

    def commit(self):
        self.commits += 1

    def rollback(self):
        self.rollbacks += 1


def run_batched(items: list, *, fail_with: Exception | None = None) -> tuple[dict, FakeSession, list]:
    """A first item is written alone and holds the writer until `items` queue behind it; they are
    then written together. Returns each item's outcome (its result or its error), the session and
    the batches `write` was given."""
    release, session, batches, outcomes = threading.Event(), FakeSession(), [], {}

    def write(_session, batch):
        batches.append(list(batch))
        if batch == ["first"]:
            release.wait(10)
        elif fail_with is not None:
            raise fail_with
        return [f"stored {item}" for item in batch]

    group = GroupCommit(write)

    def call(item):
        try:
            outcomes[item] = group.run(item, session=session)
        except Exception as error:  # noqa: BLE001 - the test looks at which
            outcomes[item] = error

    threads = [threading.Thread(target=call, args=("first",))]
    threads[0].start()
    while not group._writing:
        time.sleep(0.001)
    threads += [threading.Thread(target=call, args=(item,)) for item in items]
    for thread in threads[1:]:
        thread.start()
    while len(group._waiting) < len(items):
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join()
    return outcomes, session, batches


def test_the_group_commit_writes_waiting_items_in_one_transaction():
    outcomes, session, batches = run_batched(["a", "b", "c"])
    assert outcomes == {"first": "stored first", "a": "stored a", "b": "stored b", "c": "stored c"}
    assert batches[0] == ["first"] and sorted(batches[1]) == ["a", "b", "c"] and len(batches) == 2
    assert (session.commits, session.rollbacks) == (2, 0)


def test_a_failed_batch_fails_every_item_in_it_and_only_those(caplog):
    outcomes, session, _ = run_batched(["a", "b"], fail_with=RuntimeError("the database went away"))
    assert outcomes["first"] == "stored first"
    assert isinstance(outcomes["a"], NotCommitted) and isinstance(outcomes["b"], NotCommitted)
    assert (session.commits, session.rollbacks) == (1, 1) and "none was stored" in caplog.text


def test_a_failed_commit_answers_503_and_stores_nothing(app, client, make, monkeypatch):
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)

    def broken(*_args, **_kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(heartbeats, "record_heartbeats", broken)
    response = client.post(URL, headers=bearer(secret))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    assert response.get_json()["error"] and state(app, system_id).reports == 0


def test_a_statement_failing_mid_batch_undoes_the_whole_batch(app, client, make, monkeypatch):
    """The bare-connection write is one transaction: when its last statement fails, the token's
    last use and the report INSERTed before it are undone, the answer is 503, and the connection
    goes back to the pool clean (the next report is stored)."""
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    working = heartbeats._DIRECT_STATE_UPDATES
    monkeypatch.setattr(heartbeats, "_DIRECT_STATE_UPDATES", {ok: PreparedWrite(
        sa.text("UPDATE no_such_table SET last_ok_at = :at WHERE system_id = :state_of")) for ok in (True, False)})
    response = client.post(URL, headers=bearer(secret))
    assert response.status_code == 503 and response.headers["Retry-After"] == "5"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(BackupReport.id))) == 0
        assert db.session.scalar(sa.select(ReportToken.last_used_at)) is None
    assert state(app, system_id).reports == 0
    monkeypatch.setattr(heartbeats, "_DIRECT_STATE_UPDATES", working)
    assert client.post(URL, headers=bearer(secret)).status_code == 201
    assert state(app, system_id).reports == 1


def test_a_report_is_a_few_statements_on_a_bare_connection(app, client, make):
    """One report marks its token used and reads back its system (one UPDATE ... RETURNING), then
    INSERTs the report, moves the system's state and its kept audit row; nothing else (no Session:
    no ping or ORM bookkeeping between)."""
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    seen: list[str] = []
    with app.app_context():
        engine = db.engine

    def listener(_conn, _cursor, statement, *_rest):
        seen.append(" ".join(statement.split()[:3]))

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.post(URL, headers=bearer(secret)).status_code == 201
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    transaction = ["BEGIN IMMEDIATE"] if engine.dialect.name == "sqlite" else []
    assert seen == [*transaction, "UPDATE system_report_token SET", "INSERT INTO system_backup_report",
                    "UPDATE system_state SET", "UPDATE system_audit SET",
                    *(["COMMIT"] if transaction else [])], seen


def test_a_connection_the_server_dropped_is_replaced_and_the_report_stored_once(app, client, make, backend):
    """On PostgreSQL the reports' pool has no pre-ping (a round trip per batch): a connection the
    server dropped (a restart, a failover) is found by the first statement, which cannot have
    committed anything; the batch is run again on a fresh connection, and stored once."""
    system_id = new_system(app, make)
    _, secret = token_for(app, system_id)
    assert client.post(URL, headers=bearer(secret)).status_code == 201
    if backend == "postgresql":
        assert drop_server_connections(app) >= 1
    assert client.post(URL, headers=bearer(secret)).status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(BackupReport.id))) == 2
    assert state(app, system_id).reports == 2


def test_a_batch_with_tokens_good_and_bad(app, make):
    """record_heartbeats: several reports in a few statements, each judged by its own token."""
    first, second = new_system(app, make, name="First"), new_system(app, make, name="Second")
    _, one = token_for(app, first)
    _, two = token_for(app, second)
    with app.app_context(), clock_at(NOW):
        holders = heartbeats.record_heartbeats(db.engine, [
            heartbeats.Heartbeat(one, ok=True, at=at(3)), heartbeats.Heartbeat("sysb_wrong", ok=True),
            heartbeats.Heartbeat(two, ok=False, at=at(2)), heartbeats.Heartbeat(one, ok=False, at=at(1)),
            heartbeats.Heartbeat(two, record=False), heartbeats.Heartbeat("")])
    assert [h.system_name if h else None for h in holders] == ["First", None, "Second", "First", "Second", None]
    kept = state(app, first)
    assert kept.reports == 2 and kept.last_ok_at == at(3) and kept.failing_since == at(1)
    assert state(app, second).reports == 1 and state(app, second).failing_since == at(2)


# --- the CLI -------------------------------------------------------------------------------------------

def test_the_backup_report_command(app, make):
    system_id = new_system(app, make)
    runner = app.test_cli_runner()
    done = runner.invoke(args=["systems", "backup-report", "STORAGE   cluster", "--ok", "--note", "nightly"])
    assert done.exit_code == 0 and "Recorded a successful backup of Storage cluster" in done.output
    when = (utcnow() - timedelta(hours=2)).replace(microsecond=0, tzinfo=None)
    failed = runner.invoke(args=["systems", "backup-report", "storage cluster", "--failed", "--at", when.isoformat()])
    assert failed.exit_code == 0, failed.output
    kept = state(app, system_id)
    assert kept.reports == 2 and kept.last_report_ok is True  # the failure was for an older run
    with app.app_context():
        stored = db.session.scalar(sa.select(BackupReport).where(BackupReport.ok.is_(False)))
        assert stored.reported_at == when.replace(tzinfo=UTC) and stored.source == "cli"  # naive means UTC


@pytest.mark.parametrize(("args", "said"), [
    (["No such system", "--ok"], "No system called 'No such system'"),
    (["Storage cluster"], "--ok or --failed"),
    (["Storage cluster", "--ok", "--at", "last night"], "ISO 8601"),
    (["Storage cluster", "--ok", "--at", (datetime.now(UTC) + timedelta(days=1)).isoformat()], "future"),
    (["Storage cluster", "--failed", "--note", "x" * 600], "under 500"),
])
def test_the_backup_report_command_refuses_clearly(app, make, args, said):
    system_id = new_system(app, make)
    result = app.test_cli_runner().invoke(args=["systems", "backup-report", *args])
    assert result.exit_code in (1, 2) and said in result.output, result.output
    assert state(app, system_id).reports == 0


def test_token_commands(app, client, make):
    system_id = new_system(app, make)
    runner = app.test_cli_runner()
    made = runner.invoke(args=["systems", "token", "create", "storage cluster", "--label", "nightly restic"])
    assert made.exit_code == 0, made.output
    secret = next(word for word in made.output.split() if word.startswith(heartbeats.TOKEN_PREFIX))
    assert client.post(URL, headers=bearer(secret)).status_code == 201
    listing = runner.invoke(args=["systems", "token", "list", "Storage cluster"])
    assert "nightly restic" in listing.output and secret[:11] in listing.output and secret not in listing.output
    assert runner.invoke(args=["systems", "token", "revoke", "Storage cluster"]).exit_code == 1
    assert runner.invoke(args=["systems", "token", "revoke", "Storage cluster", "--hint", "sysb_zzzzzz"]).exit_code == 1
    revoked = runner.invoke(args=["systems", "token", "revoke", "Storage cluster", "--hint", secret[:11]])
    assert revoked.exit_code == 0 and "Revoked token" in revoked.output
    assert client.post(URL, headers=bearer(secret)).status_code == 401
    again = runner.invoke(args=["systems", "token", "revoke", "Storage cluster", "--hint", secret[5:11]])
    assert again.exit_code == 0 and "already revoked" in again.output
    second = runner.invoke(args=["systems", "token", "create", "Storage cluster"])
    with app.app_context():
        newest = db.session.scalar(sa.select(ReportToken.id).order_by(ReportToken.id.desc()).limit(1))
    assert runner.invoke(args=["systems", "token", "revoke", "Storage cluster", "--id", str(newest)]).exit_code == 0
    secret2 = next(word for word in second.output.split() if word.startswith(heartbeats.TOKEN_PREFIX))
    assert client.post(URL, headers=bearer(secret2)).status_code == 401
    assert state(app, system_id).reports == 1
    unknown = runner.invoke(args=["systems", "token", "create", "Nope"])
    assert unknown.exit_code == 1 and "No system called" in unknown.output
