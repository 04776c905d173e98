"""Years of history: `python -m bench.growth [--postgres] [--incidents 100000] [--entries 1000000]`.

Loads the demo into a new database (a temporary SQLite file; with --postgres a throwaway database on
TEST_DATABASE_URL's server), serves it with gunicorn as `make run` does (2 gthread workers), times
the pages people use most, then grows the database the way years of use would, in bulk: INCIDENTS
more incidents (10,000 of them resolved with their postmortem not yet published, 1,000 published on
the status page with a public update each), ACTIONS open action items, AUDIT audit events (a valid
hash chain) and one incident with ENTRIES timeline entries. Then it times the same pages again.

Each page's median of ROUNDS sequential requests is printed beside the demo's, with their ratio,
measured two ways: over HTTP against gunicorn (as issue #19 measured its table; #19 asks for every
page within 2x of the demo database) and in-process through the test client, where no server
overhead hides what the page itself costs.

The public site is timed on its first request after a change (a component's status moves before
each request), which is when its cost is paid; an incident page is timed rendered, not served from
its page cache. With --migrations, the last migrations are then undone and redone on the grown
database and their time printed (#19: migrations at size).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, timedelta
from pathlib import Path

import requests
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, insert, select, update

from bench.load import DEFAULT_PG, csrf_token, throwaway_postgres, wait_ready
from bench.status_load import free_port
from bench.timing import timed
from incidents import create_app
from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.actions.models import ActionItem
from incidents.audit.chain import event_hash
from incidents.audit.models import GENESIS, AuditEvent
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.demo import notice_story, obligations_story, scenario
from incidents.extensions import db
from incidents.incident import page_cache
from incidents.incident.enums import Severity, Status
from incidents.incident.models import Incident
from incidents.status.models import Component
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "growth-bench-password"
WORDS = ["restore", "backup", "replica", "tape", "contacts", "calendars", "photos", "storage", "array",
         "firmware", "volume", "sync", "vendor", "rebuild", "integrity", "check", "mailbox", "queue",
         "customers", "notified", "lost", "recovered", "device"]
CHUNK = 20_000
# Undone and redone by --migrations: the indexes, the full-text index and the public status (#19).
MIGRATIONS_FROM = "9e5f1a4b6d83"


def text(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


# --- growing ----------------------------------------------------------------------------------------

def grow(args, rng: random.Random) -> str:
    """Add the history in bulk; returns the reference of the incident with the long timeline."""
    session = db.session
    admin = session.scalar(select(User).where(User.email == scenario.ADMIN_EMAIL))
    _grow_incidents(session, admin, args, rng)
    _grow_actions(session, admin, args, rng)
    long_ref = _grow_long_incident(session, admin, args, rng)
    _grow_audit(session, args, rng)
    return long_ref


def _grow_incidents(session, admin, args, rng) -> None:
    start = utcnow() - timedelta(days=3650)
    step = timedelta(days=3650) / max(1, args.incidents)
    resolved_from = args.incidents - 10_000 - 1_000
    published_from = args.incidents - 1_000
    for first in range(0, args.incidents, CHUNK):
        rows = []
        for n in range(first, min(first + CHUNK, args.incidents)):
            declared = start + step * n
            resolved, published = n >= resolved_from, n >= published_from
            rows.append({
                "reference": f"INC-{1900 + n // 10_000:04d}-{n % 10_000:04d}", "title": f"{text(rng, 5)} ({n})",
                "summary": text(rng, 20), "severity": rng.choice(list(Severity)),
                "status": Status.resolved if resolved else Status.closed, "data_categories": ["contacts"],
                "personal_data": False, "declared_at": declared, "resolved_at": declared + timedelta(hours=5),
                "closed_at": None if resolved else declared + timedelta(days=9), "created_at": declared,
                "updated_at": declared, "version": 1, "commander_id": admin.id,
                "public_id": f"g{n:011d}" if published else None,
                "public_title": "Service degraded" if published else None,
                "public_impact": "minor" if published else None,
                "public_status": "resolved" if published else None,
                "published_at": declared + timedelta(minutes=30) if published else None,
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


def _grow_actions(session, admin, args, rng) -> None:
    some = session.scalars(select(Incident.id).limit(1000)).all()
    session.execute(insert(ActionItem.__table__), [
        {"incident_id": rng.choice(some), "title": text(rng, 6), "kind": ActionKind.prevent,
         "priority": ActionPriority.medium, "status": ActionStatus.open, "owner_id": admin.id,
         "due_on": (utcnow() + timedelta(days=rng.randint(-30, 300))).date(), "reason": "",
         "created_at": utcnow(), "updated_at": utcnow(), "version": 1} for _ in range(args.actions)])
    session.commit()


def _grow_long_incident(session, admin, args, rng) -> str:
    start = utcnow() - timedelta(days=3650)
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


@dataclass
class _Event:
    """The fields the chain hashes, for events written in bulk (the recorder writes them one by one)."""

    prev_hash: str
    occurred_at: object
    actor_id: int | None
    actor: str
    action: str
    entity_type: str
    entity_id: str | None
    incident_id: int | None
    before: str | None
    after: str | None
    remote_addr: str | None


def _grow_audit(session, args, rng) -> None:
    """AUDIT events continuing the chain, each linked to the one before as the recorder links them,
    so `flask audit verify` still passes (unkeyed: the bench sets no AUDIT_HMAC_KEY)."""
    previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    start = utcnow() - timedelta(days=3650)
    step = timedelta(days=3650) / max(1, args.audit)
    for first in range(0, args.audit, CHUNK):
        rows = []
        for n in range(first, min(first + CHUNK, args.audit)):
            event = _Event(prev_hash=previous, occurred_at=(start + step * n).astimezone(UTC), actor_id=None,
                           actor="system", action="update", entity_type="incident", entity_id=str(n % 1000 + 1),
                           incident_id=n % 1000 + 1, before=json.dumps({"title": text(rng, 4)}),
                           after=json.dumps({"title": text(rng, 4)}), remote_addr=None)
            row = vars(event) | {"hash": event_hash(event)}
            previous = row["hash"]
            rows.append(row)
        session.execute(insert(AuditEvent.__table__), rows)
        session.commit()


# --- measuring ----------------------------------------------------------------------------------------

@dataclass
class Page:
    label: str
    url: str
    before: object = None  # run ahead of each request (in this process)
    rendered: bool = False  # bypass the page cache: time the render, not the cached copy


def pages(app, long_ref: str | None, demo_ref: str, deep_list: str, deep_audit: str) -> list[Page]:
    def component_moves():
        with app.app_context():
            db.session.execute(update(Component).values(updated_at=utcnow()))
            db.session.commit()

    big = long_ref or demo_ref
    return [
        Page("incident list `/`", "/"),
        Page("list, all statuses `/?status=`", "/?status="),
        Page("list, page 20 of all statuses", deep_list),
        Page("search `/?q=storage&status=`", "/?q=storage&status="),
        Page("public summary.json, first request after a change", "/status/api/v2/summary.json", component_moves),
        Page("public page, first request after a change", "/status/", component_moves),
        Page("public history.atom, first request after a change", "/status/history.atom", component_moves),
        Page("the big incident's page, rendered", f"/incidents/{big}", rendered=True),
        Page("postmortems due", "/postmortems/due"),
        Page("open action items", "/actions"),
        Page("audit log", "/admin/audit"),
        Page("audit log, a page halfway back", deep_audit),
    ]


def deep_list_url(get) -> str:
    """Page 20 of all statuses (or the last page, if fewer), by following the pager's links."""
    url = "/?status="
    for _ in range(19):
        page = get(url)
        marker = 'href="/?before='
        at = page.find(marker)
        if at < 0:
            return url
        url = page[at + 6:page.index('"', at + 6)].replace("&amp;", "&")
    return url


