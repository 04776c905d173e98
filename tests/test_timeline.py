"""The timeline: posting (also backdated), corrections as new revisions, and append-only rows.

Every test here runs on SQLite and on PostgreSQL (see conftest).
"""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select, update

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.timeline import service as timeline_service
from incidents.timeline.models import EntryKind, TimelineEntry, TimelineEntryError, Visibility
from tests.helpers import field_errors, flashes, read_form, signed_in_client, timeline_rows


def entry_row(app, entry_id: int) -> dict:
    with app.app_context():
        row = db.session.get(TimelineEntry, entry_id)
        return {c.key: getattr(row, c.key) for c in TimelineEntry.__table__.columns}


def revisions_of(app, root_id: int) -> list[dict]:
    with app.app_context():
        rows = db.session.scalars(
            select(TimelineEntry)
            .where((TimelineEntry.id == root_id) | (TimelineEntry.original_id == root_id))
            .order_by(TimelineEntry.revision)).all()
        return [{c.key: getattr(r, c.key) for c in TimelineEntry.__table__.columns} for r in rows]


def entry_block(html: str, root_id: int) -> str:
    """The <li> of one timeline entry on the detail page."""
    start = html.index(f'id="entry-{root_id}"')
    return html[start:html.index("</li>", start)]


def minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


# --- posting ----------------------------------------------------------------------------------

