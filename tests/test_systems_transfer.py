"""The catalogue as CSV (export, edit, re-import by name; a bad file changes nothing) and the
acquisition review (four checks per system, by the audit's rules, with its progress)."""
from __future__ import annotations

import csv
import io
import re
from datetime import UTC, date, datetime, timedelta
from html import unescape
from urllib.parse import quote, urlsplit

import pytest
import sqlalchemy as sa
from werkzeug.test import EnvironBuilder

from incidents.audit.models import AuditEvent
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.systems import csvio, heartbeats, service
from incidents.systems.models import System, SystemState
from tests.helpers import csrf_token, flashes, queries_for, text_of

NOW = datetime.now(UTC)


# --- helpers -----------------------------------------------------------------------------------------


def add_system(app, by: str | None = None, **fields) -> int:
    """A system added through the catalogue's service (owner: an e-mail, or None)."""
    with app.app_context():
        owner = fields.pop("owner", None)
        fields["owner"] = db.session.scalar(sa.select(User).where(User.email == owner)) if owner else None
        actor = db.session.scalar(sa.select(User).where(User.email == by)) if by else None
        system = service.create_system(session=db.session, actor=actor, fields_=service.SystemFields(**fields))
        db.session.commit()
        return system.id


def report(app, system_id: int, *, ok: bool, at: datetime) -> None:
    with app.app_context():
        system = db.session.get(System, system_id)
        heartbeats.record_report(session=db.session, system_id=system_id, rpo_target_minutes=system.rpo_target_minutes,
                                 ok=ok, at=at)
        db.session.commit()


def restore_test(app, system_id: int, *, ok: bool, at: datetime, by: str) -> None:
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == by))
        service.record_restore_test(session=db.session, actor=actor, system=db.session.get(System, system_id),
                                    tested_at=at, ok=ok, performed_by=actor)
        db.session.commit()


def disable(app, email: str) -> None:
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.email == email)).active = False
        db.session.commit()


def stored(app) -> dict:
    """Every catalogue row, and how many audit events there are: equal before and after means the
    import changed nothing at all."""
    with app.app_context():
        return {"system": [tuple(r) for r in db.session.execute(sa.select(System.__table__).order_by(System.id))],
                "state": [tuple(r) for r in db.session.execute(
                    sa.select(SystemState.__table__).order_by(SystemState.system_id))],
                "events": db.session.scalar(sa.select(sa.func.count(AuditEvent.id)))}


def export(client, query: str = "") -> list[dict]:
    response = client.get("/systems/export.csv" + query)
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


def to_csv(rows: list[dict], columns=csvio.COLUMNS) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def upload(client, body: bytes, filename: str = "systems.csv"):
    return client.post("/systems/import", data={"file": (io.BytesIO(body), filename)},
                       content_type="multipart/form-data")


_PROBLEM_ROW = re.compile(r'<tr><td class="num">([\d,]+)</td><td class="transfer-name">(.*?)</td><td>(.*?)</td>'
                          r"<td>(.*?)</td></tr>", re.S)


def problems_on(html: str) -> list[tuple[int, str, str, str]]:
    """The refused rows the import page lists: (line, system, column, reason)."""
    def cell(html_: str) -> str:
        text = text_of(html_)
        return "" if text == "—" else text

    return [(int(line.replace(",", "")), cell(name), cell(column), unescape(reason))
            for line, name, column, reason in _PROBLEM_ROW.findall(html)]


@pytest.fixture
def catalogue(app, make):
    """Three systems: owned and healthy, acquired and unowned, and a built one whose text starts like
    spreadsheet formulas; plus an active and a disabled account to name as owners."""
    owner = make.user(role="responder", email="owner@example.com")
    other = make.user(role="viewer", email="other@example.com")
    gone = make.user(role="viewer", email="gone@example.com")
    disable(app, gone)
    ids = {
        "mail": add_system(app, name="Mail store", owner=owner, team="Mail", data_categories=["photos", "contacts"],
                           personal_data=True, backup_method="Nightly snapshot", backup_destination="Other region",
                           rpo_target_minutes=1440, retention="30 days", description="Every mailbox"),
        "cluster": add_system(app, name="Storage cluster B", origin="acquired", origin_name="Halcyon Data",
                              acquired_on=date(2008, 5, 1), personal_data=True),
        "sheet": add_system(app, name="Formula sheet", description="=HYPERLINK(\"http://evil\")", team="+1 team",
                            backup_method="@daily", retention="-5 days"),
    }
    report(app, ids["mail"], ok=True, at=NOW - timedelta(hours=2))
    restore_test(app, ids["mail"], ok=True, at=NOW - timedelta(days=3), by=owner)
    return {"ids": ids, "owner": owner, "other": other, "gone": gone}