def deep_audit_url(app) -> str:
    with app.app_context():
        newest = db.session.scalar(select(func.max(AuditEvent.id))) or 2
    return f"/admin/audit?before={max(2, newest // 2)}"


class InProcess:
    """The app's test client, signed in as the demo admin."""

    def __init__(self, app):
        self.app, self.client = app, app.test_client()
        self.client.post("/login", data={"email": scenario.ADMIN_EMAIL, "password": PASSWORD})
        with self.client.session_transaction() as cookie:
            cookie.pop("wrote_at", None)

    def get(self, url: str) -> str:
        return self.client.get(url).get_data(as_text=True)

    def median_ms(self, page: Page, rounds: int) -> float:
        def before():
            if page.before:
                page.before()
            if page.rendered:
                self.app.extensions.get(page_cache.EXTENSION, {}).clear()

        return timed(self.client, page.url, rounds, before) * 1000


class OverHttp:
    """gunicorn serving the same database as `make run` serves (2 gthread workers x 4 threads)."""

    def __init__(self, database_url: str, instance: str):
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": instance, "SECRET_KEY": secrets.token_hex(32),
               "DATABASE_URL": database_url, "STATUS_CHANGE_CHECK_SECONDS": "0"}
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        self.server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread",
             "--threads", "4", "--log-level", "warning", "bench.status_app:app"],
            cwd=ROOT, env=env, start_new_session=True)
        wait_ready(self.base, self.server)
        self.session = requests.Session()
        token = csrf_token(self.session.get(f"{self.base}/login", timeout=10).text)
        answer = self.session.post(f"{self.base}/login", data={
            "email": scenario.ADMIN_EMAIL, "password": PASSWORD, "csrf_token": token},
            allow_redirects=False, timeout=10)
        if answer.status_code != 302:
            self.close()
            raise SystemExit(f"could not sign in over HTTP (HTTP {answer.status_code})")
        self.fresh = 0

    def get(self, url: str) -> str:
        return self.session.get(self.base + url, timeout=60).text

    def median_ms(self, page: Page, rounds: int) -> float:
        samples = []
        for n in range(rounds + 2):  # two to warm both workers up
            if page.before:
                page.before()
            url = page.url
            if page.rendered:  # the page cache's key holds the query string: a new one is a new render
                self.fresh += 1
                url += ("&" if "?" in url else "?") + f"fresh={self.fresh}"
            started = time.perf_counter()
            answer = self.session.get(self.base + url, timeout=60)
            elapsed = time.perf_counter() - started
            if answer.status_code != 200:
                raise SystemExit(f"{url}: HTTP {answer.status_code}")
            if n >= 2:
                samples.append(elapsed * 1000)
        return statistics.median(samples)

    def close(self) -> None:
        os.killpg(self.server.pid, signal.SIGTERM)
        try:
            self.server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.server.pid, signal.SIGKILL)
            self.server.wait()


