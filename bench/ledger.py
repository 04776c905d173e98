"""The affected-customer ledger at scale (issue #14): `python -m bench.ledger`.

Generates an affected-customer CSV of `--rows` rows (1,000,000 by default) and, on each backend
(`--backend sqlite|postgresql|both`), on a throw-away database, measures:

1. Import speed: `flask --app app ledger import REF FILE.csv` in a child process, in rows per
   second over the whole process (upload into the database, checking, staging, applying, figures),
   beside a raw load of the same file in the same run, measured just before and just after the
   import (their mean is the baseline): on SQLite an `executemany` of the parsed rows into a plain
   table in one transaction, on PostgreSQL a `COPY` of the file into a plain table. Target: the
   import at 0.5x the raw load or better.
2. The support look-up at that size: `GET /customers?customer=ID&format=json`, signed in, through
   Flask's test client in this process, interleaved with `/healthz` (`--lookups` pairs, random
   customers of the big import). Target: look-up p50 within 2x of /healthz p50.
3. Memory: the import's peak RSS (the child's own VmHWM, written as it exits), for the big file
   and then for a `--memory-rows` one (200,000) into a second incident: it should stay flat, and at
   most 300 MB, whatever the file size.
4. Export of the whole ledger as CSV (`GET /incidents/REF/ledger/customers.csv`, streamed through
   the test client and read to the end): rows per second beside a raw dump in the same run (one
   SELECT of the customers' columns through the driver, `fetchmany` into `csv.writer`, measured
   before and after), and this process's peak RSS while it streams. No target is checked: none was
   set for the export when this bench was written, so only the figures are printed.

An import that has not ended after `--import-timeout` seconds (900) is stopped and reported as
such. (Before the duplicate check became one window-function pass with the staging table analysed
first, a second import on PostgreSQL was planned from the statistics of the emptied staging table,
and its self-join ran for hours.)

SQLite runs in a temp folder. PostgreSQL needs the server `tests/setup_postgres.sh` prepares; a
database of its own (`incidents_bench_ledger_<pid>`) is created through that role next to the one
`--postgres-url` names (TEST_DATABASE_URL or the tests' default) and dropped at the end. Loopback
only; a million rows take a few minutes per backend on a 2-core machine.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import io
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from flask_migrate import upgrade

from incidents import create_app
from incidents.auth.models import Role
from incidents.auth.service import create_user
from incidents.extensions import db
from incidents.incident.enums import DATA_CATEGORIES, Severity
from incidents.incident.service import declare_incident

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PG_URL = "postgresql+psycopg://incidents_test:incidents_test@127.0.0.1:5432/incidents_test"
PASSWORD = "benchmark-password"
EMAIL = "bench@example.com"
IMPORT_TARGET = 0.5  # x the raw load's rows per second
MEMORY_LIMIT_MB = 300
LOOKUP_TARGET = 2.0  # x /healthz p50
HEADER = ["customer_id", "data_categories", "country", "region", "channel", "records"]
# Where customers live: valid ISO 3166-2 pairs, some countries without a region.
SITES = [("US", "CA"), ("US", "NY"), ("US", "TX"), ("US", "WA"), ("DE", "BY"), ("DE", "BE"), ("DE", ""),
         ("GB", ""), ("FR", ""), ("CA", "ON"), ("CA", "QC"), ("AU", "NSW"), ("BR", "SP"), ("JP", "13"),
         ("IN", "MH"), ("NL", ""), ("ES", "")]
CHANNELS = ["email", "email", "email", "letter", "in_app"]
RAW_TABLE = "bench_raw_ledger"
# The import runs as `python -m flask ...` under this wrapper, which writes the process's own peak
# RSS (VmHWM) to the file named by BENCH_PEAK_FILE as it exits. wait4's ru_maxrss would not do: it
# also counts the bench process's own RSS, which the child carries from the fork until its exec.
CHILD = """
import atexit, os, runpy, sys
def peak():
    with open("/proc/self/status") as status, open(os.environ["BENCH_PEAK_FILE"], "w") as out:
        out.write(next(line for line in status if line.startswith("VmHWM:")).split()[1])
atexit.register(peak)
sys.argv[0] = "flask"
runpy.run_module("flask", run_name="__main__", alter_sys=True)
"""


@dataclass
class ImportRun:
    rows: int
    seconds: float
    peak_mb: float
    message: str  # what the CLI printed, or why it did not end
    finished: bool = True

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def run_seconds(self) -> float:
        """The CLI's own count: checking, staging and applying, without start-up and the upload."""
        match = re.search(r"rows in ([\d.]+) s\)", self.message)
        return float(match.group(1)) if match else float("nan")


