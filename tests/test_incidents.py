"""Incidents: declaring, references, the list page, the detail page, status changes and editing.

Every test here runs on SQLite and on PostgreSQL (see conftest).
"""
from __future__ import annotations

import re
import threading
from datetime import UTC, datetime
from html import unescape

import pytest
from sqlalchemy import func, select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident import service as incident_service
from incidents.incident.enums import Severity, Status
from incidents.incident.fields import FIELDS
from incidents.incident.models import Incident
from incidents.timeline.models import EntryKind
from tests.helpers import field_errors, flashes, move_status, read_form, signed_in_client, timeline_rows

REFERENCE = re.compile(r"^INC-(\d{4})-(\d{4})$")


# --- helpers ---------------------------------------------------------------------------------

def incident_row(app, reference: str) -> dict:
    """The incident's stored columns, read fresh from the database."""
    with app.app_context():
        incident = db.session.scalar(select(Incident).where(Incident.reference == reference))
        assert incident is not None, f"{reference} is not in the database"
        return {c.key: getattr(incident, c.key) for c in Incident.__table__.columns}


def incident_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(Incident))


def listed_references(html: str) -> set[str]:
    return set(re.findall(r'href="/incidents/(INC-\d{4}-\d{4})"', html))


# --- the record and its reference -------------------------------------------------------------

def test_references_are_sequential_per_year(app, make):
    by = make.user()
    this_year = datetime.now(UTC).year
    first = make.incident(by=by)
    second = make.incident(by=by)
    # An incident recorded late, for last year, starts that year's own sequence.
    other_year = make.incident(by=by, declared_at=datetime(this_year - 1, 12, 31, 23, 30,
                                                           tzinfo=UTC))
    third = make.incident(by=by)

    assert [first, second, third] == [f"INC-{this_year}-0001", f"INC-{this_year}-0002",
                                      f"INC-{this_year}-0003"]
    assert other_year == f"INC-{this_year - 1}-0001"


