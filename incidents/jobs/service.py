"""Starting, finding and cancelling background jobs: what features and views call."""
from __future__ import annotations

import json
import re

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from incidents.auth.models import Role, User
from incidents.db import db, utcnow
from incidents.jobs import registry
from incidents.jobs.models import BackgroundJob, JobState, new_public_id
from incidents.jobs.queue import queue_of, send_after_commit

# What new_public_id() draws; anything else names no job (and never reaches the database).
PUBLIC_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def enqueue(kind: str, *, session: Session | None = None, created_by: User | None = None,
            incident=None, **params) -> BackgroundJob:
    """Record a job in the caller's transaction; it is queued when that transaction commits."""
    spec = registry.kind(kind)  # an unknown kind fails here, in the caller, not later in a worker
    try:
        json.dumps(params)
    except (TypeError, ValueError) as error:
        raise TypeError(f"parameters of job {kind!r} must be JSON (ids, not objects): {error}") from None
    session = session or db.session
    job = BackgroundJob(public_id=new_public_id(), kind=kind, params=params, state=JobState.queued,
                        created_by=_unproxied(created_by), incident=_unproxied(incident))
    session.add(job)
    send_after_commit(session, job, queue_of(current_app._get_current_object()), priority=spec.priority)
    return job


def _unproxied(obj):
    # Views may pass Flask-Login's current_user, a proxy SQLAlchemy cannot store.
    return obj._get_current_object() if hasattr(obj, "_get_current_object") else obj


def visible_job(*, session: Session, public_id: str, viewer: User) -> BackgroundJob | None:
    """The job, if `viewer` started it or is an admin; None otherwise, as for a job that does not exist."""
    if not PUBLIC_ID.fullmatch(public_id):
        return None
    job = session.scalar(select(BackgroundJob).where(BackgroundJob.public_id == public_id))
    if job is None or not (job.created_by_id == viewer.id or viewer.can(Role.admin)):
        return None
    return job


def status_of(job: BackgroundJob) -> dict:
    """What a page polling the job is told."""
    return {"id": job.public_id, "kind": job.kind, "state": job.state.value, "state_label": job.state.label,
            "finished": job.state.finished, "done": job.done, "total": job.total, "message": job.message,
            "result": job.result, "error": job.error, "attempts": job.attempts,
            "created_at": job.created_at.isoformat(),
            "started_at": job.started_at.isoformat() if job.started_at else None,
            "finished_at": job.finished_at.isoformat() if job.finished_at else None}


def recent_jobs(*, session: Session, limit: int = 20, state: JobState | None = None) -> list[BackgroundJob]:
    """The newest jobs first, optionally only those in `state`."""
    query = select(BackgroundJob).order_by(BackgroundJob.id.desc()).limit(limit)
    if state is not None:
        query = query.where(BackgroundJob.state == state)
    return list(session.scalars(query))


def cancel(*, session: Session, job: BackgroundJob) -> bool:
    """Cancel a job that has not finished; a running one stops at its next progress report."""
    # Conditional, so a job that finished meanwhile keeps its outcome.
    cancelled = session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job.id, BackgroundJob.state.in_([JobState.queued, JobState.running]))
        .values(state=JobState.cancelled, finished_at=utcnow(), message="Cancelled.")
        .execution_options(synchronize_session=False)).rowcount
    session.refresh(job)
    return cancelled == 1