@dataclass
class Export:
    rows: int
    seconds: float
    raw_seconds: list[float]
    peak_mb: float  # this process's peak RSS while the export streamed
    before_mb: float  # ... and its RSS just before


@dataclass
class Results:
    backend: str
    raw_seconds: list[float] = field(default_factory=list)
    imports: list[ImportRun] = field(default_factory=list)  # the big file's first
    health_ms: list[float] = field(default_factory=list)
    lookup_ms: list[float] = field(default_factory=list)
    export: Export | None = None


# --- The file ----------------------------------------------------------------------------------

def write_csv(path: Path, rows: int, *, prefix: str = "C", seed: int = 14) -> None:
    """An affected-customer CSV of `rows` good rows with distinct customer ids (deterministic)."""
    rng = random.Random(seed)
    categories = list(DATA_CATEGORIES)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            country, region = rng.choice(SITES)
            records = "" if n % 50 == 0 else str(rng.randint(1, 5000))
            writer.writerow([customer_id(n, prefix), ";".join(rng.sample(categories, rng.randint(1, 3))),
                             country, region, rng.choice(CHANNELS), records])


def customer_id(n: int, prefix: str = "C") -> str:
    return f"{prefix}-{n:07d}"


# --- Throw-away databases ----------------------------------------------------------------------

@contextlib.contextmanager
def sqlite_database(folder: Path) -> Iterator[str]:
    yield f"sqlite:///{folder / 'bench.db'}"


@contextlib.contextmanager
def postgres_database(server_url: str, label: str = "ledger") -> Iterator[str]:
    """A new, empty database beside `server_url`'s, created by the same role and dropped after
    (one left by a killed run of the same bench and process id is dropped first)."""
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"incidents_bench_{label}_{os.getpid()}"
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        yield sa.engine.make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _drop_database(admin, name)
        admin.dispose()


def _drop_database(admin, name: str) -> None:
    """Drop the bench's database. A plain DROP makes autovacuum leave (FORCE may not stop its
    workers without superuser rights); FORCE then ends sessions of ours left behind."""
    for attempt in range(4):
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"' + (" WITH (FORCE)" if attempt == 3 else ""))
            return
        except sa.exc.DBAPIError:
            time.sleep(2)
    print(f"could not drop the bench database {name}; drop it by hand", file=sys.stderr)


def unreachable(server_url: str) -> str | None:
    """Why the PostgreSQL server cannot be used, or None."""
    engine = sa.create_engine(server_url)
    try:
        with engine.connect():
            return None
    except sa.exc.OperationalError as error:
        return f"PostgreSQL is not reachable ({str(error.orig).strip()})"
    finally:
        engine.dispose()


def make_app(folder: Path, database_url: str):
    return create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": str(folder / "instance"),
                       "SECRET_KEY": "bench", "WTF_CSRF_ENABLED": False, "RATELIMIT_ENABLED": False})


def prepare(app, incidents: int) -> list[str]:
    """Migrate, then create a responder and `incidents` incidents through the services; their references."""
    with app.app_context():
        upgrade()
        user = create_user(session=db.session, email=EMAIL, password=PASSWORD, role=Role.responder, name="Bench")
        references = [declare_incident(session=db.session, actor=user, severity=Severity.SEV1,
                                       title=f"Ledger bench {n}", data_categories=["contacts", "photos"]).reference
                      for n in range(incidents)]
        db.session.commit()
    return references


# --- 1 and 3. Raw load, and the import's speed and memory ---------------------------------------

def raw_load(app, path: Path) -> float:
    """Seconds to load `path` into a plain table the fastest plain way (see the module docstring)."""
    with app.app_context():
        engine = db.engine
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        loader = _copy_file if engine.dialect.name == "postgresql" else _executemany_rows
        conn.cursor().execute(f"DROP TABLE IF EXISTS {RAW_TABLE}")
        conn.cursor().execute(f"CREATE TABLE {RAW_TABLE} (customer_id TEXT, data_categories TEXT, country TEXT, "
                              "region TEXT, channel TEXT, records BIGINT)")
        conn.commit()
        started = time.perf_counter()
        loader(conn, path)
        elapsed = time.perf_counter() - started
        conn.cursor().execute(f"DROP TABLE {RAW_TABLE}")
        conn.commit()
        return elapsed
    finally:
        raw.close()


