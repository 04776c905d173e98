"""Action items: adding them with an owner and a due date, finishing or dropping them on the
record, and the lists across incidents (all open, mine, overdue)."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import func, select

from incidents.actions.enums import ActionStatus
from incidents.actions.models import ActionItem
from incidents.auth.models import User
from incidents.db import clock_at
from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.timeline.models import EntryKind, TimelineEntry
from tests.helpers import field_errors, read_form


def today():
    return datetime.now(UTC).date()


def item_row(app, item_id: int) -> dict:
    with app.app_context():
        item = db.session.get(ActionItem, item_id)
        return {c.key: getattr(item, c.key) for c in ActionItem.__table__.columns}


def action_entries(app, reference: str) -> list[tuple[str, int | None, datetime]]:
    """(body, author id, when it happened) of the incident's action entries, oldest first."""
    with app.app_context():
        incident_id = db.session.scalar(select(Incident.id).where(Incident.reference == reference))
        return [tuple(row) for row in db.session.execute(
            select(TimelineEntry.body, TimelineEntry.author_id, TimelineEntry.occurred_at)
            .where(TimelineEntry.incident_id == incident_id, TimelineEntry.kind == EntryKind.action)
            .order_by(TimelineEntry.id))]


def form(owner_id, **changes) -> dict:
    data = {"title": "Test restores from the nightly backup", "kind": "prevent", "owner": owner_id,
            "due_on": (today() + timedelta(days=14)).isoformat(), "priority": "high",
            "tracker_url": "https://tracker.example.com/OPS-42"}
    return {**data, **changes}


def test_add_from_the_incident_page_and_see_it_on_the_postmortem(app, client, auth, make):
    email = auth.as_role("responder")
    owner = make.user(role="responder", name="Dana Owner")
    ref = make.incident(by=email)
    assert "Add action item" in client.get(f"/incidents/{ref}").get_data(as_text=True)

    response = client.post(f"/incidents/{ref}/actions/new", data=form(make.user_id(owner)))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/incidents/{ref}#actions")
    with app.app_context():
        item = db.session.scalar(select(ActionItem))
        assert (item.title, item.kind.value, item.owner.email, item.status) == (
            "Test restores from the nightly backup", "prevent", owner, ActionStatus.open)
        assert item.tracker_url == "https://tracker.example.com/OPS-42"
    assert "Action item **Test restores from the nightly backup** added" in action_entries(app, ref)[0][0]
    for page in (f"/incidents/{ref}", f"/incidents/{ref}/postmortem"):
        html = client.get(page).get_data(as_text=True)
        assert "Test restores from the nightly backup" in html and "Dana Owner" in html

    # Added from the postmortem, it goes back there.
    response = client.post(f"/incidents/{ref}/actions/new?from=postmortem",
                           data=form(make.user_id(owner), title="Page on-call for storage alarms", kind="detect"))
    assert response.headers["Location"].endswith(f"/incidents/{ref}/postmortem#actions")


BAD_INPUT = [
    ("owner", 0, "Every action item needs an owner."),
    ("due_on", "2009-10-02", "The due date cannot be in the past"),
    ("due_on", "", "Give a due date."),
    ("tracker_url", "javascript:alert(1)", "Give a full http:// or https:// link"),
    ("title", "  ", "Say what needs doing."),
]


def test_bad_input_is_refused_beside_the_field(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    for field, value, message in BAD_INPUT:
        response = client.post(f"/incidents/{ref}/actions/new", data=form(make.user_id(email), **{field: value}))
        assert response.status_code == 422, field
        page = unescape(response.get_data(as_text=True))
        block = re.search(rf'<div class="field [^"]*has-error[^"]*">\s*<label for="{field}".*?</div>', page, re.S)
        assert block and message in block.group(0), (field, value)
    with app.app_context():
        assert db.session.scalar(select(ActionItem)) is None


BAD_LINKS = [
    ("javascript:alert(1)", "Give a full http:// or https:// link"),
    ("ftp://files.example.com/report", "Give a full http:// or https:// link"),
    ("https://", "Give a full http:// or https:// link"),
    ("https://tracker.example.com:99999/OPS-1", "Give a full http:// or https:// link"),
    ("https://tracker.example.com/a b", "Give a full http:// or https:// link"),
    ("https://alice:hunter2@tracker.example.com/OPS-1", "Leave the user name and password out of the link."),
    ("https://tracker.example.com/" + "x" * 500, "That link is longer than 500 characters."),
]


@pytest.mark.parametrize("link, message", BAD_LINKS)
def test_a_bad_link_is_refused_beside_the_field_when_adding_and_editing(app, client, auth, make, link, message):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    item_id = make.action_item(ref, by=email)
    before = item_row(app, item_id)
    edit_url = f"/incidents/{ref}/actions/{item_id}/edit"
    edited = read_form(client.get(edit_url).get_data(as_text=True)).to_dict()
    for url, data in ((f"/incidents/{ref}/actions/new", form(make.user_id(email), tracker_url=link)),
                      (edit_url, {**edited, "tracker_url": link})):
        response = client.post(url, data=data)
        assert response.status_code == 422, url
        page = response.get_data(as_text=True)
        assert any(message in e for e in field_errors(page, "tracker_url")), (url, field_errors(page, "tracker_url"))
        assert read_form(page)["tracker_url"] == link  # kept to fix
    assert item_row(app, item_id) == before
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ActionItem)) == 1


