"""Logs that only grow (finished jobs, webhook and subscriber deliveries, stray alert deliveries)
are deleted once older than LOG_RETENTION_DAYS (90 by default; 0 keeps them forever).

A feature names what of its log may go (`purge_log` below) from a periodic job of its own;
this module's own job does it for finished background jobs. The audit log is never purged (its hash
chain is the record), and neither is anything still pending.

Deleting a million rows in one statement would hold SQLite's write lock (and PostgreSQL's row
locks) for as long as it takes, so rows go a batch at a time, each batch its own commit. They are
walked in id order, which is the order they were made in, so only the part older than the cutoff
is ever read: the walk stops at the first row made after it.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Table, and_, case, delete, select
from sqlalchemy.orm import Session

from incidents.db import db, utcnow
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.registry import periodic

log = logging.getLogger(__name__)
BATCH = 1000
HOURLY = 3600


def retention_cutoff() -> datetime | None:
    """Rows made before this may go; None when LOG_RETENTION_DAYS is 0 (keep everything)."""
    days = current_app.config.get("LOG_RETENTION_DAYS") or 0
    return utcnow() - timedelta(days=days) if days > 0 else None


def purge_old_rows(*, session: Session, table: Table, made_at, cutoff: datetime, deletable=None,
                   batch: int = BATCH) -> int:
    """Delete the rows of `table` made (`made_at`) before `cutoff` for which `deletable` (an SQL
    condition; all of them when None) holds, a batch and a commit at a time; returns how many."""
    old = made_at < cutoff
    gone = old if deletable is None else and_(old, deletable)
    deleted, after = 0, 0
    while True:
        rows = session.execute(select(table.c.id, case((gone, True), else_=False), old)
                               .where(table.c.id > after).order_by(table.c.id).limit(batch)).all()
        doomed = [row[0] for row in rows if row[1]]
        if doomed:
            session.execute(delete(table).where(table.c.id.in_(doomed)))
            deleted += len(doomed)
        session.commit()
        if len(rows) < batch or not all(row[2] for row in rows):
            return deleted
        after = rows[-1][0]


FINISHED = [state.value for state in JobState if state.finished]


def purge_log(what: str, table: Table, made_at, deletable: Callable[[datetime], Any] | None = None) -> int:
    """A feature's periodic trim: the rows of `table` made before LOG_RETENTION_DAYS ago for which
    `deletable(cutoff)` holds (all of them when None), deleted and logged as `what`; how many."""
    cutoff = retention_cutoff()
    if cutoff is None:
        return 0
    deleted = purge_old_rows(session=db.session, table=table, made_at=made_at, cutoff=cutoff,
                             deletable=deletable(cutoff) if deletable else None)
    if deleted:
        log.info("deleted %d %s older than %s", deleted, what, cutoff.date())
    return deleted


@periodic("jobs.purge_finished", every=HOURLY)
def purge_finished_jobs() -> int:
    """Finished background jobs older than the retention (their pages have long stopped asking)."""
    table = BackgroundJob.__table__
    return purge_log("finished background jobs", table, table.c.created_at,
                     lambda cutoff: and_(table.c.state.in_(FINISHED), table.c.finished_at < cutoff))
