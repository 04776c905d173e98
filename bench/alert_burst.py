"""An alert storm against a real server: `.venv/bin/python bench/alert_burst.py`.

1,000 Prometheus Alertmanager deliveries (webhook payload version 4) for 10 alert groups, sent at
once by `--clients` (32) threads, each on its own keep-alive connection, in an interleaved order,
to gunicorn serving app:app as `make run` does (2 gthread workers x 4 threads) on a throw-away
database. A fifth of the deliveries are copies of earlier ones, as Alertmanager re-sends a
notification; the others differ (each says a little more about its group). Issue #17's target:

- exactly 10 incidents (one per group, however many deliveries race to declare it),
- every delivery answered 2xx (non-2xx must be 0),
- none lost: every delivery answered 202 is stored, and every distinct one sent is stored once,

and the p50 and p99 latency, printed. `--backend sqlite|postgresql|both` (sqlite by default);
PostgreSQL needs the server tests/setup_postgres.sh prepares (throw-away databases beside
`--postgres-url`'s, dropped at the end). Exit status 1 when the target is not met.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: import this tree's code, not an installed copy
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402
from flask_migrate import upgrade  # noqa: E402

from bench.ledger import DEFAULT_PG_URL, postgres_database, unreachable  # noqa: E402
from bench.status_load import free_port, stop_server  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "alertmanager_v4_firing.json"
PATH = "/api/v1/intake/alertmanager"


# --- the deliveries -------------------------------------------------------------------------------

def deliveries(total: int, groups: int, copies: float, seed: int = 17) -> list[bytes]:
    """`total` Alertmanager notifications for `groups` groups: each group's notifications list one
    more alert than the one before (what a growing outage looks like), and a share `copies` of
    them are exact copies of earlier ones (Alertmanager re-sending). Interleaved, as in a storm."""
    rng = random.Random(seed)
    base = json.loads(FIXTURE.read_text())
    per_group = total // groups
    distinct_per_group = per_group - round(per_group * copies)
    out: list[bytes] = []
    for group in range(groups):
        made = [_notification(base, group, step) for step in range(distinct_per_group)]
        out += made + [rng.choice(made) for _ in range(per_group - distinct_per_group)]
    rng.shuffle(out)
    return out


def _notification(base: dict, group: int, step: int) -> bytes:
    data = json.loads(json.dumps(base))
    name = f"StorageNodeDown{group:02d}"
    data["groupKey"] = f'{{}}/{{severity="critical"}}:{{alertname="{name}", cluster="eu-west"}}'
    data["groupLabels"]["alertname"] = data["commonLabels"]["alertname"] = name
    template = data["alerts"][0]
    alerts = []
    for n in range(1 + step % 12):  # up to a dozen alerts, so bodies stay realistic in size
        alert = json.loads(json.dumps(template))
        alert["labels"].update(alertname=name, instance=f"storage-{n:02d}:9100")
        alert["fingerprint"] = f"{group:04x}{n:04x}{step:08x}"
        alert["startsAt"] = f"2026-03-10T02:{step // 60 % 60:02d}:{step % 60:02d}.{group:03d}Z"
        alerts.append(alert)
    data["alerts"] = alerts
    return (json.dumps(data, separators=(",", ":")) + "\n").encode()


# --- the server -----------------------------------------------------------------------------------

@contextmanager
def database(backend: str, folder: Path, server_url: str):
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'incidents.db'}"
        return
    with postgres_database(server_url, "alert_burst") as url:
        yield url


def prepare(folder: Path, url: str) -> str:
    """Migrate, add a responder the intake declares as, make the intake; its token."""
    from incidents import create_app
    from incidents.auth.models import Role
    from incidents.auth.service import create_user
    from incidents.extensions import db
    from incidents.intake import manage

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder), "SECRET_KEY": "alert-burst",
                      "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1"})
    with app.app_context():
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            upgrade()  # quietly: the migrations' log lines say nothing about the burst
        robot = create_user(session=db.session, email="alerts@example.com", password="alert-burst-password",
                            role=Role.responder, name="Alert robot")
        _intake, secret = manage.create_intake(session=db.session, actor=robot, fields=manage.IntakeFields(
            name="Prometheus production", kind="alertmanager", account=robot))
        db.session.commit()
        db.engine.dispose()
    return secret


def wait_healthy(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


# --- the burst ------------------------------------------------------------------------------------

def burst(port: int, secret: str, bodies: list[bytes], clients: int) -> tuple[list[tuple[int, float, dict]], float]:
    """Send every body at once from `clients` threads; (status, seconds, answer) each, and the wall time."""
    start = threading.Barrier(clients)
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def client(share: list[bytes]) -> list[tuple[int, float, dict]]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start.wait()  # every client ready: then all send together
        out = []
        for body in share:
            began = time.perf_counter()
            try:
                conn.request("POST", PATH, body=body, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                out.append((0, time.perf_counter() - began, {}))
                continue
            took = time.perf_counter() - began
            try:
                answer = json.loads(raw)
            except ValueError:
                answer = {}
            out.append((response.status, took, answer))
        conn.close()
        return out

    shares = [bodies[n::clients] for n in range(clients)]
    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=clients) as pool:
        results = [r for share in pool.map(client, shares) for r in share]
    return results, time.perf_counter() - began


def stored(url: str) -> tuple[int, int, set[int]]:
    """Incidents, deliveries and the ids of the stored deliveries."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            incidents = conn.exec_driver_sql("SELECT count(*) FROM incident").scalar()
            ids = {row[0] for row in conn.exec_driver_sql("SELECT id FROM intake_delivery")}
            return incidents, len(ids), ids
    finally:
        engine.dispose()


