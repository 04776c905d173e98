"""The public side's maintenance records, copied field by field from the plan and its public updates
(like status/public.py does for incidents): nothing internal (who posted, who scheduled) has a
field to travel in. Automatic steps appear as updates with fixed wording (lifecycle.py)."""
from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from incidents.maintenance import lifecycle
from incidents.maintenance.models import UNDER_WAY, Maintenance, MaintenanceComponent, MaintenanceUpdate
from incidents.maintenance.service import LONGEST_WINDOW, open_condition
from incidents.markdown import plain_text, stored_html
from incidents.status.models import Component
from incidents.status.public import PublicUpdate


@dataclass(frozen=True)
class PublicMaintenance:
    """A maintenance as the public sees it: the fields of a public incident (so pages, JSON and
    feeds treat both alike) and its window."""

    id: str
    name: str
    status: str  # scheduled, in_progress, verifying or completed: where it stands now
    created_at: datetime
    updated_at: datetime
    started_at: datetime  # when the work got under way, or when it is to
    resolved_at: datetime | None  # when it was completed
    shortlink: str
    updates: tuple[PublicUpdate, ...]  # newest first, the automatic steps among them
    component_ids: tuple[str, ...]
    scheduled_for: datetime
    scheduled_until: datetime
    components: tuple[tuple[str, str, str], ...] = ()  # (public id, name, status while under way)
    impact: str = "maintenance"
    monitoring_at: None = None

    @property
    def upcoming(self) -> bool:
        return self.status == "scheduled"

    @property
    def active(self) -> bool:
        return self.status in UNDER_WAY


@dataclass(frozen=True)
class Loaded:
    maintenances: tuple[PublicMaintenance, ...]  # the open ones and the `recent` latest, latest first
    under_way: tuple[tuple[int, str], ...]  # (component row id, status) of the maintenances under way


def load(*, session: Session, base: str, now: datetime, recent: int = 0, public_id: str | None = None) -> Loaded:
    """Every maintenance not over by `now`, and the `recent` latest scheduled (not called off), or
    the one with `public_id`."""
    columns = (Maintenance.id, Maintenance.public_id, Maintenance.title, Maintenance.scheduled_for,
               Maintenance.scheduled_until, Maintenance.auto_start, Maintenance.auto_complete,
               Maintenance.created_at, Maintenance.updated_at)
    rows = {r.id: r for r in session.execute(select(*columns).where(open_condition(now))).all()}
    if recent > 0:
        rows |= {r.id: r for r in session.execute(
            select(*columns).where(Maintenance.cancelled_at.is_(None))
            .order_by(Maintenance.scheduled_for.desc(), Maintenance.id.desc()).limit(recent)).all()}
    if public_id is not None:
        rows |= {r.id: r for r in session.execute(select(*columns).where(
            Maintenance.public_id == public_id, Maintenance.cancelled_at.is_(None))).all()}
    if not rows:
        return Loaded((), ())
    posted = _posted_updates(session=session, ids=list(rows))
    components = _components(session=session, ids=list(rows))
    built, under_way = [], []
    for row in rows.values():
        found = lifecycle.steps(_plan(row), posted.get(row.id, []), now)
        members = components.get(row.id, [])
        built.append(_public(row, found, members, base))
        if lifecycle.status(found) in UNDER_WAY:
            under_way += [(row_id, status) for row_id, _cid, _name, status in members]
    built.sort(key=lambda m: (m.scheduled_for, m.id), reverse=True)
    return Loaded(tuple(built), tuple(under_way))


def _plan(row) -> lifecycle.Plan:
    return lifecycle.Plan(public_id=str(row.public_id), scheduled_for=row.scheduled_for,
                          scheduled_until=row.scheduled_until, auto_start=bool(row.auto_start),
                          auto_complete=bool(row.auto_complete))


def _posted_updates(*, session: Session, ids: list[int]) -> dict[int, list[lifecycle.Step]]:
    found: dict[int, list[lifecycle.Step]] = {}
    for row in session.execute(
            select(MaintenanceUpdate.maintenance_id, MaintenanceUpdate.public_id, MaintenanceUpdate.status,
                   MaintenanceUpdate.body, MaintenanceUpdate.body_html, MaintenanceUpdate.posted_at)
            .where(MaintenanceUpdate.maintenance_id.in_(ids))
            .order_by(MaintenanceUpdate.posted_at, MaintenanceUpdate.id)):
        found.setdefault(row.maintenance_id, []).append(lifecycle.Step(str(row.status), row.posted_at, row))
    return found


def _components(*, session: Session, ids: list[int]) -> dict[int, list[tuple[int, str, str, str]]]:
    """(component row id, public id, name, status) of each maintenance, in the page's order."""
    found: dict[int, list[tuple[int, str, str, str]]] = {}
    for maintenance_id, row_id, public_id, name, status in session.execute(
            select(MaintenanceComponent.maintenance_id, Component.id, Component.public_id, Component.name,
                   MaintenanceComponent.status)
            .join(Component, Component.id == MaintenanceComponent.component_id)
            .where(MaintenanceComponent.maintenance_id.in_(ids), Component.archived_at.is_(None))
            .order_by(Component.position, Component.name)):
        found.setdefault(maintenance_id, []).append((row_id, str(public_id), str(name), str(status)))
    return found


