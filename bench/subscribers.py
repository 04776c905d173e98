"""Publishing to many status-page subscribers: `python -m bench.subscribers`.

Issue #16 asks two things, measured here in one run on a throw-away database:

1. The publish request's latency with 100,000 confirmed e-mail subscribers, beside the same request
   with none (target: within 2x). Publishing only records the announcement and its fan-out job, so
   the number of subscribers should not show; the request runs in process (Flask's test client), the
   job queue is the real SQLite one, and no worker runs during this part.
2. The sending rate: a worker-like run of the fan-out and the e-mail jobs (inline) for `--send`
   subscribers, to a real SMTP server on loopback (aiosmtpd), in messages per second. Every message
   is one SMTP transaction and one database commit (so a retry never sends twice).

Options: --subscribers N (100,000), --send N (5,000), --publishes N (30 per side),
--database-url URL (PostgreSQL: give an empty database; default SQLite in a temp folder).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import insert, text, update

from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import create_user
from incidents.extensions import db
from incidents.incident.enums import Severity
from incidents.incident.service import declare_incident
from incidents.jobs import enqueue
from incidents.status import service as status
from incidents.subscribers.models import Announcement, Delivery, Subscriber
from tests.subscriber_fixtures import SMTPServer

PASSWORD = "benchmark-password"
TARGET = 2.0


def make_app(folder: Path, database_url: str | None, **extra):
    config = {"SECRET_KEY": "bench", "INSTANCE_PATH": str(folder / "instance"), "WTF_CSRF_ENABLED": False,
              "RATELIMIT_ENABLED": False, "JOBS_SQLITE_PATH": str(folder / "jobs.db"),
              "SQLALCHEMY_DATABASE_URI": database_url or f"sqlite:///{folder / 'bench.db'}", **extra}
    return create_app(config)


def prepare(app) -> str:
    """Migrate, and publish one incident the benchmark posts updates on; its reference."""
    with app.app_context():
        upgrade()
        user = create_user(session=db.session, email="bench@example.com", name="Bench", role=Role.responder,
                           password=PASSWORD)
        component = status.create_component(session=db.session, name="Contacts sync")
        incident = declare_incident(session=db.session, actor=user, severity=Severity.SEV2,
                                    title="Contacts not syncing", data_categories=["contacts"])
        status.publish_incident(session=db.session, actor=user, incident=incident, public_title="Contacts not syncing",
                                impact="major", body="Investigating.", components={component: "major_outage"})
        db.session.commit()
        return incident.reference


def publish_latencies(app, reference: str, count: int) -> list[float]:
    client = app.test_client()
    client.post("/login", data={"email": "bench@example.com", "password": PASSWORD})
    times = []
    for n in range(count):
        started = time.perf_counter()
        response = client.post(f"/incidents/{reference}/publish/update",
                               data={"public_status": "identified", "public_body": f"Update {n}."})
        times.append(time.perf_counter() - started)
        if response.status_code != 302:
            raise SystemExit(f"publishing failed: {response.status_code}")
    return times


def add_subscribers(app, count: int) -> None:
    now = datetime.now(UTC)
    with app.app_context():
        rows = [{"kind": "email", "email": f"customer{n}@example.com", "token_id": f"bench-{n}",
                 "all_components": True, "created_at": now, "confirmed_at": now, "bounces": 0, "failures": 0}
                for n in range(count)]
        for start in range(0, count, 10_000):
            db.session.execute(insert(Subscriber), rows[start:start + 10_000])
        db.session.commit()


def sending_rate(folder: Path, database_url: str | None, send: int) -> tuple[float, int, int]:
    """(messages a second, messages the SMTP server received, deliveries sent) for `send` subscribers."""
    with SMTPServer() as smtp:
        app = make_app(folder, database_url, JOBS_IMMEDIATE=True, SMTP_HOST="127.0.0.1", SMTP_PORT=smtp.port,
                       SMTP_SECURITY="none")
        with app.app_context():
            # Only the first `send` subscribers stay subscribed: the rest would take minutes to mail.
            first = db.session.scalar(text("SELECT min(id) FROM subscriber"))
            db.session.execute(update(Subscriber).where(Subscriber.id >= first + send)
                               .values(unsubscribed_at=datetime.now(UTC)))
            db.session.execute(update(Delivery).values(state="sent"))  # earlier runs' leftovers
            db.session.commit()
            announcement = db.session.scalar(db.select(Announcement).order_by(Announcement.id.desc()))
            started = time.perf_counter()
            enqueue("subscribers.fan_out", session=db.session, announcement_id=announcement.id)
            db.session.commit()  # inline: fan-out, then every batch of e-mails
            elapsed = time.perf_counter() - started
            sent = db.session.scalar(text("SELECT count(*) FROM subscriber_delivery WHERE state = 'sent' "
                                          "AND announcement_id = :a"), {"a": announcement.id})
        return len(smtp.inbox.messages) / elapsed, len(smtp.inbox.messages), sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=100_000)
    parser.add_argument("--send", type=int, default=5_000)
    parser.add_argument("--publishes", type=int, default=30)
    parser.add_argument("--database-url")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-subscribers-") as tmp:
        folder = Path(tmp)
        app = make_app(folder, args.database_url)
        reference = prepare(app)
        publish_latencies(app, reference, 5)  # warm up: templates, queries, the queue's file
        without = publish_latencies(app, reference, args.publishes)
        add_subscribers(app, args.subscribers)
        with_many = publish_latencies(app, reference, args.publishes)
        with app.app_context():
            assert db.session.scalar(text("SELECT count(*) FROM subscriber_delivery")) == 0, "nothing sent yet"
        base, many = statistics.median(without), statistics.median(with_many)
        ratio = many / base
        print(f"publish request, median of {args.publishes}: no subscribers {base * 1000:.1f} ms, "
              f"{args.subscribers:,} subscribers {many * 1000:.1f} ms: {ratio:.2f}x "
              f"({'within' if ratio <= TARGET else 'OVER'} {TARGET:g}x)")
        rate, received, sent = sending_rate(folder, args.database_url, args.send)
        print(f"sending: {received:,} e-mails to the local SMTP server at {rate:,.0f} messages/s "
              f"({sent:,} deliveries logged sent)")
        return 0 if ratio <= TARGET and received == args.send == sent else 1


if __name__ == "__main__":
    sys.exit(main())
