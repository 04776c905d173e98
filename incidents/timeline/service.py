"""Writing and reading the timeline. Entries are only ever added, never changed."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from sqlalchemy import exists, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import EditConflict, FieldError, NotFound, check_version
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.paging import Cursor
from incidents.timeline.models import EntryKind, TimelineEntry, TimelinePin, Visibility

log = logging.getLogger(__name__)


def add_entry(*, session: Session, incident: Incident, author: User | None, kind: EntryKind,
              body: str, visibility: Visibility = Visibility.internal,
              occurred_at: datetime | None = None, public_status: str | None = None) -> TimelineEntry:
    """Append one entry to an incident's timeline (flushes; the caller commits)."""
    return _append(session, incident_id=incident.id, kind=kind, body=body.strip(),
                   body_html=html_to_store(body.strip()), visibility=visibility, occurred_at=occurred_at,
                   public_status=public_status, author=author)


def add_entry_by_ids(*, session: Session, incident_id: int, author_id: int | None, kind: EntryKind, body: str,
                     body_html: str, visibility: Visibility, occurred_at: datetime | None) -> TimelineEntry:
    """add_entry for a writer holding ids rather than loaded objects, with the body's HTML already
    rendered (`html_to_store(body.strip())`): the API's batched posts write others' entries under
    the write lock, where loading and rendering would make every writer wait."""
    return _append(session, incident_id=incident_id, kind=kind, body=body.strip(), body_html=body_html,
                   visibility=visibility, occurred_at=occurred_at, public_status=None, author_id=author_id)


def _append(session: Session, *, occurred_at: datetime | None, **columns) -> TimelineEntry:
    now = utcnow()
    check_occurred_at(occurred_at, now=now)
    entry = TimelineEntry(**columns, occurred_at=occurred_at or now, recorded_at=now)
    session.add(entry)
    session.flush()
    return entry