def measure(app, http: OverHttp, long_ref: str | None, demo_ref: str, rounds: int) -> dict[str, tuple[float, float]]:
    """{label: (HTTP median ms, in-process median ms)}."""
    local = InProcess(app)
    results = {}
    for page in pages(app, long_ref, demo_ref, deep_list_url(local.get), deep_audit_url(app)):
        results[page.label] = (http.median_ms(page, rounds), local.median_ms(page, rounds))
    return results


def time_migrations(app) -> float:
    """Undo and redo the #19 migrations on the grown database; the seconds the redo took."""
    with app.app_context():
        downgrade(revision=MIGRATIONS_FROM)
        started = time.monotonic()
        upgrade()
        return time.monotonic() - started


# --- the run ------------------------------------------------------------------------------------------

@contextlib.contextmanager
def database(args, tmp: str):
    if args.database_url:  # kept afterwards, to look into
        yield args.database_url
    elif args.postgres:
        with throwaway_postgres(args.postgres_url) as url:
            yield url
    else:
        yield f"sqlite:///{Path(tmp) / 'growth.db'}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000, help="timeline entries of the long incident")
    parser.add_argument("--actions", type=int, default=10_000)
    parser.add_argument("--audit", type=int, default=1_000_000, help="audit events")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--postgres", action="store_true", help="a throwaway database on --postgres-url's server")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    parser.add_argument("--database-url", help="an empty database to grow and keep, instead of a throwaway one")
    parser.add_argument("--migrations", action="store_true", help="then time the #19 migrations at size")
    args = parser.parse_args(argv)
    args.incidents = max(args.incidents, 11_000)
    with tempfile.TemporaryDirectory() as tmp, database(args, tmp) as url:
        app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp, "SECRET_KEY": "growth",
                          "WTF_CSRF_ENABLED": False, "STATUS_CHANGE_CHECK_SECONDS": 0, "RATELIMIT_ENABLED": False})
        with app.app_context():
            upgrade()
            demo = scenario.load(session=db.session, password=PASSWORD)
            notice_story.play(session=db.session, incident=demo)
            obligations_story.play(session=db.session, incident=demo)
            db.session.commit()
            demo_ref = demo.reference
        http = OverHttp(url, tmp)
        try:
            before = measure(app, http, None, demo_ref, args.rounds)
            started = time.monotonic()
            with app.app_context():
                long_ref = grow(args, random.Random(2009))
                if url.startswith("postgresql"):
                    db.session.execute(db.text("ANALYZE"))
                    db.session.commit()
            grown_in = time.monotonic() - started
            after = measure(app, http, long_ref, demo_ref, args.rounds)
        finally:
            http.close()
        print_table(url.split(":")[0].split("+")[0], args, grown_in, before, after)
        if args.migrations:
            print(f"the migrations after {MIGRATIONS_FROM} (indexes, search, public status, status history) redone "
                  f"on the grown database in {time_migrations(app):.1f} s")
        with app.app_context():
            db.engine.dispose()
    return 0


def print_table(backend: str, args, grown_in: float, before: dict, after: dict) -> None:
    print(f"database: {backend}; grown by {args.incidents:,} incidents, {args.entries:,} entries in one, "
          f"{args.actions:,} action items and {args.audit:,} audit events in {grown_in:.0f} s; "
          f"medians of {args.rounds} sequential requests")
    print()
    print("| page | HTTP demo ms | HTTP grown ms | HTTP grown vs demo | in-process demo ms | in-process grown ms "
          "| in-process grown vs demo |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    worst = 0.0
    for label, (http_before, local_before) in before.items():
        http_after, local_after = after[label]
        ratio = http_after / http_before
        worst = max(worst, ratio)
        print(f"| {label} | {http_before:.1f} | {http_after:.1f} | {ratio:.2f}x | {local_before:.1f} | "
              f"{local_after:.1f} | {local_after / local_before:.2f}x |")
    print(f"\nworst HTTP ratio {worst:.2f}x (target: every page within 2x)", flush=True)


if __name__ == "__main__":
    sys.exit(main())
