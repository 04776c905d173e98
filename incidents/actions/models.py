"""Action items: follow-ups from an incident with an owner, a due date, a kind and a status."""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.actions.enums import OPEN_CONDITION, ActionKind, ActionPriority, ActionStatus
from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow


class ActionItem(db.Model):
    __tablename__ = "action_item"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    kind: Mapped[ActionKind] = enum_column(ActionKind, name="action_kind")
    priority: Mapped[ActionPriority] = enum_column(ActionPriority, name="action_priority",
                                                   default=ActionPriority.medium)
    status: Mapped[ActionStatus] = enum_column(ActionStatus, name="action_status", default=ActionStatus.open)
    # Required by the service; NULL only when the owner's account is removed, which the views flag.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), index=True)
    due_on: Mapped[date] = mapped_column(Date)
    # Why it will not be done (required for won't do).
    reason: Mapped[str] = mapped_column(Text, default="")
    tracker_url: Mapped[str | None] = mapped_column(String(500))

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Who finished (done) or dropped (won't do) it, and when.
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])
    incident = relationship("Incident")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # The open items' list pages soonest due first by (due_on, id): done and dropped items, which
        # pile up over the years, are not in the index it walks (the query repeats the condition).
        # It replaced (status, due_on), which read every open item to sort them (issue #19).
        Index("ix_action_item_open_due", "due_on", "id", sqlite_where=text(OPEN_CONDITION),
              postgresql_where=text(OPEN_CONDITION)),
    )

    def is_overdue(self, today: date) -> bool:
        return self.status.is_open and self.due_on < today
