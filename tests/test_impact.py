"""Impact updates: affected-customer counts over time, per data category, never overwritten.

Every test here runs on SQLite and on PostgreSQL (see conftest).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from incidents.extensions import db
from incidents.impact import service as impact_service
from incidents.impact.models import CategoryImpact, ImpactUpdate
from incidents.incident.models import Incident
from incidents.timeline.models import EntryKind
from tests.helpers import field_errors, read_form, section, signed_in_client, text_of, timeline_rows

# --- helpers ---------------------------------------------------------------------------------


def figures(html: str) -> dict[str, str]:
    """The big figures of the "Impact now" panel: label -> the text shown with it."""
    panel = section(html, "impact")
    return {text_of(label): text_of(rest) for label, rest in
            re.findall(r'<div class="figure[^"]*">\s*<dt>(.*?)</dt>(.*?)</div>', panel, re.S)}


def category_rows(html: str) -> dict[str, list[str]]:
    panel = section(html, "impact")
    return {text_of(label): [text_of(cell) for cell in cells] for label, cells in
            ((m.group(1), re.findall(r"<td>(.*?)</td>", m.group(2), re.S))
             for m in re.finditer(r'<tr>\s*<th scope="row">(.*?)</th>(.*?)</tr>', panel, re.S))}


def stored_updates(app, reference: str) -> list[tuple]:
    """Every stored update with its category rows, in the order written."""
    with app.app_context():
        incident_id = db.session.scalar(select(Incident.id).where(Incident.reference == reference))
        updates = db.session.scalars(select(ImpactUpdate).where(ImpactUpdate.incident_id == incident_id)
                                     .order_by(ImpactUpdate.id)).all()
        return [(u.id, u.based_on_id, u.author_id, u.as_of, u.customers_affected, u.customers_restored,
                 u.customers_lost, u.customers_notified, u.note,
                 tuple((c.category, c.records_affected, c.records_recovered, c.records_unrecoverable)
                       for c in u.categories)) for u in updates]


def category_row_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(CategoryImpact))


def impact_form(client, reference: str) -> dict:
    response = client.get(f"/incidents/{reference}/impact")
    assert response.status_code == 200
    return read_form(response.get_data(as_text=True)).to_dict()


@pytest.fixture
def incident(make, auth):
    """A signed-in responder and their incident touching contacts and photos."""
    email = auth.as_role("responder")
    return email, make.incident(by=email, title="Sync servers lost contacts and photos",
                                data_categories=["contacts", "photos"])


# --- recording -------------------------------------------------------------------------------

def test_first_update_is_shown_on_the_incident_page_with_percent_restored(app, client, incident):
    email, ref = incident
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "No impact figures yet" in text_of(section(page, "impact"))
    form = impact_form(client, ref)
    assert form["based_on"] == ""  # nothing to be based on yet

    form.update({"customers_affected": "800000", "customers_restored": "200000", "customers_lost": "1000",
                 "customers_notified": "50000", "contacts-affected": "40000000",
                 "contacts-recovered": "10000000", "contacts-unrecoverable": "25000",
                 "note": "Counted from the sync logs"})
    response = client.post(f"/incidents/{ref}/impact", data=form)

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    shown = figures(page)
    assert shown["Customers affected"].startswith("800,000")
    assert shown["Restored"].startswith("200,000 25.0% restored")
    assert shown["Permanently lost"].startswith("1,000")
    assert shown["Notified"].startswith("50,000")
    assert "first figures" in shown["Customers affected"]
    rows = category_rows(page)
    assert rows["Contacts"] == ["40,000,000", "10,000,000 (25.0%)", "25,000"]
    assert "Photos" not in rows  # an empty row means "not known yet", not zero
    assert re.search(r'<progress id="restored-bar" max="800000" value="200000">', page)
    panel = text_of(section(page, "impact"))
    assert "Counted from the sync logs" in panel and "by Responder" in panel

    entry = timeline_rows(app, ref)[-1]
    assert entry["kind"] is EntryKind.impact
    assert "800,000 customers affected, 200,000 restored (25.0%), 1,000 permanently lost" in entry["body"]
    assert "Contacts: 10,000,000 of 40,000,000 records recovered, 25,000 unrecoverable" in entry["body"]
    [(_, based_on, *_rest)] = stored_updates(app, ref)
    assert based_on is None


def test_next_update_shows_the_change_since_the_last_one(app, client, make, incident):
    email, ref = incident
    make.impact(ref, by=email, affected=800_000, restored=200_000, lost=1_000, notified=50_000,
                categories={"contacts": (40_000_000, 10_000_000, 25_000)})
    form = impact_form(client, ref)
    # The form starts from the latest figures.
    assert (form["customers_affected"], form["customers_restored"], form["contacts-affected"]) == \
        ("800000", "200000", "40000000")
    assert form["photos-affected"] == ""

    form.update({"customers_affected": "750000", "customers_restored": "600000",
                 "contacts-recovered": "30000000", "photos-affected": "9000000"})
    assert client.post(f"/incidents/{ref}/impact", data=form).status_code == 302

    shown = figures(client.get(f"/incidents/{ref}").get_data(as_text=True))
    assert shown["Customers affected"] == "750,000 −50,000 since last update"
    assert shown["Restored"] == "600,000 80.0% restored +400,000 since last update"
    assert shown["Permanently lost"] == "1,000 no change"
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    rows = category_rows(page)
    assert rows["Contacts"] == ["40,000,000", "30,000,000 (75.0%) +20,000,000", "25,000"]
    assert rows["Photos"] == ["9,000,000", "0 (0.0%)", "0"]
    # A fall in affected customers and a rise in restored ones read differently.
    assert '<span class="change change-good">+400,000' in page
    assert '<span class="change change-good">−50,000' in page
    body = timeline_rows(app, ref)[-1]["body"]
    assert "750,000 (−50,000) customers affected, 600,000 (+400,000) restored (80.0%)" in body


def test_update_is_not_saved_when_its_timeline_entry_fails(app, client, incident, monkeypatch):
    _email, ref = incident
    real_add_entry = impact_service.add_entry

    def add_entry_then_fail(**kwargs):
        real_add_entry(**kwargs)  # the update and its entry are flushed; then the write fails
        raise RuntimeError("timeline storage failed")

    monkeypatch.setattr(impact_service, "add_entry", add_entry_then_fail)
    entries_before = timeline_rows(app, ref)
    form = impact_form(client, ref)
    form.update({"customers_affected": "100", "customers_restored": "0", "customers_lost": "0",
                 "customers_notified": "0", "contacts-affected": "5000"})

    response = client.post(f"/incidents/{ref}/impact", data=form)

    assert response.status_code == 500
    assert stored_updates(app, ref) == []
    assert category_row_count(app) == 0
    assert timeline_rows(app, ref) == entries_before


BASE = {"customers_affected": "1000", "customers_restored": "100", "customers_lost": "10",
        "customers_notified": "500", "contacts-affected": "50000", "contacts-recovered": "1000",
        "contacts-unrecoverable": "10"}


@pytest.mark.parametrize("changes, field, message", [
    ({"customers_affected": "-1"}, "customers_affected", "A count cannot be negative."),
    ({"customers_lost": "-5"}, "customers_lost", "A count cannot be negative."),
    ({"contacts-recovered": "-1"}, "contacts-recovered", "A count cannot be negative."),
    ({"customers_restored": "1001"}, "customers_restored", "More customers restored than affected."),
    ({"customers_restored": "600", "customers_lost": "401"}, "customers_lost",
     "Restored plus permanently lost cannot exceed the customers affected."),
    ({"customers_notified": "1001"}, "customers_notified", "More customers notified than affected."),
    ({"contacts-recovered": "50001"}, "contacts-recovered", "More records recovered than affected."),
    ({"contacts-recovered": "40000", "contacts-unrecoverable": "10001"}, "contacts-unrecoverable",
     "Recovered plus unrecoverable cannot exceed the records affected."),
    ({"contacts-affected": ""}, "contacts-affected",
     "Enter the records affected, or leave the whole row empty if not known yet."),
    ({"customers_affected": ""}, "customers_affected", "Enter a number (0 if none)."),
    ({"customers_restored": "12.5"}, "customers_restored", "Enter a whole number, like 12000."),
    ({"customers_affected": "1" + "0" * 16}, "customers_affected",
     "That is more than 1,000,000,000,000,000; check the figure."),
])
def test_impossible_figures_are_refused_beside_the_field(app, client, make, incident, changes, field, message):
    email, ref = incident
    make.impact(ref, by=email, affected=900)
    before, entries_before = stored_updates(app, ref), timeline_rows(app, ref)
    form = impact_form(client, ref)
    form.update({**BASE, **changes})

    response = client.post(f"/incidents/{ref}/impact", data=form)

    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in field_errors(page, field)
    assert "nothing was saved" in page
    assert stored_updates(app, ref) == before
    assert timeline_rows(app, ref) == entries_before
    # What was typed is still there to fix.
    kept = read_form(page)
    assert all(kept[name] == value for name, value in {**BASE, **changes}.items())


def test_figures_as_of_a_time_in_the_future_are_refused(app, client, incident):
    _email, ref = incident
    form = impact_form(client, ref)
    future = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    form.update({"customers_affected": "10", "customers_restored": "0", "customers_lost": "0",
                 "customers_notified": "0", "as_of": future})
    response = client.post(f"/incidents/{ref}/impact", data=form)
    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "as_of") == [
        "Figures cannot be as of a time in the future."]
    assert stored_updates(app, ref) == []


def test_backdated_figures_join_the_history_without_replacing_the_latest(app, client, make, incident):
    email, ref = incident
    now_id = make.impact(ref, by=email, affected=5000, restored=1000)
    form = impact_form(client, ref)
    form.update({"customers_affected": "3000", "customers_restored": "0", "as_of": "2009-10-02T04:40"})
    assert client.post(f"/incidents/{ref}/impact", data=form).status_code == 302

    shown = figures(client.get(f"/incidents/{ref}").get_data(as_text=True))
    assert shown["Customers affected"].startswith("5,000")
    history = text_of(client.get(f"/incidents/{ref}/impact/history").get_data(as_text=True))
    assert "2009-10-02 04:40 UTC" in history and "3,000" in history
    # The next form is still based on the newest figures, not the backdated ones.
    assert impact_form(client, ref)["based_on"] == str(now_id)


# --- concurrent edits ------------------------------------------------------------------------

def test_figures_typed_over_a_stale_form_get_a_conflict_and_overwrite_nothing(app, client, make, incident):
    email, ref = incident
    make.impact(ref, by=email, affected=1000, restored=100)
    mine = impact_form(client, ref)  # Alice opens the form ...
    bob, _ = signed_in_client(app, make, name="Bob Newer")
    theirs = impact_form(bob, ref)  # ... Bob records newer figures meanwhile
    theirs.update({"customers_affected": "2000", "customers_restored": "700"})
    assert bob.post(f"/incidents/{ref}/impact", data=theirs).status_code == 302
    stored = stored_updates(app, ref)

    mine.update({"customers_affected": "1500", "customers_restored": "300"})
    response = client.post(f"/incidents/{ref}/impact", data=mine)

    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert stored_updates(app, ref) == stored  # nothing overwritten, nothing added
    conflict = text_of(re.search(r'<section class="conflict".*?</section>', page, re.S).group(0))
    assert "Bob Newer recorded newer figures while you were typing" in conflict
    assert "Customers affected 2,000 1,500" in conflict and "Restored 700 300" in conflict
    # The input is kept, now based on Bob's update, so sending it again is a deliberate choice.
    again = read_form(page).to_dict()
    assert (again["customers_affected"], again["customers_restored"]) == ("1500", "300")
    assert again["based_on"] == str(stored[-1][0])
    assert client.post(f"/incidents/{ref}/impact", data=again).status_code == 302
    assert [row[4] for row in stored_updates(app, ref)] == [1000, 2000, 1500]
    assert figures(client.get(f"/incidents/{ref}").get_data(as_text=True))["Customers affected"] \
        == "1,500 −500 since last update"


def test_two_first_updates_from_empty_forms_do_not_both_count(app, client, make, incident):
    _email, ref = incident
    mine = impact_form(client, ref)
    other, _ = signed_in_client(app, make)
    theirs = impact_form(other, ref)
    theirs.update({"customers_affected": "70", "customers_restored": "0"})
    mine.update({"customers_affected": "80", "customers_restored": "0"})
    assert other.post(f"/incidents/{ref}/impact", data=theirs).status_code == 302
    assert client.post(f"/incidents/{ref}/impact", data=mine).status_code == 409
    assert [row[4] for row in stored_updates(app, ref)] == [70]


def test_a_first_update_claiming_to_be_based_on_other_figures_is_refused(app, client, make, incident):
    email, ref = incident
    elsewhere = make.impact(make.incident(by=email, title="Another incident"), by=email, affected=5)
    for based_on in (str(elsewhere), "999999"):
        form = impact_form(client, ref)
        form.update({"based_on": based_on, "customers_affected": "10"})
        response = client.post(f"/incidents/{ref}/impact", data=form)
        assert response.status_code == 422
        assert "This form does not match the incident's figures; reload the page." in text_of(
            response.get_data(as_text=True))
        assert stored_updates(app, ref) == []


# --- history and who may do what ------------------------------------------------------------

def test_history_lists_every_update_and_never_changes_one(app, client, make, incident):
    email, ref = incident
    other = make.user(role="responder", name="Priya Second")
    make.impact(ref, by=email, affected=100, restored=0)
    make.impact(ref, by=other, affected=300, restored=50, notified=300,
                categories={"photos": (9000, 4000, 100)})
    first_two = stored_updates(app, ref)
    form = impact_form(client, ref)
    form.update({"customers_affected": "300", "customers_restored": "250", "note": "Tape restore done"})
    assert client.post(f"/incidents/{ref}/impact", data=form).status_code == 302

    after = stored_updates(app, ref)
    assert after[:2] == first_two  # earlier updates are exactly as they were
    assert len(after) == 3
    page = client.get(f"/incidents/{ref}/impact/history").get_data(as_text=True)
    rows = [text_of(row) for row in re.findall(r'<tr id="update-\d+">.*?</tr>', page, re.S)]
    assert len(rows) == 3
    assert "Priya Second" in rows[1] and "Photos: 4,000 of 9,000 recovered, 100 unrecoverable" in rows[1]
    assert "250 (83.3%) +200" in rows[0] and "Tape restore done" in rows[0]
    assert "300 +200" in rows[1] and rows[2].split()[-1] == "—"  # the oldest: no note, no change


def test_viewers_read_the_figures_and_history_but_cannot_record(app, client, auth, make):
    owner = make.user(role="responder")
    ref = make.incident(by=owner, data_categories=["contacts"])
    make.impact(ref, by=owner, affected=100, restored=40)
    auth.as_role("viewer")

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert figures(page)["Restored"].startswith("40 40.0% restored")
    assert "Record impact update" not in page
    assert client.get(f"/incidents/{ref}/impact/history").status_code == 200
    assert client.get(f"/incidents/{ref}/impact").status_code == 403
    before = stored_updates(app, ref)
    assert client.post(f"/incidents/{ref}/impact", data={"customers_affected": "1"}).status_code == 403
    assert stored_updates(app, ref) == before


def test_empty_panel_prompts_responders_to_record_the_first_figures(app, client, incident):
    _email, ref = incident
    panel = section(client.get(f"/incidents/{ref}").get_data(as_text=True), "impact")
    assert "No impact figures yet" in text_of(panel)
    assert f'href="/incidents/{ref}/impact"' in panel and "Record the first impact update" in panel


def test_figures_of_a_category_removed_from_the_incident_are_still_asked_for(app, client, make, incident):
    email, ref = incident
    make.impact(ref, by=email, affected=10, categories={"files": (500, 20, 0)})
    form = impact_form(client, ref)
    assert form["files-recovered"] == "20"  # not silently dropped by the next update
    assert client.post(f"/incidents/{ref}/impact", data=form).status_code == 302
    assert stored_updates(app, ref)[-1][-1] == (("files", 500, 20, 0),)


def test_unknown_incident_is_404(app, client, auth):
    auth.as_role("responder")
    assert client.get("/incidents/INC-1999-0001/impact").status_code == 404
    assert client.get("/incidents/INC-1999-0001/impact/history").status_code == 404
    assert client.post("/incidents/INC-1999-0001/impact", data={"customers_affected": "1"}).status_code == 404
