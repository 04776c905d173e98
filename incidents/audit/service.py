"""Reading the audit log: filtered, newest first, a page at a time."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.audit.models import AuditEvent
from incidents.incident.models import Incident


@dataclass(frozen=True)
class AuditFilter:
    """Which events to show; None means any."""

    actor: str | None = None  # the e-mail address, any case
    entity_type: str | None = None
    entity_id: str | None = None
    incident_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass
class ShownEvent:
    event: AuditEvent
    reference: str | None  # the incident's reference, when the event belongs to one
    changes: list[tuple[str, str, str]]  # (field, before, after) as shown


SHOWN_CHARS = 160


def _show(value: object) -> str:
    """A recorded value as text for the page (the stored JSON keeps it whole)."""
    if value is None:
        return "—"
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "…"


def _changes(event: AuditEvent) -> list[tuple[str, str, str]]:
    before = json.loads(event.before) if event.before else {}
    after = json.loads(event.after) if event.after else {}
    if not isinstance(before, dict) or not isinstance(after, dict):
        return [("value", _show(before), _show(after))]
    return [(key, _show(before.get(key)), _show(after.get(key))) for key in sorted(set(before) | set(after))]


def events(*, session: Session, filters: AuditFilter, before_id: int | None = None,
           limit: int = 50) -> list[ShownEvent]:
    """One page of matching events, newest first, older than event `before_id` (keyset paging)."""
    stmt = select(AuditEvent)
    if filters.actor:
        stmt = stmt.where(AuditEvent.actor == filters.actor.strip().lower())
    if filters.entity_type:
        stmt = stmt.where(AuditEvent.entity_type == filters.entity_type)
    if filters.entity_id:
        stmt = stmt.where(AuditEvent.entity_id == filters.entity_id)
    if filters.incident_id is not None:
        stmt = stmt.where(AuditEvent.incident_id == filters.incident_id)
    if filters.action:
        stmt = stmt.where(AuditEvent.action == filters.action)
    if filters.since:
        stmt = stmt.where(AuditEvent.occurred_at >= filters.since)
    if filters.until:
        stmt = stmt.where(AuditEvent.occurred_at <= filters.until)
    if before_id is not None:
        stmt = stmt.where(AuditEvent.id < before_id)
    rows = list(session.scalars(stmt.order_by(AuditEvent.id.desc()).limit(limit)))
    incident_ids = {row.incident_id for row in rows if row.incident_id is not None}
    references = dict(session.execute(select(Incident.id, Incident.reference)
                                      .where(Incident.id.in_(incident_ids))).all()) if incident_ids else {}
    return [ShownEvent(row, references.get(row.incident_id), _changes(row)) for row in rows]


def incident_id_for(*, session: Session, reference: str) -> int | None:
    return session.scalar(select(Incident.id).where(Incident.reference == reference.strip().upper()))


COUNT_AT_MOST = 10_000  # the page says "more than 10,000 events" rather than count a million


def count(*, session: Session, at_most: int | None = None) -> int:
    """How many events the log holds, counting no further than at_most + 1 (above at_most means
    "more than that"): the log grows by every change for years (issue #19)."""
    limit = (at_most or COUNT_AT_MOST) + 1
    return session.scalar(select(func.count()).select_from(select(AuditEvent.id).limit(limit).subquery()))