# --- export ------------------------------------------------------------------------------------------


def test_export_lists_live_systems_with_their_facts(app, client, auth, catalogue):
    retired = add_system(app, name="Old archive")
    with app.app_context():
        service.retire_system(session=db.session, actor=None, system=db.session.get(System, retired))
        db.session.commit()
    auth.as_role("viewer")
    response = client.get("/systems/export.csv")
    assert response.mimetype == "text/csv"
    assert re.fullmatch(r'attachment; filename="systems-\d{4}-\d{2}-\d{2}\.csv"',
                        response.headers["Content-Disposition"])
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == ",".join(csvio.COLUMNS)
    rows = {row["name"]: row for row in csv.DictReader(io.StringIO(text))}
    assert list(rows) == ["Formula sheet", "Mail store", "Storage cluster B"]  # by name, retired left out
    mail = rows["Mail store"]
    assert (mail["owner_email"], mail["data_categories"], mail["personal_data"], mail["rpo_target_minutes"],
            mail["origin"], mail["last_backup_report_ok"], mail["last_restore_test_ok"]) == \
        ("owner@example.com", "contacts;photos", "yes", "1440", "built", "yes", "yes")
    assert datetime.fromisoformat(mail["last_backup_ok_at"]) == (NOW - timedelta(hours=2))
    cluster = rows["Storage cluster B"]
    assert (cluster["origin"], cluster["origin_name"], cluster["acquired_on"], cluster["owner_email"]) == \
        ("acquired", "Halcyon Data", "2008-05-01", "")
    assert cluster["problems"].split(";") == ["personal_data_unowned", "no_backup_policy", "no_owner",
                                              "restore_never_tested", "acquired_unreviewed"]
    assert "Old archive" in {row["name"] for row in export(client, "?retired=1")}


def test_export_defuses_cells_a_spreadsheet_would_run(app, client, auth, catalogue):
    auth.as_role("viewer")
    sheet = {row["name"]: row for row in export(client)}["Formula sheet"]
    assert sheet["description"] == "'=HYPERLINK(\"http://evil\")"
    assert (sheet["team"], sheet["backup_method"], sheet["retention"]) == ("'+1 team", "'@daily", "'-5 days")


def test_export_costs_the_same_statements_for_3_systems_and_for_30(app, client, auth, catalogue):
    auth.as_role("viewer")
    few = queries_for(app, client, "/systems/export.csv")
    for n in range(27):
        add_system(app, name=f"Shard {n}", owner=catalogue["owner"], backup_method="copy", rpo_target_minutes=60)
    assert queries_for(app, client, "/systems/export.csv") == few
    assert len(export(client)) == 30


# --- import: the round trip ------------------------------------------------------------------------


def test_an_export_imported_back_changes_nothing(app, client, auth, catalogue):
    disable(app, catalogue["owner"])  # a kept owner who has since left does not stop the round trip
    auth.as_role("admin")
    body = client.get("/systems/export.csv").get_data()
    before = stored(app)
    response = upload(client, body)
    assert response.status_code == 302
    assert flashes(client.get(response.headers["Location"]).get_data(as_text=True)) == \
        ["Imported: 0 added, 0 updated, 3 unchanged."]
    assert stored(app) == before  # no version bumped, no audit event written


