"""Live updates under load: `python -m bench.live [--seconds 6] [--rounds 5] [--watchers 200]`.

Serves the demo on SQLite with gunicorn as `make run` does (2 gthread workers x 4 threads) and
measures, beside the bare route (`/bench/bare`, in the benchmark's WSGI module only):

- the live endpoint `/incidents/<ref>/live` asked with the token the page holds, and the page itself
  asked with its ETag (nothing changed: 304), under wrk: their rates as ratios of the bare route's
  (target >= 0.8x), the best of ROUNDS rounds that take the three URLs in turn;
- the incident page's own latency (median and p95 of sequential requests, signed in) with no
  watchers, then while WATCHERS open pages poll the live endpoint every LIVE_POLL_SECONDS (5 s, as
  live.js does), and while they poll every second: the ratio to no watchers (target within 2x).

The machines are shared and noisy: compare the ratios, measured in the same run.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from bench.load import BARE, ROOT, flask, references, sign_in, wait_ready, wrk
from bench.status_load import ensure_wrk, free_port

COUNT = Path(__file__).resolve().parent / "conditional.lua"  # counts answers by status


def best_run(runs: list[dict]) -> dict:
    """The run of highest rate, with the answers of every run counted (errors and statuses)."""
    chosen = dict(max(runs, key=lambda run: run["rps"]))
    chosen["errors"] = sum(run["errors"] for run in runs)
    statuses: dict[int, int] = {}
    for run in runs:
        for code, n in run["statuses"].items():
            statuses[code] = statuses.get(code, 0) + n
    chosen["statuses"] = statuses
    return chosen


def page_latency(session: requests.Session, url: str, count: int) -> dict:
    """Median and p95 of `count` sequential page loads, in ms."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        answer = session.get(url, timeout=30)
        times.append((time.perf_counter() - start) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"page answered {answer.status_code}")
    times.sort()
    return {"p50": statistics.median(times), "p95": times[int(len(times) * 0.95) - 1]}