def test_concurrent_declarations_get_distinct_sequential_references(app, make):
    by = make.user()
    threads_count = 8
    barrier = threading.Barrier(threads_count)
    references: list[str] = []
    errors: list[BaseException] = []

    def declare(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            references.append(make.incident(by=by, title=f"Concurrent {n}"))
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    # Twice: first when the year's counter does not exist yet (everyone races to create it),
    # then when it does (everyone races to bump it).
    for _round in range(2):
        threads = [threading.Thread(target=declare, args=(n,)) for n in range(threads_count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(t.is_alive() for t in threads)

    assert errors == []
    year = datetime.now(UTC).year
    assert sorted(references) == [f"INC-{year}-{n:04d}" for n in range(1, 2 * threads_count + 1)]
    assert incident_count(app) == 2 * threads_count


# --- declaring --------------------------------------------------------------------------------

def test_declare_with_only_title_and_severity(app, client, auth, make):
    email = auth.as_role("responder")
    before = datetime.now(UTC)

    response = client.post("/incidents/new", data={"title": "  Calendars wiped for EU users ",
                                                   "severity": "SEV1"})

    assert response.status_code == 302
    reference = response.headers["Location"].rsplit("/", 1)[-1]
    assert REFERENCE.match(reference)
    row = incident_row(app, reference)
    assert row["title"] == "Calendars wiped for EU users"
    assert row["severity"] is Severity.SEV1
    assert row["status"] is Status.investigating
    assert row["commander_id"] == make.user_id(email)
    assert row["comms_lead_id"] is None and row["executive_id"] is None
    assert before <= row["declared_at"] <= datetime.now(UTC)

    [entry] = timeline_rows(app, reference)
    assert entry["kind"] is EntryKind.status_change
    assert entry["author_id"] == make.user_id(email)
    assert "investigating" in entry["body"]

    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"{reference} declared. You are incident commander" in page


def test_declare_without_title_shows_error_beside_the_field(app, client, auth):
    auth.as_role("responder")

    response = client.post("/incidents/new", data={"title": "   ", "severity": "SEV2"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "title") == ["Give the incident a title."]
    assert field_errors(html, "severity") == []
    assert incident_count(app) == 0


def test_declare_with_unknown_severity_shows_error_beside_the_field(app, client, auth):
    auth.as_role("responder")

    response = client.post("/incidents/new", data={"title": "Notes gone", "severity": "SEV9"})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "severity") == ["Not a valid choice."]
    assert field_errors(html, "title") == []
    # The title typed so far is kept.
    assert 'value="Notes gone"' in html
    assert incident_count(app) == 0


def test_viewer_cannot_declare(app, client, auth):
    auth.as_role("viewer")

    response = client.post("/incidents/new", data={"title": "Files gone", "severity": "SEV2"})

    assert response.status_code == 403
    assert incident_count(app) == 0


# --- the list page ----------------------------------------------------------------------------

def test_list_shows_open_incidents_by_default_and_all_on_request(app, client, auth, make):
    email = auth.as_role("responder")
    by_status = {}
    for status in Status:
        ref = make.incident(by=email, title=f"Incident now {status.value}")
        path = {
            Status.investigating: [],
            Status.identified: [Status.identified],
            Status.recovering: [Status.recovering],
            Status.monitoring: [Status.monitoring],
            Status.resolved: [Status.resolved],
            Status.closed: [Status.resolved, Status.closed],
        }[status]
        move_status(app, ref, email, *path)
        by_status[status] = ref

    default = listed_references(client.get("/").get_data(as_text=True))
    assert default == {by_status[s] for s in Status if s.is_open}

    everything = listed_references(client.get("/?status=").get_data(as_text=True))
    assert everything == set(by_status.values())

    resolved = listed_references(client.get("/?status=resolved").get_data(as_text=True))
    assert resolved == {by_status[Status.resolved]}
    closed = listed_references(client.get("/?status=closed").get_data(as_text=True))
    assert closed == {by_status[Status.closed]}


def test_list_filters_by_severity(app, client, auth, make):
    email = auth.as_role("responder")
    sev1 = make.incident(by=email, severity="SEV1")
    sev3 = make.incident(by=email, severity="SEV3")

    assert listed_references(client.get("/?severity=SEV1").get_data(as_text=True)) == {sev1}
    assert listed_references(client.get("/?severity=SEV3").get_data(as_text=True)) == {sev3}
    assert listed_references(client.get("/?severity=SEV4").get_data(as_text=True)) == set()


def test_list_filters_by_any_owner_role(app, client, auth, make):
    email = auth.as_role("responder")
    owner = make.user(role="responder", name="Olga Owner")
    owner_id = make.user_id(owner)
    as_commander = make.incident(by=owner, title="Commanded")
    as_comms = make.incident(by=email, title="Communicated")
    as_exec = make.incident(by=email, title="Sponsored")
    unrelated = make.incident(by=email, title="Someone else's")
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.email == email))
        person = db.session.get(User, owner_id)
        for ref, role in ((as_comms, "comms_lead"), (as_exec, "executive")):
            incident = incident_service.get_incident(session=db.session, reference=ref)
            incident_service.update_incident(session=db.session, actor=actor, incident=incident,
                                             expected_version=incident.version, changes={role: person})
        db.session.commit()

    page = client.get(f"/?owner={owner_id}").get_data(as_text=True)

    assert listed_references(page) == {as_commander, as_comms, as_exec}
    assert unrelated not in page


def test_list_search_finds_words_in_any_case_and_takes_no_syntax_from_the_box(app, client, auth, make):
    email = auth.as_role("responder")
    percent = make.incident(by=email, title="Disk 100% full on storage-3")
    digits = make.incident(by=email, title="Disk 1000 rows dropped")
    underscore = make.incident(by=email, title="user_id column reset")
    letter = make.incident(by=email, title="userXid column reset")
    photos = make.incident(by=email, title="PHOTOS missing after upgrade")

    def search(q: str) -> set[str]:
        answer = client.get("/", query_string={"q": q, "status": ""})
        assert answer.status_code == 200, q
        return listed_references(answer.get_data(as_text=True))

    assert search("photos") == search("Photo") == {photos}  # any case; a word or its start
    assert search("Disk") == {percent, digits}
    assert search("storage-3 full") == {percent}  # every word must occur
    assert search("user_id") == {underscore}
    assert search("column reset") == {underscore, letter}
    assert search(percent) == {percent}  # the reference is searched too
    # What would be syntax to a search engine is only punctuation here: no error, no match.
    for typed in ("%", "_", '"', "NEAR(", "AND", "*", "photos OR disk", "-photos", "photos:*", "'"):
        search(typed)
    assert search("%") == set() and search('"photos"') == {photos}


# --- the detail page --------------------------------------------------------------------------

def test_detail_shows_state_people_and_timeline(app, client, auth, make):
    email = auth.as_role("responder")
    comms = make.user(name="Carla Comms")
    ref = make.incident(by=email, title="Contacts lost after sync", severity="SEV1",
                        personal_data=True, data_categories=["contacts"])
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.email == email))
        incident = incident_service.get_incident(session=db.session, reference=ref)
        incident_service.update_incident(
            session=db.session, actor=actor, incident=incident, expected_version=incident.version,
            changes={"comms_lead": db.session.scalar(select(User).where(User.email == comms))})
        db.session.commit()
    make.entry(ref, body="Restore from **snapshot** started", by=email)
    move_status(app, ref, email, Status.recovering)

    response = client.get(f"/incidents/{ref}")

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert ref in html and "Contacts lost after sync" in html
    assert 'class="badge status tone-info">Recovering<' in html and "sev-sev1" in html
    assert "personal data" in html and "Contacts" in html
    with app.app_context():
        commander_name = db.session.scalar(select(User.name).where(User.email == email))
    people = re.search(r'<dl class="people-line" id="people">.*?</dl>', html, re.S).group(0)
    assert re.search(rf"Commander</dt>\s*<dd>{re.escape(commander_name)}</dd>", people)
    assert re.search(r"Comms lead</dt>\s*<dd>Carla Comms</dd>", people)
    assert re.search(r'Executive</dt>\s*<dd><span class="unassigned">unassigned</span>', people)
    timeline = html[html.index('id="timeline"'):]
    assert "Restore from <strong>snapshot</strong> started" in timeline
    assert "<strong>recovering</strong>" in timeline
    assert "Declared <strong>SEV1</strong> incident" in timeline
    assert "Carla Comms" in timeline  # the owner change is on the timeline too


