"""Years of history: `python -m bench.growth [--incidents 100000] [--entries 1000000] [--database-url URL]`.

Loads the demo into a new database (a temporary SQLite file, or the empty database at URL), times
the pages people use most, then grows the database the way years of use would, in bulk: INCIDENTS
more incidents (10,000 of them resolved with their postmortem not yet published, 1,000 published
on the status page with a public update each), ACTIONS open action items, and one incident with
ENTRIES timeline entries. Then it times the same pages again and prints each one's median (of
ROUNDS sequential requests, in-process, signed in as the demo admin) beside the demo's and their
ratio: #19 asks for every page within 2x of the demo database.

The public site is timed on its first request after a change (a component's status moves before
each request), which is when its cost is paid. The audit log is not grown here (its rows form a
hash chain that bulk rows would break); its list pages by id already.
"""
from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert, select, update

from bench.timing import timed
from incidents import create_app
from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.actions.models import ActionItem
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.demo import notice_story, obligations_story, scenario
from incidents.extensions import db
from incidents.incident import page_cache
from incidents.incident.enums import Severity, Status
from incidents.incident.models import Incident
from incidents.status.models import Component
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

PASSWORD = "growth-bench-password"
WORDS = ["restore", "backup", "replica", "tape", "contacts", "calendars", "photos", "storage", "array",
         "firmware", "volume", "sync", "vendor", "rebuild", "integrity", "check", "mailbox", "queue",
         "customers", "notified", "lost", "recovered", "device"]
CHUNK = 20_000


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def grow(args, rng: random.Random) -> str:
    """Add the history in bulk; returns the reference of the incident with the long timeline."""
    session = db.session
    admin = session.scalar(select(User).where(User.email == scenario.ADMIN_EMAIL))
    start = utcnow() - timedelta(days=3650)
    step = timedelta(days=3650) / max(1, args.incidents)
    resolved_from = args.incidents - 10_000 - 1_000
    for first in range(0, args.incidents, CHUNK):
        rows = []
        for n in range(first, min(first + CHUNK, args.incidents)):
            declared = start + step * n
            resolved = n >= resolved_from
            rows.append({
                "reference": f"INC-{1900 + n // 10_000:04d}-{n % 10_000:04d}", "title": f"{text(rng, 5)} ({n})",
                "summary": text(rng, 20), "severity": rng.choice(list(Severity)),
                "status": Status.resolved if resolved else Status.closed, "data_categories": ["contacts"],
                "personal_data": False, "declared_at": declared, "resolved_at": declared + timedelta(hours=5),
                "closed_at": None if resolved else declared + timedelta(days=9), "created_at": declared,
                "updated_at": declared, "version": 1, "commander_id": admin.id,
                "public_id": f"g{n:011d}" if n >= args.incidents - 1_000 else None,
                "public_title": "Service degraded" if n >= args.incidents - 1_000 else None,
                "public_impact": "minor" if n >= args.incidents - 1_000 else None,
                "published_at": declared + timedelta(minutes=30) if n >= args.incidents - 1_000 else None,
            })
        session.execute(insert(Incident.__table__), rows)
        session.commit()
    published = session.execute(select(Incident.id, Incident.published_at)
                                .where(Incident.public_id.like("g%"))).all()
    session.execute(insert(TimelineEntry.__table__), [
        {"incident_id": incident_id, "author_id": admin.id, "kind": EntryKind.communication,
         "visibility": Visibility.public, "body": "We are restoring the service.", "public_status": "resolved",
         "occurred_at": when, "recorded_at": when, "revision": 1} for incident_id, when in published])
    session.commit()
    some = session.scalars(select(Incident.id).limit(1000)).all()
    session.execute(insert(ActionItem.__table__), [
        {"incident_id": rng.choice(some), "title": text(rng, 6), "kind": ActionKind.prevent,
         "priority": ActionPriority.medium, "status": ActionStatus.open, "owner_id": admin.id,
         "due_on": (utcnow() + timedelta(days=rng.randint(-30, 300))).date(), "reason": "",
         "created_at": utcnow(), "updated_at": utcnow(), "version": 1} for _ in range(args.actions)])
    session.commit()
    long_ref = "INC-1899-0001"
    session.execute(insert(Incident.__table__), [{
        "reference": long_ref, "title": "The long one: a storage cluster lost over a year", "summary": "",
        "severity": Severity.SEV1, "status": Status.recovering, "data_categories": ["photos"],
        "personal_data": False, "declared_at": start, "created_at": start, "updated_at": start, "version": 1,
        "commander_id": admin.id}])
    long_id = session.scalar(select(Incident.id).where(Incident.reference == long_ref))
    minute = timedelta(seconds=30)
    for first in range(0, args.entries, CHUNK):
        session.execute(insert(TimelineEntry.__table__), [
            {"incident_id": long_id, "author_id": admin.id, "kind": EntryKind.note, "visibility": Visibility.internal,
             "body": text(rng, 12), "occurred_at": start + minute * n, "recorded_at": start + minute * n,
             "revision": 1} for n in range(first, min(first + CHUNK, args.entries))])
        session.commit()
    return long_ref


