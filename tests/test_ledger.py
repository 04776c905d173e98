"""The affected-customer ledger (issue #14): importing a customer list through the web and the CLI,
all or nothing, bad files refused with reasons and nothing changed, figures and impact snapshots
taken from it, and the support look-up, audited."""
from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from incidents.audit.models import AuditEvent
from incidents.extensions import db
from incidents.impact.models import ImpactUpdate
from incidents.incident.service import get_incident
from incidents.ledger.models import (
    LedgerCustomer,
    LedgerImport,
    LedgerImportProblem,
    LedgerItem,
    LedgerStagingRow,
    LedgerUploadChunk,
)
from tests.form_matrix import errors_beside

HEADER = "customer_id,data_categories,country,region,channel,records\n"
GOOD = HEADER + (
    "C-1,contacts;photos,US,CA,email,120\n"
    "C-2,Photos,US,US-CA,letter,\n"
    "C-3,calendars|notes,DE,,in_app,7\n"
)


@pytest.fixture
def app_config(app_config):
    app_config["JOBS_IMMEDIATE"] = True  # the import job runs as its upload commits
    return app_config


@pytest.fixture
def incident(make):
    return make.incident(title="Contacts and photos missing")


def upload(client, reference: str, body: bytes | str, *, mode: str = "all_or_nothing", name: str = "list.csv",
           kind: str = "customers"):
    data = body.encode() if isinstance(body, str) else body
    return client.post(f"/incidents/{reference}/ledger/imports", content_type="multipart/form-data",
                       data={"mode": mode, "kind": kind, "file": (io.BytesIO(data), name)})


