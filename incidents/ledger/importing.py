"""Importing an affected-customer CSV into an incident's ledger: all of it, or nothing.

An import runs in three steps, each safe to run again from the start (a job runs at least once):

1. `store_upload`: the file goes into the database in 1 MB chunks with its SHA-256, so a worker on
   any machine can read it, and again after a restart.
2. `stage`: the file is read as a stream and each row checked (csvformat); good rows go to
   `ledger_staging_row`, bad ones to `ledger_import_problem`, in short transactions of a few
   thousand rows, so the web keeps writing meanwhile. Memory stays flat whatever the file size.
   Customer ids given twice are found by the database, not by a set in memory.
3. `apply`: in one transaction, the staged rows are merged into the ledger (customers by id, new
   categories as affected), the figures rewritten and an impact snapshot taken; with the import's
   audit event and its state. A worker killed before the commit leaves the ledger as it was.
"""
from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from sqlalchemy import Connection, bindparam, delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from incidents.audit import recorder as audit
from incidents.auth.models import User
from incidents.db import UTCDateTime, db, utcnow
from incidents.errors import DomainError
from incidents.incident.models import Incident
from incidents.jobs.models import BackgroundJob, JobState
from incidents.ledger import csvformat, figures, statuses
from incidents.ledger.models import (
    LedgerCustomer,
    LedgerImport,
    LedgerImportProblem,
    LedgerStagingRow,
    LedgerUploadChunk,
)

CHUNK_BYTES = 1 << 20
STAGE_BATCH = 5_000
STAGED_COLUMNS = ("import_id", "line", "customer_ref", "categories", "country", "region", "channel", "records")
MODE_LABELS = {"all_or_nothing": "All or nothing: apply the file only if every row is good",
               "good_rows": "Apply every good row; report the bad ones"}


class ImportRefused(DomainError):
    """The upload cannot be taken at all (empty, too large); nothing was stored."""


# Reports how far an import is: bytes read, file size, and a sentence for people.
Report = Callable[[int, int, str], None]


def no_report(_done: int, _total: int, _message: str) -> None:
    return None


# --- 1. The upload ------------------------------------------------------------------------------

def store_upload(*, session: Session, actor: User | None, incident: Incident, stream: BinaryIO,
                 filename: str, mode: str, max_bytes: int, kind: str = "customers",
                 workstream_id: int | None = None) -> LedgerImport:
    """Keep the uploaded file in the database, with its size and SHA-256, as a queued import."""
    if mode not in MODE_LABELS:
        raise ImportRefused(f"Unknown import mode {mode!r}.")
    if kind not in csvformat.LAYOUTS:
        raise ImportRefused(f"Unknown kind of list {kind!r}.")
    record = LedgerImport(incident_id=incident.id, created_by=actor, filename=(filename or "upload.csv")[:255],
                          size=0, sha256="", mode=mode, state="queued", kind=kind,
                          workstream_id=workstream_id if kind == "restored" else None)
    session.add(record)
    session.flush()
    digest, size, seq = hashlib.sha256(), 0, 0
    while chunk := stream.read(CHUNK_BYTES):
        size += len(chunk)
        if size > max_bytes:
            raise ImportRefused(f"The file is larger than {max_bytes // (1 << 20):,} MB; split it and import "
                                "the parts one after another (imports merge by customer id).")
        digest.update(chunk)
        session.execute(insert(LedgerUploadChunk), [{"import_id": record.id, "seq": seq, "data": chunk}])
        seq += 1
    if size == 0:
        raise ImportRefused("The file is empty (0 bytes): choose the CSV file with the affected customers.")
    record.size, record.sha256 = size, digest.hexdigest()
    return record


class _StoredFile(io.RawIOBase):
    """An upload read back from its chunks, one chunk in memory at a time."""

    def __init__(self, import_id: int):
        self._import_id = import_id
        self._seq, self._buffer = 0, memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:
        if not self._buffer:
            # A connection of its own per chunk: on SQLite a worker's transaction holds the write
            # lock, which the staging writes between two reads need.
            with db.engine.connect() as conn:
                data = conn.scalar(select(LedgerUploadChunk.data).where(
                    LedgerUploadChunk.import_id == self._import_id, LedgerUploadChunk.seq == self._seq))
            if data is None:
                return 0
            self._seq += 1
            self._buffer = memoryview(data)
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


# --- 2. Staging ---------------------------------------------------------------------------------

@dataclass
class Staged:
    rows: int = 0  # records read (good and bad)
    good: int = 0
    bad: int = 0
    refused: str | None = None  # the file as a whole could not be read