def test_post_backdated_entry_keeps_when_it_happened_and_records_now(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    happened = minute(datetime.now(UTC) - timedelta(hours=5))
    before = datetime.now(UTC)

    response = client.post(f"/incidents/{ref}/timeline", data={
        "body": "Backup job for shard 7 **failed** silently", "kind": "impact",
        "visibility": "public", "occurred_at": happened.strftime("%Y-%m-%dT%H:%M")})

    assert response.status_code == 302
    entry = timeline_rows(app, ref)[-1]
    assert entry["body"] == "Backup job for shard 7 **failed** silently"
    assert entry["kind"] is EntryKind.impact
    assert entry["visibility"] is Visibility.public
    assert entry["author_id"] == make.user_id(email)
    assert entry["occurred_at"] == happened
    assert before <= entry["recorded_at"] <= datetime.now(UTC)
    assert entry["revision"] == 1 and entry["original_id"] is None

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    block = entry_block(page, entry["id"])
    assert "Backup job for shard 7 <strong>failed</strong> silently" in block
    assert happened.strftime("%Y-%m-%d %H:%M UTC") in block
    assert "recorded " in block  # the page says it was written later than it happened
    assert "Update posted." in flashes(page)


def test_post_without_time_happens_now(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    before = datetime.now(UTC)

    assert client.post(f"/incidents/{ref}/timeline", data={"body": "Paged storage on-call",
                                                            "kind": "action",
                                                            "visibility": "internal"}).status_code == 302

    entry = timeline_rows(app, ref)[-1]
    assert before <= entry["occurred_at"] == entry["recorded_at"] <= datetime.now(UTC)
    assert entry["visibility"] is Visibility.internal


def test_post_in_the_future_is_refused_beside_the_field(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entries_before = timeline_rows(app, ref)
    future = datetime.now(UTC) + timedelta(hours=2)

    response = client.post(f"/incidents/{ref}/timeline", data={
        "body": "Restore will finish", "kind": "note", "visibility": "internal",
        "occurred_at": future.strftime("%Y-%m-%dT%H:%M")})

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    [error] = field_errors(html, "occurred_at")
    assert "cannot happen in the future" in error
    assert read_form(html, f"/incidents/{ref}/timeline")["body"] == "Restore will finish"
    assert timeline_rows(app, ref) == entries_before


def test_post_without_text_is_refused_beside_the_field(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entries_before = timeline_rows(app, ref)

    response = client.post(f"/incidents/{ref}/timeline", data={"body": "  ", "kind": "note",
                                                                "visibility": "internal"})

    assert response.status_code == 422
    assert field_errors(response.get_data(as_text=True), "body") == ["Write what happened."]
    assert timeline_rows(app, ref) == entries_before


def test_viewer_cannot_post(app, client, auth, make):
    ref = make.incident()
    auth.as_role("viewer")
    entries_before = timeline_rows(app, ref)

    response = client.post(f"/incidents/{ref}/timeline", data={"body": "Hi", "kind": "note",
                                                                "visibility": "internal"})

    assert response.status_code == 403
    assert timeline_rows(app, ref) == entries_before


# --- corrections ------------------------------------------------------------------------------

def test_correction_adds_a_revision_and_keeps_the_original(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    author = make.user(name="Olivia Original")
    entry_id = make.entry(ref, body="About 4,000 accounts lost *contacts*", by=author, kind="impact")
    original = entry_row(app, entry_id)

    form_page = client.get(f"/incidents/{ref}/timeline/{entry_id}/correct")
    assert form_page.status_code == 200
    form = read_form(form_page.get_data(as_text=True))
    assert form["body"] == "About 4,000 accounts lost *contacts*"
    assert form["revision"] == "1" and form["kind"] == "impact" and form["reason"] == ""
    form["body"] = "About 40,000 accounts lost *contacts*"
    form["reason"] = "Typo: one zero short"

    response = client.post(f"/incidents/{ref}/timeline/{entry_id}/correct", data=form)

    assert response.status_code == 302
    assert entry_row(app, entry_id) == original  # the original row is untouched
    [first, second] = revisions_of(app, entry_id)
    assert first == original
    assert second["original_id"] == entry_id and second["revision"] == 2
    assert second["body"] == "About 40,000 accounts lost *contacts*"
    assert second["correction_reason"] == "Typo: one zero short"
    assert second["author_id"] == make.user_id(email)
    assert second["kind"] is EntryKind.impact
    assert second["occurred_at"] == original["occurred_at"]

    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    block = entry_block(page, entry_id)
    current, history = block.split('<details class="history">')
    assert "About 40,000 accounts lost <em>contacts</em>" in current
    assert "4,000" not in current.replace("40,000", "")
    assert "corrected" in current
    assert "About 4,000 accounts lost <em>contacts</em>" in history
    assert "Typo: one zero short" in history
    assert "Olivia Original" in history


def test_correcting_twice_shows_every_revision(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entry_id = make.entry(ref, body="First wording", by=email)
    for body, reason in (("Second wording", "clearer"), ("Third wording", "clearer still")):
        form = read_form(client.get(f"/incidents/{ref}/timeline/{entry_id}/correct").get_data(as_text=True))
        form["body"], form["reason"] = body, reason
        assert client.post(f"/incidents/{ref}/timeline/{entry_id}/correct", data=form).status_code == 302

    assert [r["body"] for r in revisions_of(app, entry_id)] == ["First wording", "Second wording",
                                                              "Third wording"]
    block = entry_block(client.get(f"/incidents/{ref}").get_data(as_text=True), entry_id)
    current, history = block.split('<details class="history">')
    assert "Third wording" in current and "Second wording" not in current
    assert history.index("Second wording") < history.index("First wording")  # newest first
    assert "3 revisions" in history


def test_correction_keeps_the_entry_in_its_place(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    # Two entries in the same minute; the form shows times to the minute.
    base = minute(datetime.now(UTC) - timedelta(hours=1))
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.email == email))
        incident = get_incident(session=db.session, reference=ref)
        earlier = timeline_service.add_entry(session=db.session, incident=incident, author=actor,
                                             kind=EntryKind.note, body="Earlier entry",
                                             occurred_at=base + timedelta(seconds=10))
        later = timeline_service.add_entry(session=db.session, incident=incident, author=actor,
                                           kind=EntryKind.note, body="Later entry",
                                           occurred_at=base + timedelta(seconds=40))
        db.session.commit()
        earlier_id, later_id = earlier.id, later.id

    form = read_form(client.get(f"/incidents/{ref}/timeline/{later_id}/correct").get_data(as_text=True))
    form["body"], form["reason"] = "Later entry, reworded", "wording"
    assert client.post(f"/incidents/{ref}/timeline/{later_id}/correct", data=form).status_code == 302

    [_, correction] = revisions_of(app, later_id)
    assert correction["occurred_at"] == base + timedelta(seconds=40)
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'<li class="entry[^"]*" id="entry-(\d+)"', page)]
    assert order.index(later_id) < order.index(earlier_id)  # still newer, still first


def test_correction_can_move_when_it_happened(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entry_id = make.entry(ref, body="Failover started", by=email)
    moved = minute(datetime.now(UTC) - timedelta(hours=3))

    form = read_form(client.get(f"/incidents/{ref}/timeline/{entry_id}/correct").get_data(as_text=True))
    form["occurred_at"] = moved.strftime("%Y-%m-%dT%H:%M")
    form["reason"] = "It started earlier than written"
    assert client.post(f"/incidents/{ref}/timeline/{entry_id}/correct", data=form).status_code == 302

    [original, correction] = revisions_of(app, entry_id)
    assert correction["occurred_at"] == moved
    assert original["occurred_at"] != moved


def test_correction_needs_a_reason(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    entry_id = make.entry(ref, body="Some text", by=email)
    form = read_form(client.get(f"/incidents/{ref}/timeline/{entry_id}/correct").get_data(as_text=True))
    form["body"] = "Better text"

    response = client.post(f"/incidents/{ref}/timeline/{entry_id}/correct", data=form)

    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert field_errors(html, "reason") == ["Say why you are correcting it."]
    assert read_form(html)["body"] == "Better text"
    assert len(revisions_of(app, entry_id)) == 1


def test_second_person_correcting_the_same_revision_gets_a_conflict(app, client, auth, make):
    alice = auth.as_role("responder")
    bob_client, bob = signed_in_client(app, make)
    ref = make.incident(by=alice)
    entry_id = make.entry(ref, body="Restore ETA 2 hours", by=alice)
    url = f"/incidents/{ref}/timeline/{entry_id}/correct"

    alice_form = read_form(client.get(url).get_data(as_text=True))
    bob_form = read_form(bob_client.get(url).get_data(as_text=True))
    alice_form["body"], alice_form["reason"] = "Restore ETA 3 hours", "new estimate from storage"
    bob_form["body"], bob_form["reason"] = "Restore ETA 2 hours (EU only)", "scope"

    assert client.post(url, data=alice_form).status_code == 302
    conflict = bob_client.post(url, data=bob_form)

    assert conflict.status_code == 409
    html = conflict.get_data(as_text=True)
    [message] = flashes(html)
    assert "Someone corrected this entry while you were editing" in message
    assert "Restore ETA 3 hours" in html  # the text Alice saved is shown for review
    kept = read_form(html)
    assert kept["body"] == "Restore ETA 2 hours (EU only)" and kept["reason"] == "scope"
    assert kept["revision"] == "2"
    revisions = revisions_of(app, entry_id)
    assert [r["body"] for r in revisions] == ["Restore ETA 2 hours", "Restore ETA 3 hours"]

    # Bob reviews Alice's correction and saves his on top of it.
    assert bob_client.post(url, data=kept).status_code == 302
    revisions = revisions_of(app, entry_id)
    assert [r["body"] for r in revisions] == ["Restore ETA 2 hours", "Restore ETA 3 hours",
                                              "Restore ETA 2 hours (EU only)"]
    assert revisions[2]["author_id"] == make.user_id(bob) and revisions[2]["revision"] == 3


def test_corrections_colliding_in_the_database_are_a_conflict(app, client, auth, make, monkeypatch):
    """Both requests read revision 1 before either wrote: the database's unique revision
    number stops the second, and the person sees a conflict rather than an error page."""
    alice = auth.as_role("responder")
    bob_client, _bob = signed_in_client(app, make)
    ref = make.incident(by=alice)
    entry_id = make.entry(ref, body="Queue drained", by=alice)
    url = f"/incidents/{ref}/timeline/{entry_id}/correct"
    bob_form = read_form(bob_client.get(url).get_data(as_text=True))
    alice_form = read_form(client.get(url).get_data(as_text=True))
    alice_form["body"], alice_form["reason"] = "Queue drained at 14:05", "time"
    assert client.post(url, data=alice_form).status_code == 302

    real_latest = timeline_service.latest_revision
    stale_reads = []

    def read_before_alice_saved(*, session, entry):
        # Bob's request looks up the latest revision twice (view, then service) before writing.
        if len(stale_reads) < 2:
            stale_reads.append(entry.id)
            return session.get(TimelineEntry, entry.root_id)
        return real_latest(session=session, entry=entry)

    monkeypatch.setattr(timeline_service, "latest_revision", read_before_alice_saved)
    bob_form["body"], bob_form["reason"] = "Queue drained (EU)", "scope"

    response = bob_client.post(url, data=bob_form)

    assert len(stale_reads) == 2
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert read_form(html)["body"] == "Queue drained (EU)"
    assert read_form(html)["revision"] == "2"
    assert [r["body"] for r in revisions_of(app, entry_id)] == ["Queue drained", "Queue drained at 14:05"]


def test_correcting_an_entry_of_another_incident_is_404(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    other = make.incident(by=email)
    entry_id = make.entry(other, body="Elsewhere", by=email)

    assert client.get(f"/incidents/{ref}/timeline/{entry_id}/correct").status_code == 404
    assert client.post(f"/incidents/{ref}/timeline/{entry_id}/correct",
                       data={"body": "x", "reason": "y", "revision": "1"}).status_code == 404
    assert len(revisions_of(app, entry_id)) == 1


# --- append-only ------------------------------------------------------------------------------

def test_orm_refuses_to_update_an_entry(app, make):
    ref = make.incident()
    entry_id = make.entry(ref, body="As written")
    with app.app_context():
        entry = db.session.get(TimelineEntry, entry_id)
        entry.body = "Rewritten history"
        with pytest.raises(TimelineEntryError):
            db.session.commit()
        db.session.rollback()
    assert entry_row(app, entry_id)["body"] == "As written"


def test_orm_refuses_to_delete_an_entry(app, make):
    ref = make.incident()
    entry_id = make.entry(ref, body="As written")
    with app.app_context():
        db.session.delete(db.session.get(TimelineEntry, entry_id))
        with pytest.raises(TimelineEntryError):
            db.session.commit()
        db.session.rollback()
    assert entry_row(app, entry_id)["body"] == "As written"


@pytest.mark.parametrize("statement", [
    update(TimelineEntry).values(body="Rewritten history"),
    delete(TimelineEntry),
], ids=["update", "delete"])
def test_orm_refuses_bulk_update_and_delete_of_entries(app, make, statement):
    ref = make.incident()
    entry_id = make.entry(ref, body="As written")
    with app.app_context():
        with pytest.raises(TimelineEntryError):
            db.session.execute(statement.where(TimelineEntry.id == entry_id))
        db.session.rollback()
    assert entry_row(app, entry_id)["body"] == "As written"
