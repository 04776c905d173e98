"""The systems catalogue and the ownership audit at scale (issue #15): `python -m bench.systems`.

1. The audit page (`/systems/audit`) and its JSON (`/systems/audit.json`) with `--systems`
   (10,000) systems and `--reports` (1,000,000) backup reports, beside the same pages with 10
   systems (and 100 reports each), through Flask's test client in this process, signed in as a
   viewer. The two catalogues live in two databases and are measured in alternation (`--rounds`
   pairs of a few requests each), so drift on a shared machine hits both sides; the median of the
   paired ratios is reported, with each page's SQL statements on both sides. Target: within 3x,
   and the same number of statements. Rows are generated in bulk (executemany on SQLite, COPY on
   PostgreSQL), not through the ORM; each system's kept state is derived from its reports as
   heartbeats.record_report would have left it.
2. The backup-report endpoint (`POST /systems/backup-report`, a success with a bearer token, a
   different system's token on each request) under wrk, beside a bare POST route of the same app
   and server in the same run (`/bench/bare-post`: no database, no CSRF, no limiter, no login,
   like the endpoint), the same requests to both (bench/backup_report.lua); gunicorn as
   bench/status_load.py runs it (1 worker, gthread, 4 threads). Paired rounds as there. Target:
   the endpoint at 0.5x the bare route or better. Every report must be answered 201 and stored.

`--backend sqlite|postgresql|both` (sqlite by default); PostgreSQL needs the server
tests/setup_postgres.sh prepares: throw-away databases are created beside `--postgres-url`'s
(TEST_DATABASE_URL or the tests' default) and dropped at the end. `--part audit|endpoint|both`.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from bench.ledger import DEFAULT_PG_URL, postgres_database, unreachable
from bench.status_load import ensure_wrk, flask, free_port, stop_server, wait_ready
from bench.timing import timed
from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import change_role, create_user
from incidents.extensions import db
from incidents.systems import audit_kept
from incidents.systems.models import System, SystemState

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "benchmark-password"
EMAIL = "viewer@example.com"
AUDIT_TARGET, ENDPOINT_TARGET = 3.0, 0.5
AUDIT_URLS = ["/systems/audit", "/systems/audit.json"]
BARE_POST, REPORT = "/bench/bare-post", "/systems/backup-report"
RPOS = [60, 240, 1440, 1440, 1440, 10080]
COMPANIES = ["Nimbus Storage", "Globex", "Initech", "Hooli", "Vandelay"]


# --- Throw-away databases ------------------------------------------------------------------------

@contextlib.contextmanager
def database(backend: str, folder: Path, label: str, server_url: str) -> Iterator[str]:
    if backend == "sqlite":
        yield f"sqlite:///{folder / f'{label}.db'}"
        return
    with postgres_database(server_url, f"systems_{label}") as url:
        yield url


def make_app(folder: Path, url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": str(folder / "instance"),
                       "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False,
                       "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1", "SIGN_IN_MEMO_SECONDS": 0})


# --- 1. Generated catalogues ----------------------------------------------------------------------

def people(owners: int) -> list[tuple[int, bool]]:
    """The viewer who measures, and `owners` owners (one in twenty disabled): [(id, active)]."""
    made = [create_user(session=db.session, email=f"owner{n}@example.com", password=PASSWORD, role=Role.responder,
                        name=f"Owner {n}") for n in range(owners)]
    create_user(session=db.session, email=EMAIL, password=PASSWORD, role=Role.viewer, name="Bench viewer")
    db.session.flush()
    for user in made[::20]:
        change_role(session=db.session, user=user, role=Role.responder, active=False)
    db.session.commit()
    return [(u.id, u.active) for u in made]


def catalogue(systems: int, reports_each: int, owners: list[tuple[int, bool]], now: datetime, seed: int = 15):
    """Rows for `systems` systems, their state rows and their reports (generated lazily)."""
    rng = random.Random(seed)
    system_rows, state_rows, plans = [], [], []
    for n in range(systems):
        origin = rng.choices(["built", "acquired", "vendor"], [7, 2, 1])[0]
        rpo = rng.choice(RPOS) if rng.random() > 0.03 else None
        owner = None if rng.random() < 0.08 else rng.choice(owners)[0]
        system_rows.append({
            "id": n + 1, "name": f"System {n:05d}", "name_key": f"system {n:05d}", "description": "",
            "owner_id": owner, "team": f"Team {n % 40}", "data_categories": ["contacts"],
            "personal_data": rng.random() < 0.4, "origin": origin,
            "origin_name": rng.choice(COMPANIES) if origin != "built" else "", "acquired_on": None,
            "backup_method": "" if rng.random() < 0.04 else "restic to object storage", "backup_destination": "",
            "rpo_target_minutes": rpo, "retention": "", "last_reviewed_at": now if rng.random() < 0.5 else None,
            "last_reviewed_by_id": None, "retired_at": None, "created_at": now - timedelta(days=900),
            "created_by_id": None, "updated_at": now, "version": 1})
        # Reports every RPO (or daily), mostly successes; one system in twenty failing for weeks,
        # one in fifty silent for a month.
        step = timedelta(minutes=rpo or 1440)
        newest = now - timedelta(minutes=rng.uniform(5, (rpo or 1440) * 1.1))
        if rng.random() < 0.02:
            newest -= timedelta(days=30)
        failing = rng.randrange(1, 40) if rng.random() < 0.05 else 0
        runs = [(newest - step * k, k >= failing and rng.random() > 0.03) for k in range(reports_each)]
        plans.append((n + 1, runs))
        tested = rng.random()
        restore_at = now - timedelta(days=rng.uniform(1, 200)) if tested < 0.7 else None
        state_rows.append({"system_id": n + 1, **_state(runs, rpo), "last_report_note": "",
                           "last_restore_test_at": restore_at,
                           "last_restore_test_ok": (rng.random() > 0.1) if restore_at else None})
    return system_rows, state_rows, plans


def _state(runs: list[tuple[datetime, bool]], rpo: int | None) -> dict:
    """What heartbeats.record_report leaves in a system's state after `runs` (newest first)."""
    if not runs:
        return {"last_report_at": None, "last_report_ok": None, "last_ok_at": None, "failing_since": None,
                "backup_due_at": None, "reports": 0}
    last_ok = next((at for at, ok in runs if ok), None)
    failures = [at for at, ok in runs if not ok and (last_ok is None or at > last_ok)]
    return {"last_report_at": runs[0][0], "last_report_ok": runs[0][1], "last_ok_at": last_ok,
            "failing_since": min(failures) if not runs[0][1] else None,
            "backup_due_at": last_ok + timedelta(minutes=rpo) if last_ok and rpo else None, "reports": len(runs)}


