"""Nothing lost under concurrency: sixteen people posting at the same moment, on SQLite and PostgreSQL.

Each person is a separate test client with their own sign-in, and a barrier releases all the
requests at once. Appends (timeline entries) must all survive; read-modify-writes from the same
page (progress reports, impact figures) must let exactly one through and answer the rest 409.
"""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from incidents.extensions import db
from incidents.impact.models import ImpactUpdate
from incidents.recovery.models import Workstream, WorkstreamProgress
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory

PEOPLE = 16


def signed_in_clients(app, make, count: int = PEOPLE) -> list[tuple[object, str]]:
    """`count` browsers, each signed in as a different responder."""
    clients = []
    for n in range(count):
        email = make.user(role="responder", name=f"Responder {n:02d}")
        client = app.test_client()
        assert client.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
        clients.append((client, email))
    return clients


def post_all_at_once(clients, url: str, data_for) -> list[int]:
    """POST `data_for(n)` to `url` from every client at the same moment; the status codes, in order."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int | None] = [None] * len(clients)
    errors: list[BaseException] = []

    def post(n: int, client) -> None:
        try:
            data = data_for(n)
            barrier.wait(timeout=30)
            response = client.post(url, data=data)
            statuses[n] = response.status_code
            response.close()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=post, args=(n, client)) for n, (client, _email) in enumerate(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a request never finished"
    assert errors == []
    return statuses


def test_sixteen_timeline_posts_at_once_are_all_kept(app, make):
    clients = signed_in_clients(app, make)
    ref = make.incident(by=clients[0][1], title="Everyone is posting")

    statuses = post_all_at_once(clients, f"/incidents/{ref}/timeline", lambda n: {
        "body": f"Update {n:02d} from the floor", "kind": "note", "visibility": "internal"})

    assert statuses == [302] * PEOPLE
    with app.app_context():
        rows = db.session.execute(select(TimelineEntry.body, TimelineEntry.author_id)
                                  .where(TimelineEntry.body.like("Update % from the floor"))).all()
    assert sorted(body for body, _ in rows) == [f"Update {n:02d} from the floor" for n in range(PEOPLE)]
    assert len({author for _, author in rows}) == PEOPLE  # each by the person who posted it


def test_sixteen_progress_reports_from_the_same_page_let_exactly_one_through(app, make):
    clients = signed_in_clients(app, make)
    ref = make.incident(by=clients[0][1], title="Everyone is reporting progress")
    ws_id = make.workstream(ref, by=clients[0][1], target=10_000)

    statuses = post_all_at_once(clients, f"/incidents/{ref}/workstreams/{ws_id}/progress",
                                lambda n: {"version": "1", "done": str(100 * (n + 1)), "note": f"Report {n}"})

    assert sorted(statuses) == [302] + [409] * (PEOPLE - 1)
    winner = statuses.index(302)
    with app.app_context():
        ws = db.session.get(Workstream, ws_id)
        history = db.session.execute(select(WorkstreamProgress.done, WorkstreamProgress.note)
                                     .where(WorkstreamProgress.workstream_id == ws_id)).all()
        assert (ws.done, ws.version) == (100 * (winner + 1), 2)
    assert [tuple(row) for row in history] == [(100 * (winner + 1), f"Report {winner}")]


def test_sixteen_impact_updates_from_the_same_figures_save_exactly_one(app, make):
    clients = signed_in_clients(app, make)
    ref = make.incident(by=clients[0][1], title="Everyone is counting", data_categories=["contacts"])
    first = make.impact(ref, by=clients[0][1], affected=1000, restored=0)

    statuses = post_all_at_once(clients, f"/incidents/{ref}/impact", lambda n: {
        "based_on": str(first), "customers_affected": str(2000 + n), "customers_restored": "0",
        "customers_lost": "0", "customers_notified": "0", "contacts-affected": str(50 + n)})

    assert sorted(statuses) == [302] + [409] * (PEOPLE - 1)
    winner = statuses.index(302)
    with app.app_context():
        updates = db.session.execute(select(ImpactUpdate.based_on_id, ImpactUpdate.customers_affected)
                                     .order_by(ImpactUpdate.id)).all()
        entries = db.session.scalar(select(func.count()).select_from(TimelineEntry)
                                    .where(TimelineEntry.kind == "impact"))
    assert [tuple(u) for u in updates] == [(None, 1000), (first, 2000 + winner)]
    assert entries == 2  # one timeline entry per saved update, none for the refused ones
