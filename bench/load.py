"""Load on the tracker itself: `python -m bench.load [--seconds 30]`.

For each database (SQLite, then PostgreSQL on a throw-away database), loads the demo, starts
gunicorn on a free loopback port (2 gthread workers x 4 threads, as `make run` serves) and puts
three URLs under load in turn with wrk (32 connections, 30 s each by default):

- `/bench/bare`: a route that returns a fixed small JSON body, added only in the benchmark's WSGI
  module (`bench.status_app`), never in the product: what the framework and server cost alone;
- the incident page of the demo incident, signed in;
- the quick-post endpoint (`timeline.post`), signed in, with its CSRF token (`bench/quick_post.lua`).

Prints requests per second, p50/p99 latency, errors (non-2xx/3xx answers and socket errors; must
be 0), the peak resident memory of any one gunicorn worker (sampled 5 times a second) and each
figure's ratio to the bare route. The machines are shared and noisy: compare the ratios.
"""
from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path
from urllib.parse import quote

import requests
import sqlalchemy as sa

from bench.ledger import postgres_database
from bench.status_load import ensure_wrk, free_port, stop_server

ROOT = Path(__file__).resolve().parent.parent
LUA = Path(__file__).resolve().parent / "quick_post.lua"
BARE = "/bench/bare"
DEFAULT_PG = "postgresql+psycopg://incidents_test:incidents_test@127.0.0.1:5432/incidents_test"
ADMIN = "admin@example.com"
DEMO_TITLE = "contacts, calendars and photos"


def flask(env: dict, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "bench.status_app", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def throwaway_postgres(server_url: str):
    """A new database on SERVER_URL's server for this run, dropped afterwards (bench.ledger's)."""
    return postgres_database(server_url, "load")


def worker_pids(master: int) -> list[int]:
    try:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    except OSError:
        return []
    return [int(pid) for pid in children]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class MemorySampler:
    """The highest RSS any one worker of the gunicorn master reached while sampling."""

    def __init__(self, master: int, interval: float = 0.2):
        self.master, self.interval = master, interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for pid in worker_pids(self.master):
                self.peak = max(self.peak, rss_mb(pid))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def csrf_token(html: str) -> str:
    tag = re.search(r'<input[^>]*name="csrf_token"[^>]*>', html)
    return unescape(re.search(r'value="([^"]*)"', tag.group(0)).group(1))


def sign_in(base: str, password: str) -> requests.Session:
    session = requests.Session()
    token = csrf_token(session.get(f"{base}/login", timeout=10).text)
    answer = session.post(f"{base}/login", data={"email": ADMIN, "password": password, "csrf_token": token},
                          allow_redirects=False, timeout=10)
    if answer.status_code != 302:
        raise SystemExit(f"could not sign in as {ADMIN} (HTTP {answer.status_code})")
    return session


def references(database_url: str) -> tuple[str, str]:
    """The demo incident (for the page) and another one (the quick posts go there, so the page
    measured does not grow during the run)."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT reference, title FROM incident ORDER BY id")).all()
    engine.dispose()
    page = next((ref for ref, title in rows if DEMO_TITLE.lower() in title.lower()), rows[0][0])
    other = next(ref for ref, _ in rows if ref != page)
    return page, other


def count_entries(database_url: str, reference: str) -> int:
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.connect() as conn:
        count = conn.execute(sa.text("SELECT count(*) FROM timeline_entry JOIN incident "
                                     "ON incident.id = timeline_entry.incident_id "
                                     "WHERE incident.reference = :ref"), {"ref": reference}).scalar_one()
    engine.dispose()
    return count


def wrk(url: str, args, *, headers: dict[str, str] | None = None, script: Path | None = None,
        env: dict[str, str] | None = None) -> dict:
    """run_wrk from bench.status_load, with headers, a Lua script and its environment."""
    extra = [f"-H{name}: {value}" for name, value in (headers or {}).items()]
    if script:
        extra += ["-s", str(script)]
    # A slow answer is measured, not dropped: wrk's default 2 s timeout would count queueing as errors.
    cmd = ["wrk", "-t2", f"-c{args.connections}", f"-d{args.seconds}s", "--timeout", "30s", "--latency",
           *extra, url]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.seconds + 60, check=True,
                         env={**os.environ, **(env or {})}).stdout
    return parse_wrk(out)


def parse_wrk(out: str) -> dict:
    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)] if match else float("nan")

    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    requests_done = re.search(r"(\d+) requests in", out)
    statuses = {int(code): int(n) for code, n in re.findall(r"^status (\d+): (\d+)$", out, re.M)}
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), "p50": latency("50"),
            "p99": latency("99"), "errors": errors, "requests": int(requests_done.group(1)) if requests_done else 0,
            "statuses": statuses}


def measure(backend: str, database_url: str | None, args) -> list[tuple[str, dict]]:
    """Serve the demo on this backend and measure the three URLs; rows of (label, figures)."""
    password = "load-bench-" + secrets.token_hex(6)
    with tempfile.TemporaryDirectory(prefix="load-bench-") as instance:
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": instance, "SECRET_KEY": secrets.token_hex(32),
               "DEMO_PASSWORD": password}
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        flask(env, "db", "upgrade")
        flask(env, "demo", "load")
        db_url = database_url or f"sqlite:///{instance}/incidents.db"
        page_ref, post_ref = references(db_url)
        server, base = serve(env, args)
        try:
            session = sign_in(base, password)
            page = session.get(f"{base}/incidents/{post_ref}", timeout=10)
            token = csrf_token(page.text)
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)
            signed_in = {"Cookie": cookie}
            for path in (BARE, f"/incidents/{page_ref}"):  # warm up: templates, pools, caches
                for _ in range(20):
                    session.get(base + path, timeout=10)
            rows = []
            with MemorySampler(server.pid) as memory:
                rows.append(("bare Flask route", wrk(base + BARE, args)))
            rows[-1][1]["rss"] = memory.peak
            with MemorySampler(server.pid) as memory:
                rows.append((f"incident page ({page_ref})", wrk(f"{base}/incidents/{page_ref}", args,
                                                                headers=signed_in)))
            rows[-1][1]["rss"] = memory.peak
            before = count_entries(db_url, post_ref)
            with MemorySampler(server.pid) as memory:
                rows.append(("quick post (timeline.post)", wrk(
                    base + f"/incidents/{post_ref}/timeline", args, script=LUA,
                    env={"BENCH_PATH": f"/incidents/{post_ref}/timeline", "BENCH_COOKIE": cookie,
                         "BENCH_CSRF": quote(token, safe="")})))
            rows[-1][1]["rss"] = memory.peak
            rows[-1][1]["written"] = count_entries(db_url, post_ref) - before
            session.close()
        finally:
            stop_server(server)
    return rows


def serve(env: dict, args) -> tuple[subprocess.Popen, str]:
    """gunicorn serving the benchmark's app (`args.workers` gthread workers x `args.threads`) on a
    free loopback port, answering; the process and its base URL. Stop it with stop_server."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
         "-k", "gthread", "--threads", str(args.threads), "--log-level", "warning", "bench.status_app:app"],
        cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_ready(base, server)
    except BaseException:
        stop_server(server)
        raise
    return server, base