def fill(app, systems: int, reports_each: int, owners: int) -> float:
    """Migrate and fill a catalogue; seconds the bulk load took."""
    now = datetime.now(UTC)
    with app.app_context():
        upgrade()
        started = time.perf_counter()
        system_rows, state_rows, plans = catalogue(systems, reports_each, people(owners), now)
        db.session.execute(sa.insert(System.__table__), system_rows)
        db.session.execute(sa.insert(SystemState.__table__), state_rows)
        db.session.commit()
        _load_reports(db.engine, plans, now)
        # Rows written past the app (bulk, above): the first audit read works every system out, as
        # it would after an upgrade; done here, so no measured read pays for it.
        audit_kept.take_audit(session=db.session, clock=audit_kept.configured_clock())
        db.session.commit()
        if db.engine.dialect.name == "postgresql":
            with db.engine.connect() as conn:
                conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
        else:
            with db.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        return time.perf_counter() - started


def _load_reports(engine, plans, now: datetime) -> None:
    """The reports straight through the driver: COPY on PostgreSQL, one executemany on SQLite."""
    columns = "system_id, reported_at, received_at, ok, note, source"
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        if engine.dialect.name == "postgresql":
            with conn.cursor() as cursor, cursor.copy(f"COPY system_backup_report ({columns}) FROM STDIN") as copy:
                received = now.isoformat()
                buffer = io.StringIO()
                for system_id, runs in plans:
                    for at, ok in runs:
                        buffer.write(f"{system_id}\t{at.isoformat()}\t{received}\t{'t' if ok else 'f'}\t\tdemo\n")
                    if buffer.tell() > 1 << 20:
                        copy.write(buffer.getvalue())
                        buffer = io.StringIO()
                copy.write(buffer.getvalue())
            conn.commit()
        else:
            # SQLite keeps UTC times naive, in SQLAlchemy's text format (see incidents.db.UTCDateTime).
            stamp = "%Y-%m-%d %H:%M:%S.%f"
            received = now.strftime(stamp)
            rows = ((system_id, at.strftime(stamp), received, int(ok), "", "demo")
                    for system_id, runs in plans for at, ok in runs)
            cursor = conn.cursor()
            cursor.execute("BEGIN")
            cursor.executemany(f"INSERT INTO system_backup_report ({columns}) VALUES (?, ?, ?, ?, ?, ?)", rows)
            cursor.execute("COMMIT")
    finally:
        raw.close()


def signed_in(app):
    client = app.test_client()
    assert client.post("/login", data={"email": EMAIL, "password": PASSWORD}).status_code == 302
    return client


