"""Writing and reading the timeline. Entries are only ever added, never changed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import DomainError, NotFound
from incidents.incident.models import Incident
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility


class TimelineError(DomainError):
    pass


def add_entry(*, session: Session, incident: Incident, author: User | None, kind: EntryKind,
              body: str, visibility: Visibility = Visibility.internal,
              occurred_at: datetime | None = None) -> TimelineEntry:
    """Append one entry to an incident's timeline (flushes; the caller commits)."""
    now = utcnow()
    if occurred_at is not None and occurred_at > now:
        raise TimelineError("An entry cannot happen in the future; leave the time empty for now.")
    entry = TimelineEntry(incident_id=incident.id, author=author, kind=kind, body=body.strip(),
                          visibility=visibility, occurred_at=occurred_at or now, recorded_at=now)
    session.add(entry)
    session.flush()
    return entry


def get_entry(*, session: Session, incident: Incident, entry_id: int) -> TimelineEntry:
    entry = session.get(TimelineEntry, entry_id)
    if entry is None or entry.incident_id != incident.id:
        raise NotFound("No such timeline entry.")
    return entry


def latest_revision(*, session: Session, entry: TimelineEntry) -> TimelineEntry:
    """The newest revision of the entry `entry` belongs to."""
    root_id = entry.root_id
    return session.scalar(
        select(TimelineEntry)
        .where((TimelineEntry.id == root_id) | (TimelineEntry.original_id == root_id))
        .order_by(TimelineEntry.revision.desc())
        .limit(1)
    )


def correct_entry(*, session: Session, author: User, entry: TimelineEntry, expected_revision: int,
                  body: str, reason: str, kind: EntryKind | None = None,
                  visibility: Visibility | None = None,
                  occurred_at: datetime | None = None) -> TimelineEntry:
    """Add a corrected revision of an entry; the original and earlier revisions stay as they were."""
    latest = latest_revision(session=session, entry=entry)
    if latest.revision != expected_revision:
        raise TimelineError(
            f"Someone corrected this entry while you were editing (it is now revision "
            f"{latest.revision}). Review the latest text below and correct it again."
        )
    if latest.kind is EntryKind.status_change and kind not in (None, EntryKind.status_change):
        raise TimelineError("A status change stays a status change; correct its wording only.")
    now = utcnow()
    if occurred_at is not None and occurred_at > now:
        raise TimelineError("An entry cannot happen in the future.")
    correction = TimelineEntry(
        incident_id=latest.incident_id, original_id=latest.root_id, revision=latest.revision + 1,
        author=author, kind=kind or latest.kind, visibility=visibility or latest.visibility,
        body=body.strip(), occurred_at=occurred_at or latest.occurred_at, recorded_at=now,
        correction_reason=reason.strip(),
    )
    session.add(correction)
    session.flush()
    return correction


@dataclass
class TimelineItem:
    """One entry as shown: its latest revision, and the earlier ones newest first."""

    current: TimelineEntry
    history: list[TimelineEntry] = field(default_factory=list)

    @property
    def corrected(self) -> bool:
        return bool(self.history)


def timeline_for(*, session: Session, incident: Incident, newest_first: bool = True) -> list[TimelineItem]:
    """The incident's timeline as shown: one item per entry, at its latest revision."""
    rows = session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id)
        .options(selectinload(TimelineEntry.author))
        .order_by(TimelineEntry.revision)
    ).all()
    items: dict[int, TimelineItem] = {}
    for row in rows:
        item = items.get(row.root_id)
        if item is None:
            items[row.root_id] = TimelineItem(current=row)
        else:
            item.history.insert(0, item.current)
            item.current = row
    ordered = sorted(items.values(), key=lambda i: (i.current.occurred_at, i.current.root_id),
                     reverse=newest_first)
    return ordered


def count_entries(*, session: Session, incident: Incident) -> int:
    return session.scalar(
        select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.original_id.is_(None))
    )