def test_the_service_refuses_a_bad_link_that_bypasses_the_form():
    """Other callers (the demo data, scripts) meet the same check, named for the tracker field."""
    from incidents.actions.service import check_tracker_url
    from incidents.errors import FieldError
    assert check_tracker_url("  https://tracker.example.com/OPS-7 ") == "https://tracker.example.com/OPS-7"
    assert check_tracker_url("  ") is None
    with pytest.raises(FieldError, match="user name and password") as refused:
        check_tracker_url("http://bob:secret@tracker.example.com/")
    assert refused.value.field == "tracker_url"


def test_disabled_owner_is_refused(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    item_id = make.action_item(ref, by=email)
    with app.app_context():
        db.session.scalar(select(User).where(User.email == email)).active = False
        db.session.commit()
    # The service refuses a disabled owner even when a form offers them (an old page, say).
    from incidents.actions.service import ActionFields, update_action_item
    from incidents.errors import FieldError
    with app.app_context():
        item = db.session.get(ActionItem, item_id)
        owner = db.session.scalar(select(User).where(User.email == email))
        with pytest.raises(FieldError, match="disabled"):
            update_action_item(session=db.session, actor=owner, incident=item.incident, item=item,
                               expected_version=item.version,
                               fields=ActionFields(title=item.title, kind=item.kind, owner=owner, due_on=item.due_on))


def test_completing_and_dropping_record_who_and_when_on_the_timeline(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    first = make.action_item(ref, by=email, title="Alert when backups stop")
    second = make.action_item(ref, by=email, title="Rewrite the repair tool")
    me = make.user_id(email)

    before = datetime.now(UTC)
    response = client.post(f"/incidents/{ref}/actions/{first}/status",
                           data={"version": item_row(app, first)["version"], "status": "done"})
    assert response.status_code == 302
    done = item_row(app, first)
    assert done["status"] is ActionStatus.done and done["closed_by_id"] == me
    assert before <= done["closed_at"] <= datetime.now(UTC)
    body, author, occurred = action_entries(app, ref)[-1]
    with app.app_context():
        name = db.session.get(User, me).display
    assert body == f"Action item **Alert when backups stop** completed by {name}."
    assert author == me and occurred == done["closed_at"]

    # Won't do needs a reason, shown beside the field; nothing changes without one.
    response = client.post(f"/incidents/{ref}/actions/{second}/status",
                           data={"version": item_row(app, second)["version"], "status": "wont_do", "reason": ""})
    assert response.status_code == 422
    assert "Say why this will not be done." in response.get_data(as_text=True)
    assert item_row(app, second)["status"] is ActionStatus.open
    client.post(f"/incidents/{ref}/actions/{second}/status",
                data={"version": item_row(app, second)["version"], "status": "wont_do",
                      "reason": "The vendor supports the tool."})
    dropped = item_row(app, second)
    assert dropped["status"] is ActionStatus.wont_do and dropped["closed_by_id"] == me
    assert "dropped (won't do)" in action_entries(app, ref)[-1][0]
    assert "The vendor supports the tool." in action_entries(app, ref)[-1][0]

    # Reopening clears who closed it; the timeline keeps both moves.
    client.post(f"/incidents/{ref}/actions/{second}/status",
                data={"version": item_row(app, second)["version"], "status": "open"})
    assert item_row(app, second)["closed_by_id"] is None
    assert len(action_entries(app, ref)) == 2 + 3


def test_status_change_from_a_stale_page_is_refused(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    item_id = make.action_item(ref, by=email)
    stale = item_row(app, item_id)["version"]
    client.post(f"/incidents/{ref}/actions/{item_id}/status", data={"version": stale, "status": "in_progress"})
    response = client.post(f"/incidents/{ref}/actions/{item_id}/status", data={"version": stale, "status": "done"})
    assert response.status_code == 409
    assert "while you were editing" in unescape(response.get_data(as_text=True))
    assert item_row(app, item_id)["status"] is ActionStatus.in_progress


def test_editing_keeps_an_old_due_date_but_refuses_a_new_past_one(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    with clock_at(datetime.now(UTC) - timedelta(days=30)):
        item_id = make.action_item(ref, by=email, due_on=today() - timedelta(days=10))
    row = item_row(app, item_id)
    data = form(make.user_id(email), version=row["version"], due_on=row["due_on"].isoformat(), title="Renamed")
    assert client.post(f"/incidents/{ref}/actions/{item_id}/edit", data=data).status_code == 302
    assert item_row(app, item_id)["title"] == "Renamed"
    data.update(version=item_row(app, item_id)["version"], due_on=(today() - timedelta(days=1)).isoformat())
    assert client.post(f"/incidents/{ref}/actions/{item_id}/edit", data=data).status_code == 422


def test_lists_all_open_mine_and_overdue(app, client, auth, make):
    me = auth.as_role("responder")
    someone = make.user(role="responder")
    first, second = make.incident(by=me, title="First"), make.incident(by=someone, title="Second")
    make.action_item(first, by=me, owner=me, title="Mine, due later")
    make.action_item(second, by=someone, owner=someone, title="Theirs, due later")
    with clock_at(datetime.now(UTC) - timedelta(days=30)):
        make.action_item(second, by=someone, owner=me, title="Mine, overdue", due_on=today() - timedelta(days=3))
    finished = make.action_item(first, by=me, owner=me, title="Mine, finished")
    client.post(f"/incidents/{first}/actions/{finished}/status",
                data={"version": item_row(app, finished)["version"], "status": "done"})

    def titles(path):
        return set(re.findall(r'/actions/\d+">([^<]+)</a>', client.get(path).get_data(as_text=True)))

    assert titles("/actions") == {"Mine, due later", "Theirs, due later", "Mine, overdue"}
    assert titles("/actions/mine") == {"Mine, due later", "Mine, overdue"}
    assert titles("/actions/overdue") == {"Mine, overdue"}
    assert "⚠ overdue" in client.get("/actions/overdue").get_data(as_text=True)
