"""The automation API under load (issue #17): `python -m bench.api [--seconds 10] [--rounds 3]`.

For each database (SQLite, then PostgreSQL on a throw-away database) the demo is loaded and served
as `make run` serves it (gunicorn, 2 gthread workers x 4 threads, on loopback); a write token is
made with `flask tokens create`. Then wrk (32 connections) measures, in alternating rounds so that
drift on a shared machine hits both sides of each pair alike:

1. `GET /api/v1/incidents/<ref>` with the token, beside the bare route (`/bench/bare`, in the
   benchmark's WSGI module only). Target: the API read at 0.5x the bare route or better. For
   reading the figure, also the bare route plus one `SELECT 1` (`/bench/bare-db`): what the
   database round trip costs by itself, so the API's own share shows (no target).
2. `POST /api/v1/incidents/<ref>/timeline` (bench/api_post.lua, a different note each time),
   beside the incident page's quick-post form signed in with its CSRF token
   (bench/quick_post.lua). Target: the API at the form's rate or better.

The reads are measured first, then the posts; each round runs its phase there and back
(A B C C B A), a pair's ratio is taken per round from both its runs, and the median over rounds is
printed with the per-round ratios and the best run of each side. Every request must be answered 2xx (3xx for
the form) and every post stored. The token's rate limit is lifted for the run (API_RATE_LIMIT),
as an operator would for a trusted importer; the form has no limit of its own.
"""
from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path
from urllib.parse import quote

import sqlalchemy as sa

from bench.live import best_run
from bench.load import (
    BARE,
    DEFAULT_PG,
    LUA,
    count_entries,
    csrf_token,
    flask,
    references,
    serve,
    sign_in,
    throwaway_postgres,
    wrk,
)
from bench.status_load import ensure_wrk, stop_server

API_LUA = Path(__file__).resolve().parent / "api_post.lua"
READ_TARGET, POST_TARGET = 0.5, 1.0


def make_token(env: dict) -> str:
    out = flask(env, "tokens", "create", "admin@example.com", "--name", "bench", "--scope", "write", "--days", "1")
    return next(word for line in out.splitlines() for word in line.split() if word.startswith("dlt_"))


def measure(database_url: str | None, args) -> dict[str, list[dict]]:
    password = "api-bench-" + secrets.token_hex(6)
    with tempfile.TemporaryDirectory(prefix="api-bench-") as instance:
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": instance, "SECRET_KEY": secrets.token_hex(32),
               "DEMO_PASSWORD": password, "API_RATE_LIMIT": "100000000 per minute", "DEMO_LEDGER_SAMPLE": "0.01"}
        env.pop("DATABASE_URL", None)
        if database_url:
            env["DATABASE_URL"] = database_url
        flask(env, "db", "upgrade")
        flask(env, "demo", "load")
        token = make_token(env)
        db_url = database_url or f"sqlite:///{instance}/incidents.db"
        read_ref, post_ref = references(db_url)
        server, base = serve(env, args)
        try:
            return run_rounds(base, db_url, token, password, read_ref, post_ref, args)
        finally:
            stop_server(server)


def run_rounds(base, db_url, token, password, read_ref, post_ref, args) -> dict[str, list[dict]]:
    session = sign_in(base, password)
    form_token = csrf_token(session.get(f"{base}/incidents/{post_ref}", timeout=10).text)
    cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)  # after the page: it may renew it
    bearer = {"Authorization": f"Bearer {token}"}
    api_read = f"{base}/api/v1/incidents/{read_ref}"
    for _ in range(20):  # warm up: pools, caches, the token's last-use write
        session.get(base + BARE, timeout=10)
        session.get(base + BARE + "-db", timeout=10)
        session.get(api_read, headers=bearer, timeout=10)
    form_path, api_path = f"/incidents/{post_ref}/timeline", f"/api/v1/incidents/{post_ref}/timeline"
    runs: dict[str, list[dict]] = {"bare": [], "bare_db": [], "api_read": [], "form_post": [], "api_post": []}
    before = count_entries(db_url, post_ref)
    loads = {
        "bare": lambda: wrk(base + BARE, args),
        "bare_db": lambda: wrk(base + BARE + "-db", args),
        "api_read": lambda: wrk(api_read, args, headers=bearer),
        "form_post": lambda: wrk(base + form_path, args, script=LUA, env={
            "BENCH_PATH": form_path, "BENCH_COOKIE": cookie, "BENCH_CSRF": quote(form_token, safe="")}),
        "api_post": lambda: wrk(base + api_path, args, script=API_LUA,
                                env={"BENCH_PATH": api_path, "BENCH_TOKEN": token}),
    }
    # The reads are measured first, on a database no write load has touched (after 20 s of posts,
    # PostgreSQL's autovacuum and checkpoints slow whatever runs next). Each round runs its phase
    # there and back (A B C C B A): on this shared machine a run's position in a round moved its
    # rate by up to 2x, and a palindrome gives every side the same positions.
    for phase in (("bare", "bare_db", "api_read"), ("form_post", "api_post")):
        for _ in range(args.rounds):
            for name in (*phase, *phase[::-1]):
                runs[name].append(loads[name]())
    runs["written"] = count_entries(db_url, post_ref) - before  # type: ignore[assignment]
    session.close()
    return runs


