"""The catalogue's pages: the list and its filters, adding and editing a system (with conflicts
and refusals beside the fields), its page, restore tests, reviews, retirement and report tokens."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from incidents.audit.models import AuditEvent
from incidents.auth.models import Role, User
from incidents.auth.service import change_role
from incidents.credentials import hash_secret
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.systems import heartbeats, service
from incidents.systems.models import IncidentSystem, ReportToken, RestoreTest, System
from tests.helpers import field_errors, flashes, queries_for, read_form, section, text_of

BLANK = {"name": "", "description": "", "owner": "0", "team": "", "origin": "built", "origin_name": "",
         "acquired_on": "", "backup_method": "", "backup_destination": "", "rpo_target_minutes": "",
         "retention": ""}


def person(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def add_system(app, name: str, *, by: str, owner: str | None = None, **fields) -> int:
    """A system added through the service (test setup); its id."""
    with app.app_context():
        system = service.create_system(session=db.session, actor=person(by), fields_=service.SystemFields(
            name=name, owner=person(owner) if owner else None, **fields))
        db.session.commit()
        return system.id


def report(app, system_id: int, *, ok: bool, at=None, note: str = "") -> None:
    with app.app_context():
        system = db.session.get(System, system_id)
        heartbeats.record_report(session=db.session, system_id=system_id, rpo_target_minutes=system.rpo_target_minutes,
                                 ok=ok, at=at, note=note)
        db.session.commit()


def restore(app, system_id: int, *, by: str, ok: bool = True, days_ago: int = 1) -> None:
    with app.app_context():
        service.record_restore_test(session=db.session, actor=person(by), system=db.session.get(System, system_id),
                                    tested_at=utcnow() - timedelta(days=days_ago), ok=ok, performed_by=None)
        db.session.commit()


def stored(app, system_id: int) -> System:
    with app.app_context():
        system = db.session.get(System, system_id)
        db.session.expunge(system)
        return system


def healthy(app, name: str, *, by: str) -> int:
    """A system the audit finds nothing wrong with."""
    system_id = add_system(app, name, by=by, owner=by, backup_method="Nightly snapshot", rpo_target_minutes=1440)
    report(app, system_id, ok=True)
    restore(app, system_id, by=by)
    return system_id


def names_listed(html: str) -> list[str]:
    return re.findall(r'<td class="sys-name"><a href="/systems/\d+">([^<]+)</a>', html)


# --- adding and editing ----------------------------------------------------------------------------

def test_a_responder_adds_a_system_and_sees_its_page(app, client, auth, make):
    email = auth.as_role("responder")
    page = client.get("/systems/new").get_data(as_text=True)
    for name in ("name", "owner", "data_categories", "origin", "origin_name", "acquired_on", "backup_method",
                 "backup_destination", "rpo_target_minutes", "retention"):
        assert f'id="{name}"' in page  # the audit's fix links point at edit#<field>
    response = client.post("/systems/new", data={
        **BLANK, "name": "  Storage   cluster B ", "owner": make.user_id(email), "team": "Storage",
        "data_categories": ["photos", "files"], "personal_data": "y", "origin": "acquired",
        "origin_name": "Initech", "acquired_on": "2009-10-01", "backup_method": "Nightly snapshot",
        "rpo_target_minutes": "1440"})
    assert response.status_code == 302
    page = response.headers["Location"]
    html = client.get(page).get_data(as_text=True)
    text = text_of(html)
    assert "Storage cluster B" in text and "Acquired from Initech on 2009-10-01" in text
    assert "Photos" in text and "personal data" in text and "Nightly snapshot" in text
    # Never backed up, never restore-tested, never reviewed: the audit says so, with where to fix it.
    problems = section(html, "problems")
    assert "Last backup older than the RPO target" in problems and "Restore never tested" in problems
    assert f'href="{page}#restore-test"' in problems and f'href="{page}#backup-reports"' in problems
    assert "Acquired, never reviewed" in problems and f'href="{page}#review"' in problems


def test_a_viewer_reads_but_cannot_change(app, client, auth, make):
    responder = make.user(role="responder")
    system_id = add_system(app, "Mail archive", by=responder)
    auth.as_role("viewer")
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert "Mail archive" in html
    assert 'id="restore-test"' not in html and "/retire" not in html and "Add a system" not in html
    assert client.get("/systems/new").status_code == 403
    assert client.post(f"/systems/{system_id}/review").status_code == 403


def test_an_edit_is_saved_and_a_stale_one_is_a_conflict_that_keeps_the_input(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Billing ledger", by=email, team="Finance")
    form = read_form(client.get(f"/systems/{system_id}/edit").get_data(as_text=True), f"/systems/{system_id}/edit")
    assert form["name"] == "Billing ledger" and form["team"] == "Finance"
    form["team"] = "Payments"
    assert client.post(f"/systems/{system_id}/edit", data=form).status_code == 302
    assert stored(app, system_id).team == "Payments"

    # The same (now stale) form again, with other input: refused, shown with what changed and kept.
    form["name"], form["backup_method"] = "Billing ledger v2", "Hourly dump"
    response = client.post(f"/systems/{system_id}/edit", data=form)
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone else changed this system" in html
    assert '<th scope="row">Name</th><td>Billing ledger</td><td>Billing ledger v2</td>' in html
    assert '<th scope="row">Backup method</th><td>(empty)</td><td>Hourly dump</td>' in html
    assert 'value="Billing ledger v2"' in html and 'value="Hourly dump"' in html
    assert read_form(html, f"/systems/{system_id}/edit")["version"] == str(stored(app, system_id).version)
    assert stored(app, system_id).name == "Billing ledger"


def _disabled(app, make) -> int:
    email = make.user(role="responder", name="Left Company")
    with app.app_context():
        change_role(session=db.session, user=person(email), role=Role.responder, active=False)
        db.session.commit()
    return make.user_id(email)


@pytest.mark.parametrize("case", ["duplicate", "disabled_owner", "unknown_owner", "no_origin_name", "rpo_zero",
                                  "rpo_negative", "rpo_huge", "rpo_text", "future_acquisition", "date_not_acquired"])
def test_refusals_are_shown_beside_their_field(app, client, auth, make, case):
    email = auth.as_role("responder")
    add_system(app, "Storage cluster", by=email)
    data, fieldname, words = {**BLANK, "name": "Photo store"}, None, None
    tomorrow = (date.today() + timedelta(days=2)).isoformat()
    match case:
        case "duplicate":
            data["name"], fieldname, words = "  storage   CLUSTER ", "name", "already in the catalogue"
        case "disabled_owner":
            data["owner"], fieldname, words = _disabled(app, make), "owner", "disabled"
        case "unknown_owner":
            data["owner"], fieldname, words = "2147483000", "owner", "Choose someone"
        case "no_origin_name":
            data["origin"], fieldname, words = "acquired", "origin_name", "acquired from"
        case "rpo_zero" | "rpo_negative" | "rpo_huge":
            data["rpo_target_minutes"] = {"rpo_zero": "0", "rpo_negative": "-5", "rpo_huge": "99999999"}[case]
            fieldname, words = "rpo_target_minutes", "between 1 minute and a year"
        case "rpo_text":
            data["rpo_target_minutes"], fieldname, words = "a day", "rpo_target_minutes", "integer"
        case "future_acquisition":
            data |= {"origin": "acquired", "origin_name": "Initech", "acquired_on": tomorrow}
            fieldname, words = "acquired_on", "future"
        case "date_not_acquired":
            data["acquired_on"], fieldname, words = "2009-10-01", "acquired_on", "Only an acquired system"
    response = client.post("/systems/new", data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    errors = field_errors(html, fieldname)
    assert errors and words in " ".join(errors), errors
    assert f'value="{data["name"]}"' in html  # the input is kept
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(System.id))) == 1


def test_keeping_a_disabled_owner_still_saves_other_changes_and_the_form_says_who(app, client, auth, make):
    email = auth.as_role("responder")
    leaver = make.user(role="responder", name="Left Company")
    system_id = add_system(app, "CRM", by=email, owner=leaver)
    with app.app_context():
        change_role(session=db.session, user=person(leaver), role=Role.responder, active=False)
        db.session.commit()
    html = client.get(f"/systems/{system_id}/edit").get_data(as_text=True)
    assert "Left Company (account disabled)" in html
    form = read_form(html, f"/systems/{system_id}/edit")
    assert form["owner"] == str(make.user_id(leaver))
    form["team"] = "Sales"
    assert client.post(f"/systems/{system_id}/edit", data=form).status_code == 302
    page = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert "account disabled" in section(page, "about") and "Owner disabled" in section(page, "problems")
    assert f"/systems/{system_id}/edit#owner" in section(page, "problems")


# --- the list --------------------------------------------------------------------------------------

def test_the_list_filters_and_keeps_the_filter_values(app, client, auth, make):
    email = auth.as_role("responder")
    other = make.user(role="responder", name="Olga Owner")
    healthy(app, "Healthy store", by=email)
    add_system(app, "Initech storage", by=email, team="Storage", origin="acquired", origin_name="Initech",
               personal_data=True)
    add_system(app, "Vendor mail", by=email, owner=other, team="Mail", origin="vendor", origin_name="MailCo")
    add_system(app, "Old files", by=email, owner=other, team="Storage")

    def listed(query: str) -> list[str]:
        response = client.get("/systems" + query)
        assert response.status_code == 200
        return names_listed(response.get_data(as_text=True))

    assert listed("") == ["Healthy store", "Initech storage", "Old files", "Vendor mail"]
    assert listed("?q=STOR") == ["Healthy store", "Initech storage"]
    assert listed("?q=100%25") == []  # a LIKE wildcard is a character like any other
    assert listed("?owner=none") == ["Initech storage"]
    assert listed(f"?owner={make.user_id(other)}") == ["Old files", "Vendor mail"]
    assert listed("?team=Storage") == ["Initech storage", "Old files"]
    assert listed("?origin=vendor") == ["Vendor mail"]
    assert listed("?origin_name=Initech") == ["Initech storage"]
    assert listed("?personal=yes") == ["Initech storage"]
    assert listed("?personal=no") == ["Healthy store", "Old files", "Vendor mail"]
    assert listed("?flagged=1") == ["Initech storage", "Old files", "Vendor mail"]
    assert listed("?flagged=1&team=Storage&q=files") == ["Old files"]
    # Nonsense is ignored, never an error.
    assert listed("?owner=abc&personal=maybe&origin=stolen&page=-1&flagged=yes%00") == listed("")

    html = client.get(f"/systems?q=stor&team=Storage&owner={make.user_id(other)}&origin=built&personal=no"
                      "&flagged=1&retired=1").get_data(as_text=True)
    kept = read_form(html, "/systems")
    assert kept.to_dict() == {"q": "stor", "owner": str(make.user_id(other)), "team": "Storage", "origin": "built",
                              "origin_name": "", "personal": "no", "flagged": "1", "retired": "1"}


def test_a_row_shows_owner_backup_restore_test_and_problems(app, client, auth, make):
    email = auth.as_role("responder")
    healthy(app, "Healthy store", by=email)
    failing = add_system(app, "Initech storage", by=email, personal_data=True, data_categories=["photos"],
                         origin="acquired", origin_name="Initech", backup_method="rsync", rpo_target_minutes=60)
    report(app, failing, ok=True, at=utcnow() - timedelta(days=30))
    report(app, failing, ok=False, note="disk full")
    html = client.get("/systems").get_data(as_text=True)
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", html, re.S)[1:]
    healthy_row, failing_row = (text_of(r) for r in rows)
    assert "No owner" not in healthy_row and "none" in healthy_row
    assert "No owner" in failing_row and "personal data" in failing_row and "Photos" in failing_row
    assert "Acquired from Initech" in failing_row and "last run failed" in failing_row
    # personal data unowned, backup failing, overdue, restore never tested, no owner, unreviewed
    assert "6 problems" in failing_row
    assert 'class="unowned"' in rows[1]


def test_retired_systems_leave_the_list_unless_asked_for(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Old mail archive", by=email)
    add_system(app, "Mail", by=email)
    response = client.post(f"/systems/{system_id}/retire")
    assert response.status_code == 302
    assert stored(app, system_id).retired_at is not None
    assert names_listed(client.get("/systems").get_data(as_text=True)) == ["Mail"]
    assert names_listed(client.get("/systems?retired=1").get_data(as_text=True)) == ["Mail", "Old mail archive"]
    assert names_listed(client.get("/systems?retired=1&flagged=1").get_data(as_text=True)) == ["Mail"]
    page = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert "Retired" in page and 'id="problems"' not in page and 'id="restore-test"' not in page
    # Nothing more to record about it.
    response = client.post(f"/systems/{system_id}/review", follow_redirects=True)
    assert any("retired" in f for f in flashes(response.get_data(as_text=True)))
    assert stored(app, system_id).last_reviewed_at is None


def _grow(app, make, email: str, start: int, count: int) -> None:
    """Systems with owners (some disabled), teams, reports and restore tests: everything a row shows."""
    owners = [make.user(role="responder") for _ in range(3)]
    with app.app_context():
        for n in range(start, start + count):
            system = service.create_system(session=db.session, actor=person(email), fields_=service.SystemFields(
                name=f"System {n:03}", owner=person(owners[n % 3]) if n % 4 else None, team=f"Team {n % 5}",
                personal_data=n % 2 == 0, data_categories=["photos"], origin="acquired" if n % 3 else "built",
                origin_name="Initech" if n % 3 else "", backup_method="snapshot", rpo_target_minutes=60))
            heartbeats.record_report(session=db.session, system_id=system.id, rpo_target_minutes=60, ok=n % 2 == 0)
            service.record_restore_test(session=db.session, actor=person(email), system=system,
                                        tested_at=utcnow() - timedelta(days=n), ok=True, performed_by=None)
        change_role(session=db.session, user=person(owners[0]), role=Role.responder, active=False)
        db.session.commit()


def test_the_list_costs_the_same_statements_for_3_systems_and_for_60(app, client, auth, make):
    email = auth.as_role("viewer")
    urls = ["/systems", "/systems?flagged=1", "/systems?retired=1&personal=yes&q=system", "/systems?page=2"]
    _grow(app, make, email, 0, 3)
    few = {url: queries_for(app, client, url) for url in urls}
    _grow(app, make, email, 3, 57)
    many = {url: queries_for(app, client, url) for url in urls}
    assert many == few
    # ...and the larger list really is larger (the counts are not equal by accident).
    html = client.get("/systems").get_data(as_text=True)
    assert len(names_listed(html)) == 50 and "Next →" in html and "60 systems" in html
    assert names_listed(client.get("/systems?page=2").get_data(as_text=True))[0] == "System 050"


# --- a system's page: restore tests, review, incidents ---------------------------------------------

def test_a_restore_test_is_recorded_and_refusals_are_beside_their_field(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Photo store", by=email, owner=email)
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    form = read_form(html, f"/systems/{system_id}/restore-tests")
    assert form["performed_by"] == str(make.user_id(email))  # who did it: you, unless said otherwise
    assert "Restore never tested" in section(html, "problems")

    unsaid = client.post(f"/systems/{system_id}/restore-tests", data=form)  # the result is never preset
    assert unsaid.status_code == 422
    assert field_errors(unsaid.get_data(as_text=True), "result") == ["Say whether the restore worked."]
    form["result"] = "passed"

    bad = client.post(f"/systems/{system_id}/restore-tests", data={**form, "evidence_url": "javascript:alert(1)",
                                                                   "tested_at": "2999-01-01T00:00"})
    assert bad.status_code == 422
    assert field_errors(bad.get_data(as_text=True), "evidence_url")
    future = client.post(f"/systems/{system_id}/restore-tests", data={**form, "tested_at": "2199-01-01T00:00"})
    assert future.status_code == 422 and "future" in " ".join(field_errors(future.get_data(as_text=True),
                                                                            "tested_at"))
    response = client.post(f"/systems/{system_id}/restore-tests", data={
        **form, "result": "failed", "evidence_url": "https://wiki.example.com/restore-1", "note": "Tape unreadable"})
    assert response.status_code == 302
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    tests = section(html, "restore-tests")
    assert "failed" in tests and "Tape unreadable" in tests and 'href="https://wiki.example.com/restore-1"' in tests
    problems = section(html, "problems")
    assert "Last restore test failed" in problems and "Restore never tested" not in problems
    with app.app_context():
        [test] = db.session.scalars(sa.select(RestoreTest)).all()
        assert test.ok is False and test.performed_by.email == email


def test_mark_reviewed_says_who_and_clears_the_acquisition_problem(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Initech storage", by=email, origin="acquired", origin_name="Initech")
    assert "Acquired, never reviewed" in section(client.get(f"/systems/{system_id}").get_data(as_text=True),
                                                 "problems")
    assert client.post(f"/systems/{system_id}/review").status_code == 302
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert "Last reviewed" in section(html, "review") and "Acquired, never reviewed" not in section(html, "problems")
    with app.app_context():
        assert db.session.get(System, system_id).last_reviewed_by.email == email


def test_the_page_shows_backup_reports_and_the_incidents_that_named_it(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Storage cluster", by=email, owner=email, backup_method="rsync",
                           rpo_target_minutes=60)
    for n in range(25):
        report(app, system_id, ok=n != 24, at=utcnow() - timedelta(hours=25 - n), note=f"run {n}")
    reference = make.incident(by=email, title="Photos lost on cluster")
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        db.session.add(IncidentSystem(incident_id=incident.id, system_id=system_id, as_of=incident.declared_at,
                                      system_name="Storage cluster", owner_name="Old Owner", owner_active=True,
                                      problems=["backup_failing"]))
        db.session.commit()
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    reports = re.search(r'<table [^>]*id="backup-reports">.*?</table>', html, re.S).group(0)
    assert reports.count("<tr>") == 21 and "run 24" in reports and "run 4" not in reports  # the newest 20
    assert "Failing since" in section(html, "backups")
    assert "Last backup report a failure" in section(html, "problems")
    named = section(html, "incidents")
    assert f'href="/incidents/{reference}"' in named and "Photos lost on cluster" in named and "Old Owner" in named


def test_unknown_systems_and_tokens_are_not_found(app, client, auth, make):
    auth.as_role("admin")
    system_id = add_system(app, "Mail", by=make.user(role="responder"))
    assert client.get("/systems/999999").status_code == 404
    assert client.get("/systems/99999999999").status_code == 404
    assert client.post(f"/systems/{system_id}/tokens/999999/revoke").status_code == 404


# --- report tokens ---------------------------------------------------------------------------------

def test_a_token_is_shown_once_and_only_its_hash_is_kept(app, client, auth, make):
    auth.as_role("admin")
    system_id = add_system(app, "Storage cluster", by=make.user(role="responder"))
    response = client.post(f"/systems/{system_id}/tokens", data={"label": "nightly on backup-01"})
    assert response.status_code == 200  # a page, not a redirect: the secret is in no URL
    assert response.headers["Cache-Control"] == "no-store"
    html = response.get_data(as_text=True)
    secret = re.search(r'id="token-secret"[^>]*value="([^"]+)"', html).group(1)
    assert secret.startswith(heartbeats.TOKEN_PREFIX)
    assert f'curl -fsS -X POST http://localhost/systems/backup-report -H "Authorization: Bearer {secret}"' in html
    assert "-d status=failed -d note=" in html
    with app.app_context():
        [token] = db.session.scalars(sa.select(ReportToken)).all()
        assert token.token_hash == hash_secret(secret) and token.label == "nightly on backup-01"
        row = db.session.execute(sa.select(ReportToken.__table__)).one()
        assert secret not in repr(tuple(row))
        logged = " ".join(f"{e.before} {e.after}" for e in db.session.scalars(sa.select(AuditEvent)))
        assert token.token_hash not in logged and secret not in logged
        assert heartbeats.system_for_token(session=db.session, secret=secret).system_id == system_id
    # Listed by its hint afterwards, never shown again.
    page = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert secret not in page and secret[:11] in section(page, "tokens")


def test_revoking_a_token_refuses_its_reports(app, client, auth, make):
    auth.as_role("admin")
    system_id = add_system(app, "Storage cluster", by=make.user(role="responder"))
    html = client.post(f"/systems/{system_id}/tokens", data={"label": ""}).get_data(as_text=True)
    secret = re.search(r'id="token-secret"[^>]*value="([^"]+)"', html).group(1)
    with app.app_context():
        token_id = db.session.scalar(sa.select(ReportToken.id))
    other = add_system(app, "Mail", by=make.user(role="responder"))
    assert client.post(f"/systems/{other}/tokens/{token_id}/revoke").status_code == 404  # not that system's
    response = client.post(f"/systems/{system_id}/tokens/{token_id}/revoke")
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(ReportToken, token_id).revoked_at is not None
        assert heartbeats.system_for_token(session=db.session, secret=secret) is None
    assert "revoked" in section(client.get(f"/systems/{system_id}").get_data(as_text=True), "tokens")


def test_only_admins_see_and_manage_tokens(app, client, auth, make):
    responder = auth.as_role("responder")
    system_id = add_system(app, "Storage cluster", by=responder)
    with app.app_context():
        heartbeats.create_token(session=db.session, actor=person(responder), system=db.session.get(System, system_id))
        db.session.commit()
        token_id = db.session.scalar(sa.select(ReportToken.id))
    html = client.get(f"/systems/{system_id}").get_data(as_text=True)
    assert 'id="tokens"' not in html and "sysb_" not in html
    assert client.post(f"/systems/{system_id}/tokens", data={"label": "x"}).status_code == 403
    assert client.post(f"/systems/{system_id}/tokens/{token_id}/revoke").status_code == 403


# --- the audit log ---------------------------------------------------------------------------------

def test_an_edit_and_a_restore_test_are_in_the_audit_log(app, client, auth, make):
    email = auth.as_role("responder")
    system_id = add_system(app, "Billing ledger", by=email)
    form = read_form(client.get(f"/systems/{system_id}/edit").get_data(as_text=True), f"/systems/{system_id}/edit")
    form["backup_method"] = "Hourly dump"
    assert client.post(f"/systems/{system_id}/edit", data=form).status_code == 302
    form = read_form(client.get(f"/systems/{system_id}").get_data(as_text=True), f"/systems/{system_id}/restore-tests")
    assert client.post(f"/systems/{system_id}/restore-tests", data={**form, "result": "passed"}).status_code == 302
    with app.app_context():
        [edit] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "system",
                                                                AuditEvent.action == "update")).all()
        assert edit.actor == email and "Hourly dump" in edit.after and edit.entity_id == str(system_id)
        [test] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "system_restore_test",
                                                                AuditEvent.action == "create")).all()
        assert test.actor == email
