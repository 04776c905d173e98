"""Each component's public status over time (`ComponentStatusChange`), recorded as it changes.

A component's public status is its admin override, else the worst status its unresolved published
incidents put it in (the public view's rule, status/public.py). Anything that can move it (a link
between an incident and a component, a component's own settings, an incident's public status) is
written through the session; after such a flush, the statuses are worked out again and every one
that differs from the last recorded is recorded, in the same transaction. The 90-day uptime of the
status page (issue #16) is computed from these rows, so past days never change when a component is
edited later.
"""
from __future__ import annotations

from sqlalchemy import Connection, insert, select
from sqlalchemy.orm import Session

from incidents.db import utcnow
from incidents.incident.models import Incident
from incidents.status.models import (
    OPEN_PUBLIC_STATUSES,
    Component,
    ComponentStatusChange,
    IncidentComponent,
    worst_by_component,
)


def current_statuses(connection: Connection) -> dict[int, str]:
    """Every shown component's public status now, by component id."""
    worst = worst_by_component(connection.execute(
        select(IncidentComponent.component_id, IncidentComponent.status)
        .join(Incident, Incident.id == IncidentComponent.incident_id)
        .where(Incident.published_at.is_not(None), Incident.public_status.in_(OPEN_PUBLIC_STATUSES))))
    return {component_id: override or worst.get(component_id, "operational")
            for component_id, override in connection.execute(
                select(Component.id, Component.status_override).where(Component.archived_at.is_(None)))}


def last_recorded(connection: Connection) -> dict[int, str]:
    """Each component's most recently recorded status."""
    change, newest = ComponentStatusChange, ComponentStatusChange.__table__.alias("newest")
    latest = (select(newest.c.id).where(newest.c.component_id == change.component_id)
              .order_by(newest.c.changed_at.desc(), newest.c.id.desc()).limit(1).scalar_subquery())
    return dict(connection.execute(select(change.component_id, change.status).where(change.id == latest)).all())


def record_changes(connection: Connection) -> int:
    """Record every component whose status differs from its last recorded one; how many were."""
    now = utcnow()
    before = last_recorded(connection)
    rows = [{"component_id": component_id, "status": status, "changed_at": now}
            for component_id, status in current_statuses(connection).items() if before.get(component_id) != status]
    if rows:
        connection.execute(insert(ComponentStatusChange.__table__), rows)
    return len(rows)


def touches_status(session: Session) -> bool:
    """Whether this flush wrote anything a component's public status depends on."""
    return any(isinstance(obj, (IncidentComponent, Component))
               for obj in (*session.new, *session.dirty, *session.deleted))
