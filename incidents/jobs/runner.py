"""One delivery of a job, in the worker: claim its row, call its kind, record how it ended.

Delivery is at least once: a retry after a transient failure, or a worker stopped in the middle,
runs a job again from the start. So every job kind must be idempotent (a second run leaves what one
run leaves: upsert by a natural key, skip what is already done) or atomic (all its writes left to
the one commit the runner makes at the end, together with the success record).

Each run is fenced by its attempt number: once its job is cancelled or handed to a newer attempt,
the old run's progress and result are refused and its open transaction is rolled back. While it
runs, a heartbeat (heartbeat.py) tells the other workers it is alive; one that goes silent is
handed to a newer attempt by the sweeper (sweeper.py).
"""
from __future__ import annotations

import json
import logging
import time
from contextvars import ContextVar
from dataclasses import dataclass, field

from flask import Flask
from huey.exceptions import RetryTask
from sqlalchemy import null, select, update
from sqlalchemy.exc import DBAPIError

from incidents.db import db, utcnow
from incidents.errors import DomainError
from incidents.jobs import heartbeat, registry
from incidents.jobs.models import BackgroundJob, JobState

log = logging.getLogger(__name__)

# A job may report progress per row; the web needs at most a couple of writes a second.
PROGRESS_INTERVAL = 0.5
# Results are for the status page (counts, an id to download): big outputs belong elsewhere.
RESULT_MAX_BYTES = 16_000
MESSAGE_MAX = 500
DATABASE_RETRY_SECONDS = 10.0


class JobFailed(DomainError):
    """Raised by a job to end it at once, failed, with this message for the person who started it."""


class TryAgainLater(Exception):
    """Raised by a job whose attempt failed for a reason it knows and says (a webhook receiver that
    is down, a mail server that refused for now): retried like any failure, but logged as one line
    with that reason instead of a traceback, since nothing in our code went wrong."""


class JobCancelled(Exception):
    """The job was cancelled, or handed to a newer attempt, while this run was going."""


@dataclass
class Run:
    """The job this thread is running, as `current_job()` gives it to the job's function."""

    id: int
    public_id: str
    kind: str
    attempt: int  # 1 on the first run; more means an earlier run may have done part of the work
    created_by_id: int | None
    incident_id: int | None
    params: dict = field(repr=False)
    # The latest progress reported; written at most every PROGRESS_INTERVAL, and at the end.
    done: int = 0
    total: int | None = None
    message: str | None = None
    written_at: float = float("-inf")

    def fence(self) -> tuple:
        return (BackgroundJob.id == self.id, BackgroundJob.state == JobState.running,
                BackgroundJob.attempts == self.attempt)

    def progress_values(self) -> dict:
        values = {"done": self.done, "total": self.total}
        if self.message is not None:
            values["message"] = self.message
        return values


_current: ContextVar[Run | None] = ContextVar("current_job", default=None)


def current_job() -> Run:
    """The job being run by the calling code (RuntimeError outside a job)."""
    current = _current.get()
    if current is None:
        raise RuntimeError("current_job() and progress() work only inside a running job")
    return current


def progress(done: int, total: int | None = None, message: str | None = None) -> None:
    """Report how far the running job is; the status page sees it within PROGRESS_INTERVAL."""
    current = current_job()
    if done < 0 or (total is not None and total < 0):
        raise ValueError(f"progress({done}, {total}): counts cannot be negative")
    current.done, current.total = done, total
    if message is not None:
        current.message = message[:MESSAGE_MAX]
    now = time.monotonic()
    if now - current.written_at < PROGRESS_INTERVAL and not (total is not None and done >= total):
        return
    current.written_at = now
    statement = (update(BackgroundJob).where(*current.fence())
                 .values(**current.progress_values(), heartbeat_at=utcnow())
                 .execution_options(synchronize_session=False))
    if db.engine.dialect.name == "sqlite" and db.session().in_transaction():
        # The job's open transaction holds SQLite's only write lock (the worker begins IMMEDIATE):
        # another connection would wait for it, then fail. Ride along; the job's next commit shows it.
        written = db.session.execute(statement).rowcount
    else:
        with db.engine.begin() as conn:  # its own short transaction: the web sees it at once
            written = conn.execute(statement).rowcount
    if written != 1:
        raise JobCancelled(current.public_id)


def run(app: Flask, public_id: str, *, immediate: bool = False) -> None:
    """Run the job `public_id` if it is waiting; raise RetryTask when Huey should run it again."""
    with app.app_context():
        try:
            current = _claim_or_wait(public_id, immediate=immediate)
            if current is not None and immediate:
                _run_claimed(current, immediate=True)  # inline: no worker, so no sweeper to tell
            elif current is not None:
                with heartbeat.beating(app, current):
                    _run_claimed(current, immediate=False)
        finally:
            db.session.remove()


def _claim_or_wait(public_id: str, *, immediate: bool) -> Run | None:
    """Claim the job; while the database is unreachable, ask Huey to deliver it again later."""
    try:
        return _claim(public_id)
    except DBAPIError:
        if immediate:
            raise
        # The database is away (a restart, a failover): Huey keeps the job until it is back.
        log.exception("job %s: the database did not answer; trying again in %g s", public_id,
                      DATABASE_RETRY_SECONDS)
        raise RetryTask(delay=DATABASE_RETRY_SECONDS) from None