def pages(app, long_ref: str | None, demo_ref: str) -> list[tuple[str, str, object]]:
    def component_moves():
        with app.app_context():
            db.session.execute(update(Component).values(updated_at=utcnow()))
            db.session.commit()

    def page_empty():
        app.extensions.get(page_cache.EXTENSION, {}).clear()

    big = long_ref or demo_ref
    return [
        ("incident list `/`", "/", None),
        ("list, all statuses `/?status=`", "/?status=", None),
        ("list, page 20 of all statuses", None, None),  # filled in by the caller (needs a cursor)
        ("search `/?q=storage&status=`", "/?q=storage&status=", None),
        ("public summary.json, first request after a change", "/status/api/v2/summary.json", component_moves),
        ("public history.atom, first request after a change", "/status/history.atom", component_moves),
        ("the big incident's page, rendered", f"/incidents/{big}", page_empty),
        ("postmortems due", "/postmortems/due", None),
        ("open action items", "/actions", None),
    ]


def deep_list_url(client) -> str:
    url = "/?status="
    for _ in range(19):
        page = client.get(url).get_data(as_text=True)
        marker = 'href="/?before='
        at = page.find(marker)
        if at < 0:
            return url
        url = page[at + 6:page.index('"', at + 6)].replace("&amp;", "&")
    return url


def measure(app, long_ref: str | None, demo_ref: str, rounds: int) -> dict[str, float]:
    client = app.test_client()
    client.post("/login", data={"email": scenario.ADMIN_EMAIL, "password": PASSWORD})
    with client.session_transaction() as cookie:
        cookie.pop("wrote_at", None)
    results = {}
    for label, url, before in pages(app, long_ref, demo_ref):
        results[label] = timed(client, url or deep_list_url(client), rounds, before) * 1000
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="timeline entries of the long incident")
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--database-url", help="an empty database to use instead of a temporary SQLite file")
    args = parser.parse_args(argv)
    args.incidents = max(args.incidents, 11_000)
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{Path(tmp) / 'growth.db'}",
                          "INSTANCE_PATH": tmp, "SECRET_KEY": "growth", "WTF_CSRF_ENABLED": False,
                          "STATUS_CHANGE_CHECK_SECONDS": 0, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade()
            demo = scenario.load(session=db.session, password=PASSWORD)
            notice_story.play(session=db.session, incident=demo)
            obligations_story.play(session=db.session, incident=demo)
            db.session.commit()
            demo_ref = demo.reference
        before = measure(app, None, demo_ref, args.rounds)
        started = time.monotonic()
        with app.app_context():
            long_ref = grow(args, random.Random(2009))
        grown_in = time.monotonic() - started
        after = measure(app, long_ref, demo_ref, args.rounds)
        backend = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
    print(f"database: {backend}; grown by {args.incidents:,} incidents, {args.entries:,} entries in one, "
          f"{args.actions:,} action items in {grown_in:.0f} s; medians of {args.rounds} requests, in-process")
    print()
    print("| page | demo ms | grown ms | grown vs demo |")
    print("| --- | --- | --- | --- |")
    worst = 0.0
    for label in before:
        ratio = after[label] / before[label]
        worst = max(worst, ratio)
        print(f"| {label} | {before[label]:.1f} | {after[label]:.1f} | {ratio:.2f}x |")
    print(f"\nworst ratio {worst:.2f}x (target: every page within 2x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
