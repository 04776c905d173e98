"""Recovery workstreams and recovery objectives (RPO / RTO) on the incident page.

Every test here runs on SQLite and on PostgreSQL (see conftest).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import select

from incidents.auth.models import User
from incidents.db import clock_at
from incidents.extensions import db
from incidents.recovery import service as recovery_service
from incidents.recovery.models import Workstream, WorkstreamProgress
from incidents.timeline.models import EntryKind
from tests.helpers import field_errors, read_form, section, signed_in_client, text_of, timeline_rows

FORM_TIME = "%Y-%m-%dT%H:%M"


# --- helpers ---------------------------------------------------------------------------------

def stored(app, workstream_id: int) -> dict:
    """The workstream's columns and its progress history, read fresh."""
    with app.app_context():
        ws = db.session.get(Workstream, workstream_id)
        row = {c.key: getattr(ws, c.key) for c in Workstream.__table__.columns}
        row["history"] = [(p.done, p.note, p.author_id) for p in db.session.scalars(
            select(WorkstreamProgress).where(WorkstreamProgress.workstream_id == workstream_id)
            .order_by(WorkstreamProgress.id))]
        return row


def workstream_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(sa.func.count()).select_from(Workstream))


def row_of(html: str, workstream_id: int) -> str:
    """The incident page's row for one workstream, as visible text."""
    match = re.search(rf'<li class="ws[^"]*" id="ws-{workstream_id}">.*?</li>\s*(?=<li class="ws|</ul>)', html, re.S)
    assert match, f"workstream {workstream_id} is not on the page"
    return match.group(0)


def incident_page(client, ref: str) -> str:
    response = client.get(f"/incidents/{ref}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def progress_url(ref: str, workstream_id: int) -> str:
    return f"/incidents/{ref}/workstreams/{workstream_id}/progress"


def inline_report(client, ref: str, workstream_id: int) -> dict:
    """The compact progress form of one workstream on the incident page, as a browser sends it."""
    return read_form(incident_page(client, ref), progress_url(ref, workstream_id)).to_dict()


@pytest.fixture
def incident(make, auth):
    email = auth.as_role("responder")
    return email, make.incident(by=email, title="Sync servers lost contacts and photos",
                                data_categories=["contacts", "photos"])


def new_form(client, ref: str) -> dict:
    response = client.get(f"/incidents/{ref}/workstreams/new")
    assert response.status_code == 200
    return read_form(response.get_data(as_text=True)).to_dict()


# --- creating and editing --------------------------------------------------------------------

def test_create_workstream_shows_it_with_a_progress_bar(app, client, make, incident):
    email, ref = incident
    owner = make.user(role="responder", name="Tess Tape")
    gone = make.user(role="responder", name="Gone Person")
    with app.app_context():
        db.session.scalar(select(User).where(User.email == gone)).active = False
        db.session.commit()
    page = client.get(f"/incidents/{ref}/workstreams/new").get_data(as_text=True)
    assert "Tess Tape" in page and "Gone Person" not in page  # only people who can sign in
    form = new_form(client, ref)
    form.update({"name": "Restore contacts from the nightly tape", "owner": str(make.user_id(owner)),
                 "category": "contacts", "target": "800000", "unit": "customers", "source": "tape",
                 "eta": "2009-10-09T12:00", "evidence": "Checksums of 100 sampled address books"})

    response = client.post(f"/incidents/{ref}/workstreams/new", data=form)

    assert response.status_code == 302
    with app.app_context():
        ws_id = db.session.scalar(select(Workstream.id))
    page = incident_page(client, ref)
    row = row_of(page, ws_id)
    assert f'<progress id="ws-bar-{ws_id}" max="800000" value="0"' in row
    text = text_of(row)
    assert "0 of 800,000 customers · 0%" in text
    assert "Owner Tess Tape" in text and "Source Tape" in text and "Planned" in text
    assert "no owner" not in text and "blocked" not in text
    entry = timeline_rows(app, ref)[-1]
    assert entry["kind"] is EntryKind.recovery
    assert entry["body"] == ("Workstream **Restore contacts from the nightly tape** started: 800,000 customers "
                             "from tape, owner Tess Tape.")
    detail = client.get(f"/incidents/{ref}/workstreams/{ws_id}").get_data(as_text=True)
    assert "Checksums of 100 sampled address books" in detail


@pytest.mark.parametrize("changes, field, message", [
    ({"owner": "0"}, "owner", "Every workstream needs an accountable owner."),
    ({"target": "0"}, "target", "The target must be at least 1 unit."),
    ({"target": "-5"}, "target", "A count cannot be negative."),
    ({"target": ""}, "target", "Enter a number (0 if none)."),
    ({"name": "   "}, "name", "Name the line of recovery work."),
    ({"source": "carrier pigeon"}, "source", "Not a valid choice."),
])
def test_create_refuses_missing_owner_and_bad_targets_beside_the_field(app, client, make, incident,
                                                                        changes, field, message):
    email, ref = incident
    form = new_form(client, ref)
    form.update({"name": "Re-sync photos from devices", "owner": str(make.user_id(email)), "target": "100",
                 **changes})
    entries = timeline_rows(app, ref)

    response = client.post(f"/incidents/{ref}/workstreams/new", data=form)

    assert response.status_code == 422
    assert message in field_errors(response.get_data(as_text=True), field)
    assert workstream_count(app) == 0
    assert timeline_rows(app, ref) == entries


def test_edit_changes_the_plan_and_notes_it_on_the_timeline(app, client, make, incident):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, name="Replay journals", target=1000, category="contacts")
    newcomer = make.user(role="responder", name="Nora New")
    url = f"/incidents/{ref}/workstreams/{ws_id}/edit"
    form = read_form(client.get(url).get_data(as_text=True)).to_dict()
    assert form["version"] == "1" and form["owner"] == str(make.user_id(email))
    form.update({"owner": str(make.user_id(newcomer)), "status": "blocked", "target": "1200",
                 "eta": "2009-10-09T12:00"})

    response = client.post(url, data=form)

    assert response.status_code == 302
    after = stored(app, ws_id)
    assert (after["owner_id"], after["status"].value, after["target"], after["version"]) == \
        (make.user_id(newcomer), "blocked", 1200, 2)
    body = timeline_rows(app, ref)[-1]["body"]
    assert "owner: Responder" in body and "→ **Nora New**" in body and "status: planned → **blocked**" in body
    assert "target: 1,000 → **1,200**" in body


