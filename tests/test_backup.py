"""The tracker backs itself up while it serves, proves the backup restores, and restores it.

Runs on SQLite (backup API) and PostgreSQL (pg_dump of an exported snapshot), see conftest.
"""
from __future__ import annotations

import json
import re
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from incidents.extensions import db
from tests.factories import Factory
from tests.helpers import behind_the_triggers

WRITERS = 4


def entries_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(sa.text("SELECT count(*) FROM timeline_entry"))
        db.session.remove()
        return count


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def backup(runner, folder: Path):
    result = runner.invoke(args=["backup", "create", str(folder)])
    assert result.exit_code == 0, result.output
    return result


def verify(runner, folder: Path):
    return runner.invoke(args=["backup", "verify", str(folder)])


def test_backup_taken_during_concurrent_writes_verifies(app, runner, make, tmp_path):
    reference = make.incident(title="Contacts wiped during a storage upgrade")
    emails = [make.user(role="responder") for _ in range(WRITERS)]
    acknowledged = [0] * WRITERS
    stop = threading.Event()
    failures: list[str] = []

    def write(n: int) -> None:
        client = app.test_client()
        client.post("/login", data={"email": emails[n], "password": Factory.PASSWORD})
        while not stop.is_set():
            response = client.post(f"/incidents/{reference}/timeline",
                                   data={"body": f"writer {n} update {acknowledged[n]}", "kind": "note",
                                         "visibility": "internal"})
            if response.status_code != 302:
                failures.append(f"writer {n}: HTTP {response.status_code}")
                return
            acknowledged[n] += 1

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 30
        while sum(acknowledged) < 20 and time.monotonic() < deadline and not failures:
            time.sleep(0.01)
        before = sum(acknowledged)
        backup(runner, tmp_path / "during-writes")
        during = sum(acknowledged) - before
        time.sleep(0.3)  # writes go on after the backup, too
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert failures == []
    written = sum(acknowledged)
    assert before >= 20 and written > before, "the writers were not running around the backup"

    in_backup = manifest_of(tmp_path / "during-writes")["tables"]["timeline_entry"]["rows"]
    print(f"acknowledged before the backup {before}, during it {during}, in total {written}; "
          f"backup holds {in_backup - 1} posts")
    # One declaration entry, plus at least every post acknowledged before the backup began; not
    # the ones written after it ended.
    assert 1 + before <= in_backup <= 1 + before + during + WRITERS
    assert in_backup < entries_count(app)

    result = verify(runner, tmp_path / "during-writes")
    assert result.exit_code == 0, result.output
    assert "MISMATCH" not in result.output
    assert "OK        timeline_entry" in result.output
    assert "Backup verified: all" in result.output


@pytest.fixture
def taken(app, runner, make, tmp_path) -> Path:
    reference = make.incident(title="Photos missing after upgrade")
    for n in range(3):
        make.entry(reference, body=f"Thumbnails gone for album {n}")
    folder = tmp_path / "backup"
    backup(runner, folder)
    return folder


def test_manifest_records_revision_counts_and_file(app, taken):
    manifest = manifest_of(taken)
    with app.app_context():
        revision = db.session.scalar(sa.text("SELECT version_num FROM alembic_version"))
        users = db.session.scalar(sa.text('SELECT count(*) FROM "user"'))
    assert manifest["alembic_revision"] == revision
    assert manifest["tables"]["timeline_entry"]["rows"] == 4
    assert manifest["tables"]["user"]["rows"] == users
    assert (taken / manifest["dump"]["file"]).stat().st_size == manifest["dump"]["bytes"]


def test_a_backup_whose_manifest_disagrees_fails_verify(runner, taken):
    manifest = manifest_of(taken)
    manifest["tables"]["timeline_entry"]["rows"] += 1
    manifest["tables"]["incident"]["checksum"] = "0" * 64
    (taken / "manifest.json").write_text(json.dumps(manifest))
    result = verify(runner, taken)
    assert result.exit_code == 1, result.output
    assert "MISMATCH  timeline_entry" in result.output and "5 rows in the manifest, 4 restored" in result.output
    assert "MISMATCH  incident" in result.output and "content differs" in result.output
    assert "OK        user" in result.output
    assert "Backup FAILED verification: 2 table(s) differ." in result.output


def test_a_damaged_dump_fails_verify(runner, taken):
    dump = taken / manifest_of(taken)["dump"]["file"]
    data = bytearray(dump.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 4096] = b"\xff" * 4096
    dump.write_bytes(bytes(data))
    result = verify(runner, taken)
    assert result.exit_code == 1, result.output
    assert "MISMATCH  dump file checksum" in result.output
    assert "Backup FAILED verification" in result.output and "the dump file is damaged" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("backend", ["sqlite"])  # a row can be edited in place only in an SQLite file