def _executemany_rows(conn, path: Path) -> None:
    """SQLite: the parsed rows (records as a number) in one executemany, in one transaction."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader)
        rows = ((c, d, k, r or None, ch, int(n) if n else None) for c, d, k, r, ch, n in reader)
        cursor = conn.cursor()
        cursor.execute("BEGIN")  # the app's connections leave transactions to their caller
        cursor.executemany(f"INSERT INTO {RAW_TABLE} VALUES (?, ?, ?, ?, ?, ?)", rows)
        cursor.execute("COMMIT")


def _copy_file(conn, path: Path) -> None:
    """PostgreSQL: the file itself through COPY, in one transaction."""
    with (conn.cursor() as cursor, path.open("rb") as handle,
          cursor.copy(f"COPY {RAW_TABLE} FROM STDIN (FORMAT csv, HEADER true)") as copy):
        while chunk := handle.read(1 << 20):
            copy.write(chunk)
    conn.commit()


def run_import(folder: Path, database_url: str, reference: str, path: Path, rows: int, timeout: float) -> ImportRun:
    """The CLI import in a child process: its wall time and its own peak RSS (stopped after `timeout` s)."""
    log = folder / f"import-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "INCIDENTS_INSTANCE_PATH": str(folder / "instance"), "DATABASE_URL": database_url,
           "SECRET_KEY": "bench", "BENCH_PEAK_FILE": f"{log}.peak"}
    with open(f"{log}.out", "w") as out, open(f"{log}.err", "w") as err:  # progress lines: a file, not a pipe
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-c", CHILD, "--app", "app", "ledger", "import", reference,
                                  str(path)], cwd=ROOT, env=env, stdout=out, stderr=err)
        stopped = _wait(child, timeout)
        elapsed = time.perf_counter() - started
    message = Path(f"{log}.out").read_text().strip()
    if stopped:
        lines = Path(f"{log}.err").read_text().splitlines() or [""]  # read_text turns "\r" into a line end
        message = f"did not end within {timeout:.0f} s; stopped. Last progress: {lines[-1].strip()[:200]}"
    elif child.returncode:
        tail = Path(f"{log}.err").read_text()[-2000:]
        raise SystemExit(f"the import of {path.name} failed ({child.returncode}):\n{message}\n{tail}")
    peak = Path(f"{log}.peak")
    return ImportRun(rows=rows, seconds=elapsed, message=message, finished=not stopped,
                     peak_mb=int(peak.read_text()) / 1024 if peak.exists() else float("nan"))


def _wait(child: subprocess.Popen, timeout: float) -> bool:
    """Wait for the child; True when it had to be stopped for taking longer than `timeout` s."""
    try:
        child.wait(timeout)
        return False
    except subprocess.TimeoutExpired:
        child.terminate()
    try:
        child.wait(10)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    return True


# --- 2. Look-up -------------------------------------------------------------------------------

def signed_in(app):
    """A test client signed in as the bench's responder."""
    client = app.test_client()
    response = client.post("/login", data={"email": EMAIL, "password": PASSWORD})
    assert response.status_code == 302, f"signing in failed: {response.status_code}"
    return client


def lookup_latencies(client, rows: int, pairs: int, results: Results) -> None:
    """`pairs` interleaved GETs of /healthz and of a random customer's look-up, in ms, into `results`."""
    rng = random.Random(1)
    for n in range(pairs + 10):  # the first ten warm templates, caches and connections
        ref = customer_id(rng.randint(1, rows))
        health = _timed_get(client, "/healthz")
        found = _timed_get(client, f"/customers?customer={ref}&format=json", expect=ref)
        if n >= 10:
            results.health_ms.append(health)
            results.lookup_ms.append(found)


def _timed_get(client, url: str, expect: str | None = None) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = (time.perf_counter() - started) * 1000
    assert response.status_code == 200, (url, response.status_code)
    if expect is not None:
        body = response.get_json()
        assert len(body["found"]) == 1 and body["found"][0]["customer_id"] == expect, body
    return elapsed


# --- 4. Export ---------------------------------------------------------------------------------