def test_target_cannot_drop_below_what_is_already_done(app, client, make, incident):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, target=1000)
    form = inline_report(client, ref, ws_id)
    form["done"] = "800"
    assert client.post(progress_url(ref, ws_id), data=form).status_code == 302
    url = f"/incidents/{ref}/workstreams/{ws_id}/edit"
    form = read_form(client.get(url).get_data(as_text=True)).to_dict()
    before = stored(app, ws_id)

    response = client.post(url, data={**form, "target": "500"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "target") == [
        "800 records are already done; the target cannot be lower than that."]
    assert stored(app, ws_id) == before


def test_stale_edit_gets_a_conflict_keeps_the_input_and_overwrites_nothing(app, client, make, incident):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, name="Replay journals", target=1000)
    url = f"/incidents/{ref}/workstreams/{ws_id}/edit"
    mine = read_form(client.get(url).get_data(as_text=True)).to_dict()
    other, _ = signed_in_client(app, make)
    theirs = read_form(other.get(url).get_data(as_text=True)).to_dict()
    theirs["name"] = "Replay journals from the replica"
    assert other.post(url, data=theirs).status_code == 302
    saved = stored(app, ws_id)

    mine["name"] = "Replay journals from tape"
    response = client.post(url, data=mine)

    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "Someone changed “Replay journals from the replica” while you were editing" in page
    assert stored(app, ws_id) == saved
    again = read_form(page).to_dict()
    assert again["name"] == "Replay journals from tape" and again["version"] == str(saved["version"])
    assert client.post(url, data=again).status_code == 302  # deliberately, after seeing theirs
    assert stored(app, ws_id)["name"] == "Replay journals from tape"


# --- progress --------------------------------------------------------------------------------