def statements(app, client, url: str) -> int:
    """SQL statements one GET of `url` runs (SQLite's BEGIN, which the app issues itself, not counted)."""
    seen: list[str] = []
    with app.app_context():
        engine = db.engine
    listener = lambda conn, cursor, statement, *rest: seen.append(statement)  # noqa: E731
    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    return len([s for s in seen if s != "BEGIN"])


def bench_audit(backend: str, folder: Path, server_url: str, *, systems: int, reports: int, rounds: int) -> None:
    reports_each = max(1, reports // systems)
    print(f"\n== the audit, {backend}: {systems:,} systems and {systems * reports_each:,} backup reports "
          f"vs 10 systems and {10 * reports_each:,} ==", flush=True)
    with (database(backend, folder, "small", server_url) as small_url,
          database(backend, folder, "large", server_url) as large_url):
        small_app, large_app = make_app(folder / "small", small_url), make_app(folder / "large", large_url)
        fill(small_app, 10, reports_each, owners=10)
        took = fill(large_app, systems, reports_each, owners=200)
        print(f"generated in {took:.0f} s", flush=True)
        small, large = signed_in(small_app), signed_in(large_app)
        print(f"{'page':24} {'10 systems ms':>14} {'large ms':>9} {'ratio':>6} {'SQL small':>10} {'SQL large':>10}  "
              f"(medians of {rounds} alternating rounds; the rounds' ratios)")
        verdicts = []
        for url in AUDIT_URLS:
            pairs = []
            for _ in range(rounds):
                pairs.append((timed(small, url, 5), timed(large, url, 5)))
            ratios = sorted(b / a for a, b in pairs)
            ratio = ratios[len(ratios) // 2]
            counts = (statements(small_app, small, url), statements(large_app, large, url))
            print(f"{url:24} {statistics.median(a for a, _ in pairs) * 1000:14.2f} "
                  f"{statistics.median(b for _, b in pairs) * 1000:9.2f} {ratio:5.2f}x {counts[0]:10} {counts[1]:10}  "
                  f"({', '.join(f'{r:.2f}' for r in ratios)})", flush=True)
            verdicts.append(ratio <= AUDIT_TARGET and counts[0] == counts[1])
        with large_app.app_context():
            flagged = large.get("/systems/audit.json?per_page=1").get_json()
            print(f"large catalogue: {flagged['flagged']:,} of {flagged['systems']:,} systems flagged")
        print(f"target: within {AUDIT_TARGET:.0f}x, same statements -> {'met' if all(verdicts) else 'NOT met'}")
        for app in (small_app, large_app):
            with app.app_context():
                db.engine.dispose()


# --- 2. The endpoint under wrk --------------------------------------------------------------------

def serve():
    """The WSGI app gunicorn serves for part 2: the real app (with bench/status_app.py's bare GET,
    used to see that the server is up) plus a bare POST route treated like the heartbeat endpoint."""
    from flask import request

    from bench.status_app import app
    from incidents.auth import access
    from incidents.extensions import csrf, limiter

    def bench_bare_post():
        return {"recorded": True, "bench": "bare"}, 201

    app.add_url_rule(BARE_POST, "bench_bare_post", csrf.exempt(bench_bare_post), methods=["POST"])
    access.PUBLIC_ENDPOINTS.add("bench_bare_post")
    limiter.request_filter(lambda: request.endpoint == "bench_bare_post")
    return app


def seed_tokens(instance: Path, url: str | None, systems: int) -> list[str]:
    """`systems` systems, each with a report token (through the services); the tokens."""
    from incidents.systems import heartbeats, service

    app = create_app({"SQLALCHEMY_DATABASE_URI": url or f"sqlite:///{instance}/incidents.db",
                      "INSTANCE_PATH": str(instance), "SECRET_KEY": "systems-bench"})
    secrets = []
    with app.app_context():
        for n in range(systems):
            system = service.create_system(session=db.session, actor=None, fields_=service.SystemFields(
                name=f"Host {n:04d}", backup_method="restic", rpo_target_minutes=1440))
            secrets.append(heartbeats.create_token(session=db.session, actor=None, system=system)[1])
        db.session.commit()
        db.engine.dispose()
    return secrets


def stored_reports(instance: Path, url: str | None) -> int:
    engine = sa.create_engine(url or f"sqlite:///{instance}/incidents.db")
    try:
        with engine.connect() as conn:
            return conn.exec_driver_sql("SELECT count(*) FROM system_backup_report").scalar()
    finally:
        engine.dispose()


def run_wrk(url: str, *, duration: int, connections: int, env: dict) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{duration}s", "--latency", "-s",
                          str(ROOT / "bench" / "backup_report.lua"), url],
                         capture_output=True, text=True, timeout=duration + 30, check=True, env=env).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)] if match else float("nan")

    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "requests": int(re.search(r"(\d+) requests in", out).group(1)),
            "p50": latency("50"), "p99": latency("99"), "errors": errors}


