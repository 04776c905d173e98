"""What the public is told now, kept on the incident row (`Incident.public_status`).

The status an incident shows on the public site is the one of its newest public update: the latest
revision of each update, still public, newest by when it happened. Working that out means reading
the incident's updates, and the public site needs it for every published incident to know which are
unresolved; kept on the row, finding them is one look-up in a small index however many incidents
were ever published (issue #19).

It is kept by the database session itself: whenever a flush writes a timeline entry that carries a
public status (a new update, or a correction of one, which may change its time or take it off the
public side), the incident's status is worked out again in the same transaction. No service can
forget to keep it, and a rollback takes it back with the update. The same hook then records any
component whose public status this moved (status/history.py).
"""
from __future__ import annotations

from sqlalchemy import Connection, event, exists, func, select, update
from sqlalchemy.orm import Session, aliased, attributes

from incidents.incident.models import Incident
from incidents.status import history
from incidents.timeline.models import TimelineEntry, Visibility


def newest_public_status(connection: Connection, incident_id: int) -> str | None:
    """The status the public sees: its newest public update's; "investigating" for a published
    incident with none left public (as the public view shows it); None when never published."""
    entry, later = TimelineEntry, aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    newest = (select(entry.public_status)
              .where(entry.incident_id == incident_id, entry.public_status.is_not(None),
                     entry.visibility == Visibility.public,
                     ~exists().where(later.original_id == root, later.revision > entry.revision))
              .order_by(entry.occurred_at.desc(), root.desc()).limit(1).scalar_subquery())
    published, status = connection.execute(
        select(Incident.published_at, newest).where(Incident.id == incident_id)).one()
    return None if published is None else (status or "investigating")


def refresh(connection: Connection, incident_ids: set[int], session: Session | None = None) -> None:
    """Work the public status of these incidents out again and store it (and on the loaded objects)."""
    for incident_id in sorted(incident_ids):
        status = newest_public_status(connection, incident_id)
        # A plain UPDATE: the incident's optimistic-lock version is for what people edit, and a
        # public update posted meanwhile must not make someone's open edit form stale.
        connection.execute(update(Incident.__table__).where(Incident.__table__.c.id == incident_id)
                           .values(public_status=status))
        loaded = session.identity_map.get(session.identity_key(Incident, incident_id)) if session else None
        if loaded is not None:
            attributes.set_committed_value(loaded, "public_status", status)


@event.listens_for(Session, "after_flush")
def _keep_public_status(session: Session, _context) -> None:
    touched = {entry.incident_id for entry in session.new
               if isinstance(entry, TimelineEntry) and entry.public_status is not None}
    if touched:
        refresh(session.connection(), touched, session)
    # The components' status history follows, once the incidents' public statuses are current.
    if touched or history.touches_status(session):
        history.record_changes(session.connection())
