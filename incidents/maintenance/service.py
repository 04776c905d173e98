"""Scheduling maintenance, editing its plan, posting its updates and calling it off.

Plain functions over the session: they flush, the view commits. Every write is audit-logged by
the recorder (incidents/audit/recorder.py) like any other change.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, check_version
from incidents.maintenance import lifecycle
from incidents.maintenance.models import MAINTENANCE_STATUSES, Maintenance, MaintenanceComponent, MaintenanceUpdate
from incidents.markdown import html_to_store
from incidents.status.models import AFFECTED_STATUSES, Component, new_public_id
from incidents.status.service import component_field_name
from incidents.subscribers.service import announce

# A window longer than this is a typo (a year for a month), not a maintenance.
LONGEST_WINDOW = timedelta(days=31)
# Work already begun may be announced a little late; a start further back is a typo, as is one
# further ahead than anyone plans.
EARLIEST_START = timedelta(days=1)
FURTHEST_AHEAD = timedelta(days=366)
STATUS_LABELS = {"scheduled": "Scheduled", "in_progress": "In progress", "verifying": "Verifying",
                 "completed": "Completed", "cancelled": "Called off"}  # status_of's answers


def plan_of(maintenance: Maintenance) -> lifecycle.Plan:
    return lifecycle.Plan(public_id=maintenance.public_id, scheduled_for=maintenance.scheduled_for,
                          scheduled_until=maintenance.scheduled_until, auto_start=maintenance.auto_start,
                          auto_complete=maintenance.auto_complete)


def steps_of(maintenance: Maintenance, now: datetime | None = None) -> list[lifecycle.Step]:
    """Its steps up to now, oldest first: posted updates and automatic steps now due."""
    posted = [lifecycle.Step(u.status, u.posted_at, u) for u in maintenance.updates]
    return lifecycle.steps(plan_of(maintenance), posted, now or utcnow())


def status_of(maintenance: Maintenance, now: datetime | None = None) -> str:
    """Where it stands now ("cancelled" once called off)."""
    if maintenance.cancelled_at is not None:
        return "cancelled"
    return lifecycle.status(steps_of(maintenance, now))


# --- reading (responders) -------------------------------------------------------------------------

def get(*, session: Session, maintenance_id: int) -> Maintenance | None:
    """A maintenance with its components and updates, or None."""
    return session.scalar(select(Maintenance).where(Maintenance.id == maintenance_id)
                          .options(selectinload(Maintenance.components).selectinload(MaintenanceComponent.component),
                                   selectinload(Maintenance.updates)))


def list_for_responders(*, session: Session, now: datetime, past: int = 20) -> tuple[list, list]:
    """(open, past): the not yet completed, soonest first; the `past` latest others, newest first."""
    rows = session.scalars(select(Maintenance).options(selectinload(Maintenance.updates))
                           .where(open_condition(now))
                           .order_by(Maintenance.scheduled_for, Maintenance.id)).all()
    done = session.scalars(select(Maintenance).options(selectinload(Maintenance.updates))
                           .where(~open_condition(now))
                           .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc()).limit(past)).all()
    return list(rows), list(done)


def open_condition(now: datetime):
    """Not called off and not completed, by hand or automatically, by `now`."""
    return (Maintenance.cancelled_at.is_(None) & Maintenance.completed_at.is_(None)
            & ~(Maintenance.auto_complete & (Maintenance.scheduled_until <= now)))


# --- writing --------------------------------------------------------------------------------------

def _check_plan(*, title: str, scheduled_for: datetime | None, scheduled_until: datetime | None,
                components: dict[Component, str], now: datetime, start_moved: bool = True) -> None:
    if not (title or "").strip():
        raise FieldError("Give the maintenance a title customers will understand.", field="title")
    if scheduled_for is None:
        raise FieldError("Enter when the work starts (UTC).", field="scheduled_for")
    if scheduled_until is None:
        raise FieldError("Enter when the work will be over (UTC).", field="scheduled_until")
    if start_moved and scheduled_for < now - EARLIEST_START:
        raise FieldError("A maintenance can start at most a day ago: enter when the work starts.",
                         field="scheduled_for")
    if scheduled_for > now + FURTHEST_AHEAD:
        raise FieldError("Schedule maintenance at most a year ahead.", field="scheduled_for")
    if scheduled_until <= now:
        raise FieldError("This window is already over: choose an end in the future.", field="scheduled_until")
    if scheduled_until <= scheduled_for:
        raise FieldError("The window must end after it starts.", field="scheduled_until")
    if scheduled_until - scheduled_for > LONGEST_WINDOW:
        raise FieldError("A window can last at most 31 days; split longer work into several.",
                         field="scheduled_until")
    for component, value in components.items():
        if value not in AFFECTED_STATUSES:
            raise FieldError(f"Choose how {component.name} is affected.", field=component_field_name(component))


def _set_components(maintenance: Maintenance, components: dict[Component, str]) -> None:
    wanted = {component.id: status for component, status in components.items()}
    for link in list(maintenance.components):
        if link.component_id in wanted:
            link.status = wanted.pop(link.component_id)
        else:
            maintenance.components.remove(link)
    for component_id, status in wanted.items():
        maintenance.components.append(MaintenanceComponent(component_id=component_id, status=status))


def schedule(*, session: Session, actor: User, title: str, body: str, scheduled_for: datetime | None,
             scheduled_until: datetime | None, components: dict[Component, str] | None = None,
             auto_start: bool = True, auto_complete: bool = True) -> Maintenance:
    """Announce a maintenance window on the status page, with its first update (flushes)."""
    now, components = utcnow(), components or {}
    _check_plan(title=title, scheduled_for=scheduled_for, scheduled_until=scheduled_until,
                components=components, now=now)
    if not (body or "").strip():
        raise FieldError("Tell customers what will happen and what they will notice.", field="body")
    maintenance = Maintenance(public_id=new_public_id(), title=title.strip(), scheduled_for=scheduled_for,
                              scheduled_until=scheduled_until, auto_start=auto_start, auto_complete=auto_complete,
                              created_at=now, updated_at=now, created_by=actor)
    _set_components(maintenance, components)
    first = _update(actor, "scheduled", body, now)
    maintenance.updates.append(first)
    session.add(maintenance)
    session.flush()
    announce(session=session, about="maintenance", public_id=maintenance.public_id, update_id=first.public_id)
    return maintenance


def _update(actor: User, status: str, body: str, now: datetime) -> MaintenanceUpdate:
    return MaintenanceUpdate(public_id=new_public_id(), status=status, body=body.strip(),
                             body_html=html_to_store(body.strip()), posted_at=now, author=actor)


def _refuse_if_over(maintenance: Maintenance, now: datetime) -> str:
    current = status_of(maintenance, now)
    if current == "cancelled":
        raise FieldError("This maintenance was called off; schedule a new one.", field="title")
    if current == "completed":
        raise FieldError("This maintenance is complete; schedule a new one for more work.", field="title")
    return current


def edit(*, session: Session, actor: User, maintenance: Maintenance, version: int | None, title: str,
         scheduled_for: datetime | None, scheduled_until: datetime | None, components: dict[Component, str],
         auto_start: bool, auto_complete: bool) -> Maintenance:
    """Change the plan of a maintenance that is not over (flushes). Once the work has started its
    start stays as it happened; the end may move (an overrun), never into the past."""
    check_version(stored=maintenance.version, expected=version,
                  message=lambda: "Someone changed this maintenance while you were editing it.")
    now = utcnow()
    current = _refuse_if_over(maintenance, now)
    if current != "scheduled" and scheduled_for != maintenance.scheduled_for:
        raise FieldError("The work has started: its start can no longer move.", field="scheduled_for")
    _check_plan(title=title, scheduled_for=scheduled_for, scheduled_until=scheduled_until,
                components=components, now=now, start_moved=scheduled_for != maintenance.scheduled_for)
    maintenance.title, maintenance.scheduled_for, maintenance.scheduled_until = title.strip(), scheduled_for, \
        scheduled_until
    maintenance.auto_start, maintenance.auto_complete = auto_start, auto_complete
    _set_components(maintenance, components)
    maintenance.updated_at = now
    session.flush()
    return maintenance


def post_update(*, session: Session, actor: User, maintenance: Maintenance, status: str,
                body: str) -> MaintenanceUpdate:
    """Post a public update on a maintenance that is not over (flushes)."""
    now = utcnow()
    if status not in MAINTENANCE_STATUSES:
        raise FieldError("Choose one of the listed statuses.", field="status")
    if not (body or "").strip():
        raise FieldError("Write the update customers will read.", field="body")
    current = status_of(maintenance, now)
    if current == "cancelled":
        raise FieldError("This maintenance was called off; schedule a new one.", field="status")
    if current == "completed" and status != "completed":
        raise FieldError("Customers were told this maintenance is complete; schedule a new one for more work.",
                         field="status")
    update = _update(actor, status, body, now)
    maintenance.updates.append(update)
    maintenance.completed_at = now if status == "completed" else None
    maintenance.updated_at = now
    session.flush()
    announce(session=session, about="maintenance", public_id=maintenance.public_id, update_id=update.public_id)
    return update


def cancel(*, session: Session, actor: User, maintenance: Maintenance) -> None:
    """Call off a maintenance that has not started: it leaves the status page (flushes)."""
    now = utcnow()
    if status_of(maintenance, now) != "scheduled":
        raise FieldError("Only a maintenance that has not started can be called off; post an update "
                         "that completes it instead.", field="status")
    maintenance.cancelled_at = maintenance.updated_at = now
    session.flush()
