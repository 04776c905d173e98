"""Benchmarks: `make bench` (or `python -m bench`).

Machines here are shared and noisy, so nothing is reported in absolute seconds alone: each figure is
a ratio against a baseline measured in the same run, side by side (the health check, which does one
trivial query, and the same page on a small incident).
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event

from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import create_user
from incidents.extensions import db
from incidents.incident.enums import Severity
from incidents.incident.service import declare_incident
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility

PASSWORD = "benchmark-password"
SIZES = (50, 1000, 5000)
ROUNDS = 15


def build_app(folder: Path):
    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'bench.db'}",
                      "INSTANCE_PATH": str(folder), "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False})
    with app.app_context():
        upgrade()
        user = create_user(session=db.session, email="bench@example.com", password=PASSWORD,
                           role=Role.responder, name="Bench")
        refs = {}
        for size in SIZES:
            incident = declare_incident(session=db.session, actor=user, title=f"{size} entries",
                                        severity=Severity.SEV2)
            db.session.add_all(TimelineEntry(incident_id=incident.id, author=user, kind=EntryKind.note,
                                             visibility=Visibility.internal,
                                             body=f"Update {i}: restored **{i * 10}** records")
                               for i in range(size - 1))
            refs[size] = incident.reference
        db.session.commit()
    return app, refs


def timed(client, url: str) -> float:
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        response = client.get(url)
        samples.append(time.perf_counter() - start)
        assert response.status_code == 200, (url, response.status_code)
    return statistics.median(samples)


def count_queries(app, client, url: str) -> int:
    with app.app_context():
        engine = db.engine
    statements = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    client.get(url)
    event.remove(engine, "before_cursor_execute", listener)
    return len(statements)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        app, refs = build_app(Path(tmp))
        client = app.test_client()
        client.post("/login", data={"email": "bench@example.com", "password": PASSWORD})
        health = timed(client, "/healthz")
        small = timed(client, f"/incidents/{refs[SIZES[0]]}")
        print(f"baseline: /healthz median {health * 1000:.2f} ms; incident page with {SIZES[0]} "
              f"entries {small * 1000:.2f} ms ({small / health:.1f}x healthz)")
        print(f"{'page':40} {'median ms':>10} {'vs healthz':>11} {'vs 50 entries':>14} {'SQL':>5}")
        for size in SIZES:
            url = f"/incidents/{refs[size]}"
            t = timed(client, url)
            print(f"{'incident page, ' + str(size) + ' entries':40} {t * 1000:10.2f} {t / health:10.1f}x "
                  f"{t / small:13.1f}x {count_queries(app, client, url):5}")
        t = timed(client, "/?status=")
        print(f"{'incident list':40} {t * 1000:10.2f} {t / health:10.1f}x {'':>14} "
              f"{count_queries(app, client, '/?status='):5}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