def test_a_changed_row_inside_a_sqlite_backup_is_named(backend, runner, taken):
    import sqlite3

    with sqlite3.connect(taken / "database.sqlite3") as conn:
        conn.execute("UPDATE incident SET title = 'Rewritten behind the tracker''s back'")
    conn.close()
    result = verify(runner, taken)
    assert result.exit_code == 1
    assert re.search(r"MISMATCH  incident +1 rows, but their content differs", result.output), result.output
    assert re.search(r"OK +timeline_entry +4 rows, checksum matches", result.output)


def test_verify_explains_a_folder_that_is_not_a_backup(runner, tmp_path):
    (tmp_path / "empty").mkdir()
    result = verify(runner, tmp_path / "empty")
    assert result.exit_code == 1
    assert "manifest.json is missing" in result.output and "Traceback" not in result.output


def test_create_refuses_to_write_into_a_used_folder(runner, taken):
    result = runner.invoke(args=["backup", "create", str(taken)])
    assert result.exit_code == 1 and "already exists" in result.output


def test_restore_brings_back_data_deleted_after_the_backup(app, client, auth, make, runner, tmp_path):
    email = auth.as_role("responder")
    reference = make.incident(by=email, title="Calendars emptied by a sync bug")
    entry_id = make.entry(reference, by=email, body="Sync servers stopped to protect what is left")
    assert client.post(f"/incidents/{reference}/timeline/{entry_id}/pin").status_code == 302
    workstream = make.workstream(reference, by=email, name="Replay calendar journals", target=800)
    client.post(f"/incidents/{reference}/workstreams/{workstream}/progress",
                data={"version": 1, "done": 300, "note": "First shard replayed"})
    folder = tmp_path / "before-the-mistake"
    backup(runner, folder)
    page_then = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert "Key entries" in page_then and "First shard replayed" in client.get(
        f"/incidents/{reference}/workstreams/{workstream}").get_data(as_text=True)

    # After the backup: the key entry is unpinned through the app, a bad script deletes the
    # progress reports, and someone posts an update the backup does not hold.
    assert client.post(f"/incidents/{reference}/timeline/{entry_id}/unpin").status_code == 302
    with app.app_context():
        db.session.execute(sa.text("DELETE FROM workstream_progress"))
        db.session.commit()
    make.entry(reference, by=email, body="Posted after the backup")
    assert "Key entries" not in client.get(f"/incidents/{reference}").get_data(as_text=True)

    refused = runner.invoke(args=["backup", "restore", str(folder)], input="n\n")
    assert refused.exit_code == 1 and "Aborted" in refused.output
    assert "Key entries" not in client.get(f"/incidents/{reference}").get_data(as_text=True)

    result = runner.invoke(args=["backup", "restore", str(folder), "--yes"])
    assert result.exit_code == 0, result.output
    assert "Restored" in result.output and "MISMATCH" not in result.output
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert "Key entries" in page and "Sync servers stopped to protect what is left" in page
    assert "Posted after the backup" not in page
    assert "First shard replayed" in client.get(
        f"/incidents/{reference}/workstreams/{workstream}").get_data(as_text=True)
    # The restored database still takes writes (sequences and the schema came back too).
    make.entry(reference, by=email, body="Posted after the restore")
    assert "Posted after the restore" in client.get(f"/incidents/{reference}").get_data(as_text=True)


def test_restore_refuses_a_backup_of_another_schema_revision(app, runner, taken):
    manifest = manifest_of(taken)
    manifest["alembic_revision"] = "0123456789ab"
    (taken / "manifest.json").write_text(json.dumps(manifest))
    before = entries_count(app)
    result = runner.invoke(args=["backup", "restore", str(taken), "--yes"])
    assert result.exit_code == 1
    assert "schema revision 0123456789ab" in result.output and "Not restored" in result.output
    assert entries_count(app) == before


def test_backup_keeps_the_audit_head_and_verify_fails_once_it_is_gone(app, runner, backend, taken):
    """#18: the head hash is written beside the backup; deleting the newest events is then noticed."""
    from incidents.audit.models import AuditEvent

    with app.app_context():
        newest = db.session.scalars(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(2)).all()
        db.session.remove()
    assert (taken / "audit-head.txt").read_text().strip() == newest[0].hash
    assert verify(runner, taken).exit_code == 0
    behind_the_triggers(app, backend, "audit_event", ("DELETE FROM audit_event WHERE id = :id", {"id": newest[0].id}))
    result = verify(runner, taken)
    assert result.exit_code == 1
    assert f"the expected hash {newest[0].hash} is not in the chain" in result.output
    assert "the live audit log no longer contains the backup's audit head" in result.output
