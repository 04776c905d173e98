"""Obligations of an incident, the regimes chosen for it and the moments their clocks count from.

The moments live here rather than on the incident (classified major, materiality determined, ...):
only this feature counts from them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum

# Written out: a partial index serves a query only when the query repeats its condition word for word.
PENDING = "status = 'pending'"


class ObligationStatus(LabelledEnum):
    pending = "pending"
    filed = "filed"
    not_required = "not_required"
    # Filed after the due time; the reason is required (GDPR Art. 33(1) asks for it).
    late = "late"

    __labels__ = {"late": "Filed late"}

    @property
    def is_open(self) -> bool:
        return self is ObligationStatus.pending


class ObligationAnchor(db.Model):
    """A moment an obligation counts from that the incident itself does not record."""

    __tablename__ = "obligation_anchor"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(30))  # a key of rules.RECORDED_ANCHORS
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    set_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    set_by: Mapped[User | None] = relationship()

    __table_args__ = (UniqueConstraint("incident_id", "kind", name="uq_obligation_anchor_incident_kind"),)


class IncidentRegime(db.Model):
    """A regime responders chose as applying to the incident, with the people it covers if known."""

    __tablename__ = "incident_regime"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    regime: Mapped[str] = mapped_column(String(60))
    # People affected under this regime (a state's residents); NULL: the incident's customers affected.
    residents: Mapped[int | None] = mapped_column(Integer)
    chosen_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    chosen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("incident_id", "regime", name="uq_incident_regime_incident_regime"),)


class Obligation(db.Model):
    """One rule applied to one incident: its due time and whether (and how) it was met."""

    __tablename__ = "obligation"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    rule_id: Mapped[str] = mapped_column(String(60))
    regime: Mapped[str] = mapped_column(String(60))
    status: Mapped[ObligationStatus] = enum_column(ObligationStatus, name="obligation_status",
                                                   default=ObligationStatus.pending)
    # NULL: no fixed clock (without undue delay), or the moment it counts from is not recorded yet.
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anchor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When a threshold rule started to apply (the impact update whose count crossed it).
    triggered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    filed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    filed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    reference: Mapped[str] = mapped_column(String(200), default="")
    notice_version_id: Mapped[int | None] = mapped_column(ForeignKey("notice_version.id", ondelete="SET NULL"))
    # Why it is not required, or why it was late.
    reason: Mapped[str] = mapped_column(Text, default="")
    # Proof of sending (the authority's receipt, a screenshot of the portal), kept with the filing;
    # deferred so lists of obligations never load it.
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment_size: Mapped[int | None] = mapped_column(Integer)
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)

    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    filed_by: Mapped[User | None] = relationship(foreign_keys=[filed_by_id])
    notice_version = relationship("NoticeVersion")
    incident = relationship("Incident")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        UniqueConstraint("incident_id", "rule_id", name="uq_obligation_incident_rule"),
        # The deadlines page walks the pending ones soonest first by (due_at, id); filed ones, which
        # pile up over the years, are not in it (the query repeats the condition; issue #19).
        Index("ix_obligation_pending_due", "due_at", "id", sqlite_where=text(PENDING),
              postgresql_where=text(PENDING)),
    )

    def is_overdue(self, now: datetime) -> bool:
        return self.status.is_open and self.due_at is not None and self.due_at < now


class ContractRule(db.Model):
    """An obligation the company took on by contract (e.g. "enterprise customers within 24 hours of
    awareness"), added by an admin in the app; it joins the shipped rules under the Contracts regime."""

    __tablename__ = "contract_rule"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(500))
    recipient: Mapped[str] = mapped_column(String(30), default="customers")
    anchor: Mapped[str] = mapped_column(String(30), default="aware")
    offset_kind: Mapped[str] = mapped_column(String(30))
    offset_amount: Mapped[int | None] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)  # the checklist, one item per line
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Retired rules add no new obligations; obligations already made from them keep their title.
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_by: Mapped[User | None] = relationship()

    __mapper_args__ = {"version_id_col": version}

    @property
    def rule_id(self) -> str:
        return f"contract-{self.id}"

    @property
    def content_items(self) -> list[str]:
        return [line.strip() for line in self.content.splitlines() if line.strip()]
