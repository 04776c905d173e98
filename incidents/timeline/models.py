"""The timeline: the append-only record of what happened during an incident."""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint, event, text
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum
from incidents.markdown import stored_html


class EntryKind(LabelledEnum):
    note = "note"
    status_change = "status_change"
    impact = "impact"
    recovery = "recovery"
    communication = "communication"
    decision = "decision"
    action = "action"


# Kinds a person may choose when posting by hand; status changes are written by the app.
POSTABLE_KINDS = [k for k in EntryKind if k is not EntryKind.status_change]


class Visibility(LabelledEnum):
    internal = "internal"
    public = "public"


class TimelineEntryError(Exception):
    """Raised when code tries to change or delete a recorded timeline entry."""


class TimelineEntry(db.Model):
    """One thing that happened. Never updated or deleted: a correction is a new revision.

    The first revision of an entry has `original_id` NULL and `revision` 1; corrections point at
    that first revision and count up, so the unique constraint stops two people writing the
    same revision number at once.
    """

    __tablename__ = "timeline_entry"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    original_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entry.id"))
    revision: Mapped[int] = mapped_column(default=1)
    kind: Mapped[EntryKind] = enum_column(EntryKind, name="entry_kind")
    visibility: Mapped[Visibility] = enum_column(Visibility, name="visibility", default=Visibility.internal)
    body: Mapped[str] = mapped_column(Text)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    correction_reason: Mapped[str | None] = mapped_column(String(500))
    # The body rendered and sanitised once, when written: entries never change, so neither does
    # their HTML, and long timelines need not re-render Markdown on every page view.
    body_html: Mapped[str | None] = mapped_column(Text)
    # Set only on updates published to the status page (investigating … resolved, postmortem).
    public_status: Mapped[str | None] = mapped_column(String(20))

    author: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("original_id", "revision", name="uq_timeline_entry_original_revision"),
        Index("ix_timeline_entry_incident_occurred", "incident_id", "occurred_at", "id"),
        Index("ix_timeline_entry_original_id", "original_id"),
        # The live page version asks for an incident's newest entry id: one probe, however long
        # the timeline (incidents/incident/live.py).
        Index("ix_timeline_entry_incident_id_id", "incident_id", "id"),
        # Public updates are a few rows among millions: partial indexes find them without reading
        # the rest, for the public site's change check (the newest one) and for an incident's
        # publish panel (its own, newest first). Issue #19.
        Index("ix_timeline_entry_public_recorded", "recorded_at",
              sqlite_where=text("public_status IS NOT NULL"), postgresql_where=text("public_status IS NOT NULL")),
        Index("ix_timeline_entry_incident_public", "incident_id", "occurred_at", "id",
              sqlite_where=text("public_status IS NOT NULL"), postgresql_where=text("public_status IS NOT NULL")),
        CheckConstraint("public_status IN ('investigating', 'identified', 'monitoring', 'resolved', "
                        "'postmortem')", name="public_status_valid"),
    )

    @property
    def root_id(self) -> int:
        return self.original_id or self.id

    @property
    def html(self) -> Markup:
        """The sanitised HTML of the body (rendered when written; older rows render now)."""
        return stored_html(self.body_html, self.body)


@event.listens_for(TimelineEntry, "before_update")
def _refuse_update(_mapper, _connection, target):
    raise TimelineEntryError(f"timeline entry {target.id} is append-only; add a correction")


@event.listens_for(TimelineEntry, "before_delete")
def _refuse_delete(_mapper, _connection, target):
    raise TimelineEntryError(f"timeline entry {target.id} is append-only and cannot be deleted")


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state):
    # Bulk update()/delete() statements skip the per-object hooks above, so refuse them here.
    if (state.is_update or state.is_delete) and any(m.class_ is TimelineEntry for m in state.all_mappers):
        raise TimelineEntryError("timeline entries are append-only; add a correction instead")


class TimelinePin(db.Model):
    """A key entry pinned to the top of the incident page. Pins point at an entry's first revision,
    so a pinned entry stays pinned through corrections."""

    __tablename__ = "timeline_pin"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("timeline_entry.id"), unique=True)
    pinned_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    pinned_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    pinned_by: Mapped[User | None] = relationship()
