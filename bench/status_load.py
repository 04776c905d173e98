"""Load on the public status site: `python -m bench.status_load`.

Starts gunicorn on a free loopback port (1 worker, gthread, 4 threads by default) serving
bench.status_app:app on a throw-away SQLite instance with the demo loaded, then puts each URL under
the same load in turn (wrk, or a threaded Python client when wrk is missing) and prints requests per
second, p50/p99 latency and errors, each as a ratio against /bench/bare, a route that returns a
fixed small JSON body from the same app and server in the same run. Every URL is measured in
several rounds (`--rounds`, 5), each time right after a run of the bare route, and the median of
those paired ratios is reported, so a neighbour's burst during one run does not decide a figure. Requests say
`Accept-Encoding: gzip, deflate`, as browsers and feed readers do. Target: the public endpoints at
0.8x the bare route or better. Loopback only; the server is stopped when the run ends.

`--components 50 --groups 8` first adds that many showcased components in that many groups, each
with 90 days of status history (an outage every ten days or so), as issue #16 asks the page to be
measured, and prints what the page's first (uncached) render costs with them.
"""
from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BARE = "/bench/bare"
TARGETS = [BARE, "/status/", "/status/api/v2/summary.json", "/status/history.atom"]
TARGET_RATIO = 0.8
# What browsers and feed readers send: the public site answers them gzipped (status/http.py).
ACCEPT_ENCODING = "gzip, deflate"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def flask(env: dict, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "flask", "--app", "bench.status_app", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"flask {' '.join(args)} failed:\n{done.stdout}{done.stderr}")


def fetch(port: int, path: str) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def stop_server(server: subprocess.Popen) -> None:
    """Stop a server started in its own process group: politely, then for sure after 15 s."""
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wait_ready(port: int, server: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if fetch(port, BARE)[0] == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


def run_wrk(url: str, *, duration: int, connections: int, threads: int) -> dict:
    out = subprocess.run(["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency",
                          "-H", f"Accept-Encoding: {ACCEPT_ENCODING}", url],
                         capture_output=True, text=True, timeout=duration + 30, check=True).stdout

    def latency(label: str) -> float:
        match = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not match:
            return float("nan")
        return float(match.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[match.group(2)]

    errors = 0
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", out):
        errors += int(match.group(1))
    if match := re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out):
        errors += sum(int(n) for n in match.groups())
    return {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "p50": latency("50"), "p99": latency("99"), "errors": errors}


def run_python(url: str, *, duration: int, connections: int, threads: int) -> dict:
    """A keep-alive client per connection, one thread each (a stand-in for wrk: slower, so its
    figures are only comparable with each other)."""
    host, port_path = url.split("//", 1)[1].split(":", 1)
    port, path = port_path.split("/", 1)
    stop = time.monotonic() + duration
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()

    def worker():
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        mine, bad = [], 0
        while time.monotonic() < stop:
            start = time.perf_counter()
            try:
                conn.request("GET", "/" + path, headers={"Accept-Encoding": ACCEPT_ENCODING})
                response = conn.getresponse()
                response.read()
                if response.status >= 400:
                    bad += 1
            except OSError:
                bad += 1
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                continue
            mine.append((time.perf_counter() - start) * 1000)
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    started = time.monotonic()
    workers = [threading.Thread(target=worker) for _ in range(connections)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    elapsed = time.monotonic() - started
    latencies.sort()

    def pick(q: float) -> float:
        """The q-quantile of the sorted latencies (NaN when nothing answered)."""
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] if latencies else float("nan")

    return {"rps": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99), "errors": errors[0]}


def seed_components(instance: str, count: int, groups: int) -> float:
    """Add `count` showcased components in `groups` groups, each with 90 days of status history (an
    outage of one to three hours about every ten days), then time the page's first render (ms)."""
    import random
    from datetime import timedelta

    from sqlalchemy import insert

    from incidents import create_app
    from incidents.db import clock_at, utcnow
    from incidents.extensions import db
    from incidents.status import service
    from incidents.status.models import ComponentStatusChange

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance}/incidents.db", "INSTANCE_PATH": instance,
                      "SECRET_KEY": "status-bench"})
    rng, now = random.Random(16), utcnow()
    with app.app_context():
        with clock_at(now - timedelta(days=91)):
            made = [service.create_component(session=db.session, name=f"Service {n:02d}", position=n,
                                             group_name=f"Region {n % groups + 1}") for n in range(count)]
        rows = []
        for component in made:
            at = now - timedelta(days=90)
            while True:
                at += timedelta(days=rng.uniform(6, 14))
                if at >= now - timedelta(hours=4):
                    break
                rows.append({"component_id": component.id, "changed_at": at,
                             "status": rng.choice(["partial_outage", "major_outage", "degraded_performance"])})
                rows.append({"component_id": component.id, "status": "operational",
                             "changed_at": at + timedelta(hours=rng.uniform(1, 3))})
        db.session.execute(insert(ComponentStatusChange.__table__), rows)
        db.session.commit()
        started = time.perf_counter()
        assert app.test_client().get("/status/").status_code == 200
        return (time.perf_counter() - started) * 1000