def bench_endpoint(backend: str, folder: Path, server_url: str, *, tokens: int, rounds: int, duration: int,
                   connections: int, threads: int) -> None:
    print(f"\n== the backup-report endpoint, {backend}: gunicorn 1 worker x {threads} gthread threads, wrk "
          f"{connections} connections, {duration} s per run, {tokens} systems reporting ==", flush=True)
    if not ensure_wrk():
        print("not measured: wrk is missing (apt-get install wrk)")
        return
    instance = folder / f"endpoint-{backend}"
    instance.mkdir()
    with database(backend, folder, "endpoint", server_url) as url:
        url = None if backend == "sqlite" else url
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": str(instance), "SECRET_KEY": "systems-bench",
               "DEMO_PASSWORD": "systems-bench-password"}
        env.pop("DATABASE_URL", None)
        if url:
            env["DATABASE_URL"] = url
        flask(env, "db", "upgrade")
        token_file = instance / "tokens.txt"
        token_file.write_text("\n".join(seed_tokens(instance, url, tokens)) + "\n")
        env["BENCH_TOKENS"] = str(token_file)
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1", "-k", "gthread",
             "--threads", str(threads), "--log-level", "warning", "bench.systems:serve()"],
            cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_ready(port, server)
            answered, pairs = 0, []
            for number in range(1, rounds + 1):
                bare = run_wrk(f"http://127.0.0.1:{port}{BARE_POST}", duration=duration, connections=connections,
                               env=env)
                measured = run_wrk(f"http://127.0.0.1:{port}{REPORT}", duration=duration,
                                   connections=connections, env=env)
                answered += measured["requests"] - measured["errors"]
                pairs.append((bare, measured))
                print(f"round {number}: backup-report {measured['rps']:.0f}/s, bare POST just before "
                      f"{bare['rps']:.0f}/s ({measured['rps'] / bare['rps']:.2f}x)", flush=True)
        finally:
            stop_server(server)
        stored = stored_reports(instance, url)
    report_endpoint(pairs, answered, stored)


def report_endpoint(pairs: list[tuple[dict, dict]], answered: int, stored: int) -> None:
    ratios = sorted(m["rps"] / b["rps"] for b, m in pairs)
    ratio = ratios[len(ratios) // 2]
    print(f"{'route':24} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  (median run)")
    for label, side in (("bare POST", 0), ("backup-report", 1)):
        runs = sorted((pair[side] for pair in pairs), key=lambda r: r["rps"])
        middle = runs[len(runs) // 2]
        print(f"{label:24} {middle['rps']:8.0f} {middle['p50']:8.2f} {middle['p99']:8.2f} "
              f"{sum(r['errors'] for r in runs):7d}")
    errors = sum(m["errors"] for _, m in pairs)
    print(f"ratio {ratio:.2f}x ({', '.join(f'{r:.2f}' for r in ratios)}); reports answered 201: {answered:,}, "
          f"stored: {stored:,}")
    # A few more are stored than wrk counted: requests in flight when it stopped counting.
    met = ratio >= ENDPOINT_TARGET and errors == 0 and stored >= answered
    print(f"target: >= {ENDPOINT_TARGET}x the bare route, no errors, every answered report stored -> "
          f"{'met' if met else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL),
                        help="a database on the server whose role may CREATE DATABASE (the tests' by default)")
    parser.add_argument("--part", choices=["audit", "endpoint", "both"], default="both")
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=9, help="alternating rounds (audit) / paired runs (endpoint)")
    parser.add_argument("--duration", type=int, default=5, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=4, help="gunicorn gthread threads")
    parser.add_argument("--tokens", type=int, default=500, help="systems reporting to the endpoint")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-systems-") as tmp:
        for backend in backends:
            if backend == "postgresql" and (problem := unreachable(args.postgres_url)):
                print(f"\n== {backend} ==\nnot measured: {problem} (run `bash tests/setup_postgres.sh` as root)")
                continue
            folder = Path(tmp) / backend
            folder.mkdir()
            if args.part in ("audit", "both"):
                bench_audit(backend, folder, args.postgres_url, systems=args.systems, reports=args.reports,
                            rounds=args.rounds)
            if args.part in ("endpoint", "both"):
                bench_endpoint(backend, folder, args.postgres_url, tokens=args.tokens, rounds=min(args.rounds, 5),
                               duration=args.duration, connections=args.connections, threads=args.threads)
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