def test_edited_cells_update_their_systems_by_name(app, client, auth, catalogue):
    admin = auth.as_role("admin")
    rows = export(client)
    for row in rows:
        if row["name"] == "Mail store":
            row["owner_email"], row["rpo_target_minutes"] = "OTHER@example.com", "60"
        if row["name"] == "Storage cluster B":
            row["name"] = "storage   CLUSTER b"  # matched ignoring case and spacing: the file's spelling wins
            row["owner_email"], row["backup_method"], row["rpo_target_minutes"] = "owner@example.com", "Tape", "720"
    rows.append({"name": "Photo index", "data_categories": "photos; Contacts", "personal_data": "no"})
    before = stored(app)
    response = upload(client, to_csv(rows))
    assert response.status_code == 302
    assert flashes(client.get("/systems/import").get_data(as_text=True)) == [
        "Imported: 1 added, 2 updated, 1 unchanged. Added: Photo index. Updated: Mail store, storage CLUSTER b."]
    with app.app_context():
        mail = db.session.get(System, catalogue["ids"]["mail"])
        assert (mail.owner.email, mail.rpo_target_minutes, mail.version) == ("other@example.com", 60, 2)
        # The RPO went through the service: the backup now falls due an hour after the last success.
        assert mail.state.backup_due_at == mail.state.last_ok_at + timedelta(minutes=60)
        cluster = db.session.get(System, catalogue["ids"]["cluster"])
        assert (cluster.name, cluster.owner.email, cluster.backup_method, cluster.rpo_target_minutes) == \
            ("storage CLUSTER b", "owner@example.com", "Tape", 720)
        added = service.find_by_name(session=db.session, name="photo index")
        assert (added.data_categories, added.personal_data, added.origin) == (["contacts", "photos"], False, "built")
        sheet = db.session.get(System, catalogue["ids"]["sheet"])
        assert (sheet.description, sheet.version) == ("=HYPERLINK(\"http://evil\")", 1)  # the apostrophe undone
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "system",
                                                                 AuditEvent.id > before["events"])).all()
        admin_id = db.session.scalar(sa.select(User.id).where(User.email == admin))
    changes = {(e.action, e.entity_id): e for e in events}
    assert set(changes) == {("update", str(catalogue["ids"]["mail"])), ("update", str(catalogue["ids"]["cluster"])),
                            ("create", str(added.id))}
    mail_event = changes[("update", str(catalogue["ids"]["mail"]))]
    assert mail_event.actor_id == admin_id
    assert '"rpo_target_minutes":60' in mail_event.after


def test_a_file_with_some_columns_changes_only_those(app, client, auth, catalogue):
    auth.as_role("admin")
    response = upload(client, "Name, RPO target minutes\nmail store,120\n".encode("utf-8-sig"))
    assert response.status_code == 302
    with app.app_context():
        mail = db.session.get(System, catalogue["ids"]["mail"])
        assert (mail.name, mail.rpo_target_minutes, mail.owner.email, mail.team, mail.data_categories) == \
            ("mail store", 120, "owner@example.com", "Mail", ["contacts", "photos"])


# --- import: refused files -------------------------------------------------------------------------

GOOD = "name,owner_email,rpo_target_minutes\nMail store,owner@example.com,60\nNew system,,\n"
HEADER = "name,owner_email,personal_data,data_categories,rpo_target_minutes,acquired_on,origin,origin_name\n"


