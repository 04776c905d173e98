"""The incident: one data-loss event and the people accountable for it."""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.incident.enums import DATA_CATEGORIES, Severity, Status
from incidents.markdown import stored_html

# Written out, not bound: a partial index serves a query only when the query repeats its condition
# word for word, and a bound parameter is not the same words (to SQLite, or to a prepared plan).
NOT_CLOSED = "status != 'closed'"


class Incident(db.Model):
    __tablename__ = "incident"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str] = mapped_column(Text, default="")
    # The summary rendered and sanitised once, by the service that writes it, so page views
    # need not re-render it (NULL on rows written before it was stored: those render when shown).
    summary_html: Mapped[str | None] = mapped_column(Text)
    severity: Mapped[Severity] = enum_column(Severity, name="severity")
    status: Mapped[Status] = enum_column(Status, name="status", default=Status.investigating)
    data_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    personal_data: Mapped[bool] = mapped_column(default=False)

    commander_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    comms_lead_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    executive_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    loss_began_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    detected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    declared_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    aware_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    mitigated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Recovery objectives: what we promised (targets, in minutes) and the facts to measure them by.
    last_good_backup_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    restore_verified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rpo_target_minutes: Mapped[int | None] = mapped_column(Integer)
    rto_target_minutes: Mapped[int | None] = mapped_column(Integer)

    # The public status page: set when the incident is first published (None: never shown).
    public_id: Mapped[str | None] = mapped_column(String(20), unique=True)
    public_title: Mapped[str | None] = mapped_column(String(200))
    public_impact: Mapped[str | None] = mapped_column(String(10))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the public is told now: the status of the newest public update (its latest revision,
    # still public). Kept by incidents/status/public_status.py whenever a public update is written,
    # so the public site finds its unresolved incidents without reading every published one.
    public_status: Mapped[str | None] = mapped_column(String(20))

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic locking: every UPDATE checks and bumps this, so a stale write fails loudly.
    version: Mapped[int] = mapped_column(Integer, default=1)

    commander: Mapped[User | None] = relationship(foreign_keys=[commander_id])
    comms_lead: Mapped[User | None] = relationship(foreign_keys=[comms_lead_id])
    executive: Mapped[User | None] = relationship(foreign_keys=[executive_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        Index("ix_incident_status_declared", "status", "declared_at"),
        # The public site's change check asks for the newest publication, its history pages newest
        # first by (published_at, public_id), and its unresolved incidents are few (issue #19).
        Index("ix_incident_published", "published_at", "public_id"),
        Index("ix_incident_public_status", "public_status",
              sqlite_where=text("public_status IS NOT NULL"), postgresql_where=text("public_status IS NOT NULL")),
        # The incident list pages newest first by (declared_at, id): each page is an index range.
        Index("ix_incident_declared_id", "declared_at", "id"),
        # Postmortems due page soonest first by (resolved_at, id), among incidents not closed: years
        # of closed ones stay out of the index the page walks (the query repeats the condition).
        Index("ix_incident_resolved_id", "resolved_at", "id",
              sqlite_where=text(NOT_CLOSED), postgresql_where=text(NOT_CLOSED)),
        CheckConstraint("public_impact IN ('none', 'minor', 'major', 'critical')", name="public_impact_valid"),
    )

    @property
    def summary_markup(self) -> Markup:
        """The summary as sanitised HTML."""
        return stored_html(self.summary_html, self.summary)

    @property
    def category_labels(self) -> list[str]:
        return [DATA_CATEGORIES.get(c, c) for c in self.data_categories or []]

    def __repr__(self) -> str:
        return f"<Incident {self.reference}>"


class ReferenceCounter(db.Model):
    """The last incident number used each year; bumped atomically to hand out references."""

    __tablename__ = "reference_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(default=0)