def test_progress_report_moves_the_bar_and_writes_the_timeline(app, client, make, incident):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, name="Restore photos from snapshot", target=4000, unit="GB")
    form = inline_report(client, ref, ws_id)
    assert form["version"] == "1" and form["done"] == "0"
    form.update({"done": "1000", "note": "First shelf of tapes read"})

    response = client.post(progress_url(ref, ws_id), data=form)

    assert response.status_code == 302
    row = row_of(incident_page(client, ref), ws_id)
    assert f'<progress id="ws-bar-{ws_id}" max="4000" value="1000"' in row
    assert "1,000 of 4,000 GB · 25%" in text_of(row) and "In progress" in text_of(row)
    entry = timeline_rows(app, ref)[-1]
    assert entry["kind"] is EntryKind.recovery
    assert entry["body"] == ("**Restore photos from snapshot**: 1,000 of 4,000 GB (25%), +1,000 since the last "
                             "report.\n\nFirst shelf of tapes read")

    form = inline_report(client, ref, ws_id)
    form.update({"done": "4000", "status": "done"})
    assert client.post(progress_url(ref, ws_id), data=form).status_code == 302
    after = stored(app, ws_id)
    assert (after["done"], after["status"].value) == (4000, "done")
    assert [h[0] for h in after["history"]] == [1000, 4000]
    history = text_of(client.get(f"/incidents/{ref}/workstreams/{ws_id}").get_data(as_text=True))
    assert "2 reports, newest first" in history
    assert re.search(r"4,000 GB \+3,000 — .*1,000 GB first report First shelf of tapes read", history)


@pytest.mark.parametrize("done, message", [
    ("4001", "That is more than the target of 4,000 GB; raise the target first if the scope grew."),
    ("-1", "A count cannot be negative."),
    ("", "Enter a number (0 if none)."),
    ("lots", "Enter a whole number, like 12000."),
])
def test_impossible_progress_is_refused_beside_the_field(app, client, make, incident, done, message):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, target=4000, unit="GB")
    before, entries = stored(app, ws_id), timeline_rows(app, ref)
    form = inline_report(client, ref, ws_id)
    form["done"] = done

    response = client.post(progress_url(ref, ws_id), data=form)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert field_errors(page, "done") == [message]
    assert read_form(page, progress_url(ref, ws_id))["done"] == done  # kept to fix
    assert stored(app, ws_id) == before
    assert timeline_rows(app, ref) == entries


def test_progress_from_a_stale_page_gets_a_conflict_and_saves_nothing(app, client, make, incident):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, target=1000)
    mine = inline_report(client, ref, ws_id)
    other, _ = signed_in_client(app, make, name="Olu Other")
    theirs = inline_report(other, ref, ws_id)
    theirs["done"] = "600"
    assert other.post(progress_url(ref, ws_id), data=theirs).status_code == 302
    saved = stored(app, ws_id)

    mine["done"] = "400"
    response = client.post(progress_url(ref, ws_id), data=mine)

    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "it now stands at 600 records" in text_of(page)
    assert stored(app, ws_id) == saved
    again = read_form(page, progress_url(ref, ws_id)).to_dict()
    assert again["done"] == "400" and again["version"] == str(saved["version"])
    assert client.post(progress_url(ref, ws_id), data=again).status_code == 302
    assert [h[0] for h in stored(app, ws_id)["history"]] == [600, 400]


def test_same_figure_twice_from_one_page_is_still_a_conflict(app, client, make, incident):
    """Even a report that leaves the figure unchanged moves the version: nothing is accepted twice."""
    email, ref = incident
    ws_id = make.workstream(ref, by=email, target=1000)
    form = inline_report(client, ref, ws_id)
    form["done"] = "0"
    assert client.post(progress_url(ref, ws_id), data=form).status_code == 302
    # Sent again as is (a double-click), its idempotency key gets the first answer again and
    # saves nothing (tests/test_idempotency.py); without a key the version check refuses it.
    assert client.post(progress_url(ref, ws_id), data=form).status_code == 302
    del form["idempotency_key"]
    assert client.post(progress_url(ref, ws_id), data=form).status_code == 409
    assert len(stored(app, ws_id)["history"]) == 1


def test_progress_is_not_saved_when_its_timeline_entry_fails(app, client, make, incident, monkeypatch):
    email, ref = incident
    ws_id = make.workstream(ref, by=email, target=1000)
    before, entries = stored(app, ws_id), timeline_rows(app, ref)
    real_add_entry = recovery_service.add_entry

    def add_entry_then_fail(**kwargs):
        real_add_entry(**kwargs)
        raise RuntimeError("timeline storage failed")

    monkeypatch.setattr(recovery_service, "add_entry", add_entry_then_fail)
    form = inline_report(client, ref, ws_id)
    form["done"] = "500"

    assert client.post(progress_url(ref, ws_id), data=form).status_code == 500
    assert stored(app, ws_id) == before
    assert timeline_rows(app, ref) == entries