@pytest.mark.parametrize(("body", "problems"), [
    (HEADER + "Mail store,nobody@example.com,yes,,,,,\n",
     [(2, "Mail store", "owner_email", "No account has the e-mail 'nobody@example.com'")]),
    (HEADER + "Brand new,gone@example.com,no,,,,,\n",
     [(2, "Brand new", "owner_email", "account is disabled: choose an active owner")]),
    (HEADER + "Mail store,,yes,photos;fotos,,,,\n",
     [(2, "Mail store", "data_categories", "Unknown data category 'fotos'")]),
    (HEADER + "Mail store,,yes,,a day,,,\nNew,,no,,0,,,\n",
     [(2, "Mail store", "rpo_target_minutes", "'a day' is not a whole number of minutes"),
      (3, "New", "rpo_target_minutes", "An RPO target is between 1 minute and a year")]),
    (HEADER + "Storage cluster B,,yes,,,02/05/2008,acquired,Halcyon Data\n",
     [(2, "Storage cluster B", "acquired_on", "'02/05/2008' is not a date: write it as YYYY-MM-DD")]),
    (HEADER + "Mail store,,maybe,,,,,\n", [(2, "Mail store", "personal_data", "Say yes or no, not 'maybe'")]),
    (HEADER + "Mail store,,yes,,,,bought,\n", [(2, "Mail store", "origin", "Say built, acquired or vendor")]),
    (HEADER + "A,,no,,,,built,Initech\n", [(2, "A", "origin_name", "A system built here has no origin_name")]),
    (HEADER + "Fresh,,no,,,,acquired,\n", [(2, "Fresh", "origin_name", "Say which company it was acquired from")]),
    (HEADER + ",,no,,,,,\n", [(2, "", "name", "The name is empty")]),
    (HEADER + "Mail store,,yes,,,,\n", [(2, "", "", "7 cells where the header has 8")]),
    ("name\nOne\nTwo\nONE\n\"two\n\"\n", [(4, "ONE", "name", "“ONE” is also on line 2"),
                                           (5, "two", "name", "“two” is also on line 3")]),
    ("name,description,team\n\"Mail store\",\"Two\nlines\",Mail\nNew," + "x" * 5_001 + ",\nOther,,Ops\x07\n",
     [(4, "New", "description", "Keep the description under 5,000 characters"),
      (5, "Other", "team", "invisible control character")]),
    ("name\n" + "ß" * 70 + "\n", [(2, "ß" * 70, "name", "Spelled without capitals this name is longer than 120")]),
], ids=["unknown-owner", "disabled-owner", "unknown-category", "bad-rpo", "bad-date", "bad-personal-data",
        "bad-origin", "origin-name-of-built", "acquired-from-nobody", "no-name", "short-row", "duplicate-names",
        "long-or-hidden-text", "name-folding-longer"])
def test_a_bad_row_is_refused_with_its_line_and_nothing_changes(app, client, auth, catalogue, body, problems):
    auth.as_role("admin")
    before = stored(app)
    response = upload(client, body.encode())
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    shown = problems_on(html)
    assert [(line, name, column) for line, name, column, _ in shown] == [p[:3] for p in problems]
    for (_, _, _, reason), expected in zip(shown, problems, strict=True):
        assert expected[3] in reason
    assert "Nothing was imported" in html
    assert stored(app) == before


def test_good_rows_are_not_applied_when_another_row_is_bad(app, client, auth, catalogue):
    auth.as_role("admin")
    before = stored(app)
    response = upload(client, (GOOD + "Third,owner@example.com,soon\n").encode())
    assert response.status_code == 422
    assert [p[:3] for p in problems_on(response.get_data(as_text=True))] == [(4, "Third", "rpo_target_minutes")]
    assert stored(app) == before


