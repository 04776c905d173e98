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


LIST_PAGES = ["/", "/?status=", "/?q=photos&status=", "/postmortems/due", "/actions", "/deadlines", "/admin/audit",
              "/status/", "/status/history", "/status/api/v2/summary.json", "/status/api/v2/incidents.json",
              "/status/history.atom"]


def _grow(app, make, email: str, incidents: int) -> None:
    """Incidents resolved with their postmortem due, each published with an open action item."""
    from incidents.status import service as status

    for n in range(incidents):
        reference = make.incident(by=email, title=f"Photos lost on node {n}")
        make.action_item(reference, by=email)
        with app.app_context():
            incident = get_incident(session=db.session, reference=reference)
            actor = db.session.scalar(db.select(User).where(User.email == email))
            status.publish_incident(session=db.session, actor=actor, incident=incident, public_title=f"Outage {n}",
                                    impact="minor", body="Looking into it.")
            status.publish_update(session=db.session, actor=actor, incident=incident, status="resolved",
                                  body="Fixed.")
            db.session.commit()
        make.resolve(reference, by=email)


def test_list_and_public_pages_statements_do_not_grow_with_history(app, client, auth, make):
    """Every list and the public site: the same statements for 2 incidents and for 60 (more than a page)."""
    email = auth.as_role("admin")
    _grow(app, make, email, 2)
    few = {url: len(statements_for(app, client, url)) for url in LIST_PAGES}
    _grow(app, make, email, 58)
    many = {url: len(statements_for(app, client, url)) for url in LIST_PAGES}
    # A search runs a bounded number of statements (whole words, then word beginnings when those found
    # too few, each ranked when all matches are in reach): fewer as matches grow, never more.
    search = "/?q=photos&status="
    assert many.pop(search) <= few.pop(search)
    assert many == few
    # The pages really hold the larger history (the counts are not equal by accident).
    assert "Older incidents" in client.get("/?status=").get_data(as_text=True)
    assert "Older incidents" in client.get("/status/history").get_data(as_text=True)