def check_occurred_at(occurred_at: datetime | None, *, now: datetime | None = None) -> None:
    """A new entry's time, when it gives one, is not in the future (FieldError)."""
    if occurred_at is not None and occurred_at > (now or utcnow()):
        raise FieldError("An entry cannot happen in the future; leave the time empty for now.", field="occurred_at")


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
    check_version(stored=latest.revision, expected=expected_revision, message=lambda: (
        f"Someone corrected this entry while you were editing (it is now revision {latest.revision}). "
        "Review the latest text below and correct it again."))
    if latest.kind is EntryKind.status_change and kind not in (None, EntryKind.status_change):
        raise FieldError("A status change stays a status change; correct its wording only.", field="kind")
    now = utcnow()
    if occurred_at is not None and occurred_at > now:
        raise FieldError("An entry cannot happen in the future.", field="occurred_at")
    if occurred_at is not None and occurred_at == latest.occurred_at.replace(second=0, microsecond=0):
        # The form shows times to the minute, so an untouched time comes back without its
        # seconds; keep the exact one, or the entry would jump ahead of its neighbours.
        occurred_at = latest.occurred_at
    correction = TimelineEntry(
        incident_id=latest.incident_id, original_id=latest.root_id, revision=latest.revision + 1,
        author=author, kind=kind or latest.kind, visibility=visibility or latest.visibility,
        body=body.strip(), body_html=html_to_store(body.strip()),
        occurred_at=occurred_at or latest.occurred_at, recorded_at=now,
        correction_reason=reason.strip(), public_status=latest.public_status,
    )
    try:
        # Two corrections of the same revision that both passed the check above collide on the
        # unique (original_id, revision): the second is a conflict to review, not a server error.
        with session.begin_nested():
            session.add(correction)
    except IntegrityError:
        raise EditConflict("Someone corrected this entry at the same moment. Review the latest "
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
class TimelineFilter:
    """Which entries to show, judged by each entry's latest revision; empty means all."""

    kinds: frozenset[EntryKind] = frozenset()
    visibility: Visibility | None = None

    @property
    def active(self) -> bool:
        return bool(self.kinds) or self.visibility is not None


NO_FILTER = TimelineFilter()


def _root_and_is_latest():
    """The root id of an entry, and the condition that it is its entry's latest revision."""
    entry, later = TimelineEntry, aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    return root, ~exists().where(later.original_id == root, later.revision > entry.revision)


def _latest_revisions(incident: Incident, filters: TimelineFilter):
    """The incident's entries at their latest revision, filtered, as (entry, root id, select)."""
    entry = TimelineEntry
    root, is_latest = _root_and_is_latest()
    stmt = select(entry).where(entry.incident_id == incident.id, is_latest)
    if filters.kinds:
        stmt = stmt.where(entry.kind.in_(sorted(filters.kinds, key=lambda k: k.value)))
    if filters.visibility is not None:
        stmt = stmt.where(entry.visibility == filters.visibility)
    return entry, root, stmt


def timeline_for(*, session: Session, incident: Incident, newest_first: bool = True,
                 limit: int | None = None, before: Cursor | None = None,
                 filters: TimelineFilter = NO_FILTER) -> list[TimelineItem]:
    """The incident's timeline as shown: one item per entry at its latest revision, ordered by
    when it happened. With `limit`/`before` it returns one page (keyset pagination), so an
    incident with tens of thousands of entries costs the same as a small one."""
    entry, root, stmt = _latest_revisions(incident, filters)
    stmt = stmt.options(selectinload(entry.author))
    if before is not None:
        stmt = stmt.where(before.below(entry.occurred_at, root) if newest_first
                          else before.above(entry.occurred_at, root))
    order = (entry.occurred_at.desc(), root.desc()) if newest_first else (entry.occurred_at, root)
    stmt = stmt.order_by(*order)
    if limit is not None:
        stmt = stmt.limit(limit)
    items = [TimelineItem(current=row) for row in session.scalars(stmt)]
    _attach_history(session, items)
    return items


def timeline_span(*, session: Session, incident: Incident,
                  filters: TimelineFilter = NO_FILTER) -> tuple[datetime | None, datetime | None]:
    """When the first and the last shown entry happened (None, None for an empty timeline)."""
    entry, _root, stmt = _latest_revisions(incident, filters)
    first = stmt.with_only_columns(entry.occurred_at).order_by(entry.occurred_at).limit(1)
    last = stmt.with_only_columns(entry.occurred_at).order_by(entry.occurred_at.desc()).limit(1)
    # One round trip; each side walks the (incident, occurred_at) index from one end.
    row = session.execute(select(first.scalar_subquery(), last.scalar_subquery())).one()
    return row[0], row[1]


def spans_days(first: datetime | None, last: datetime | None) -> bool:
    """True when the two moments fall on different UTC days."""
    return bool(first and last) and utc_day(first) != utc_day(last)


def utc_day(moment: datetime) -> date:
    return moment.astimezone(UTC).date()


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


def count_entries(*, session: Session, incident: Incident, filters: TimelineFilter = NO_FILTER,
                  at_most: int | None = None) -> int:
    """How many entries the timeline has (each counted once, however often corrected). With
    `at_most`, counting stops after at_most + 1: a count above at_most means "more than that", and
    the cost stays bounded on a timeline of a million entries."""
    if filters.active:
        _entry, _root, stmt = _latest_revisions(incident, filters)
    else:
        stmt = select(TimelineEntry.id).where(TimelineEntry.incident_id == incident.id,
                                              TimelineEntry.original_id.is_(None))
    if at_most is not None:
        stmt = stmt.limit(at_most + 1)
    return session.scalar(select(func.count()).select_from(stmt.subquery()))


# --- pinned key entries ------------------------------------------------------------------------
# Pins are presentation, not history: a pin row says who pinned which entry when, and unpinning
# removes it. They point at the entry's first revision so corrections stay pinned.

def pin_entry(*, session: Session, incident: Incident, entry: TimelineEntry, by: User) -> bool:
    """Pin the entry as a key entry; False when it was pinned already (flushes)."""
    if entry.incident_id != incident.id:
        raise NotFound("No such timeline entry.")
    if session.scalar(select(TimelinePin.id).where(TimelinePin.entry_id == entry.root_id)):
        return False
    try:
        # Two people pinning at once collide on the unique entry_id: the second is a no-op.
        with session.begin_nested():
            session.add(TimelinePin(incident_id=incident.id, entry_id=entry.root_id, pinned_by=by,
                                    pinned_at=utcnow()))
    except IntegrityError:
        return False
    log.info("%s pinned timeline entry %s of %s", by.email, entry.root_id, incident.reference)
    return True


def unpin_entry(*, session: Session, incident: Incident, entry: TimelineEntry, by: User) -> bool:
    """Remove the entry's pin; False when it was not pinned (flushes)."""
    if entry.incident_id != incident.id:
        raise NotFound("No such timeline entry.")
    pin = session.scalar(select(TimelinePin).where(TimelinePin.entry_id == entry.root_id,
                                                   TimelinePin.incident_id == incident.id))
    if pin is None:
        return False
    session.delete(pin)
    session.flush()
    log.info("%s unpinned timeline entry %s of %s", by.email, entry.root_id, incident.reference)
    return True


@dataclass
class PinnedItem:
    """A pinned entry as shown: its latest revision and who pinned it when."""

    current: TimelineEntry
    pin: TimelinePin


def pinned_for(*, session: Session, incident: Incident) -> list[PinnedItem]:
    """The incident's pinned entries at their latest revision, in the order they happened."""
    entry = TimelineEntry
    root, is_latest = _root_and_is_latest()
    # Read from the (few) pins to their revisions through the id indexes, never by reading the
    # incident's entries, so the cost does not grow with the timeline.
    stmt = (select(entry, TimelinePin).select_from(TimelinePin)
            .join(entry, or_(entry.id == TimelinePin.entry_id, entry.original_id == TimelinePin.entry_id))
            .where(TimelinePin.incident_id == incident.id, is_latest)
            .options(joinedload(entry.author), joinedload(TimelinePin.pinned_by))
            .order_by(entry.occurred_at, root))
    return [PinnedItem(current=row, pin=pin) for row, pin in session.execute(stmt)]
