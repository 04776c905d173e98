"""The Huey queue, built in one place from the app's configuration, and the hand-over at commit.

Huey carries only a job's public id: the job itself (kind, parameters, state) is the row in
`background_job`. One Huey task, `run_job`, runs any kind; the worker finds the kind in the row.
A job is handed to Huey only after the transaction that wrote its row has committed, so no job is
sent for a row that was rolled back, and no worker looks for a row it cannot see yet.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from huey import MemoryHuey, PriorityRedisHuey, SqliteHuey
from huey.api import Huey, TaskWrapper
from huey.signals import SIGNAL_INTERRUPTED
from sqlalchemy import event, inspect, update
from sqlalchemy.orm import Session

from incidents.db import utcnow
from incidents.jobs import runner
from incidents.jobs.models import BackgroundJob, JobState

log = logging.getLogger(__name__)

EXTENSION = "jobs"
PENDING = "jobs_to_send"  # in Session.info: jobs written in the open transaction
_build_lock = threading.Lock()
NOT_SENT = ("The job could not be handed to the job queue (is the queue's Redis reachable?). "
            "Nothing ran; start it again.")


@dataclass
class JobQueue:
    """An app's Huey instance and the one task that runs every job kind."""

    huey: Huey
    task: TaskWrapper

    def send(self, public_id: str, *, priority: int = 0) -> None:
        """Put the job on the queue (run it at once in immediate mode)."""
        self.huey.enqueue(self.task.s(public_id, priority=priority))

    def close(self) -> None:
        """Let go of the storage's connections (tests, and a worker on its way out)."""
        storage = self.huey.storage
        if hasattr(storage, "pool"):
            storage.pool.disconnect()
        elif hasattr(storage, "close"):
            storage.close()


def build_huey(config: dict) -> Huey:
    """Huey for this configuration: inline, Redis (REDIS_URL), or SQLite in the instance folder."""
    name = config["JOBS_QUEUE_NAME"]
    if config["JOBS_IMMEDIATE"]:
        return MemoryHuey(name, immediate=True, results=False)
    if config["REDIS_URL"]:
        # The priority variant, so a job kind's priority orders the queue as it does on SQLite.
        return PriorityRedisHuey(name, url=config["REDIS_URL"], results=False)
    path = Path(config["JOBS_SQLITE_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    # fsync: an acknowledged enqueue survives a power cut, like the app's own SQLite database.
    return SqliteHuey(name, filename=str(path), fsync=True, results=False)


def queue_of(app: Flask) -> JobQueue:
    """The app's job queue, built on first use (so building the app touches no queue storage)."""
    queue = app.extensions.get(EXTENSION)
    if queue is None:
        with _build_lock:
            queue = app.extensions.get(EXTENSION)
            if queue is None:
                queue = app.extensions[EXTENSION] = _build(app)
    return queue


def _build(app: Flask) -> JobQueue:
    huey = build_huey(app.config)

    @huey.task(name="run_job")
    def run_job(public_id: str) -> None:
        runner.run(app, public_id, immediate=huey.immediate)

    @huey.signal(SIGNAL_INTERRUPTED)
    def requeue_interrupted(_signal, task) -> None:
        # The worker stopped (Ctrl+C past its shutdown timeout, SIGTERM) while this job ran: put it
        # back, so the next worker runs it again from the start. Job kinds are safe to run twice.
        if runner.mark_interrupted(app, task.args[0]):
            huey.enqueue(task)

    return JobQueue(huey=huey, task=run_job)


def send_after_commit(session: Session, job: BackgroundJob, queue: JobQueue, *, priority: int) -> None:
    """Hand `job` to `queue` once `session`'s transaction commits; never if it rolls back."""
    session.info.setdefault(PENDING, []).append((job, job.public_id, queue, priority))


def _send_committed(session: Session) -> None:
    for job, public_id, queue, priority in session.info.pop(PENDING, []):
        # A job added inside a savepoint that rolled back is no longer persistent: its row is gone.
        if not inspect(job).persistent:
            continue
        try:
            queue.send(public_id, priority=priority)
        except Exception:  # noqa: BLE001 - the row is committed: say so on it rather than fail the request
            log.exception("could not hand job %s to the job queue", public_id)
            _mark_not_sent(session, public_id)


def _mark_not_sent(session: Session, public_id: str) -> None:
    # The session cannot run SQL inside after_commit: a short transaction of its own.
    with session.get_bind(BackgroundJob).begin() as conn:
        conn.execute(update(BackgroundJob).where(BackgroundJob.public_id == public_id,
                                                 BackgroundJob.state == JobState.queued)
                     .values(state=JobState.failed, error=NOT_SENT, finished_at=utcnow()))


def _forget_uncommitted(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction ended without a commit
        session.info.pop(PENDING, None)


def install() -> None:
    """Listen on every session: send committed jobs, forget rolled-back ones (once per process)."""
    if not event.contains(Session, "after_commit", _send_committed):
        event.listen(Session, "after_commit", _send_committed)
        event.listen(Session, "after_transaction_end", _forget_uncommitted)