def _claim(public_id: str) -> Run | None:
    """Move the job from queued to running, as this attempt; None when there is nothing to run."""
    job = db.session.scalar(select(BackgroundJob).where(BackgroundJob.public_id == public_id))
    if job is None:
        log.warning("job %s is not in this database: does another tracker share this queue "
                    "(REDIS_URL and JOBS_QUEUE_NAME)?", public_id)
        db.session.rollback()
        return None
    if job.state is not JobState.queued:
        log.info("job %s is %s: nothing to run (a repeated delivery)", public_id, job.state.value)
        db.session.rollback()
        return None
    attempt = job.attempts + 1
    current = Run(id=job.id, public_id=public_id, kind=job.kind, attempt=attempt,
                  created_by_id=job.created_by_id, incident_id=job.incident_id, params=dict(job.params or {}))
    # Attempts count every run: retries after failures and runs again after an interruption.
    message = f"Running again (attempt {attempt})." if attempt > 1 else ""
    # Conditional on what was read: of two workers given the same job, one claims it.
    claimed = db.session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job.id, BackgroundJob.state == JobState.queued,
               BackgroundJob.attempts == job.attempts)
        .values(state=JobState.running, attempts=attempt, started_at=job.started_at or utcnow(),
                heartbeat_at=utcnow(), message=message)
        .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return current if claimed == 1 else None


def _run_claimed(current: Run, *, immediate: bool) -> None:
    """Call the job's function with its params and record the outcome (or raise RetryTask)."""
    spec = registry.KINDS.get(current.kind)
    if spec is None:
        _write(current, state=JobState.failed, finished_at=utcnow(),
               error=f"This worker does not know jobs of the kind {current.kind!r}: it may run an older "
                     "release than the web. Start the job again once the workers are updated.")
        return
    token = _current.set(current)
    try:
        _succeed(current, spec.func(**current.params))
    except JobCancelled:
        db.session.rollback()
        log.info("job %s stopped: it was cancelled or handed to a newer attempt", current.public_id)
    except Exception as error:  # noqa: BLE001 - every failure is recorded on the job
        db.session.rollback()
        _failed(current, spec, error, immediate=immediate)
    finally:
        _current.reset(token)


def _succeed(current: Run, result) -> None:
    """Record success in the job's own transaction, so its last writes and its success commit together."""
    values = {**current.progress_values(), "state": JobState.succeeded, "finished_at": utcnow(),
              "result": null() if result is None else _small_json(result)}
    written = db.session.execute(update(BackgroundJob).where(*current.fence()).values(**values)
                                 .execution_options(synchronize_session=False)).rowcount
    if written != 1:
        raise JobCancelled(current.public_id)
    db.session.commit()


def _small_json(result):
    """The result as stored JSON (tuples become lists); ValueError when it is too big for a status."""
    text = json.dumps(result)
    if len(text.encode()) > RESULT_MAX_BYTES:
        raise ValueError(f"a job result of {len(text.encode())} bytes is over {RESULT_MAX_BYTES}: "
                         "store big outputs elsewhere and return their id")
    return json.loads(text)


def _failed(current: Run, spec: registry.JobKind, error: Exception, *, immediate: bool) -> None:
    """Fail the job, or put it back for a retry after a backoff (raising RetryTask for Huey)."""
    permanent = isinstance(error, (DomainError, *spec.permanent))
    final = permanent or current.attempt > spec.retries
    if permanent:
        log.info("job %s (%s) refused: %s", current.public_id, current.kind, error)
    else:
        explained = isinstance(error, TryAgainLater)
        (log.error if final else log.warning)("job %s (%s) attempt %d failed%s", current.public_id,
                                              current.kind, current.attempt, f": {error}" if explained else "",
                                              exc_info=None if explained else error)
    if final:
        reason = str(error)[:2000] if permanent and str(error) else _unexpected_error(current, error)
        _write(current, state=JobState.failed, error=reason, finished_at=utcnow(), **current.progress_values())
        return
    delay = spec.delay_after(current.attempt)
    retrying = _write(current, state=JobState.queued, message=(
        f"Attempt {current.attempt} of {spec.retries + 1} failed ({type(error).__name__}); "
        f"trying again {'now' if delay <= 0 else f'in {delay:g} s'}."[:MESSAGE_MAX]))
    if retrying:
        # No delay: Huey puts it straight back on the queue; a delay goes through its scheduler.
        # Inline (immediate mode) there is no scheduler to wait for, so it runs again at once.
        raise RetryTask(delay=None if immediate or delay <= 0 else delay)


def _unexpected_error(current: Run, error: Exception) -> str:
    """What the person who started the job reads about a failure the job did not explain."""
    tries = f"{current.attempt} attempt{'s' if current.attempt != 1 else ''}"
    return (f"The job stopped on an unexpected error ({type(error).__name__}) after {tries}. "
            f"The worker's log has the details (job {current.public_id}).")


def _write(current: Run, **values) -> bool:
    """Update the job row in a short transaction of its own, if this run still holds the job."""
    written = db.session.execute(update(BackgroundJob).where(*current.fence()).values(**values)
                                 .execution_options(synchronize_session=False)).rowcount
    db.session.commit()
    return written == 1


def mark_interrupted(app: Flask, public_id: str) -> bool:
    """Put a job whose worker stopped mid-run back in the queue's state; False when it is not running."""
    with app.app_context():
        try:
            written = db.session.execute(
                update(BackgroundJob)
                .where(BackgroundJob.public_id == public_id, BackgroundJob.state == JobState.running)
                .values(state=JobState.queued, message="Interrupted by a worker shutdown; it will run again.")
                .execution_options(synchronize_session=False)).rowcount
            db.session.commit()
            return written == 1
        finally:
            db.session.remove()
