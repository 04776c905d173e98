"""The public status site's records: components, which incidents affect them, and the component
statuses each public update announced."""
from __future__ import annotations

import secrets
from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.db import UTCDateTime, db, in_values, utcnow

COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance")
# What an incident may put a component in (operational means "not affected").
AFFECTED_STATUSES = COMPONENT_STATUSES[1:]
PUBLIC_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
OPEN_PUBLIC_STATUSES = PUBLIC_STATUSES[:3]
CLOSED_PUBLIC_STATUSES = PUBLIC_STATUSES[3:]
IMPACTS = ("none", "minor", "major", "critical")
# Best to worst: a component several unresolved incidents affect shows the worst of their statuses.
COMPONENT_SEVERITY = {status: rank for rank, status in enumerate(
    ("operational", "under_maintenance", "degraded_performance", "partial_outage", "major_outage"))}


def worst_status(statuses: Iterable[str]) -> str:
    """The worst of these component statuses ("operational" when there are none)."""
    return max(statuses, key=COMPONENT_SEVERITY.__getitem__, default="operational")


def worst_by_component(pairs: Iterable[tuple[int, str]]) -> dict[int, str]:
    """Each component's worst status among (component id, status) pairs."""
    statuses: dict[int, list[str]] = {}
    for component_id, status in pairs:
        statuses.setdefault(component_id, []).append(str(status))
    return {component_id: worst_status(found) for component_id, found in statuses.items()}


# The page indicator each component status implies: planned maintenance is no outage.
COMPONENT_IMPACT = {"operational": "none", "under_maintenance": "none", "degraded_performance": "minor",
                    "partial_outage": "major", "major_outage": "critical"}

_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def new_public_id() -> str:
    """A random short id in Statuspage's style (12 lowercase letters and digits)."""
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(12))


class Component(db.Model):
    """A public-facing service shown on the status page."""

    __tablename__ = "component"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(20), unique=True, default=new_public_id)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text)
    group_name: Mapped[str | None] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(Integer, default=0)
    # Set by hand by an admin; None means the status follows the component's open incidents.
    status_override: Mapped[str | None] = mapped_column(String(30))
    showcase: Mapped[bool] = mapped_column(Boolean, default=True)
    only_show_if_degraded: Mapped[bool] = mapped_column(Boolean, default=False)
    # Removed components are kept (archived) so the page's "latest change" still moves.
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        CheckConstraint(in_values("status_override", COMPONENT_STATUSES), name="status_override_valid"),
    )

    def __repr__(self) -> str:
        return f"<Component {self.name}>"


class IncidentComponent(db.Model):
    """An incident names a component it affects, and the status it puts the component in."""

    __tablename__ = "incident_component"

    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id", ondelete="CASCADE"),
                                              primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(30))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    component: Mapped[Component] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("status", AFFECTED_STATUSES), name="status_valid"),
    )


class UpdateComponent(db.Model):
    """The component statuses one public update announced (kept with the update, never changed)."""

    __tablename__ = "update_component"

    entry_id: Mapped[int] = mapped_column(ForeignKey("timeline_entry.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id", ondelete="CASCADE"),
                                              primary_key=True, index=True)
    status: Mapped[str] = mapped_column(String(30))

    component: Mapped[Component] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("status", COMPONENT_STATUSES), name="status_valid"),
    )


class ComponentStatusChange(db.Model):
    """A component's public status from `changed_at` on, recorded as it changes (never edited), so
    uptime over past days is computed from what the page showed then, not from today's settings.
    Written by incidents/status/history.py in the transaction that made the change."""

    __tablename__ = "component_status_change"

    id: Mapped[int] = mapped_column(primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(30))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        CheckConstraint(in_values("status", COMPONENT_STATUSES), name="status_valid"),
        Index("ix_component_status_change_component_changed", "component_id", "changed_at", "id"),
    )