def stage(*, import_id: int, size: int, kind: str = "customers", incident_id: int | None = None,
          report: Report = no_report) -> Staged:
    """Check every row of the import's file (`size` bytes) into the staging and problems tables."""
    engine = db.engine
    with engine.begin() as conn:  # an earlier run of this import may have left rows behind
        _clear_staging(conn, import_id)
        conn.execute(delete(LedgerImportProblem).where(LedgerImportProblem.import_id == import_id))
    staged, started = Staged(), time.monotonic()
    reader = csvformat.Reader(io.BufferedReader(_StoredFile(import_id), CHUNK_BYTES), kind)
    try:
        for good, bad in _batches(reader.rows()):
            with engine.begin() as conn:
                _write_staged(conn, import_id, good)
                if bad:
                    conn.execute(insert(LedgerImportProblem), [
                        {"import_id": import_id, "line": p.line, "customer_ref": p.customer_ref,
                         "reason": p.reason[:300]} for p in bad])
            staged.good += len(good)
            staged.bad += len(bad)
            staged.rows = staged.good + staged.bad
            report(reader.bytes_read, size, _reading_message(staged.rows, reader.bytes_read,
                                                                    size, started))
    except csvformat.FileRefused as refused:
        staged.refused = refused.message
        with engine.begin() as conn:
            _clear_staging(conn, import_id)
            conn.execute(delete(LedgerImportProblem).where(LedgerImportProblem.import_id == import_id))
            conn.execute(insert(LedgerImportProblem), [{"import_id": import_id, "line": refused.line,
                                                        "customer_ref": None, "reason": refused.message[:300]}])
        return staged
    staged.bad += _refuse_repeated_customers(import_id)
    if kind != "customers":
        with engine.begin() as conn:
            staged.bad += statuses.refuse_unknown_customers(conn, import_id=import_id, incident_id=incident_id)
    staged.good = staged.rows - staged.bad
    return staged


def _batches(rows: Iterator[csvformat.Row | csvformat.Problem]):
    good: list[csvformat.Row] = []
    bad: list[csvformat.Problem] = []
    for row in rows:
        (good if isinstance(row, csvformat.Row) else bad).append(row)
        if len(good) + len(bad) >= STAGE_BATCH:
            yield good, bad
            good, bad = [], []
    if good or bad:
        yield good, bad


_STAGE_INSERT = (f"INSERT INTO ledger_staging_row ({', '.join(STAGED_COLUMNS)}) "
                 f"VALUES ({', '.join('?' for _ in STAGED_COLUMNS)})")


def _write_staged(conn: Connection, import_id: int, rows: list[csvformat.Row]) -> None:
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        # COPY: the fastest way into PostgreSQL, and still inside this short transaction.
        cursor = conn.connection.driver_connection.cursor()
        with cursor.copy(f"COPY ledger_staging_row ({', '.join(STAGED_COLUMNS)}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row((import_id, r.line, r.customer_ref, r.categories, r.country, r.region, r.channel,
                                r.records))
        return
    # Plain tuples to the driver's executemany: SQLAlchemy's per-row parameter handling cost three
    # times the insert itself.
    conn.exec_driver_sql(_STAGE_INSERT, [(import_id, r.line, r.customer_ref, r.categories, r.country, r.region,
                                          r.channel, r.records) for r in rows])


# Each staged row with the first line its customer id is on: one pass, no self-join (a self-join
# planned from stale statistics of the staging table ran for hours on PostgreSQL).
_REPEATS = """
    SELECT id, line, customer_ref, first_line FROM (
        SELECT id, line, customer_ref, MIN(line) OVER (PARTITION BY customer_ref) AS first_line
        FROM ledger_staging_row WHERE import_id = :import) numbered
    WHERE line > first_line
"""
_REPEATS_AS_PROBLEMS = f"""
    INSERT INTO ledger_import_problem (import_id, line, customer_ref, reason)
    SELECT :import, line, customer_ref,
           'customer_id ' || '''' || customer_ref || '''' || ' is already on line ' || CAST(first_line AS VARCHAR(20))
    FROM ({_REPEATS}) repeats
"""


def _refuse_repeated_customers(import_id: int) -> int:
    """Rows naming a customer already named earlier in the file become problems; the first stays."""
    with db.engine.begin() as conn:
        _know_staging(conn)
        count = conn.execute(text(_REPEATS_AS_PROBLEMS), {"import": import_id}).rowcount
        if count:
            conn.execute(text(f"DELETE FROM ledger_staging_row WHERE id IN (SELECT id FROM ({_REPEATS}) repeats)"),
                         {"import": import_id})
    return count


