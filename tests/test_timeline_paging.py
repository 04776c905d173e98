"""The incident page stays the same size and cost however long the timeline grows."""
from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility
from incidents.timeline.page import TIMELINE_PAGE
from incidents.timeline.service import correct_entry, pin_entry


def add_entries(app, reference: str, email: str, count: int, *, same_time: bool = False) -> None:
    """Insert `count` entries directly (fast), one minute apart or all at the same moment."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        author = db.session.scalar(db.select(User).where(User.email == email))
        start = utcnow() - timedelta(days=30)
        db.session.add_all(
            TimelineEntry(incident_id=incident.id, author=author, kind=EntryKind.note,
                          visibility=Visibility.internal, body=f"entry-{i:05d}",
                          occurred_at=start if same_time else start + timedelta(minutes=i),
                          recorded_at=utcnow())
            for i in range(count))
        db.session.commit()


def shown_entries(html: str) -> list[str]:
    return re.findall(r"entry-\d{5}", html)


def walk_pages(client, reference: str) -> list[str]:
    seen, url = [], f"/incidents/{reference}"
    for _ in range(20):
        html = client.get(url).get_data(as_text=True)
        page = shown_entries(html)
        assert len(page) <= TIMELINE_PAGE
        seen.extend(page)
        found = re.search(r'href="([^"]*before=[^"#]*)', html)
        if not found:
            return seen
        url = found.group(1).replace("&amp;", "&")
    raise AssertionError("pagination never ended")


def test_pages_show_every_entry_once_newest_first(client, auth, make, app):
    email = auth.as_role("responder")
    reference = make.incident(by=email)
    add_entries(app, reference, email, 2 * TIMELINE_PAGE + 17)
    seen = walk_pages(client, reference)
    assert len(seen) == 2 * TIMELINE_PAGE + 17
    assert len(set(seen)) == len(seen)
    assert seen == sorted(seen, reverse=True)


def test_entries_at_the_same_moment_are_neither_lost_nor_repeated(client, auth, make, app):
    email = auth.as_role("responder")
    reference = make.incident(by=email)
    add_entries(app, reference, email, TIMELINE_PAGE + 30, same_time=True)
    seen = walk_pages(client, reference)
    assert sorted(seen) == [f"entry-{i:05d}" for i in range(TIMELINE_PAGE + 30)]


def test_a_corrected_entry_appears_once_at_its_latest_revision(client, auth, make, app):
    email = auth.as_role("responder")
    reference = make.incident(by=email)
    add_entries(app, reference, email, 3)
    with app.app_context():
        author = db.session.scalar(db.select(User).where(User.email == email))
        original = db.session.scalar(db.select(TimelineEntry).where(TimelineEntry.body == "entry-00001"))
        correct_entry(session=db.session, author=author, entry=original, expected_revision=1,
                      body="entry-00099", reason="typo")
        db.session.commit()
    html = client.get(f"/incidents/{reference}").get_data(as_text=True)
    timeline = html[html.index('class="timeline"'):]
    assert shown_entries(timeline).count("entry-00099") == 1
    assert "entry-00001" in timeline  # kept in the history of the corrected entry
    assert sorted(set(shown_entries(timeline))) == ["entry-00000", "entry-00001", "entry-00002", "entry-00099"]


def test_a_malformed_cursor_shows_the_first_page(client, auth, make, app):
    auth.as_role("viewer")
    reference = make.incident()
    for bad in ("x", "2026-01-01~abc", "2026-01-01T00:00:00~5", "~", "2026-01-01T00:00:00+00:00~99999999999"):
        assert client.get(f"/incidents/{reference}?before={bad}").status_code == 200


def pin_first(app, reference: str, email: str, count: int) -> None:
    """Pin the `count` oldest entries of the incident's timeline."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        author = db.session.scalar(db.select(User).where(User.email == email))
        entries = db.session.scalars(db.select(TimelineEntry).where(TimelineEntry.incident_id == incident.id)
                                     .order_by(TimelineEntry.id).limit(count))
        for entry in entries:
            pin_entry(session=db.session, incident=incident, entry=entry, by=author)
        db.session.commit()


@pytest.mark.parametrize("query", ["", "?kind=note&kind=impact&visibility=internal"],
                         ids=["unfiltered", "filtered"])
def test_page_cost_in_sql_statements_does_not_grow_with_the_timeline(client, auth, make, app, query):
    email = auth.as_role("responder")
    small, large = make.incident(by=email), make.incident(by=email)
    add_entries(app, small, email, 5)
    add_entries(app, large, email, 3 * TIMELINE_PAGE)
    # Key entries too: a few on the small timeline, many on the large one.
    pin_first(app, small, email, 2)
    pin_first(app, large, email, 40)

    def statements(reference: str) -> int:
        with app.app_context():
            engine = db.engine
        seen: list[str] = []
        listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
        event.listen(engine, "before_cursor_execute", listener)
        try:
            response = client.get(f"/incidents/{reference}{query}")
            assert response.status_code == 200
            assert response.get_data(as_text=True).count('class="key-entry') in (2, 40)
        finally:
            event.remove(engine, "before_cursor_execute", listener)
        return len(seen)

    assert statements(large) == statements(small)


def test_a_huge_timeline_is_counted_up_to_a_bound(app, client, auth, make, monkeypatch):
    """Counting stops past COUNT_AT_MOST (10,000): the heading says "more than", and the count's
    cost does not grow with a timeline of a million entries."""
    monkeypatch.setattr("incidents.timeline.page.COUNT_AT_MOST", 5)
    email = auth.as_role("responder")
    ref = make.incident(by=email)  # its declaration is entry 1
    add_entries(app, ref, email, 4)

    def heading(url: str) -> str:
        page = client.get(url).get_data(as_text=True)
        return re.search(r"<h2>Timeline <span class=\"muted\">\((.*?)\)</span></h2>", page).group(1)

    assert heading(f"/incidents/{ref}") == "5 entries, newest first"
    add_entries(app, ref, email, 3)
    assert heading(f"/incidents/{ref}") == "more than 5 entries, newest first"
    assert heading(f"/incidents/{ref}?kind=note") == "more than 5 of more than 5 entries, newest first"
