"""Where a maintenance stands at a moment: its posted updates plus the automatic steps whose time
has come, worked out when read (pure functions: no database, no clock of their own).

A maintenance with `auto_start` moves to "in progress" at `scheduled_for` if it was still
"scheduled" then; one with `auto_complete` is completed at `scheduled_until` unless it was already.
The automatic steps are shown like posted updates, with fixed wording and ids derived from the
maintenance's public id, so every reader (page, JSON, feeds, e-mails) sees the same step with the
same id whenever it reads.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from incidents.maintenance.models import UNDER_WAY

AUTO_WORDING = {
    "in_progress": "The scheduled maintenance has started. We will post an update when it is complete.",
    "completed": "The scheduled maintenance has been completed.",
}


@dataclass(frozen=True)
class Step:
    """One step of a maintenance: a posted update (`update` holds it) or an automatic one."""

    status: str
    at: datetime
    update: object | None = None

    @property
    def automatic(self) -> bool:
        return self.update is None


@dataclass(frozen=True)
class Plan:
    """What the steps depend on: the maintenance's window and its automatic transitions."""

    public_id: str
    scheduled_for: datetime
    scheduled_until: datetime
    auto_start: bool
    auto_complete: bool


def auto_update_id(public_id: str, status: str) -> str:
    """The stable public id of an automatic step (12 hex characters, like our other public ids)."""
    return hashlib.sha256(f"maintenance:{public_id}:auto:{status}".encode()).hexdigest()[:12]


def _status_at(steps: list[Step], moment: datetime) -> str:
    """The status in force at `moment` ("scheduled" before any step)."""
    status = "scheduled"
    for step in steps:
        if step.at <= moment:
            status = step.status
    return status


def steps(plan: Plan, posted: list[Step], now: datetime) -> list[Step]:
    """Every step up to `now`, oldest first: the posted ones and the automatic ones now due."""
    found = sorted(posted, key=lambda s: s.at)
    if plan.auto_start and plan.scheduled_for <= now and _status_at(found, plan.scheduled_for) == "scheduled":
        found = sorted([*found, Step("in_progress", plan.scheduled_for)], key=lambda s: s.at)
    if plan.auto_complete and plan.scheduled_until <= now and _status_at(found, plan.scheduled_until) != "completed":
        found = sorted([*found, Step("completed", plan.scheduled_until)], key=lambda s: s.at)
    return found


def status(found: list[Step]) -> str:
    """The status now: the newest step's."""
    return found[-1].status if found else "scheduled"


def started_at(found: list[Step]) -> datetime | None:
    """When the work first got under way (or was completed without a step in between)."""
    return next((s.at for s in found if s.status in (*UNDER_WAY, "completed")), None)


def completed_at(found: list[Step]) -> datetime | None:
    """When it was completed, if it is now."""
    return found[-1].at if found and found[-1].status == "completed" else None