def ensure_wrk() -> bool:
    if shutil.which("wrk"):
        return True
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "wrk"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=300)
    return shutil.which("wrk") is not None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=5, help="seconds per run (default 5)")
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of every URL (default 5), each measured right after the bare route: "
                             "each ratio is the median of the rounds', so a noisy neighbour during one "
                             "run does not decide it")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="gunicorn workers (default 1)")
    parser.add_argument("--threads", type=int, default=4, help="gthread threads per worker")
    parser.add_argument("--python-client", action="store_true", help="use the Python client, not wrk")
    parser.add_argument("--components", type=int, default=0, help="add this many components with 90 days of history")
    parser.add_argument("--groups", type=int, default=8, help="in this many groups (with --components)")
    args = parser.parse_args(argv)

    use_wrk = not args.python_client and ensure_wrk()
    load = run_wrk if use_wrk else run_python
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="status-bench-") as instance:
        env = {**os.environ, "INCIDENTS_INSTANCE_PATH": instance, "SECRET_KEY": "status-bench",
               "DEMO_PASSWORD": os.environ.get("DEMO_PASSWORD", "status-bench-password")}
        env.pop("DATABASE_URL", None)
        flask(env, "db", "upgrade")
        flask(env, "demo", "load")
        if args.components:
            first_render = seed_components(instance, args.components, args.groups)
            print(f"{args.components} showcased components in {args.groups} groups, 90 days of history each; "
                  f"the page's first render (uncached, in-process): {first_render:.1f} ms")
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", str(args.workers),
             "-k", "gthread", "--threads", str(args.threads), "--log-level", "warning",
             "bench.status_app:app"], cwd=ROOT, env=env, start_new_session=True)
        try:
            wait_ready(port, server)
            print(f"gunicorn {args.workers} worker(s) x {args.threads} gthread threads on 127.0.0.1:{port}; "
                  f"{'wrk' if use_wrk else 'Python client'}, {args.connections} connections, "
                  f"{args.duration} s per run")
            pairs = measure_pairs(load, port, rounds=args.rounds, duration=args.duration,
                                  connections=args.connections)
        finally:
            stop_server(server)

    return report(pairs)


def measure_pairs(load, port: int, *, rounds: int, duration: int, connections: int) -> dict[str, list[tuple]]:
    """Each URL's (bare, url) measurements, taken back to back `rounds` times.

    The bare route is measured right before each URL, so every ratio compares two runs a few
    seconds apart: on a shared machine the speed drifts by a quarter within a minute, which
    decided the figure when one bare run per round served every URL."""
    pairs: dict[str, list[tuple]] = {}
    for round_number in range(1, rounds + 1):
        for path in TARGETS[1:]:
            status, _ = fetch(port, path)
            if status != 200:
                print(f"{path:32} not available (HTTP {status}); skipped")
                continue
            for _ in range(20):  # warm the render cache and the connection pool
                fetch(port, path)
            bare = load(f"http://127.0.0.1:{port}{BARE}", duration=duration, connections=connections, threads=2)
            measured = load(f"http://127.0.0.1:{port}{path}", duration=duration, connections=connections, threads=2)
            pairs.setdefault(path, []).append((bare, measured))
            print(f"round {round_number}: {path} {measured['rps']:.0f}/s, bare just before {bare['rps']:.0f}/s "
                  f"({measured['rps'] / bare['rps']:.2f}x)", flush=True)
    return pairs


def report(pairs: dict[str, list[tuple]]) -> int:
    print(f"{'URL':32} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'vs bare':>8}  "
          "(medians over the rounds; each round's ratio)")
    verdicts = []
    bares = sorted((bare for runs in pairs.values() for bare, _ in runs), key=lambda r: r["rps"])
    if bares:
        middle = bares[len(bares) // 2]
        print(f"{BARE:32} {middle['rps']:9.0f} {middle['p50']:8.2f} {middle['p99']:8.2f} "
              f"{sum(b['errors'] for b in bares):7d} {1:7.2f}x")
    for path, runs in pairs.items():
        ratios = sorted(measured["rps"] / bare["rps"] for bare, measured in runs)
        ratio = ratios[len(ratios) // 2]
        middle = sorted((measured for _, measured in runs), key=lambda r: r["rps"])[len(runs) // 2]
        errors = sum(measured["errors"] for _, measured in runs)
        print(f"{path:32} {middle['rps']:9.0f} {middle['p50']:8.2f} {middle['p99']:8.2f} {errors:7d} "
              f"{ratio:7.2f}x  ({', '.join(f'{x:.2f}' for x in ratios)})")
        verdicts.append(ratio >= TARGET_RATIO and errors == 0)
    print(f"target: >= {TARGET_RATIO}x the bare route -> {'met' if verdicts and all(verdicts) else 'NOT met'}")
    if len(pairs) < len(TARGETS) - 1:
        print("(some URLs were not measured; see above)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