# --- flags -----------------------------------------------------------------------------------

def test_workstreams_without_an_owner_blocked_or_overdue_are_flagged(app, client, make, incident):
    email, ref = incident
    leaver = make.user(role="responder", name="Lee Leaver")
    deleted = make.user(role="responder", name="Dee Deleted")
    past = datetime.now(UTC) - timedelta(hours=3)
    fine = make.workstream(ref, by=email, name="Fine", eta=past + timedelta(days=2))
    disabled_owner = make.workstream(ref, by=email, owner=leaver, name="Owner disabled")
    removed_owner = make.workstream(ref, by=email, owner=deleted, name="Owner removed")
    blocked = make.workstream(ref, by=email, name="Blocked one", status=recovery_service.WorkstreamStatus.blocked)
    overdue = make.workstream(ref, by=email, name="Late one", eta=past)
    finished_late = make.workstream(ref, by=email, name="Finished late", eta=past,
                                    status=recovery_service.WorkstreamStatus.done)
    with app.app_context():
        db.session.scalar(select(User).where(User.email == leaver)).active = False
        db.session.commit()
        # The account is removed outright: the foreign key sets the owner to NULL.
        db.session.execute(sa.text('DELETE FROM "user" WHERE email = :email'), {"email": deleted})
        db.session.commit()
    assert stored(app, removed_owner)["owner_id"] is None

    page = incident_page(client, ref)
    flags = {ws: re.findall(r'<span class="flag [^"]*">⚠ ([^<]+)</span>', row_of(page, ws))
             for ws in (fine, disabled_owner, removed_owner, blocked, overdue, finished_late)}
    assert flags == {fine: [], disabled_owner: ["no owner"], removed_owner: ["no owner"], blocked: ["blocked"],
                     overdue: ["overdue"], finished_late: []}
    assert "Lee Leaver (can no longer sign in)" in text_of(row_of(page, disabled_owner))
    assert "overdue by 3 h" in text_of(row_of(page, overdue))
    assert "4 of 6 workstreams need attention" in text_of(section(page, "workstreams"))


def test_a_workstream_whose_owner_left_cannot_be_saved_without_a_new_owner(app, client, make, incident):
    email, ref = incident
    leaver = make.user(role="responder", name="Lee Leaver")
    ws_id = make.workstream(ref, by=email, owner=leaver)
    with app.app_context():
        db.session.scalar(select(User).where(User.email == leaver)).active = False
        db.session.commit()
    url = f"/incidents/{ref}/workstreams/{ws_id}/edit"
    form = read_form(client.get(url).get_data(as_text=True)).to_dict()
    assert form["owner"] == "0"  # the leaver is not offered; a choice is needed

    response = client.post(url, data={**form, "owner": str(make.user_id(leaver))})
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "owner") == ["Not a valid choice."]
    response = client.post(url, data=form)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "owner") == [
        "Every workstream needs an accountable owner."]


def test_workstreams_are_grouped_by_data_category(app, client, make, incident):
    email, ref = incident
    make.workstream(ref, by=email, name="Cross-cutting verification")
    make.workstream(ref, by=email, name="Photos from snapshot", category="photos")
    make.workstream(ref, by=email, name="Contacts from tape", category="contacts")
    text = text_of(section(incident_page(client, ref), "workstreams"))
    order = [text.index(s) for s in ("Contacts", "Contacts from tape", "Photos", "Photos from snapshot",
                                     "Not tied to one data category", "Cross-cutting verification")]
    assert order == sorted(order)


# --- who may do what, and unknown ids --------------------------------------------------------