def measure_export(app, client, reference: str) -> Export:
    """The streamed CSV export read to the end, between two raw dumps of the same customers."""
    raw = [raw_dump(app, reference)]
    before = _rss_mb("VmRSS")
    _reset_peak_rss()
    started = time.perf_counter()
    response = client.get(f"/incidents/{reference}/ledger/customers.csv", buffered=False)
    assert response.status_code == 200, response.status_code
    lines = sum(chunk.count(b"\n") for chunk in response.iter_encoded())
    response.close()
    elapsed = time.perf_counter() - started
    peak = _rss_mb("VmHWM")
    raw.append(raw_dump(app, reference))
    return Export(rows=lines - 1, seconds=elapsed, raw_seconds=raw, peak_mb=peak, before_mb=before)


def raw_dump(app, reference: str) -> float:
    """Seconds to write the incident's customers as CSV from one plain SELECT (fetchmany, csv.writer)."""
    with app.app_context():
        engine = db.engine
        incident_id = db.session.scalar(sa.text("SELECT id FROM incident WHERE reference = :r"), {"r": reference})
        db.session.remove()
    raw = engine.raw_connection()
    try:
        postgres = engine.dialect.name == "postgresql"
        # PostgreSQL: a server-side cursor, so the rows stream as the export's do (not all in memory).
        cursor = raw.driver_connection.cursor(name="bench_dump") if postgres else raw.driver_connection.cursor()
        marker = "%s" if postgres else "?"
        started = time.perf_counter()
        cursor.execute("SELECT customer_ref, country, region, channel, records, outcome, notified_at "
                       f"FROM ledger_customer WHERE incident_id = {marker} ORDER BY id", (incident_id,))
        out = io.StringIO()
        writer = csv.writer(out)
        while rows := cursor.fetchmany(5000):
            writer.writerows(rows)
            out.seek(0)
            out.truncate()
        elapsed = time.perf_counter() - started
        raw.driver_connection.rollback()
        return elapsed
    finally:
        raw.close()


def _rss_mb(field_name: str) -> float:
    """VmRSS (now) or VmHWM (peak since the last reset) of this process, in MB (Linux)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field_name + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak_rss() -> None:
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM starts again from VmRSS


# --- One backend -------------------------------------------------------------------------------

def bench_backend(backend: str, database_url: str, folder: Path, files: dict[str, tuple[Path, int]], *,
                  lookups: int, timeout: float) -> Results:
    """Raw load, the big import, raw load again, the look-up, then the memory probe's import."""
    results = Results(backend)
    app = make_app(folder, database_url)
    big_ref, small_ref = prepare(app, 2)
    big, rows = files["big"]
    results.raw_seconds.append(raw_load(app, big))
    _progress(backend, f"raw load before: {results.raw_seconds[-1]:.1f} s")
    results.imports.append(run_import(folder, database_url, big_ref, big, rows, timeout))
    _progress(backend, f"import of {rows:,} rows: {results.imports[-1].seconds:.1f} s ({results.imports[-1].message})")
    results.raw_seconds.append(raw_load(app, big))
    _progress(backend, f"raw load after: {results.raw_seconds[-1]:.1f} s")
    if results.imports[0].finished:
        client = signed_in(app)
        lookup_latencies(client, rows, lookups, results)
        _progress(backend, f"look-up: {len(results.lookup_ms)} pairs")
        results.export = measure_export(app, client, big_ref)
        _progress(backend, f"export: {results.export.seconds:.1f} s")
    if "small" in files:
        small, small_rows = files["small"]
        results.imports.append(run_import(folder, database_url, small_ref, small, small_rows, timeout))
        _progress(backend, f"memory probe, {small_rows:,} rows: {results.imports[-1].message}")
    with app.app_context():
        db.engine.dispose()  # so the PostgreSQL database can be dropped
    return results


def _progress(backend: str, text: str) -> None:
    print(f"  [{backend}] {text}", file=sys.stderr, flush=True)


# --- Report ------------------------------------------------------------------------------------

def report(results: Results, rows: int) -> None:
    raw_rate = rows / statistics.mean(results.raw_seconds)
    raw_name = "COPY of the file" if results.backend == "postgresql" else "executemany of parsed rows"
    print(f"\n== {results.backend} ==")
    print(f"raw load ({raw_name}, plain table, one transaction): "
          f"{', '.join(f'{s:.2f} s' for s in results.raw_seconds)} (before, after the import) "
          f"-> {raw_rate:,.0f} rows/s")
    print(f"{'import (CLI, whole process)':30} {'rows':>10} {'seconds':>8} {'rows/s':>9} {'vs raw':>7} "
          f"{'peak RSS':>9} {'run() alone':>12}")
    for run in results.imports:
        if not run.finished:
            print(f"{'':30} {run.rows:10,} {run.seconds:8.1f}  NOT FINISHED: {run.message}")
            continue
        print(f"{'':30} {run.rows:10,} {run.seconds:8.1f} {run.rate:9,.0f} {run.rate / raw_rate:6.2f}x "
              f"{run.peak_mb:6.0f} MB {run.run_seconds:10.1f} s")
    print("('run() alone' is the CLI's own count: without the process start and the upload into the database)")
    _verdicts(results, rows, raw_rate)