def _know_staging(conn: Connection) -> None:
    """On PostgreSQL, tell the planner what the staging table holds now: it is emptied after every
    import, and statistics taken while it was empty make every join over it a nested loop."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ANALYZE ledger_staging_row")


DELETE_BATCH = 50_000


def _clear_staging(conn: Connection, import_id: int) -> None:
    _delete_in_batches(conn, LedgerStagingRow, import_id)


def _delete_in_batches(conn, model, import_id: int) -> None:
    """Delete an import's rows of `model` a batch at a time (in the caller's transaction): SQLite
    with foreign keys on holds every deleted row's id in memory until the statement ends."""
    while True:
        batch = select(model.id).where(model.import_id == import_id).limit(DELETE_BATCH).scalar_subquery()
        if not conn.execute(delete(model).where(model.id.in_(batch))
                            .execution_options(synchronize_session=False)).rowcount:
            return


def _reading_message(rows: int, done: int, total: int, started: float) -> str:
    elapsed = max(time.monotonic() - started, 1e-6)
    rate = rows / elapsed
    left = (total - done) / (done / elapsed) if done else None
    remaining = f", about {_duration(left)} left" if left is not None and done < total else ""
    return f"Checking rows: {rows:,} read, {rate:,.0f} rows/s{remaining}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


# --- 3. Applying --------------------------------------------------------------------------------

def apply(*, session: Session, record: LedgerImport, incident: Incident) -> int:
    """Merge the staged rows into the ledger, in the caller's transaction; returns customers new."""
    now = utcnow()
    params = {"incident": incident.id, "import": record.id, "now": now}
    session.execute(_merge_customers_sql().bindparams(_stamp()), params)
    session.execute(_merge_items_sql().bindparams(_stamp()), params)
    session.execute(text(_OUTCOMES_OF_IMPORT).bindparams(_stamp()), params)
    customers_new = session.scalar(select(func.count()).select_from(LedgerCustomer).where(
        LedgerCustomer.import_id == record.id, LedgerCustomer.created_at == now))
    _clear_upload(session, record.id)
    figures.recompute(session=session, incident_id=incident.id)
    return customers_new


def _clear_upload(session: Session, import_id: int) -> None:
    """The staged rows and the stored file go with the commit that applies them: they name customers."""
    _delete_in_batches(session, LedgerStagingRow, import_id)
    session.execute(delete(LedgerUploadChunk).where(LedgerUploadChunk.import_id == import_id))


def _stamp():
    # Stored as the ORM stores times (UTCDateTime: naive UTC on SQLite), so comparisons hold.
    return bindparam("now", type_=UTCDateTime())


def _merge_customers_sql():
    # One statement for a million rows; the WHERE keeps SQLite from reading ON CONFLICT as a join.
    return text("""
        INSERT INTO ledger_customer (incident_id, customer_ref, country, region, channel, records, outcome,
                                     import_id, created_at, updated_at)
        SELECT :incident, s.customer_ref, s.country, s.region, s.channel, s.records, 'waiting', :import, :now, :now
        FROM ledger_staging_row s WHERE s.import_id = :import
        ON CONFLICT (incident_id, customer_ref) DO UPDATE SET
            country = excluded.country, region = excluded.region, channel = excluded.channel,
            records = COALESCE(excluded.records, ledger_customer.records),
            import_id = excluded.import_id, updated_at = excluded.updated_at
    """)


def _merge_items_sql():
    # Each category bit of a staged row becomes an item; a category the customer already has keeps
    # its state (restored stays restored: a re-import merges, it does not start over).
    categories = ", ".join(f"('{key}', {bit})" for key, bit in csvformat.CATEGORY_BITS.items())
    return text(f"""
        INSERT INTO ledger_item (customer_id, category, state, changed_at)
        SELECT c.id, cat.column1, 'affected', :now
        FROM ledger_staging_row s
        JOIN ledger_customer c ON c.incident_id = :incident AND c.customer_ref = s.customer_ref
        JOIN (VALUES {categories}) AS cat ON (s.categories & cat.column2) <> 0
        WHERE s.import_id = :import
        ON CONFLICT (customer_id, category) DO NOTHING
    """)


# New customers start waiting with only affected items: only those merged into earlier rows may differ.
_OUTCOMES_OF_IMPORT = statuses.OUTCOMES + " WHERE import_id = :import AND created_at <> :now"


# --- The whole import, as the job and the CLI run it ----------------------------------------------