def test_viewers_see_workstreams_but_cannot_change_them(app, client, auth, make):
    owner = make.user(role="responder")
    ref = make.incident(by=owner)
    ws_id = make.workstream(ref, by=owner, target=10)
    auth.as_role("viewer")
    page = incident_page(client, ref)
    assert "0 of 10 records" in text_of(row_of(page, ws_id))
    assert progress_url(ref, ws_id) not in page and "Add workstream" not in page
    assert client.get(f"/incidents/{ref}/workstreams/{ws_id}").status_code == 200
    before = stored(app, ws_id)
    for url in (f"/incidents/{ref}/workstreams/new", f"/incidents/{ref}/workstreams/{ws_id}/edit",
                progress_url(ref, ws_id)):
        assert client.get(url).status_code == 403
        assert client.post(url, data={"version": "1", "done": "5", "name": "x"}).status_code == 403
    assert stored(app, ws_id) == before


@pytest.mark.parametrize("suffix", ["", "/edit", "/progress"])
def test_unknown_or_foreign_workstream_is_404(app, client, make, incident, suffix):
    email, ref = incident
    other_ref = make.incident(by=email, title="Another incident")
    foreign = make.workstream(other_ref, by=email, target=10)
    before = stored(app, foreign)
    for ws_id in [0, 999_999, 2**31, 2**63, foreign]:
        url = f"/incidents/{ref}/workstreams/{ws_id}{suffix}"
        assert client.get(url).status_code == 404, url
        if suffix:
            assert client.post(url, data={"version": "1", "done": "5", "name": "Hijack"}).status_code == 404
    assert stored(app, foreign) == before


# --- RPO / RTO -------------------------------------------------------------------------------

def set_objectives(client, ref: str, **values) -> None:
    """Fill the incident's recovery-objective fields through its edit form, as a person would."""
    url = f"/incidents/{ref}/edit"
    form = read_form(client.get(url).get_data(as_text=True))
    for name, value in values.items():
        form[name] = value.strftime(FORM_TIME) if isinstance(value, datetime) else str(value)
    response = client.post(url, data=form)
    assert response.status_code == 302, response.get_data(as_text=True)


def objective_text(page: str, name: str) -> str:
    card = section(page, "objectives")
    match = re.search(rf'<div class="objective">\s*<h3>{name}.*?</div>', card, re.S)
    return text_of(match.group(0))


def test_rpo_and_rto_missed_are_flagged_with_the_actual_figures(app, client, incident):
    _email, ref = incident
    loss = datetime(2009, 10, 2, 4, 40, tzinfo=UTC)
    set_objectives(client, ref, loss_began_at=loss, last_good_backup_at=loss - timedelta(hours=26),
                   restore_verified_at=loss + timedelta(days=6, hours=2), rpo_target_minutes=24 * 60,
                   rto_target_minutes=4 * 24 * 60)
    page = incident_page(client, ref)
    rpo, rto = objective_text(page, "RPO"), objective_text(page, "RTO")
    assert rpo == ("RPO · data-loss window ✗ missed Target 1 d 0 h Actual 1 d 2 h of data written since the "
                   "last good backup Over by 2 h 0 min")
    assert rto == ("RTO · time to restore ✗ missed Target 4 d 0 h Actual 6 d 2 h until the restore was "
                   "verified Over by 2 d 2 h")


def test_objectives_met_running_and_not_set(app, client, incident):
    _email, ref = incident
    page = incident_page(client, ref)
    assert "target not set" in objective_text(page, "RPO") and "target not set" in objective_text(page, "RTO")
    assert "needs the last good backup time and when the loss began" in objective_text(page, "RPO")

    loss = datetime(2009, 10, 2, 4, 40, tzinfo=UTC)
    set_objectives(client, ref, loss_began_at=loss, last_good_backup_at=loss - timedelta(minutes=30),
                   rpo_target_minutes=60, rto_target_minutes=8 * 60)
    with clock_at(loss + timedelta(hours=5)):  # the page is read five hours into the loss
        page = incident_page(client, ref)
    assert objective_text(page, "RPO").startswith("RPO · data-loss window ✓ within target Target 1 h 0 min "
                                                  "Actual 30 min")
    rto = objective_text(page, "RTO")
    assert rto.startswith("RTO · time to restore within target so far Target 8 h 0 min Actual 5 h 0 min so far")
    assert "Left 3 h 0 min" in rto

    set_objectives(client, ref, rto_target_minutes=4 * 60)  # the clock has run past a tighter target
    with clock_at(loss + timedelta(hours=5)):
        rto = objective_text(incident_page(client, ref), "RTO")
    assert "✗ missed" in rto and "Over by 1 h 0 min and counting" in rto