def ledger_rows(app, reference: str) -> dict[str, dict]:
    """The ledger of an incident as {customer id: {country, region, channel, records, items}}."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        customers = db.session.scalars(select(LedgerCustomer).where(LedgerCustomer.incident_id == incident.id))
        return {c.customer_ref: {"country": c.country, "region": c.region, "channel": c.channel,
                                 "records": c.records, "outcome": c.outcome,
                                 "items": {i.category: i.state for i in c.items}} for c in customers}


def last_import(app) -> LedgerImport:
    with app.app_context():
        record = db.session.scalar(select(LedgerImport).order_by(LedgerImport.id.desc()).limit(1))
        db.session.expunge(record)
        return record


def leftovers(app) -> tuple[int, int]:
    """Staged rows and stored upload chunks still in the database (an import ends with neither)."""
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(LedgerStagingRow)),
                db.session.scalar(select(func.count()).select_from(LedgerUploadChunk)))


def test_an_uploaded_list_becomes_the_ledger_its_figures_and_an_impact_snapshot(app, client, auth, make, incident):
    email = auth.as_role("responder")
    make.impact(incident, by=email, affected=5, categories={"contacts": (50_000, 100, 7)})
    response = upload(client, incident, GOOD)
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Applied 3 rows (3 new customers)." in page

    assert ledger_rows(app, incident) == {
        "C-1": {"country": "US", "region": "CA", "channel": "email", "records": 120, "outcome": "waiting",
                "items": {"contacts": "affected", "photos": "affected"}},
        "C-2": {"country": "US", "region": "CA", "channel": "letter", "records": None, "outcome": "waiting",
                "items": {"photos": "affected"}},
        "C-3": {"country": "DE", "region": None, "channel": "in_app", "records": 7, "outcome": "waiting",
                "items": {"calendars": "affected", "notes": "affected"}},
    }
    overview = client.get(f"/incidents/{incident}/ledger").get_data(as_text=True)
    assert "US-CA" in overview and "DE" in overview
    with app.app_context():
        update = db.session.scalar(select(ImpactUpdate).order_by(ImpactUpdate.id.desc()).limit(1))
        assert update.customers_affected == 3 and update.customers_restored == 0
        # Customers come from the ledger; records per category, which it does not know, carry forward.
        assert [(c.category, c.records_affected, c.records_recovered, c.records_unrecoverable)
                for c in update.categories] == [("contacts", 50_000, 100, 7)]
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "ledger_import")).all()
        assert len(events) == 1  # one event for the file, not one per customer
        after = json.loads(events[0].after)
        assert after["sha256"] == __import__("hashlib").sha256(GOOD.encode()).hexdigest()
        assert (after["rows"], after["applied"], after["bad"]) == (3, 3, 0)
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)
                                 .where(AuditEvent.entity_type == "ledger_customer")) == 0
    assert leftovers(app) == (0, 0)
    # The incident page's impact panel shows the ledger's count.
    detail = client.get(f"/incidents/{incident}").get_data(as_text=True)
    assert f"/incidents/{incident}/ledger" in detail


def test_a_second_import_merges_by_customer_id(app, client, auth, incident):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    upload(client, incident, HEADER + "C-1,contacts;files,GB,,letter,\nC-9,billing,US,NY,,3\n")
    rows = ledger_rows(app, incident)
    assert set(rows) == {"C-1", "C-2", "C-3", "C-9"}
    assert rows["C-1"]["country"] == "GB" and rows["C-1"]["records"] == 120  # a blank count keeps the old one
    assert rows["C-1"]["items"] == {"contacts": "affected", "photos": "affected", "files": "affected"}
    assert last_import(app).customers_new == 1


BAD_FILES = {
    "empty": (b"", "The file is empty"),
    "header only": (HEADER.encode(), "no customers"),
    "wrong header": (b"id,email\n1,a@example.com\n", "The header row is not an affected-customer list"),
    "latin-1": (HEADER.encode() + "C-1,contacts,DE,,email,\nC-\xe9,photos,FR,,email,\n".encode("latin-1"),
                "not UTF-8"),
    "binary": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 50, "binary data"),
}


@pytest.mark.parametrize("name", BAD_FILES)
def test_a_file_that_cannot_be_read_is_refused_with_its_reason_and_changes_nothing(app, client, auth, incident, name):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    before = ledger_rows(app, incident)
    body, reason = BAD_FILES[name]
    response = upload(client, incident, body, mode="good_rows")
    if name == "empty":  # refused at once, beside the file field
        assert response.status_code == 422
        assert any(reason in e for e in errors_beside(response.get_data(as_text=True), "file"))
    else:
        page = client.get(response.headers["Location"]).get_data(as_text=True)
        assert "Refused: nothing applied" in page and reason in page
    assert ledger_rows(app, incident) == before
    assert leftovers(app) == (0, 0)


BAD_ROWS = HEADER + (
    "C-1,contacts,US,CA,email,1\n"
    "C-2,fotos,US,CA,email,1\n"            # unknown category
    "C-3,photos,XX,,email,\n"              # unknown country
    "C-4,photos,US,ZZ,email,\n"            # not a US state
    "C-5,photos,US,CA,pigeon,\n"           # unknown channel
    "C-6,photos,US,CA,email,-3\n"          # not a count
    ",photos,US,CA,email,\n"               # no id
    "C-1,photos,US,CA,email,\n"            # given twice
    "C-8,photos\n"                         # short row
    "C-9,notes,DE,,,\n"
)


def test_all_or_nothing_refuses_a_file_with_bad_rows_and_lists_each_with_its_line(app, client, auth, incident):
    auth.as_role("responder")
    response = upload(client, incident, BAD_ROWS)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "8 of 10 rows have problems" in page
    assert ledger_rows(app, incident) == {}
    problems = client.get(response.headers["Location"] + "/problems.csv")
    assert problems.status_code == 200 and problems.mimetype == "text/csv"
    table = list(csv.reader(io.StringIO(problems.get_data(as_text=True))))
    assert table[0] == ["line", "customer_id", "problem"]
    by_line = {int(line): (ref, reason) for line, ref, reason in table[1:]}
    assert sorted(by_line) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "unknown data category 'fotos'" in by_line[3][1]
    assert "country 'XX'" in by_line[4][1]
    assert "ISO 3166-2 subdivision of US" in by_line[5][1]
    assert "channel 'pigeon'" in by_line[6][1]
    assert "records '-3'" in by_line[7][1]
    assert by_line[8] == ("", "customer_id is empty")
    assert by_line[9] == ("C-1", "customer_id 'C-1' is already on line 2")
    assert "2 fields; the header has 6" in by_line[10][1]
    assert leftovers(app) == (0, 0)


def test_good_rows_mode_applies_the_good_rows_and_reports_the_rest(app, client, auth, incident):
    auth.as_role("responder")
    upload(client, incident, BAD_ROWS, mode="good_rows")
    assert set(ledger_rows(app, incident)) == {"C-1", "C-9"}
    record = last_import(app)
    assert (record.state, record.rows_read, record.rows_applied, record.rows_bad) == ("applied", 10, 2, 8)


def test_spreadsheet_formulas_in_the_problems_file_are_defused(app, client, auth, incident):
    auth.as_role("responder")
    response = upload(client, incident, HEADER + "=HYPERLINK(\"http://x\"),fotos,US,,,\n")
    body = client.get(response.headers["Location"] + "/problems.csv").get_data(as_text=True)
    assert "'=HYPERLINK" in body


def test_viewers_see_figures_but_cannot_import_or_download_problems(app, client, auth, make, incident):
    auth.as_role("responder")
    response = upload(client, incident, BAD_ROWS)
    location = response.headers["Location"]
    auth.logout()
    auth.as_role("viewer")
    assert client.get(f"/incidents/{incident}/ledger").status_code == 200
    assert client.get(location).status_code == 200
    assert client.get(location + "/problems.csv").status_code == 403
    assert upload(client, incident, GOOD).status_code == 403


def test_the_support_look_up_shows_one_customer_and_is_audited(app, client, auth, make, incident):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    auth.logout()
    viewer = auth.as_role("viewer")
    page = client.get("/customers?customer=C-1").get_data(as_text=True)
    assert "Contacts and photos missing" in page and "US-CA" in page and "Photos" in page
    found = client.get("/customers?customer=C-1&format=json").get_json()
    assert found["found"][0]["categories"] == [
        {"category": "contacts", "label": "Contacts", "state": "affected",
         "changed_at": found["found"][0]["categories"][0]["changed_at"], "workstream": None},
        {"category": "photos", "label": "Photos", "state": "affected",
         "changed_at": found["found"][0]["categories"][1]["changed_at"], "workstream": None}]
    assert found["found"][0]["incident"]["reference"] == incident
    nobody = client.get("/customers?customer=C-404", headers={"Accept": "application/json"}).get_json()
    assert nobody == {"customer_id": "C-404", "found": []}
    with app.app_context():
        events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "ledger_lookup")
                                    .order_by(AuditEvent.id)).all()
        assert [(e.actor, e.entity_id) for e in events] == [(viewer, "C-1"), (viewer, "C-1"), (viewer, "C-404")]
    # An exact look-up: a prefix finds nobody.
    assert client.get("/customers?customer=C&format=json").get_json()["found"] == []
    auth.logout()
    assert client.get("/customers?customer=C-1").status_code in (302, 401)


def test_the_look_up_form_explains_a_missing_or_overlong_id(client, auth):
    auth.as_role("viewer")
    page = client.get("/customers?customer=").get_data(as_text=True)
    assert errors_beside(page, "customer") == ["Type the customer's id."]
    page = client.get("/customers?customer=" + "x" * 101).get_data(as_text=True)
    assert errors_beside(page, "customer")


def test_the_cli_imports_with_progress_and_exits_non_zero_when_refused(app, runner, make, incident, tmp_path):
    good = tmp_path / "good.csv"
    good.write_text(GOOD)
    result = runner.invoke(args=["ledger", "import", incident, str(good)])
    assert result.exit_code == 0, result.output
    assert "Applied 3 rows (3 new customers)." in result.output
    assert set(ledger_rows(app, incident)) == {"C-1", "C-2", "C-3"}
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_ROWS)
    result = runner.invoke(args=["ledger", "import", incident, str(bad)])
    assert result.exit_code == 1
    assert "Nothing was applied" in result.output and "line 3: unknown data category" in result.output
    result = runner.invoke(args=["ledger", "import", "INC-1999-0001", str(good)])
    assert result.exit_code != 0 and "No incident INC-1999-0001" in result.output


def write_big_list(path: Path, rows: int) -> None:
    with path.open("w") as out:
        out.write(HEADER)
        for n in range(rows):
            out.write(f"K-{n:08d},contacts;photos,US,CA,email,{n % 50}\n")


def applying(app) -> bool:
    """Whether a transaction merging staged rows into the ledger is open right now."""
    with app.app_context():
        if db.engine.dialect.name == "postgresql":
            return bool(db.session.scalar(sa.text(
                "SELECT count(*) FROM pg_stat_activity WHERE xact_start IS NOT NULL AND pid <> pg_backend_pid() "
                "AND (query ILIKE '%INSERT INTO ledger_customer%' OR query ILIKE '%INSERT INTO ledger_item%' "
                "OR query ILIKE '%UPDATE ledger_customer SET outcome%')")))
        path = db.engine.url.database
    # SQLite: the apply holds the write lock for its whole transaction (staging only for a batch).
    probe = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        probe.close()


@pytest.mark.parametrize("kill_when", ["staging", "applying"])
def test_a_worker_killed_mid_import_leaves_the_ledger_as_it_was(app, app_config, make, incident, tmp_path, kill_when):
    """SIGKILL the importing process while it stages rows, or inside the transaction that applies
    them: the ledger keeps exactly what it had, and the same file imported again applies in full."""
    with app.app_context():
        app_config["SQLALCHEMY_DATABASE_URI"] = str(db.engine.url.render_as_string(hide_password=False))
    path = tmp_path / "big.csv"
    write_big_list(path, 60_000)
    (tmp_path / "run_import.py").write_text(
        "import sys, json\n"
        "from incidents import create_app\n"
        "app = create_app(json.loads(sys.argv[1]))\n"
        "app.test_cli_runner().invoke(args=['ledger', 'import', sys.argv[2], sys.argv[3]], catch_exceptions=False)\n")
    config = {k: v for k, v in app_config.items() if isinstance(v, (str, int, float, bool))}
    child = subprocess.Popen([sys.executable, str(tmp_path / "run_import.py"), json.dumps(config), incident, str(path)],
                             cwd=Path(__file__).resolve().parent.parent, env={**os.environ},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            assert child.poll() is None, "the import ended before it could be killed"
            with app.test_request_context():  # a GET's read transaction: it takes no write lock
                staged = db.session.scalar(select(func.count()).select_from(LedgerStagingRow))
                state = db.session.scalar(select(LedgerImport.state).order_by(LedgerImport.id.desc()).limit(1))
                db.session.rollback()
            if kill_when == "staging" and staged and staged < 50_000:
                break
            if kill_when == "applying" and staged >= 60_000 and state == "running" and applying(app):
                break
            time.sleep(0.01)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
    assert ledger_rows(app, incident) == {}
    result = app.test_cli_runner().invoke(args=["ledger", "import", incident, str(path)])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerCustomer)) == 60_000
        assert db.session.scalar(select(func.count()).select_from(LedgerItem)) == 120_000
        assert db.session.scalar(select(func.count()).select_from(LedgerImportProblem)
                                 .join(LedgerImport).where(LedgerImport.state == "applied")) == 0


def test_status_lists_restore_or_lose_data_and_the_figures_follow(app, client, auth, make, incident):
    email = auth.as_role("responder")
    workstream_id = make.workstream(incident, by=email, name="Replay from tape", target=10)
    upload(client, incident, GOOD)
    # C-1 gets photos back (not contacts); C-2 everything; C-3's notes are gone for good; C-404 is nobody.
    response = client.post(f"/incidents/{incident}/ledger/imports", content_type="multipart/form-data", data={
        "kind": "restored", "workstream": workstream_id, "mode": "good_rows",
        "file": (io.BytesIO(b"customer_id,data_categories\nC-1,photos\nC-2,\nC-404,\n"), "restored.csv")})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Applied 2 rows (2 customers marked restored); 1 row with problems was left out." in page
    upload(client, incident, "customer_id,data_categories\nC-3,notes\n", mode="good_rows", kind="lost")
    rows = ledger_rows(app, incident)
    assert rows["C-1"]["items"] == {"contacts": "affected", "photos": "restored"}
    assert rows["C-1"]["outcome"] == "waiting"
    assert rows["C-2"]["items"] == {"photos": "restored"} and rows["C-2"]["outcome"] == "restored"
    assert rows["C-3"]["items"] == {"calendars": "affected", "notes": "lost"} and rows["C-3"]["outcome"] == "lost"
    with app.app_context():
        from incidents.ledger.figures import figures_of
        kept = figures_of(session=db.session, incident_id=get_incident(session=db.session, reference=incident).id)
        assert (kept.total.affected, kept.total.restored, kept.total.lost) == (3, 1, 1)
        assert (kept.categories["photos"].affected, kept.categories["photos"].restored) == (2, 2)
        assert kept.jurisdictions["US-CA"].restored == 1 and kept.jurisdictions["DE"].lost == 1
        latest = db.session.scalar(select(ImpactUpdate).order_by(ImpactUpdate.id.desc()).limit(1))
        assert (latest.customers_affected, latest.customers_restored, latest.customers_lost) == (3, 1, 1)
        item = db.session.scalar(select(LedgerItem).join(LedgerCustomer).where(
            LedgerCustomer.customer_ref == "C-2"))
        assert item.workstream_id == workstream_id
    problems = client.get(response.headers["Location"] + "/problems.csv").get_data(as_text=True)
    assert "C-404,customer_id is not in this incident's ledger" in problems
    # The look-up says who restored what.
    found = client.get("/customers?customer=C-2&format=json").get_json()["found"][0]
    assert found["outcome"] == "restored" and found["categories"][0]["workstream"] == "Replay from tape"


def test_a_status_list_with_a_customer_list_header_is_refused(app, client, auth, incident):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    response = upload(client, incident, GOOD, kind="restored")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "The header row is not a list of restored customers (unknown &#39;country&#39;" in page
    assert all(row["outcome"] == "waiting" for row in ledger_rows(app, incident).values())


def test_one_customer_changed_by_hand_moves_the_kept_figures_by_one(app, client, auth, make, incident):
    email = auth.as_role("responder")
    workstream_id = make.workstream(incident, by=email, name="Hand restore")
    upload(client, incident, GOOD)
    page = client.get("/customers?customer=C-1").get_data(as_text=True)
    assert 'name="state-contacts"' in page  # responders get the form
    response = client.post(f"/incidents/{incident}/ledger/customer", data={
        "customer_id": "C-1", "state-contacts": "restored", "state-photos": "restored", "workstream": workstream_id})
    assert response.status_code == 302
    client.post(f"/incidents/{incident}/ledger/customer", data={"customer_id": "C-3", "state-notes": "lost"})

    def kept():
        with app.app_context():
            from incidents.ledger.figures import figures_of
            f = figures_of(session=db.session, incident_id=get_incident(session=db.session, reference=incident).id)
            return (f.total, f.categories, f.jurisdictions)

    by_hand = kept()
    with app.app_context():  # counted from scratch, the figures are the same
        from incidents.ledger.figures import recompute
        recompute(session=db.session, incident_id=get_incident(session=db.session, reference=incident).id)
        db.session.commit()
    assert kept() == by_hand
    assert (by_hand[0].restored, by_hand[0].lost) == (1, 1)
    rows = ledger_rows(app, incident)
    assert rows["C-1"]["outcome"] == "restored" and rows["C-3"]["outcome"] == "lost"
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.entity_type == "ledger_customer",
                                                           AuditEvent.action == "update").order_by(AuditEvent.id))
        assert (event.entity_id, json.loads(event.before), json.loads(event.after)) == (
            "C-1", {"contacts": "affected", "photos": "affected"}, {"contacts": "restored", "photos": "restored"})
    # A category the customer does not have, or a customer not in the ledger: told, nothing changes.
    change = f"/incidents/{incident}/ledger/customer"
    response = client.post(change, data={"customer_id": "C-2", "state-billing": "lost"}, follow_redirects=True)
    assert "C-2 has no billing in this ledger." in response.get_data(as_text=True)
    response = client.post(change, data={"customer_id": "C-404", "state-notes": "lost"}, follow_redirects=True)
    assert "Customer C-404 is not in" in response.get_data(as_text=True)
    assert ledger_rows(app, incident)["C-2"]["outcome"] == "waiting"
    # The snapshot button takes the figures into the incident's impact.
    client.post(f"/incidents/{incident}/ledger/snapshot")
    with app.app_context():
        latest = db.session.scalar(select(ImpactUpdate).order_by(ImpactUpdate.id.desc()).limit(1))
        assert (latest.customers_restored, latest.customers_lost) == (1, 1)


def release_notice(app, make, reference: str, channel: str = "email") -> int:
    """A customer notice, version 1 approved and released on `channel`; returns the release id."""
    from incidents.db import utcnow
    from incidents.notices.models import Channel, Notice, NoticeRelease

    notice_id = make.notice(reference, subject="Your contacts: what happened")
    with app.app_context():
        version = db.session.get(Notice, notice_id).latest
        version.approved_at = utcnow()
        release = NoticeRelease(version=version, audience=version.notice.audience, channel=Channel(channel))
        db.session.add(release)
        db.session.commit()
        return release.id


def test_a_notification_batch_exports_who_is_still_to_tell_then_records_them_sent(app, client, auth, make, incident):
    auth.as_role("responder")
    upload(client, incident, GOOD + "C-4,photos,US,NY,email,\n")
    release_id = release_notice(app, make, incident)
    assert client.post(f"/incidents/{incident}/ledger/batches", data={"release": release_id}).status_code == 302
    overview = client.get(f"/incidents/{incident}/ledger").get_data(as_text=True)
    link = re.search(r'href="(/incidents/[^"]+/ledger/batches/([^"/]+)\.csv)"', overview)
    exported = client.get(link.group(1))
    assert exported.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(exported.get_data(as_text=True))))
    assert rows[0] == ["customer_id", "country", "region", "channel", "data_categories", "outcome", "records"]
    assert rows[1:] == [["C-1", "US", "CA", "email", "contacts;photos", "waiting", "120"],
                        ["C-4", "US", "NY", "email", "photos", "waiting", ""]]  # C-2 by letter, C-3 in-app
    # While the batch is out, a second export finds nobody new.
    response = client.post(f"/incidents/{incident}/ledger/batches", data={"release": release_id}, follow_redirects=True)
    assert "Nobody is left to send this version by e-mail" in response.get_data(as_text=True)
    client.post(f"/incidents/{incident}/ledger/batches/{link.group(2)}/sent")
    found = client.get("/customers?customer=C-1&format=json").get_json()["found"][0]
    assert found["notified"]["channel"] == "email" and found["notified"]["notice_version"] == 1
    with app.app_context():
        latest = db.session.scalar(select(ImpactUpdate).order_by(ImpactUpdate.id.desc()).limit(1))
        assert latest.customers_notified == 2
    # A bounce list marks the bounce; the customer stays counted as sent.
    upload(client, incident, "customer_id\nC-4\n", kind="bounced")
    found = client.get("/customers?customer=C-4&format=json").get_json()["found"][0]
    assert found["notified"]["bounced_at"] is not None
    # Marking the same batch sent twice is refused; a sent batch cannot be discarded.
    again = client.post(f"/incidents/{incident}/ledger/batches/{link.group(2)}/sent", follow_redirects=True)
    assert "already marked sent" in again.get_data(as_text=True)


def test_a_discarded_batch_frees_its_customers_for_the_next_export(app, client, auth, make, incident):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    release_id = release_notice(app, make, incident, channel="letter")
    client.post(f"/incidents/{incident}/ledger/batches", data={"release": release_id})
    overview = client.get(f"/incidents/{incident}/ledger").get_data(as_text=True)
    public_id = re.search(r"/ledger/batches/([^\"/]+)\.csv", overview).group(1)
    client.post(f"/incidents/{incident}/ledger/batches/{public_id}/discard")
    assert client.get(f"/incidents/{incident}/ledger/batches/{public_id}.csv").status_code == 404
    client.post(f"/incidents/{incident}/ledger/batches", data={"release": release_id})
    overview = client.get(f"/incidents/{incident}/ledger").get_data(as_text=True)
    public_id = re.search(r"/ledger/batches/([^\"/]+)\.csv", overview).group(1)
    rows = list(csv.reader(io.StringIO(client.get(f"/incidents/{incident}/ledger/batches/{public_id}.csv")
                                       .get_data(as_text=True))))
    assert [r[0] for r in rows[1:]] == ["C-2"]


def close_incident(app, reference: str, days_ago: int) -> None:
    from datetime import timedelta

    from incidents.db import utcnow
    from incidents.incident.enums import Status

    with app.app_context():
        found = get_incident(session=db.session, reference=reference)
        found.status, found.closed_at = Status.closed, utcnow() - timedelta(days=days_ago)
        db.session.commit()


def test_a_closed_incident_ledger_is_purged_after_the_retention_period_and_its_figures_stay(
        app, client, auth, make, incident, runner):
    auth.as_role("responder")
    upload(client, incident, GOOD)
    open_one = make.incident(title="Still open")
    upload(client, open_one, HEADER + "C-7,photos,US,CA,email,\n")
    close_incident(app, incident, days_ago=40)
    result = runner.invoke(args=["ledger", "purge", "--days", "60"])
    assert "No closed incident's ledger is older than 60 days." in result.output
    result = runner.invoke(args=["ledger", "purge", "--days", "30", "--dry-run"])
    assert f"{incident}: closed" in result.output and ledger_rows(app, incident)
    result = runner.invoke(args=["ledger", "purge", "--days", "30"])
    assert result.exit_code == 0 and f"{incident}: 3 customers deleted; figures kept" in result.output
    assert ledger_rows(app, incident) == {}
    assert set(ledger_rows(app, open_one)) == {"C-7"}  # an open incident keeps its ledger
    overview = client.get(f"/incidents/{incident}/ledger").get_data(as_text=True)
    assert "(3 customers) were deleted on" in overview and "US-CA" in overview  # figures kept
    assert client.get("/customers?customer=C-1&format=json").get_json()["found"] == []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(LedgerImportProblem)) == 0
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "delete",
                                                           AuditEvent.entity_type == "ledger_customer"))
        assert json.loads(event.after) == {"purged_customers": 3, "retention_days": 30}


def test_the_retention_schedule_purges_only_when_configured(app, app_config, client, auth, incident):
    from incidents.ledger.jobs import purge_expired

    auth.as_role("responder")
    upload(client, incident, GOOD)
    close_incident(app, incident, days_ago=400)
    with app.app_context():
        purge_expired()  # LEDGER_RETENTION_DAYS unset: nothing is deleted
        db.session.commit()
    assert len(ledger_rows(app, incident)) == 3
    app.config["LEDGER_RETENTION_DAYS"] = 365
    with app.app_context():
        purge_expired()
        db.session.commit()
    assert ledger_rows(app, incident) == {}


def test_the_ledger_residents_of_a_state_decide_its_threshold(app, client, auth, make, incident):
    """California's attorney general must get a sample notice when more than 500 California
    residents are affected: with a ledger, those are the customers living in US-CA."""
    auth.as_role("responder")
    base = f"/incidents/{incident}/obligations"
    client.post(base + "/regimes", data={"regimes": ["us-ca"]})
    client.post(base + "/anchors", data={"kind": "discovered", "at": "2026-01-05T12:00"})

    def rules() -> set[str]:
        from incidents.obligations.models import Obligation

        with app.app_context():
            found = get_incident(session=db.session, reference=incident)
            return {o.rule_id for o in db.session.scalars(select(Obligation).where(
                Obligation.incident_id == found.id, Obligation.status != "not_required"))}

    # 400 Californians and 300 New Yorkers: 700 affected, but only 400 residents of the state.
    rows = [f"CA-{n},contacts,US,CA,email,\n" for n in range(400)] + [f"NY-{n},contacts,US,NY,email,\n"
                                                                        for n in range(300)]
    upload(client, incident, HEADER + "".join(rows))
    assert "us-ca-attorney-general" not in rules()
    upload(client, incident, HEADER + "".join(f"CA-{n},photos,US,CA,email,\n" for n in range(400, 520)))
    assert "us-ca-attorney-general" in rules()  # 520 Californians: the import itself crossed it


def test_the_executive_report_says_where_affected_customers_live(app, client, auth, incident):
    auth.as_role("responder")
    assert "Where affected customers live" not in client.get(f"/incidents/{incident}/reports/executive").get_data(
        as_text=True)
    upload(client, incident, GOOD)
    page = client.get(f"/incidents/{incident}/reports/executive").get_data(as_text=True)
    table = page[page.index("Where affected customers live"):]
    table = table[:table.index("</table>")]
    assert re.findall(r"<tr><td>([^<]+)</td><td class=\"num\">([\d,]+)</td>", table) == [
        ("California, United States (US-CA)", "2"), ("Germany (DE)", "1")]


def test_the_whole_ledger_exports_as_csv_and_the_export_is_audited(app, client, auth, make, incident):
    email = auth.as_role("responder")
    upload(client, incident, GOOD)
    upload(client, incident, "customer_id,data_categories\nC-1,photos\n", kind="restored")
    exported = client.get(f"/incidents/{incident}/ledger/customers.csv")
    assert exported.mimetype == "text/csv"
    assert 'filename="' + incident + '-affected-customers.csv"' in exported.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.get_data(as_text=True))))
    assert [(r["customer_id"], r["affected"], r["restored"], r["outcome"]) for r in rows] == [
        ("C-1", "contacts", "photos", "waiting"), ("C-2", "photos", "", "waiting"),
        ("C-3", "calendars;notes", "", "waiting")]
    with app.app_context():
        event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "ledger_export"))
        assert event.actor == email and event.entity_type == "ledger_customer"


def test_the_incident_page_and_the_ledger_page_cost_the_same_statements_with_a_big_ledger(app, client, auth, make):
    """Figures are kept, not counted per view: 5,000 customers or 3, the same SQL statements."""
    from tests.test_page_cost import statements_for

    auth.as_role("responder")
    small, big = make.incident(title="Small"), make.incident(title="Big")
    upload(client, small, GOOD)
    upload(client, big, HEADER + "".join(f"B-{n},contacts;photos,US,{('CA', 'NY', 'TX')[n % 3]},email,{n}\n"
                                         for n in range(5_000)))
    for page in ("", "/ledger"):
        small_page = statements_for(app, client, f"/incidents/{small}{page}")
        big_page = statements_for(app, client, f"/incidents/{big}{page}")
        assert len(big_page) == len(small_page), (page, len(small_page), len(big_page))
    assert not any("ledger_customer" in s for s in statements_for(app, client, f"/incidents/{big}"))


def test_a_workstream_page_links_to_its_restored_list_preselected(app, client, auth, make, incident):
    email = auth.as_role("responder")
    workstream_id = make.workstream(incident, by=email, name="Replay from tape")
    page = client.get(f"/incidents/{incident}/workstreams/{workstream_id}").get_data(as_text=True)
    link = re.search(r'href="(/incidents/[^"]+/ledger\?[^"#]+)#import-title"', page).group(1).replace("&amp;", "&")
    overview = client.get(link).get_data(as_text=True)
    assert re.search(r'<input[^>]*checked[^>]*value="restored"|<input[^>]*value="restored"[^>]*checked', overview)
    assert re.search(rf'<option selected value="{workstream_id}"|<option[^>]*value="{workstream_id}"[^>]*selected',
                     overview)


def test_an_import_whose_job_gave_up_is_marked_failed_and_its_file_deleted(app, client, auth, incident, monkeypatch):
    from incidents.jobs.models import BackgroundJob, JobState
    from incidents.ledger import importing
    from incidents.ledger.jobs import tidy_abandoned_imports

    auth.as_role("responder")

    def broken(**_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(importing, "stage", broken)  # every attempt fails
    response = upload(client, incident, GOOD)
    record = last_import(app)
    with app.app_context():  # the job's retries are used up: it has failed for good
        job = db.session.get(BackgroundJob, record.job_id)
        job.state, job.error = JobState.failed, "The import stopped: disk on fire."
        db.session.commit()
    assert leftovers(app)[1] > 0  # the stored file is still there
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Failed: nothing applied" in page
    with app.app_context():
        tidy_abandoned_imports()
        db.session.commit()
    assert leftovers(app) == (0, 0)
    record = last_import(app)
    assert (record.state, record.message) == ("failed", "Nothing was applied: The import stopped: disk on fire.")
    assert ledger_rows(app, incident) == {}