def test_unknown_incident_is_404(app, client, auth):
    auth.as_role("viewer")
    assert client.get("/incidents/INC-1999-0001").status_code == 404


# --- status changes ---------------------------------------------------------------------------

def post_status(client, app, ref: str, status: str, *, version: int | None = None, note: str = ""):
    version = incident_row(app, ref)["version"] if version is None else version
    return client.post(f"/incidents/{ref}/status",
                       data={"status": status, "version": version, "note": note})


def test_status_lifecycle_stamps_key_moments_and_writes_timeline(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = datetime.now(UTC)

    for status in ("identified", "recovering", "monitoring"):
        assert post_status(client, app, ref, status).status_code == 302
    after_monitoring = incident_row(app, ref)
    assert after_monitoring["status"] is Status.monitoring
    assert before <= after_monitoring["mitigated_at"] <= datetime.now(UTC)
    assert after_monitoring["resolved_at"] is None and after_monitoring["closed_at"] is None

    assert post_status(client, app, ref, "resolved", note="Restore verified by support").status_code == 302
    resolved = incident_row(app, ref)
    assert before <= resolved["resolved_at"] <= datetime.now(UTC)
    assert resolved["mitigated_at"] == after_monitoring["mitigated_at"]  # stamped once, kept
    assert resolved["closed_at"] is None

    make.postmortem(ref, by=email, reviewers=[make.user()], state="published")  # closing needs it
    response = post_status(client, app, ref, "closed")
    assert response.status_code == 302
    closed = incident_row(app, ref)
    assert closed["status"] is Status.closed
    assert before <= closed["closed_at"] <= datetime.now(UTC)

    changes = [e for e in timeline_rows(app, ref) if e["kind"] is EntryKind.status_change]
    assert len(changes) == 1 + 5  # declaration + five moves
    assert all(e["author_id"] == make.user_id(email) for e in changes)
    assert "from *monitoring* to **resolved**" in changes[4]["body"]
    assert "Restore verified by support" in changes[4]["body"]
    assert "to **closed**" in changes[5]["body"]

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Status is now closed." in flashes(page)


@pytest.mark.parametrize("path, target, message", [
    ((), "closed", "An investigating incident cannot move to closed."),
    ((Status.resolved, Status.closed), "investigating", "A closed incident cannot move to investigating."),
    ((Status.resolved, Status.closed), "resolved", "A closed incident cannot move to resolved."),
    ((Status.identified,), "identified", "The incident is already identified."),
])
def test_invalid_transition_is_refused_and_changes_nothing(app, client, auth, make, path, target, message):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    move_status(app, ref, email, *path)
    before_row, before_entries = incident_row(app, ref), timeline_rows(app, ref)

    response = post_status(client, app, ref, target)

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert message in flashes(page)
    assert incident_row(app, ref) == before_row
    assert timeline_rows(app, ref) == before_entries


def test_status_change_is_not_saved_when_its_timeline_entry_fails(app, client, auth, make, monkeypatch):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before_row, before_entries = incident_row(app, ref), timeline_rows(app, ref)
    real_add_entry = incident_service.add_entry

    def add_entry_then_fail(**kwargs):
        real_add_entry(**kwargs)  # flushes the status change and the entry, then the write fails
        raise RuntimeError("timeline storage failed")

    monkeypatch.setattr(incident_service, "add_entry", add_entry_then_fail)

    response = post_status(client, app, ref, "monitoring")

    assert response.status_code == 500
    after = incident_row(app, ref)
    assert after["status"] is Status.investigating
    assert after["mitigated_at"] is None
    assert after == before_row
    assert timeline_rows(app, ref) == before_entries


def test_owner_change_is_not_saved_when_its_timeline_entry_fails(app, client, auth, make, monkeypatch):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    newcomer = make.user(name="Nora New")
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["comms_lead"] = str(make.user_id(newcomer))
    before_row, before_entries = incident_row(app, ref), timeline_rows(app, ref)

    def fail(**_kwargs):
        raise RuntimeError("timeline storage failed")

    monkeypatch.setattr(incident_service, "add_entry", fail)

    response = client.post(f"/incidents/{ref}/edit", data=form)

    assert response.status_code == 500
    assert incident_row(app, ref) == before_row
    assert timeline_rows(app, ref) == before_entries


def test_stale_status_change_is_refused_and_changes_nothing(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    loaded_version = incident_row(app, ref)["version"]
    colleague = make.user()
    move_status(app, ref, colleague, Status.identified)  # saved after our page was loaded
    before_row, before_entries = incident_row(app, ref), timeline_rows(app, ref)

    response = post_status(client, app, ref, "monitoring", version=loaded_version)

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    [message] = flashes(page)
    assert "saved a newer version" in message and "Nothing of yours was saved" in message
    assert "the status is now identified" in message
    assert incident_row(app, ref) == before_row
    assert before_row["status"] is Status.identified and before_row["mitigated_at"] is None
    assert timeline_rows(app, ref) == before_entries


# --- editing and optimistic locking -----------------------------------------------------------

def test_edit_changes_owners_and_details_with_timeline_entries(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Tasks missing")
    executive = make.user(role="viewer", name="Eve Executive")
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["title"] = "Tasks missing for 2% of users"
    form["executive"] = str(make.user_id(executive))
    entries_before = len(timeline_rows(app, ref))

    response = client.post(f"/incidents/{ref}/edit", data=form)

    assert response.status_code == 302
    row = incident_row(app, ref)
    assert row["title"] == "Tasks missing for 2% of users"
    assert row["executive_id"] == make.user_id(executive)
    assert row["commander_id"] == make.user_id(email)
    new_entries = timeline_rows(app, ref)[entries_before:]
    owner_entry = [e for e in new_entries if e["kind"] is EntryKind.decision]
    detail_entry = [e for e in new_entries if e["kind"] is EntryKind.note]
    assert len(owner_entry) == 1 and "Executive owner: none → **Eve Executive**" in owner_entry[0]["body"]
    assert len(detail_entry) == 1
    # Only what was edited is reported; untouched fields (times shown to the minute) are not.
    assert detail_entry[0]["body"] == ("Details changed:\n\n"
                                       "- Title: Tasks missing → **Tasks missing for 2% of users**")


def test_handing_command_between_two_other_people_is_saved(app, client, auth, make):
    """Neither the old nor the new commander is the editor: the change must still be saved."""
    editor = auth.as_role("responder")
    first, second = make.user(name="Ada First"), make.user(name="Bo Second")
    ref = make.incident(by=editor)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["commander"] = str(make.user_id(first))
    assert client.post(f"/incidents/{ref}/edit", data=form).status_code == 302
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["commander"] = str(make.user_id(second))

    assert client.post(f"/incidents/{ref}/edit", data=form).status_code == 302

    assert incident_row(app, ref)["commander_id"] == make.user_id(second)
    assert "Incident commander: Ada First → **Bo Second**" in timeline_rows(app, ref)[-1]["body"]


def test_saving_an_unchanged_form_changes_nothing(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before_row, before_entries = incident_row(app, ref), timeline_rows(app, ref)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))

    assert client.post(f"/incidents/{ref}/edit", data=form).status_code == 302

    assert incident_row(app, ref) == before_row
    assert timeline_rows(app, ref) == before_entries


def test_second_editor_of_the_same_version_gets_a_conflict(app, client, auth, make):
    alice = auth.as_role("responder")
    bob_client, bob = signed_in_client(app, make, name="Bob Builder")
    comms = make.user(name="Chris Comms")
    ref = make.incident(by=alice, title="Photos missing", severity="SEV3")
    version = incident_row(app, ref)["version"]

    alice_form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    bob_form = read_form(bob_client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    assert alice_form["version"] == bob_form["version"] == str(version)

    alice_form["title"] = "Photos missing for Android users"
    alice_form["severity"] = "SEV1"
    assert client.post(f"/incidents/{ref}/edit", data=alice_form).status_code == 302
    alice_saved = incident_row(app, ref)

    bob_form["title"] = "Photo thumbnails missing"
    bob_form["comms_lead"] = str(make.user_id(comms))
    conflict = bob_client.post(f"/incidents/{ref}/edit", data=bob_form)

    assert conflict.status_code == 409
    html = conflict.get_data(as_text=True)
    alert = html[html.index('<section class="conflict"'):html.index("</section>")]
    assert "saved a newer version" in alert and "Nothing of yours was saved" in alert
    differences = {unescape(label): (unescape(saved), unescape(mine)) for label, saved, mine in re.findall(
        r'<tr><th scope="row">(.*?)</th><td>(.*?)</td><td>(.*?)</td></tr>', alert)}
    assert differences == {
        "Title": ("Photos missing for Android users", "Photo thumbnails missing"),
        "Severity": ("SEV1", "SEV3"),
        "Communications lead": ("none", "Chris Comms"),
    }
    # Alice's save stands; nothing of Bob's was written.
    assert incident_row(app, ref) == alice_saved
    # Bob's input is still in the form, now based on the version Alice saved.
    kept = read_form(html)
    assert kept["title"] == "Photo thumbnails missing"
    assert kept["severity"] == "SEV3"
    assert kept["comms_lead"] == str(make.user_id(comms))
    assert kept["version"] == str(alice_saved["version"]) != str(version)

    # Having reviewed the differences, Bob saves again: now it is a deliberate choice.
    again = bob_client.post(f"/incidents/{ref}/edit", data=kept)

    assert again.status_code == 302
    final = incident_row(app, ref)
    assert final["title"] == "Photo thumbnails missing"
    assert final["severity"] is Severity.SEV3
    assert final["comms_lead_id"] == make.user_id(comms)
    assert final["updated_by_id"] == make.user_id(bob)
    assert final["version"] == alice_saved["version"] + 1


def test_edit_with_invalid_input_shows_errors_and_keeps_input(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = incident_row(app, ref)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["title"] = ""
    form["summary"] = "Half-written summary"

    response = client.post(f"/incidents/{ref}/edit", data=form)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "title") == ["Give the incident a title."]
    assert read_form(html)["summary"] == "Half-written summary"
    assert incident_row(app, ref) == before


def test_edit_records_key_moments_categories_and_personal_data(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["loss_began_at"] = "2026-01-10T22:15"
    form["detected_at"] = "2026-01-11T06:45"
    form["aware_at"] = "2026-01-11T09:00"
    form.setlist("data_categories", ["photos", "contacts"])
    form["personal_data"] = "y"

    assert client.post(f"/incidents/{ref}/edit", data=form).status_code == 302

    row = incident_row(app, ref)
    assert row["loss_began_at"] == datetime(2026, 1, 10, 22, 15, tzinfo=UTC)
    assert row["detected_at"] == datetime(2026, 1, 11, 6, 45, tzinfo=UTC)
    assert row["aware_at"] == datetime(2026, 1, 11, 9, 0, tzinfo=UTC)
    assert row["data_categories"] == ["contacts", "photos"]
    assert row["personal_data"] is True
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    moments = page[page.index("<h2>Key moments</h2>"):]
    assert re.search(r"Loss began</dt><dd><time [^>]*>2026-01-10 22:15 UTC</time>", moments)
    assert re.search(r"Became aware \(legal clock\)</dt><dd><time [^>]*>2026-01-11 09:00 UTC</time>", moments)
    assert "Detected 8 h 30 min after the loss began." in moments
    assert "personal data" in page and "Photos" in page and "Contacts" in page


# A new value for each kind of field; every moment is the same instant after the declared time
# set first, so every order the form checks between key moments holds.
NEW_VALUE = {"text": "Renamed", "markdown": "Rewritten *summary*", "severity": "SEV4", "categories": "billing",
             "flag": "y", "moment": "2009-10-02T06:30", "minutes": "45"}


def test_every_declared_field_saves_from_the_edit_page_and_is_told_on_the_timeline(app, client, auth, make):
    """Whatever incidents/incident/fields.py declares is on the edit page, saves, shows as saved,
    and is described on the timeline by its label (a field missing anywhere fails here)."""
    email = auth.as_role("responder")
    person = make.user_id(make.user(role="responder", name="Dana Field"))
    ref, url = (ref := make.incident(by=email)), f"/incidents/{ref}/edit"
    form = read_form(client.get(url).get_data(as_text=True))
    form["declared_at"] = "2009-10-01T00:00"
    assert client.post(url, data=form).status_code == 302
    for spec in FIELDS:
        form = read_form(client.get(url).get_data(as_text=True))
        value = str(person) if spec.kind == "person" else NEW_VALUE[spec.kind]
        assert form.getlist(spec.name) != [value], spec.name  # really a change
        form.setlist(spec.name, [value])
        assert client.post(url, data=form).status_code == 302, spec.name
        assert read_form(client.get(url).get_data(as_text=True)).getlist(spec.name) == [value], spec.name
        assert spec.label in timeline_rows(app, ref)[-1]["body"], spec.name


def test_edit_refuses_detection_before_the_loss_began(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = incident_row(app, ref)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["loss_began_at"] = "2026-01-11T06:45"
    form["detected_at"] = "2026-01-10T22:15"

    response = client.post(f"/incidents/{ref}/edit", data=form)

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "detected_at") == [
        "This cannot be before “Loss began”."]
    assert incident_row(app, ref) == before


def test_edit_refuses_key_moments_in_the_future(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = incident_row(app, ref)
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["resolved_at"] = "2199-01-01T00:00"

    response = client.post(f"/incidents/{ref}/edit", data=form)

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "resolved_at") == [
        "This is in the future; enter when it happened (UTC)."]
    assert incident_row(app, ref) == before
