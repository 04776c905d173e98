"""The record of a background job, kept in the app's database so pages can follow it, and of each
periodic function's latest run, which lets one worker among many hold it."""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum


class JobState(LabelledEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (JobState.succeeded, JobState.failed, JobState.cancelled)


def new_public_id() -> str:
    """A random id for URLs: 22 URL-safe characters (128 bits), so nobody can guess another's."""
    return secrets.token_urlsafe(16)


class BackgroundJob(db.Model):
    """One piece of long work: what it is, where it stands, and how it ended."""

    __tablename__ = "background_job"
    # Bookkeeping that moves with every progress step; what a job changes is audited as it commits.
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    kind: Mapped[str] = mapped_column(String(100))
    state: Mapped[JobState] = enum_column(JobState, name="background_job_state", default=JobState.queued)
    # The keyword arguments the job kind's function is called with (JSON: ids and small values).
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer)  # None: the job cannot tell how much there is
    message: Mapped[str] = mapped_column(String(500), default="")
    result: Mapped[dict | list | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)  # for the person who started it: no tracebacks
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Written by the worker while the job runs (runner.py, heartbeat.py): a running job whose
    # heartbeat is older than JOBS_STALE_SECONDS lost its worker, and sweeper.py puts it back.
    heartbeat_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # None for jobs started from the command line (or whose starter's account was removed).
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)

    created_by = relationship("User")
    incident = relationship("Incident")

    __table_args__ = (
        CheckConstraint("done >= 0 AND (total IS NULL OR total >= 0)", name="progress_not_negative"),
        # The sweeper's question, asked every few seconds: which running jobs went silent?
        Index("ix_background_job_state_heartbeat_at", "state", "heartbeat_at"),
    )

    def __repr__(self) -> str:
        return f"<BackgroundJob {self.public_id} {self.kind} {self.state.value}>"


class PeriodicRun(db.Model):
    """One periodic function: the period it last ran for, and the lease of the worker running it now."""

    __tablename__ = "periodic_run"
    __audit__ = False  # scheduling bookkeeping, rewritten every period; what the functions change is audited

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    # The start of the latest period a run was claimed for: each period is claimed once.
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set while a run goes and renewed by its worker; after it passes, the worker is taken for dead.
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_token: Mapped[str | None] = mapped_column(String(32))  # fences the run that holds the lease
    holder: Mapped[str | None] = mapped_column(String(200))  # host and process id, for whoever looks
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)  # how the latest run failed; None when it succeeded

    def __repr__(self) -> str:
        return f"<PeriodicRun {self.name} {self.period_start}>"
