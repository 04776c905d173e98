"""Impact: how many customers and records an incident touched, kept as a series of snapshots.

Each update is a complete, append-only snapshot of the figures at one moment, so the history can
be drawn as a curve and no counter is ever read, changed and written back.
"""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, utcnow
from incidents.incident.enums import DATA_CATEGORIES
from incidents.markdown import stored_html


class ImpactUpdate(db.Model):
    __tablename__ = "impact_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"))
    # The update the author was looking at when they wrote this one (None for the first): lets the
    # app refuse figures typed over a stale form instead of silently replacing newer ones.
    based_on_id: Mapped[int | None] = mapped_column(ForeignKey("impact_update.id"))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    as_of: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    customers_affected: Mapped[int] = mapped_column(BigInteger)
    customers_notified: Mapped[int] = mapped_column(BigInteger, default=0)
    customers_restored: Mapped[int] = mapped_column(BigInteger, default=0)
    customers_lost: Mapped[int] = mapped_column(BigInteger, default=0)
    note: Mapped[str] = mapped_column(Text, default="")
    # The note rendered and sanitised once, by the service that writes it, so page views
    # need not re-render it (NULL on rows written before it was stored: those render when shown).
    note_html: Mapped[str | None] = mapped_column(Text)

    author: Mapped[User | None] = relationship()
    categories: Mapped[list[CategoryImpact]] = relationship(
        back_populates="update", order_by="CategoryImpact.id", cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint("customers_affected >= 0 AND customers_notified >= 0 AND customers_restored >= 0 "
                        "AND customers_lost >= 0", name="counts_not_negative"),
        CheckConstraint("customers_restored + customers_lost <= customers_affected",
                        name="restored_and_lost_within_affected"),
        CheckConstraint("customers_notified <= customers_affected", name="notified_within_affected"),
        Index("ix_impact_update_incident_as_of", "incident_id", "as_of", "id"),
    )

    @property
    def note_markup(self) -> Markup:
        """The note as sanitised HTML."""
        return stored_html(self.note_html, self.note)

    @property
    def restored_pct(self) -> float | None:
        if not self.customers_affected:
            return None
        return 100.0 * self.customers_restored / self.customers_affected


class CategoryImpact(db.Model):
    """Records of one data category in one impact update."""

    __tablename__ = "category_impact"

    id: Mapped[int] = mapped_column(primary_key=True)
    update_id: Mapped[int] = mapped_column(ForeignKey("impact_update.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(40))
    records_affected: Mapped[int] = mapped_column(BigInteger)
    records_recovered: Mapped[int] = mapped_column(BigInteger, default=0)
    records_unrecoverable: Mapped[int] = mapped_column(BigInteger, default=0)

    update: Mapped[ImpactUpdate] = relationship(back_populates="categories")

    __table_args__ = (
        UniqueConstraint("update_id", "category", name="uq_category_impact_update_category"),
        CheckConstraint("records_affected >= 0 AND records_recovered >= 0 AND records_unrecoverable >= 0",
                        name="records_not_negative"),
        CheckConstraint("records_recovered + records_unrecoverable <= records_affected",
                        name="recovered_and_lost_within_affected"),
    )

    @property
    def category_label(self) -> str:
        return DATA_CATEGORIES.get(self.category, self.category)

    @property
    def recovered_pct(self) -> float | None:
        if not self.records_affected:
            return None
        return 100.0 * self.records_recovered / self.records_affected