def run(backend: str, folder: Path, server_url: str, args) -> bool:
    bodies = deliveries(args.deliveries, args.groups, args.copies)
    print(f"\n== {backend}: {len(bodies):,} deliveries for {args.groups} groups ({len(set(bodies)):,} distinct), "
          f"{args.clients} clients at once; gunicorn {args.workers} workers x {args.threads} gthread threads ==",
          flush=True)
    with database(backend, folder, server_url) as url:
        secret = prepare(folder, url)
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": str(folder), "SECRET_KEY": "alert-burst",
               "DATABASE_URL": url}
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(args.workers), "-k", "gthread",
             "--threads", str(args.threads), "--log-level", "warning", "app:app"],
            cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_healthy(port, server)
            results, wall = burst(port, secret, bodies, args.clients)
        finally:
            stop_server(server)
        incidents, kept, ids = stored(url)
    return report(results, wall, incidents, kept, ids, len(set(bodies)), args.groups)


def report(results, wall: float, incidents: int, kept: int, ids: set[int], distinct: int, groups: int) -> bool:
    ok = [r for r in results if 200 <= r[0] < 300]
    refused = len(results) - len(ok)
    answered = {r[2].get("delivery") for r in ok if r[0] == 202}
    # Lost: acknowledged as stored but not there, or a distinct delivery not stored at all.
    lost = len(answered - ids) + max(0, distinct - kept)
    by_result: dict[str, int] = {}
    for _status, _took, answer in ok:
        by_result[answer.get("result", "?")] = by_result.get(answer.get("result", "?"), 0) + 1
    latencies = sorted(r[1] * 1000 for r in results)
    p50 = statistics.median(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    print(f"answered 2xx: {len(ok):,}  ({', '.join(f'{k} {v:,}' for k, v in sorted(by_result.items()))})")
    print(f"non-2xx: {refused:,}   incidents created: {incidents:,}   deliveries stored: {kept:,} of {distinct:,} "
          f"distinct   lost: {lost:,}")
    print(f"latency p50 {p50:.1f} ms   p99 {p99:.1f} ms   max {latencies[-1]:.1f} ms   "
          f"({len(results) / wall:,.0f} deliveries/s over {wall:.1f} s)")
    met = incidents == groups and refused == 0 and lost == 0
    print(f"target: {groups} incidents, 0 non-2xx, 0 lost -> {'met' if met else 'NOT met'}", flush=True)
    return met


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL),
                        help="a database on the server whose role may CREATE DATABASE (the tests' by default)")
    parser.add_argument("--deliveries", type=int, default=1000)
    parser.add_argument("--groups", type=int, default=10)
    parser.add_argument("--copies", type=float, default=0.2, help="share of deliveries that are re-sent copies")
    parser.add_argument("--clients", type=int, default=32, help="threads sending at once")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    verdicts = []
    with tempfile.TemporaryDirectory(prefix="bench-alert-burst-") as tmp:
        for backend in backends:
            if backend == "postgresql" and (problem := unreachable(args.postgres_url)):
                print(f"\n== {backend} ==\nnot measured: {problem} (run `bash tests/setup_postgres.sh` as root)")
                continue
            folder = Path(tmp) / backend
            folder.mkdir()
            verdicts.append(run(backend, folder, args.postgres_url, args))
    return 0 if all(verdicts) else 1


if __name__ == "__main__":
    raise SystemExit(main())