def run(*, session: Session, import_id: int, report: Report = no_report) -> LedgerImport:
    """Stage, check and (unless refused) apply one import; safe to run again from the start."""
    record = session.get(LedgerImport, import_id)
    if record is None:
        raise DomainError("That import no longer exists.")
    if record.finished:
        return record  # a repeated delivery of a job that already ended
    # Staging writes in transactions of its own: this session must hold none meanwhile (on SQLite
    # its transaction would hold the one write lock those need). Nothing has been written yet.
    size, mode, kind, incident_id = record.size, record.mode, record.kind, record.incident_id
    session.rollback()
    _set_state(import_id, state="running")
    staged = stage(import_id=import_id, size=size, kind=kind, incident_id=incident_id, report=report)
    if staged.refused or (mode == "all_or_nothing" and staged.bad) or not staged.good:
        _finish_refused(import_id, message=_refusal(staged), rows_read=staged.rows, rows_bad=staged.bad)
        return session.get(LedgerImport, import_id)
    report(size, size, f"Applying {staged.good:,} rows to the ledger…")  # before the transaction: seen at once
    record = session.get(LedgerImport, import_id)
    incident = session.get(Incident, record.incident_id)
    actor = session.get(User, record.created_by_id) if record.created_by_id else None
    if kind == "customers":
        customers_new = apply(session=session, record=record, incident=incident)
        done = f"{customers_new:,} new customers"
    else:
        customers_new = 0
        touched = statuses.apply(session=session, record=record)
        _clear_upload(session, record.id)
        figures.recompute(session=session, incident_id=incident.id)
        done = f"{touched:,} notices marked bounced" if kind == "bounced" else f"{touched:,} customers marked {kind}"
    record.state, record.finished_at = "applied", utcnow()
    record.rows_read, record.rows_bad, record.rows_applied = staged.rows, staged.bad, staged.good
    record.customers_new = customers_new
    record.message = (f"Applied {rows(staged.good)} ({done})"
                      + (f"; {rows(staged.bad)} with problems {'was' if staged.bad == 1 else 'were'} left out."
                         if staged.bad else "."))
    if kind != "bounced":
        figures.snapshot_impact(session=session, incident=incident, actor=actor,
                                note=f"From the affected-customer ledger, after importing {record.filename} "
                                     f"({statuses.KIND_LABELS[kind].lower()}: {staged.good:,} rows).")
    audit.record(session, action=audit.LEDGER_IMPORT, entity_type="ledger_import", entity_id=record.public_id,
                 actor_id=record.created_by_id, incident_id=incident.id,
                 after={"kind": kind, "filename": record.filename, "sha256": record.sha256, "bytes": record.size,
                        "mode": record.mode, "rows": staged.rows, "applied": staged.good, "bad": staged.bad,
                        "customers_new": customers_new})
    return record


def rows(n: int) -> str:
    return f"{n:,} row" if n == 1 else f"{n:,} rows"


def _refusal(staged: Staged) -> str:
    if staged.refused:
        return f"Nothing was applied: {staged.refused}"
    if not staged.good:
        return "Nothing was applied: the file has no good rows." if staged.rows else \
            "Nothing was applied: the file has a header but no customers."
    return (f"Nothing was applied: {staged.bad:,} of {rows(staged.rows)} {'has' if staged.bad == 1 else 'have'} "
            "problems, and this import was "
            "to apply all or nothing. Download the problems, fix those rows and import again, or import "
            "the good rows only.")


def _set_state(import_id: int, **values) -> None:
    with db.engine.begin() as conn:
        conn.execute(update(LedgerImport).where(LedgerImport.id == import_id).values(**values))


def _finish_refused(import_id: int, *, message: str, rows_read: int, rows_bad: int) -> None:
    with db.engine.begin() as conn:
        _clear_staging(conn, import_id)
        conn.execute(delete(LedgerUploadChunk).where(LedgerUploadChunk.import_id == import_id))
        conn.execute(update(LedgerImport).where(LedgerImport.id == import_id).values(
            state="refused", message=message[:2000], rows_read=rows_read, rows_bad=rows_bad, finished_at=utcnow()))


def problems_of(*, session: Session, record: LedgerImport, batch: int = 10_000) -> Iterator[LedgerImportProblem]:
    """The import's problems in line order, read in batches (there may be a million)."""
    after = -1
    while True:
        rows = list(session.scalars(select(LedgerImportProblem)
                                    .where(LedgerImportProblem.import_id == record.id,
                                           LedgerImportProblem.line > after)
                                    .order_by(LedgerImportProblem.line, LedgerImportProblem.id).limit(batch)))
        if not rows:
            return
        yield from rows
        after = rows[-1].line


def abandoned(*, session: Session) -> list[LedgerImport]:
    """Imports not finished whose job has ended: nothing will apply them any more."""
    return list(session.scalars(
        select(LedgerImport).join(BackgroundJob, BackgroundJob.id == LedgerImport.job_id)
        .where(LedgerImport.state.in_(("queued", "running")),
               BackgroundJob.state.in_((JobState.failed, JobState.cancelled)))))


def give_up(*, session: Session, record: LedgerImport) -> None:
    """Mark an abandoned import failed, with its job's reason, and drop what it had staged."""
    _clear_upload(session, record.id)
    record.state, record.finished_at = "failed", utcnow()
    record.message = f"Nothing was applied: {record.job.error or record.job.message or 'the import stopped.'}"[:2000]