def _verdicts(results: Results, rows: int, raw_rate: float) -> None:
    big = results.imports[0]
    ratio = big.rate / raw_rate if big.finished else 0.0
    print(f"import at {rows:,} rows: {ratio:.2f}x raw (target >= {IMPORT_TARGET}x) -> "
          f"{'met' if ratio >= IMPORT_TARGET else 'NOT met'}")
    done = [run for run in results.imports if run.finished]
    peaks = " / ".join(f"{r.peak_mb:.0f} MB for {r.rows:,} rows" for r in done) or "not measured"
    if len(done) < len(results.imports):
        verdict = "not shown (an import did not finish)"
    else:
        verdict = "met" if max(run.peak_mb for run in done) <= MEMORY_LIMIT_MB else "NOT met"
    print(f"peak RSS {peaks} (target <= {MEMORY_LIMIT_MB} MB, flat) -> {verdict}")
    if results.lookup_ms:
        health, found = statistics.median(results.health_ms), statistics.median(results.lookup_ms)
        p90 = statistics.quantiles(results.lookup_ms, n=10)[-1]
        print(f"look-up at {rows:,} rows, {len(results.lookup_ms)} pairs interleaved: /healthz p50 {health:.2f} ms, "
              f"/customers?format=json p50 {found:.2f} ms (p90 {p90:.2f} ms): {found / health:.2f}x "
              f"(target <= {LOOKUP_TARGET}x) -> {'met' if found / health <= LOOKUP_TARGET else 'NOT met'}")
    else:
        print("look-up: not measured (the big import did not finish)")
    _export_line(results.export)


def _export_line(export: Export | None) -> None:
    if export is None:
        print("export: not measured (the big import did not finish)")
        return
    rate, raw_rate = export.rows / export.seconds, export.rows / statistics.mean(export.raw_seconds)
    print(f"export of {export.rows:,} rows as streamed CSV: {export.seconds:.1f} s, {rate:,.0f} rows/s; raw dump "
          f"(one SELECT, csv.writer) {', '.join(f'{s:.2f} s' for s in export.raw_seconds)} -> {raw_rate:,.0f} rows/s: "
          f"{rate / raw_rate:.2f}x raw. This process's RSS {export.before_mb:.0f} MB before, peak "
          f"{export.peak_mb:.0f} MB while streaming (no target set)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows of the big file (1,000,000)")
    parser.add_argument("--memory-rows", type=int, default=200_000,
                        help="rows of the smaller file whose import's peak RSS is compared (0: skip)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--postgres-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_PG_URL),
                        help="a database on the server whose role may CREATE DATABASE (the tests' by default)")
    parser.add_argument("--lookups", type=int, default=300, help="interleaved /healthz + look-up pairs")
    parser.add_argument("--import-timeout", type=float, default=900, help="stop an import after this many s")
    args = parser.parse_args(argv)
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
        folder = Path(tmp)
        files = {"big": (folder / f"customers-{args.rows}.csv", args.rows)}
        if args.memory_rows:
            files["small"] = (folder / f"customers-{args.memory_rows}.csv", args.memory_rows)
        for path, rows in files.values():
            write_csv(path, rows, prefix="C" if path == files["big"][0] else "S")
        size = files["big"][0].stat().st_size
        print(f"ledger bench: {args.rows:,} rows ({size / 1e6:.0f} MB CSV), backends: {', '.join(backends)}")
        for backend in backends:
            home = folder / backend
            home.mkdir()
            if backend == "postgresql" and (problem := unreachable(args.postgres_url)):
                print(f"\n== {backend} ==\nnot measured: {problem} (run `bash tests/setup_postgres.sh` as root)")
                continue
            database = sqlite_database(home) if backend == "sqlite" else postgres_database(args.postgres_url)
            with database as url:
                report(bench_backend(backend, url, home, files, lookups=args.lookups, timeout=args.import_timeout),
                       args.rows)
    print(f"\nwall time: {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