def wait_ready(base: str, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if requests.get(base + BARE, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def print_table(results: dict[str, list[tuple[str, dict]]]) -> None:
    print()
    print("| database | URL | req/s | p50 ms | p99 ms | errors | peak RSS/worker MB | req/s vs bare | p50 vs bare |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for backend, rows in results.items():
        bare = rows[0][1]
        for label, r in rows:
            print(f"| {backend} | {label} | {r['rps']:.0f} | {r['p50']:.1f} | {r['p99']:.1f} | {r['errors']} | "
                  f"{r['rss']:.0f} | {r['rps'] / bare['rps']:.2f}x | {r['p50'] / bare['p50']:.1f}x |")
    for backend, rows in results.items():
        post = rows[-1][1]
        print(f"{backend}: wrk counted {post['requests']} quick posts answered; {post['written']} entries written")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=30, help="seconds of load per URL (default 30)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default 4)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (default both)")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG),
                        help="a PostgreSQL server where this role may create a throw-away database")
    args = parser.parse_args(argv)
    if not ensure_wrk():
        raise SystemExit("wrk is needed: apt-get install -y wrk")

    print(f"gunicorn {args.workers} workers x {args.threads} gthread threads on loopback; wrk, "
          f"{args.connections} connections, {args.seconds} s per URL")
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        print(f"measuring {backend} ...", flush=True)
        if backend == "sqlite":
            results[backend] = measure(backend, None, args)
        elif backend == "postgresql":
            try:
                with throwaway_postgres(args.postgres_url) as url:
                    results[backend] = measure(backend, url, args)
            except sa.exc.OperationalError as error:
                print(f"PostgreSQL not measured: {str(error).splitlines()[0]}")
        else:
            raise SystemExit(f"unknown backend {backend!r}")
    print_table(results)
    failed = [f"{backend}: {label}" for backend, rows in results.items() for label, r in rows if r["errors"]]
    if failed:
        print("ERRORS (must be 0): " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
