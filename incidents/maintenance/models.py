"""Scheduled maintenance on the public status page: a planned window, the components it puts in a
status, and the updates posted on it (issue #16).

Only what people decide is stored: the plan (title, window, components, whether to start and
complete automatically) and the updates they post. Where the maintenance stands at a moment (the
automatic start at `scheduled_for`, the automatic completion at `scheduled_until`) is worked out
when it is read (maintenance/lifecycle.py), so nothing depends on a request or a worker happening
to run at the right time, and the public site's cache moves at those moments by itself.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, in_values, utcnow
from incidents.markdown import stored_html
from incidents.status.models import AFFECTED_STATUSES, Component, new_public_id

MAINTENANCE_STATUSES = ("scheduled", "in_progress", "verifying", "completed")
# Statuses in which the window is under way: its components show the planned status.
UNDER_WAY = ("in_progress", "verifying")


class Maintenance(db.Model):
    """A planned maintenance window, announced on the status page."""

    __tablename__ = "maintenance"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(20), unique=True, default=new_public_id)
    title: Mapped[str] = mapped_column(String(200))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    scheduled_until: Mapped[datetime] = mapped_column(UTCDateTime)
    auto_start: Mapped[bool] = mapped_column(Boolean, default=True)
    auto_complete: Mapped[bool] = mapped_column(Boolean, default=True)
    # When someone posted the update that completed it (an automatic completion is not stored:
    # it is `scheduled_until`, for a maintenance with `auto_complete`).
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Called off before it started: it leaves the public side.
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Moves with every change the public can see: the status site's cache key reads it.
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_by: Mapped[User | None] = relationship()
    components: Mapped[list[MaintenanceComponent]] = relationship(
        back_populates="maintenance", cascade="all, delete-orphan", order_by="MaintenanceComponent.component_id")
    updates: Mapped[list[MaintenanceUpdate]] = relationship(
        back_populates="maintenance", cascade="all, delete-orphan",
        order_by="(MaintenanceUpdate.posted_at.desc(), MaintenanceUpdate.id.desc())")

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        CheckConstraint("scheduled_until > scheduled_for", name="window_ends_after_it_starts"),
        Index("ix_maintenance_scheduled_for", "scheduled_for"),
    )

    def __repr__(self) -> str:
        return f"<Maintenance {self.public_id} {self.title!r}>"


class MaintenanceComponent(db.Model):
    """A component the maintenance touches, and the status it is in while the work is under way."""

    __tablename__ = "maintenance_component"

    maintenance_id: Mapped[int] = mapped_column(ForeignKey("maintenance.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id", ondelete="CASCADE"),
                                              primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(30), default="under_maintenance")

    maintenance: Mapped[Maintenance] = relationship(back_populates="components")
    component: Mapped[Component] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("status", AFFECTED_STATUSES), name="status_valid"),
    )


class MaintenanceUpdate(db.Model):
    """One public update on a maintenance (the first is its announcement). Never edited."""

    __tablename__ = "maintenance_update"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(20), unique=True, default=new_public_id)
    maintenance_id: Mapped[int] = mapped_column(ForeignKey("maintenance.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)  # sanitised when written (incidents/markdown.py)
    posted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    maintenance: Mapped[Maintenance] = relationship(back_populates="updates")
    author: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("status", MAINTENANCE_STATUSES), name="status_valid"),
        Index("ix_maintenance_update_maintenance_posted", "maintenance_id", "posted_at"),
    )

    @property
    def html(self):
        return stored_html(self.body_html, self.body)
