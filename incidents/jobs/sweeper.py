"""Jobs whose worker died (SIGKILL, the machine lost power) go back on the queue.

Such a job stays `running` with a heartbeat that no longer moves (heartbeat.py). Every quarter of
JOBS_STALE_SECONDS one worker (scheduler.py) looks for running jobs silent for longer than that and
hands each to a new attempt: `queued` again, with a new message on the queue. The attempt that died
counts, so a job that kills its worker every time ends failed after its retries (but a job kind
with no retries still survives one lost worker, as it survives a worker's orderly shutdown).

The claim rule is unchanged: the next run claims the job as attempt n + 1, and every write of the
silent run (progress, result, heartbeat) is fenced by attempt n, so if that run was only frozen and
wakes up, nothing it writes lands, and it stops at its next progress report.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import and_, or_, select, update

from incidents.db import db, utcnow
from incidents.jobs import registry
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.queue import queue_of, send_after_commit
from incidents.jobs.registry import periodic

# The most jobs put back in one sweep; more wait for the next one, a few seconds later.
SWEEP_LIMIT = 500
# Runs a job kind without retries may still have, besides its first, when only its worker died.
LOST_WORKER_RETRIES = 1


@periodic("jobs.requeue_stale", every=lambda config: float(config["JOBS_STALE_SECONDS"]) / 4)
def requeue_stale() -> None:
    """Put each running job whose heartbeat is older than JOBS_STALE_SECONDS back on the queue."""
    app = current_app._get_current_object()
    silent = _silent_since(utcnow() - timedelta(seconds=float(app.config["JOBS_STALE_SECONDS"])))
    jobs = db.session.scalars(select(BackgroundJob).where(BackgroundJob.state == JobState.running, silent)
                              .order_by(BackgroundJob.id).limit(SWEEP_LIMIT)).all()
    for job in jobs:
        spec = registry.KINDS.get(job.kind)
        runs = max(spec.retries if spec else 0, LOST_WORKER_RETRIES) + 1
        # Conditional on what was read, checked again as it is written: a heartbeat that arrives
        # meanwhile keeps the job with its worker.
        fence = (BackgroundJob.id == job.id, BackgroundJob.state == JobState.running,
                 BackgroundJob.attempts == job.attempts, silent)
        if job.attempts >= runs:
            db.session.execute(update(BackgroundJob).where(*fence).values(
                state=JobState.failed, finished_at=utcnow(), error=_gave_up(job))
                .execution_options(synchronize_session=False))
            continue
        handed = db.session.execute(update(BackgroundJob).where(*fence).values(
            state=JobState.queued, message=f"Its worker stopped during attempt {job.attempts}; it will run again.")
            .execution_options(synchronize_session=False)).rowcount
        if handed == 1:
            # Sent when the sweep's transaction commits (scheduler.py commits it), never before.
            send_after_commit(db.session, job, queue_of(app), priority=spec.priority if spec else 0)


def _silent_since(limit):
    """Jobs whose last heartbeat is before `limit` (or, from before heartbeats, that started before it)."""
    return or_(BackgroundJob.heartbeat_at < limit,
               and_(BackgroundJob.heartbeat_at.is_(None), BackgroundJob.started_at < limit))


def _gave_up(job: BackgroundJob) -> str:
    return (f"The worker running this job stopped (killed, or its machine lost power) during each of its "
            f"{job.attempts} attempts, so it was not tried again. Check the workers' memory and logs "
            f"(job {job.public_id}), then start it again.")
