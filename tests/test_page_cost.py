"""The incident page costs the same number of SQL statements for a tiny incident and a huge one.

Statement counts are deterministic, unlike timings; `make bench` measures the time side.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility


def bulk_entries(app, reference: str, email: str, count: int) -> None:
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        author = db.session.scalar(db.select(User).where(User.email == email))
        start = utcnow() - timedelta(days=10)
        db.session.add_all(
            TimelineEntry(incident_id=incident.id, author=author, kind=EntryKind.note,
                          visibility=Visibility.internal, body=f"bulk {i}", occurred_at=start + timedelta(minutes=i),
                          recorded_at=utcnow())
            for i in range(count))
        db.session.commit()


def statements_for(app, client, url: str) -> list[str]:
    with app.app_context():
        engine = db.engine
    seen: list[str] = []
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 200
    return seen


def test_incident_page_statements_do_not_grow_with_history(app, client, auth, make):
    email = auth.as_role("responder")
    small = make.incident(by=email, data_categories=["contacts", "photos"])
    large = make.incident(by=email, data_categories=["contacts", "photos"])
    for reference, updates, workstreams in ((small, 2, 2), (large, 60, 10)):
        for n in range(updates):
            make.impact(reference, by=email, affected=10_000, restored=n * 100, lost=n,
                        categories={"contacts": (50_000, n * 500, n), "photos": (9_000, n * 50, n)})
        for n in range(workstreams):
            make.workstream(reference, by=email, name=f"Workstream {n}", target=1_000,
                            category="contacts" if n % 2 else "photos")
    bulk_entries(app, large, email, 400)

    small_page = statements_for(app, client, f"/incidents/{small}")
    large_page = statements_for(app, client, f"/incidents/{large}")
    assert len(large_page) == len(small_page), (len(small_page), len(large_page))
    # And the large page really shows the large history (the counts are not equal by accident).
    html = client.get(f"/incidents/{large}").get_data(as_text=True)
    assert "Workstream 9" in html and "Older entries" in html