class Watchers:
    """N open pages polling the live endpoint with the token they hold, as live.js does."""

    def __init__(self, count: int, url: str, cookies, token: str, every: float):
        self.count, self.url, self.cookies, self.token, self.every = count, url, cookies, token, every
        self.stop = threading.Event()
        self.answers: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._watch, args=(i,), daemon=True) for i in range(count)]

    def _watch(self, index: int) -> None:
        session = requests.Session()
        session.cookies.update(self.cookies)
        # Spread the first polls over one interval, as pages opened at different moments would be.
        if self.stop.wait(self.every * index / self.count):
            return
        while not self.stop.is_set():
            try:
                code = session.get(self.url, headers={"If-None-Match": f'"{self.token}"'}, timeout=30).status_code
            except requests.RequestException:
                code = 0
            with self.lock:
                self.answers[code] = self.answers.get(code, 0) + 1
            self.stop.wait(self.every)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        time.sleep(self.every)  # every watcher is polling before the page is measured
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=35)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=6, help="seconds of wrk load per URL and round (default 6)")
    parser.add_argument("--rounds", type=int, default=5, help="rounds of the three URLs; the best is shown")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--watchers", type=int, default=200)
    parser.add_argument("--pages", type=int, default=60, help="sequential page loads per condition")
    args = parser.parse_args(argv)
    if not ensure_wrk():
        raise SystemExit("wrk is needed: apt-get install -y wrk")
    password = "live-bench-" + secrets.token_hex(6)
    with tempfile.TemporaryDirectory(prefix="live-bench-") as instance:
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": instance, "SECRET_KEY": secrets.token_hex(32),
               "DEMO_PASSWORD": password}
        env.pop("DATABASE_URL", None)
        flask(env, "db", "upgrade")
        flask(env, "demo", "load")
        page_ref, _other = references(f"sqlite:///{instance}/incidents.db")
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "2", "-k", "gthread",
             "--threads", "4", "--log-level", "warning", "bench.status_app:app"],
            cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_ready(base, server)
            session = sign_in(base, password)
            page_url, live_url = f"{base}/incidents/{page_ref}", f"{base}/incidents/{page_ref}/live"
            token = session.get(live_url, timeout=10).json()["version"]
            for _ in range(20):  # warm up
                session.get(page_url, timeout=10)
            # After the page's first view, whose session cookie holds its CSRF secret (part of the ETag).
            cookie = "; ".join(f"{c.name}={c.value}" for c in session.cookies)

            def page_etag() -> str:
                # The page's ETag changes each minute (it shows relative times): a run starts with
                # enough of the minute left that it asks with the current one throughout.
                left = 60 - time.time() % 60
                if left < args.seconds + 3:
                    time.sleep(left + 0.5)
                return session.get(page_url, timeout=10).headers["ETag"]

            # Rounds, each URL in turn, and the best round of each (as timeit takes the fastest): wrk
            # opens its 32 connections at once, and now and then one gunicorn worker accepts nearly
            # all of them while the other idles, which cuts the rate of any URL, the bare route's
            # too, to a third. Such a round measures the accept race, not the endpoint.
            runs: dict[str, list[dict]] = {"bare": [], "live": [], "page": []}
            for _ in range(args.rounds):
                runs["bare"].append(wrk(base + BARE, args))
                runs["live"].append(wrk(live_url, args, headers={"Cookie": cookie, "If-None-Match": f'"{token}"'},
                                        script=COUNT))
                runs["page"].append(wrk(page_url, args, headers={"Cookie": cookie, "If-None-Match": page_etag()},
                                        script=COUNT))
            bare, live, page304 = (best_run(runs[name]) for name in ("bare", "live", "page"))
            quiet = page_latency(session, page_url, args.pages)
            with Watchers(args.watchers, live_url, session.cookies, token, every=5.0) as usual:
                watched = page_latency(session, page_url, args.pages)
            with Watchers(args.watchers, live_url, session.cookies, token, every=1.0) as eager:
                hurried = page_latency(session, page_url, args.pages)
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=15)
    print(f"gunicorn 2 workers x 4 gthread threads, SQLite, demo incident {page_ref}; wrk {args.connections} "
          f"connections, {args.seconds} s")
    print()
    print("| request | req/s | p50 ms | errors | vs bare |")
    print("| --- | --- | --- | --- | --- |")
    print(f"| bare Flask route | {bare['rps']:.0f} | {bare['p50']:.1f} | {bare['errors']} | 1.00x |")
    print(f"| live endpoint, nothing changed (304) | {live['rps']:.0f} | {live['p50']:.1f} | {live['errors']} | "
          f"{live['rps'] / bare['rps']:.2f}x |")
    print(f"| incident page, conditional GET, nothing changed (304) | {page304['rps']:.0f} | {page304['p50']:.1f} | "
          f"{page304['errors']} | {page304['rps'] / bare['rps']:.2f}x |")
    print()
    print("| incident page, sequential | p50 ms | p95 ms | p50 vs no watchers |")
    print("| --- | --- | --- | --- |")
    print(f"| no watchers | {quiet['p50']:.1f} | {quiet['p95']:.1f} | 1.00x |")
    print(f"| {args.watchers} watchers polling every 5 s | {watched['p50']:.1f} | {watched['p95']:.1f} | "
          f"{watched['p50'] / quiet['p50']:.2f}x |")
    print(f"| {args.watchers} watchers polling every 1 s | {hurried['p50']:.1f} | {hurried['p95']:.1f} | "
          f"{hurried['p50'] / quiet['p50']:.2f}x |")
    answers = {**usual.answers}
    for code, n in eager.answers.items():
        answers[code] = answers.get(code, 0) + n
    for name, run in (("live endpoint", live), ("page", page304)):
        print(f"{name} under wrk answered: {run['statuses']} (every one should be 304)")
    print(f"watchers' answers: {dict(sorted(answers.items()))} (304: nothing changed)")
    not_304 = [n for run in (live, page304) for code, n in run["statuses"].items() if code != 304]
    not_304 += [n for code, n in answers.items() if code != 304]
    bad = live["errors"] + page304["errors"] + sum(not_304)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
