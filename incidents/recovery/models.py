"""Recovery workstreams: named lines of recovery work with an owner and progress over time."""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.incident.enums import DATA_CATEGORIES
from incidents.markdown import stored_html
from incidents.recovery.enums import SOURCES, WorkstreamStatus


class Workstream(db.Model):
    __tablename__ = "workstream"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str | None] = mapped_column(String(40))
    # Required by the forms; NULL only when the owner's account is removed, which the page flags.
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    unit: Mapped[str] = mapped_column(String(20), default="records")
    target: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[WorkstreamStatus] = enum_column(WorkstreamStatus, name="workstream_status",
                                                   default=WorkstreamStatus.planned)
    eta: Mapped[datetime | None] = mapped_column(UTCDateTime)
    source: Mapped[str] = mapped_column(String(40), default="backup")
    evidence: Mapped[str] = mapped_column(Text, default="")
    # The evidence notes rendered and sanitised once, by the service that writes it, so page views
    # need not re-render it (NULL on rows written before it was stored: those render when shown).
    evidence_html: Mapped[str | None] = mapped_column(Text)
    # Latest progress, kept beside the append-only history so the page needs no aggregate query.
    done: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    owner: Mapped[User | None] = relationship()
    progress: Mapped[list[WorkstreamProgress]] = relationship(
        back_populates="workstream", order_by="WorkstreamProgress.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("target > 0", name="target_positive"),
        CheckConstraint("done >= 0", name="done_not_negative"),
    )

    @property
    def evidence_markup(self) -> Markup:
        """The evidence notes as sanitised HTML."""
        return stored_html(self.evidence_html, self.evidence)

    @property
    def percent(self) -> float:
        return min(100.0, 100.0 * self.done / self.target) if self.target else 0.0

    # For templates that offer a status change.
    status_choices = list(WorkstreamStatus)

    @property
    def source_label(self) -> str:
        return SOURCES.get(self.source, self.source)

    @property
    def category_label(self) -> str | None:
        return DATA_CATEGORIES.get(self.category, self.category) if self.category else None


class WorkstreamProgress(db.Model):
    """One progress report on a workstream: units done so far (absolute), never changed later."""

    __tablename__ = "workstream_progress"

    id: Mapped[int] = mapped_column(primary_key=True)
    workstream_id: Mapped[int] = mapped_column(ForeignKey("workstream.id", ondelete="CASCADE"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done: Mapped[int] = mapped_column(BigInteger)
    note: Mapped[str] = mapped_column(Text, default="")
    # The note rendered and sanitised once, by the service that writes it, so page views
    # need not re-render it (NULL on rows written before it was stored: those render when shown).
    note_html: Mapped[str | None] = mapped_column(Text)

    workstream: Mapped[Workstream] = relationship(back_populates="progress")
    author: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint("done >= 0", name="done_not_negative"),
        Index("ix_workstream_progress_workstream_as_of", "workstream_id", "as_of", "id"),
    )

    @property
    def note_markup(self) -> Markup:
        """The note as sanitised HTML."""
        return stored_html(self.note_html, self.note)