def round_ratios(runs: dict, side: str, baseline: str) -> list[float]:
    """Per round, the side's requests over the baseline's (each ran twice in the round)."""
    def per_round(name: str) -> list[float]:
        rates = [run["rps"] for run in runs[name]]
        return [rates[n] + rates[n + 1] for n in range(0, len(rates), 2)]
    return [a / b for a, b in zip(per_round(side), per_round(baseline), strict=True)]


def report(backend: str, runs: dict) -> list[str]:
    """Print the backend's table; return what missed its target or failed."""
    read_ratio = statistics.median(round_ratios(runs, "api_read", "bare"))
    post_ratio = statistics.median(round_ratios(runs, "api_post", "form_post"))
    db_ratio = statistics.median(round_ratios(runs, "bare_db", "bare"))
    read_vs_db = statistics.median(round_ratios(runs, "api_read", "bare_db"))
    best = {name: best_run(runs[name]) for name in ("bare", "bare_db", "api_read", "form_post", "api_post")}
    labels = {"bare": "bare Flask route", "bare_db": "bare route + SELECT 1", "api_read": "GET /api/v1/incidents/<ref>",
              "form_post": "quick-post form (timeline.post)", "api_post": "POST /api/v1/incidents/<ref>/timeline"}
    for name, run in best.items():
        print(f"| {backend} | {labels[name]} | {run['rps']:.0f} | {run['p50']:.1f} | {run['p99']:.1f} | "
              f"{run['errors']} |")
    print(f"{backend}: API read vs bare route {read_ratio:.2f}x (target {READ_TARGET}x); API post vs form post "
          f"{post_ratio:.2f}x (target {POST_TARGET}x); median of {len(runs['bare']) // 2} rounds")
    for name, side, baseline in (("read", "api_read", "bare"), ("post", "api_post", "form_post")):
        ratios = ", ".join(f"{ratio:.2f}" for ratio in round_ratios(runs, side, baseline))
        print(f"{backend}: API {name} ratio per round: {ratios}")
    print(f"{backend}: bare route + SELECT 1 vs bare route {db_ratio:.2f}x; API read vs bare route + SELECT 1 "
          f"{read_vs_db:.2f}x (no target: the database's share and the API's own)")
    answered = sum(run["requests"] for name in ("form_post", "api_post") for run in runs[name])
    print(f"{backend}: {answered} posts answered, {runs['written']} entries written")
    problems = [f"{backend}: {labels[name]} had {run['errors']} errors" for name, run in best.items() if run["errors"]]
    if runs["written"] < answered:
        problems.append(f"{backend}: {answered - runs['written']} answered posts were not stored")
    if read_ratio < READ_TARGET:
        problems.append(f"{backend}: API read {read_ratio:.2f}x < {READ_TARGET}x")
    if post_ratio < POST_TARGET:
        problems.append(f"{backend}: API post {post_ratio:.2f}x < {POST_TARGET}x")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10, help="seconds of load per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds (default 3)")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2, as make run)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker (default 4)")
    parser.add_argument("--backends", default="sqlite,postgresql", help="comma-separated (default both)")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG))
    args = parser.parse_args(argv)
    if not ensure_wrk():
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    print(f"gunicorn {args.workers} workers x {args.threads} threads; wrk {args.connections} connections, "
          f"{args.seconds} s per run, {args.rounds} rounds")
    print("| database | request | best req/s | p50 ms | p99 ms | errors |\n| --- | --- | --- | --- | --- | --- |")
    problems = []
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        if backend == "sqlite":
            problems += report(backend, measure(None, args))
        elif backend == "postgresql":
            try:
                with throwaway_postgres(args.postgres_url) as url:
                    problems += report(backend, measure(url, args))
            except sa.exc.OperationalError as error:
                print(f"PostgreSQL not measured: {str(error).splitlines()[0]}")
        else:
            raise SystemExit(f"unknown backend {backend!r}")
    for problem in problems:
        print("MISSED: " + problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