def _public(row, found: list[lifecycle.Step], members: list, base: str) -> PublicMaintenance:
    public_id = str(row.public_id)
    affected = tuple((cid, name, status) for _row_id, cid, name, status in members)
    first_under_way = next((s for s in found if s.status in UNDER_WAY), None)
    updates = tuple(_public_update(public_id, step, affected, first=step is first_under_way)
                    for step in reversed(found))
    return PublicMaintenance(
        id=public_id, name=str(row.title), status=lifecycle.status(found), created_at=row.created_at,
        updated_at=max([row.updated_at, *(s.at for s in found)]),
        started_at=lifecycle.started_at(found) or row.scheduled_for, resolved_at=lifecycle.completed_at(found),
        shortlink=f"{base}/maintenance/{public_id}", updates=updates,
        component_ids=tuple(sorted(cid for cid, _name, _status in affected)),
        scheduled_for=row.scheduled_for, scheduled_until=row.scheduled_until, components=affected)


def _public_update(maintenance_id: str, step: lifecycle.Step, affected: tuple, *, first: bool) -> PublicUpdate:
    """A step as a public update. The step that starts the work announces the components' planned
    statuses, the one that completes it announces them operational again."""
    if step.automatic:
        update_id, body_html = lifecycle.auto_update_id(maintenance_id, step.status), \
            f"<p>{html.escape(lifecycle.AUTO_WORDING[step.status])}</p>"
        created = step.at
    else:
        row = step.update
        update_id, created = str(row.public_id), row.posted_at
        body_html = str(stored_html(row.body_html, str(row.body)))
    announced = ()
    if step.status == "completed":
        announced = tuple((cid, name, "operational") for cid, name, _status in affected)
    elif first:
        announced = affected
    return PublicUpdate(id=update_id, incident_id=maintenance_id, status=step.status, body=plain_text(body_html),
                        body_html=body_html, created_at=created, updated_at=created, display_at=step.at,
                        affected_components=announced)


def is_announced(*, session: Session, public_id: str) -> bool:
    """Whether a maintenance with this public id is on the public site (not called off)."""
    return session.scalar(select(Maintenance.id).where(Maintenance.public_id == public_id,
                                                       Maintenance.cancelled_at.is_(None))) is not None


def change_moments(now: datetime) -> tuple:
    """Scalar subqueries for the latest change to maintenance the public can see, automatic steps
    whose time has come included: the public site's cache moves when a window opens or closes with
    no one posting. (The status site asks them in its one change query, status/public.py.)"""
    return (
        select(func.max(Maintenance.updated_at)).scalar_subquery(),
        select(func.max(case((Maintenance.auto_start & (Maintenance.scheduled_for <= now),
                              Maintenance.scheduled_for)))).scalar_subquery(),
        select(func.max(case((Maintenance.auto_complete & (Maintenance.scheduled_until <= now),
                              Maintenance.scheduled_until)))).scalar_subquery(),
    )


def windows(*, session: Session, component_ids: list[int], opened: datetime,
            now: datetime) -> dict[int, list[tuple[str, datetime, datetime]]]:
    """(title, from, until) of the maintenance work on each component since `opened`: from when it
    got under way to when it was completed (or now)."""
    rows = {r.id: r for r in session.execute(
        select(Maintenance.id, Maintenance.public_id, Maintenance.title, Maintenance.scheduled_for,
               Maintenance.scheduled_until, Maintenance.auto_start, Maintenance.auto_complete)
        .join(MaintenanceComponent, MaintenanceComponent.maintenance_id == Maintenance.id)
        .where(MaintenanceComponent.component_id.in_(component_ids), Maintenance.cancelled_at.is_(None),
               Maintenance.scheduled_for <= now, Maintenance.scheduled_until >= opened - LONGEST_WINDOW)
        .distinct()).all()}
    if not rows:
        return {}
    posted = _posted_updates(session=session, ids=list(rows))
    members = session.execute(select(MaintenanceComponent.maintenance_id, MaintenanceComponent.component_id)
                              .where(MaintenanceComponent.maintenance_id.in_(list(rows)),
                                     MaintenanceComponent.component_id.in_(component_ids))).all()
    spans = {}
    for row_id, row in rows.items():
        found = lifecycle.steps(_plan(row), posted.get(row_id, []), now)
        start, end = lifecycle.started_at(found), lifecycle.completed_at(found) or now
        if start is not None and end > max(start, opened):
            spans[row_id] = (str(row.title), max(start, opened), end)
    found_windows: dict[int, list[tuple[str, datetime, datetime]]] = {}
    for maintenance_id, component_id in members:
        if maintenance_id in spans:
            found_windows.setdefault(component_id, []).append(spans[maintenance_id])
    return found_windows

