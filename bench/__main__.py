"""Benchmarks: `make bench` (or `python -m bench`).

Machines here are shared and noisy, so nothing is reported in absolute seconds alone: each figure is
a ratio against a baseline measured in the same run, side by side (the health check, which does one
trivial query, and the incident page of a small incident).

The public status site has its own load test, against a real server: `python -m bench.status_load`
(gunicorn + wrk on loopback; summary.json and history.atom beside a bare JSON route).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event

from bench.timing import timed
from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import create_user
from incidents.db import clock_at, utcnow
from incidents.demo import notice_story, obligations_story, scenario
from incidents.extensions import db
from incidents.impact.service import CategoryCounts, CustomerCounts, record_impact
from incidents.incident import page_cache
from incidents.incident.enums import Severity
from incidents.incident.service import declare_incident
from incidents.markdown import render_markdown
from incidents.recovery.service import WorkstreamFields, create_workstream, record_progress
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

PASSWORD = "benchmark-password"


def build_incident(user, *, entries: int, impact_updates: int, workstreams: int) -> str:
    """An incident with the given amounts of history, written through the services where it
    matters (impact, workstreams) and in bulk for plain timeline entries."""
    start = utcnow() - timedelta(days=20)
    with clock_at(start):
        incident = declare_incident(session=db.session, actor=user, severity=Severity.SEV1,
                                    title=f"{entries} entries", data_categories=["contacts", "photos"])
    streams = []
    for n in range(workstreams):
        with clock_at(start + timedelta(minutes=n)):
            streams.append(create_workstream(
                session=db.session, actor=user, incident=incident,
                fields=WorkstreamFields(name=f"Workstream {n}", owner=user, target=100_000,
                                        category="contacts" if n % 2 else "photos")))
    based_on = None
    for n in range(impact_updates):
        with clock_at(start + timedelta(hours=1, minutes=n)):
            update = record_impact(
                session=db.session, actor=user, incident=incident, based_on_id=based_on,
                counts=CustomerCounts(affected=200_000, notified=n * 100, restored=n * 300, lost=n),
                categories=[CategoryCounts("contacts", 1_000_000, n * 1000, n),
                            CategoryCounts("photos", 500_000, n * 500, n)])
        based_on = update.id
    for n, stream in enumerate(streams):
        with clock_at(start + timedelta(hours=12, minutes=n)):
            record_progress(session=db.session, actor=user, incident=incident, workstream=stream,
                            expected_version=stream.version, done=1000 * (n + 1))
    remaining = entries - 1 - workstreams * 2 - impact_updates
    body = "Restored **{n}** records from the nightly backup; checking counts against the device."
    db.session.add_all(
        TimelineEntry(incident_id=incident.id, author=user, kind=EntryKind.note,
                      visibility=Visibility.internal, body=body.format(n=i),
                      body_html=str(render_markdown(body.format(n=i))),
                      occurred_at=start + timedelta(days=1, minutes=i),
                      recorded_at=start + timedelta(days=1, minutes=i))
        for i in range(max(0, remaining)))
    db.session.commit()
    return incident.reference


def build_app(folder: Path, database_url: str | None):
    app = create_app({"SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_PATH": str(folder), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        user = create_user(session=db.session, email="bench@example.com", password=PASSWORD,
                           role=Role.responder, name="Bench")
        small = build_incident(user, entries=10, impact_updates=2, workstreams=2)
        large = build_incident(user, entries=5000, impact_updates=500, workstreams=10)
        demo = scenario.load(session=db.session, password=PASSWORD)
        notice_story.play(session=db.session, incident=demo)
        obligations_story.play(session=db.session, incident=demo)
        db.session.commit()
        demo_reference = demo.reference
    return app, small, large, demo_reference


def count_queries(app, client, url: str, before=None) -> int:
    if before:
        before()
    with app.app_context():
        engine = db.engine
    statements: list[str] = []
    listener = lambda conn, cursor, statement, *rest: statements.append(statement)  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="run against this (empty) database instead of a temp SQLite file")
    parser.add_argument("--rounds", type=int, default=21, help="requests per page (median reported)")
    parser.add_argument("--reports", action="store_true",
                        help="also run the report-rendering benchmark (python -m bench.reports)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        app, small, large, demo = build_app(Path(tmp), args.database_url)
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": PASSWORD})
        with client.session_transaction() as cookie:
            cookie.pop("wrote_at", None)  # signing in was a write; measure a reader
        health = timed(client, "/healthz", args.rounds)
        # Each incident page is measured as rendered (its page cache emptied before every request)
        # and as served again while nothing changed (incidents/incident/page_cache.py).
        def empty():
            app.extensions.get(page_cache.EXTENSION, {}).clear()

        rows = [("incident page: 10 entries, 2 impact updates, 2 workstreams", f"/incidents/{small}", empty),
                ("incident page: 5,000 entries, 500 impact updates, 10 workstreams", f"/incidents/{large}", empty),
                ("demo incident page, rendered", f"/incidents/{demo}", empty),
                ("demo incident page, served again (page cache)", f"/incidents/{demo}", None),
                ("incident list", "/?status=", None)]
        results = [(label, url, timed(client, url, args.rounds, before), count_queries(app, client, url, before))
                   for label, url, before in rows]
        base = results[0][2]
        print(f"database: {app.config['SQLALCHEMY_DATABASE_URI'].split(':')[0]}; "
              f"baseline /healthz median {health * 1000:.2f} ms; {args.rounds} rounds")
        print(f"{'page':66} {'median ms':>9} {'vs healthz':>11} {'vs small':>9} {'SQL':>4}")
        for label, _url, t, queries in results:
            print(f"{label:66} {t * 1000:9.2f} {t / health:10.1f}x {t / base:8.2f}x {queries:4}")
        size = len(client.get(f"/incidents/{demo}").get_data())
        print(f"demo incident page HTML: {size / 1000:.1f} kB (target <= 60 kB). A page served again reads "
              "the sign-in and the incident's state from memos of at most 2 s and 1 s: no SQL.")
    if args.reports:
        from bench.reports import main as reports

        reports([])
    return 0


if __name__ == "__main__":
    sys.exit(main())