@pytest.mark.parametrize(("body", "message"), [
    (b"", "The file is empty"),
    (b"\xef\xbb\xbf\r\n", "The file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "holds binary data"),
    ("name,team\nCafé,Ops\n".encode("latin-1"), "not UTF-8: line 2 holds byte 0xE9"),
    (b"name,team\n", "a header but no systems"),
    (b"name,colour,team\nMail store,red,Mail\n", "unknown columns 'colour'"),
    (b"team\nMail\n", "no name column"),
    (b"name,team,Team\nMail store,a,b\n", "named twice: team"),
    (b"name,team,\nMail store,a,\n", "unknown columns one with no name"),
], ids=["empty", "only-a-bom", "binary", "latin-1", "header-only", "unknown-column", "no-name-column",
        "doubled-column", "unnamed-column"])
def test_a_file_that_cannot_be_read_is_refused_whole(app, client, auth, catalogue, body, message):
    auth.as_role("admin")
    before = stored(app)
    response = upload(client, body)
    assert response.status_code == 422
    assert message in text_of(response.get_data(as_text=True))
    assert stored(app) == before


def test_a_file_over_the_limit_is_refused(app, client, auth, catalogue):
    app.config["SYSTEMS_IMPORT_MAX_BYTES"] = 1_000
    auth.as_role("admin")
    before = stored(app)
    response = upload(client, GOOD.encode() + b"\n" * 1_000)
    assert response.status_code == 413
    assert "larger than 1,000 bytes" in text_of(response.get_data(as_text=True))
    assert stored(app) == before


def test_a_file_above_the_apps_request_limit_but_within_the_imports_is_taken(app, client, auth, catalogue):
    assert app.config["SYSTEMS_IMPORT_MAX_BYTES"] > app.config["MAX_CONTENT_LENGTH"]
    auth.as_role("admin")
    # Blank lines (which spreadsheets leave) make it large; it still names its systems.
    body = GOOD.encode() + b"\r\n" * (app.config["MAX_CONTENT_LENGTH"] // 2 + 1)
    builder = EnvironBuilder(path="/systems/import", method="POST", data={"file": (io.BytesIO(body), "big.csv")})
    request = builder.get_request()
    try:
        assert client.open(request).status_code == 302
    finally:
        request.environ["wsgi.input"].close()  # over 500 kB, the body was spooled to a file the client keeps open
        builder.close()
    with app.app_context():
        assert db.session.get(System, catalogue["ids"]["mail"]).rpo_target_minutes == 60


def test_import_works_with_csrf_protection_on(csrf_app, make):
    from tests.helpers import login_with_token

    client = csrf_app.test_client()
    email = make.user(role="admin")
    login_with_token(client, email)
    token = csrf_token(client.get("/systems/import").get_data(as_text=True))
    response = client.post("/systems/import", data={"csrf_token": token, "file": (io.BytesIO(b"name\nNew\n"), "a.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 302
    with csrf_app.app_context():
        assert service.find_by_name(session=db.session, name="New") is not None


@pytest.mark.parametrize("role", ["viewer", "responder"])
def test_only_admins_import(app, client, auth, catalogue, role):
    auth.as_role(role)
    before = stored(app)
    assert client.get("/systems/import").status_code == 403
    assert upload(client, GOOD.encode()).status_code == 403
    assert stored(app) == before


def test_the_import_page_says_the_files_values_win(app, client, auth):
    auth.as_role("admin")
    response = client.get("/systems/import")
    assert response.status_code == 200
    text = text_of(response.get_data(as_text=True))
    assert "The file's values win." in text and "audit log" in text
    assert upload(client, b"").status_code == 422
    assert "Choose the CSV file" in text_of(client.post("/systems/import", data={}).get_data(as_text=True))


# --- the acquisition review ------------------------------------------------------------------------


@pytest.fixture
def acquisition(app, make):
    """Halcyon Data brought four systems: one done, one with nothing, one half done, one retired.
    Quillpad brought one, done. A built system belongs to no acquisition."""
    owner = make.user(role="responder")
    policy = {"backup_method": "Nightly snapshot", "rpo_target_minutes": 1440}
    halcyon = {"origin": "acquired", "origin_name": "Halcyon Data", "acquired_on": date(2008, 5, 1)}
    done = add_system(app, name="Contacts DB", owner=owner, **policy, **halcyon)
    bare = add_system(app, name="Storage cluster", personal_data=True, **halcyon)
    half = add_system(app, name="Calendar store", owner=owner, **policy, **halcyon)
    gone = add_system(app, name="Old tape robot", **halcyon)
    quill = add_system(app, name="Quillpad notes", owner=owner, **policy, origin="acquired", origin_name="Quillpad")
    add_system(app, name="Built here", owner=owner, **policy)
    for system_id in (done, quill):
        report(app, system_id, ok=True, at=NOW - timedelta(hours=1))
        restore_test(app, system_id, ok=True, at=NOW - timedelta(days=10), by=owner)
    report(app, half, ok=True, at=NOW - timedelta(days=3))
    report(app, half, ok=False, at=NOW - timedelta(days=2))
    restore_test(app, half, ok=True, at=NOW - timedelta(days=200), by=owner)
    with app.app_context():
        service.retire_system(session=db.session, actor=None, system=db.session.get(System, gone))
        db.session.commit()
    return {"done": done, "bare": bare, "half": half, "quill": quill}


def progress_of(html: str, id_: str) -> tuple[int, int]:
    tag = re.search(rf'<progress id="{id_}" max="(\d+)" value="(\d+)">', html)
    assert tag, f"no progress bar #{id_}"
    return int(tag.group(2)), int(tag.group(1))


def test_review_walks_each_system_to_four_checks(app, client, auth, acquisition):
    auth.as_role("responder")
    html = client.get("/systems/acquisitions/Halcyon Data").get_data(as_text=True)
    assert progress_of(html, "acq-checks") == (6, 12)  # 4 + 0 + 2 of 3 systems x 4 checks
    assert progress_of(html, "acq-systems") == (1, 3)
    cards = {re.search(r"<h2><a [^>]*>(.*?)</a></h2>", card).group(1): card
             for card in html.split('<li class="card acq-system')[1:]}
    assert list(cards) == ["Calendar store", "Contacts DB", "Storage cluster"]  # no retired, no other acquisition

    def marks(card: str) -> list[str]:
        return re.findall(r'<li class="acq-check acq-(ok|bad)">', card)

    assert marks(cards["Contacts DB"]) == ["ok", "ok", "ok", "ok"]
    assert marks(cards["Storage cluster"]) == ["bad", "bad", "bad", "bad"]
    assert marks(cards["Calendar store"]) == ["ok", "ok", "bad", "bad"]
    bare = acquisition["bare"]
    for link in (f"/systems/{bare}/edit#owner", f"/systems/{bare}/edit#backup_method",
                 f"/systems/{bare}#backup-reports", f"/systems/{bare}#restore-test",
                 f"/systems/{bare}#review"):
        assert f'href="{link}"' in cards["Storage cluster"]
    calendar = text_of(cards["Calendar store"])
    assert "Last backup report a failure" in calendar and "Restore test too old" in calendar
    assert "No backup policy yet" in text_of(cards["Storage cluster"])


def test_review_agrees_with_the_audit(app, client, auth, acquisition):
    """A system passes all four checks exactly when the audit finds none of their problems."""
    from incidents.systems import audit, review

    with app.app_context():
        clock = audit.Clock(now=utcnow())
        found = review.acquisition_review(session=db.session, name="Halcyon Data", clock=clock)
        for one in found.systems:
            codes = set(audit.problems_of(audit.facts_of(one.system, one.system.state), clock))
            assert one.done == (not codes - {"acquired_unreviewed"}), one.system.name


def test_the_acquisitions_list_shows_each_ones_progress(app, client, auth, acquisition):
    auth.as_role("viewer")
    html = client.get("/systems/acquisitions").get_data(as_text=True)
    names = re.findall(r'<h2><a href="/systems/acquisitions/([^"]+)">', html)
    assert names == ["Halcyon%20Data", "Quillpad"]
    assert progress_of(html, "acq-1-checks") == (6, 12) and progress_of(html, "acq-1-systems") == (1, 3)
    assert progress_of(html, "acq-2-checks") == (4, 4) and progress_of(html, "acq-2-systems") == (1, 1)
    # A viewer sees the checks but not the links to forms only responders may use.
    page = client.get("/systems/acquisitions/Halcyon Data").get_data(as_text=True)
    assert "/edit#owner" not in page and "#backup-reports" in page
    location = client.get("/systems/acquisitions?name=Quillpad").headers["Location"]
    assert urlsplit(location).path == "/systems/acquisitions/Quillpad"


@pytest.mark.parametrize("name", ["Initech", "halcyon data", "Built here", "Old tape robot", "Halcyon\x00Data",
                                  "\ud800", "x" * 5_000])
def test_an_unknown_acquisition_is_not_found(app, client, auth, acquisition, name):
    auth.as_role("viewer")
    assert client.get(f"/systems/acquisitions/{quote(name, errors='surrogatepass')}").status_code == 404


def test_review_pages_cost_the_same_statements_for_2_systems_and_for_12(app, client, auth, make):
    owner = make.user(role="responder")
    reviewer = auth.as_role("responder")
    for n in range(2):
        add_system(app, name=f"Node {n}", owner=owner, origin="acquired", origin_name="Initech")
    few = [queries_for(app, client, url) for url in ("/systems/acquisitions", "/systems/acquisitions/Initech")]
    for n in range(2, 12):
        system_id = add_system(app, name=f"Node {n}", owner=owner if n % 2 else None, origin="acquired",
                               origin_name="Initech" if n % 3 else "Globex", backup_method="copy",
                               rpo_target_minutes=60)
        report(app, system_id, ok=bool(n % 2), at=NOW - timedelta(minutes=n))
        with app.app_context():
            service.mark_reviewed(session=db.session, actor=db.session.scalar(
                sa.select(User).where(User.email == reviewer)), system=db.session.get(System, system_id))
            db.session.commit()
    many = [queries_for(app, client, url) for url in ("/systems/acquisitions", "/systems/acquisitions/Initech")]
    assert many == few
