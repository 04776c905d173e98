"""Writing and reading the timeline. Entries are only ever added, never changed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import DomainError, NotFound
from incidents.incident.models import Incident
from incidents.markdown import render_markdown
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility


class TimelineError(DomainError):
    pass


class FutureEntry(TimelineError):
    """The time given for an entry is later than now: a typing mistake to show beside the field."""


def add_entry(*, session: Session, incident: Incident, author: User | None, kind: EntryKind,
              body: str, visibility: Visibility = Visibility.internal,
              occurred_at: datetime | None = None) -> TimelineEntry:
    """Append one entry to an incident's timeline (flushes; the caller commits)."""
    now = utcnow()
    if occurred_at is not None and occurred_at > now:
        raise FutureEntry("An entry cannot happen in the future; leave the time empty for now.")
    entry = TimelineEntry(incident_id=incident.id, author=author, kind=kind, body=body.strip(),
                          body_html=str(render_markdown(body.strip())),
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
        raise FutureEntry("An entry cannot happen in the future.")
    if occurred_at is not None and occurred_at == latest.occurred_at.replace(second=0, microsecond=0):
        # The form shows times to the minute, so an untouched time comes back without its
        # seconds; keep the exact one, or the entry would jump ahead of its neighbours.
        occurred_at = latest.occurred_at
    correction = TimelineEntry(
        incident_id=latest.incident_id, original_id=latest.root_id, revision=latest.revision + 1,
        author=author, kind=kind or latest.kind, visibility=visibility or latest.visibility,
        body=body.strip(), body_html=str(render_markdown(body.strip())),
        occurred_at=occurred_at or latest.occurred_at, recorded_at=now,
        correction_reason=reason.strip(),
    )
    try:
        # Two corrections of the same revision that both passed the check above collide on the
        # unique (original_id, revision): the second is a conflict to review, not a server error.
        with session.begin_nested():
            session.add(correction)
    except IntegrityError:
        raise TimelineError("Someone corrected this entry at the same moment. Review the latest "
                            "text below and correct it again.") from None
    return correction


@dataclass
class TimelineItem:
    """One entry as shown: its latest revision, and the earlier ones newest first."""

    current: TimelineEntry
    history: list[TimelineEntry] = field(default_factory=list)

    @property
    def corrected(self) -> bool:
        return bool(self.history)


@dataclass(frozen=True)
class Cursor:
    """Where a page of the timeline ends: the (occurred_at, entry) of its last item."""

    occurred_at: datetime
    root_id: int

    def encode(self) -> str:
        return f"{self.occurred_at.isoformat()}~{self.root_id}"

    @classmethod
    def decode(cls, raw: str | None) -> "Cursor | None":
        """A cursor from a query string, or None when it is missing or malformed."""
        try:
            when, root_id = (raw or "").split("~")
            moment = datetime.fromisoformat(when)
            if moment.tzinfo is None or not 0 < int(root_id) < 2**31:
                return None
            # Converted here, where a moment at the edge of the calendar (year 1 at +05:00)
            # overflows harmlessly, rather than in the query, where it would be a server error.
            return cls(moment.astimezone(timezone.utc), int(root_id))
        except (ValueError, OverflowError):
            return None


def timeline_for(*, session: Session, incident: Incident, newest_first: bool = True,
                 limit: int | None = None, before: Cursor | None = None) -> list[TimelineItem]:
    """The incident's timeline as shown: one item per entry at its latest revision, ordered by
    when it happened. With `limit`/`before` it returns one page (keyset pagination), so an
    incident with tens of thousands of entries costs the same as a small one."""
    entry, later = TimelineEntry, aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    is_latest = ~exists().where(later.original_id == root, later.revision > entry.revision)
    stmt = (select(entry).where(entry.incident_id == incident.id, is_latest)
            .options(selectinload(entry.author)))
    if before is not None:
        if newest_first:
            stmt = stmt.where(or_(entry.occurred_at < before.occurred_at,
                                  and_(entry.occurred_at == before.occurred_at, root < before.root_id)))
        else:
            stmt = stmt.where(or_(entry.occurred_at > before.occurred_at,
                                  and_(entry.occurred_at == before.occurred_at, root > before.root_id)))
    order = (entry.occurred_at.desc(), root.desc()) if newest_first else (entry.occurred_at, root)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    items = [TimelineItem(current=row) for row in session.scalars(stmt)]
    _attach_history(session, items)
    return items


def _attach_history(session: Session, items: list[TimelineItem]) -> None:
    """Load the earlier revisions of the corrected items in one query."""
    corrected = {item.current.root_id: item for item in items if item.current.revision > 1}
    if not corrected:
        return
    rows = session.scalars(
        select(TimelineEntry)
        .where(or_(TimelineEntry.id.in_(corrected), TimelineEntry.original_id.in_(corrected)))
        .options(selectinload(TimelineEntry.author))
        .order_by(TimelineEntry.revision.desc())
    )
    for row in rows:
        item = corrected[row.root_id]
        if row.id != item.current.id:
            item.history.append(row)


def count_entries(*, session: Session, incident: Incident) -> int:
    return session.scalar(
        select(func.count()).select_from(TimelineEntry).where(
            TimelineEntry.incident_id == incident.id, TimelineEntry.original_id.is_(None))
    )
