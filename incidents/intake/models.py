"""Alert intakes, the alert groups they opened incidents for, and every delivery they received."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum
from incidents.incident.enums import Severity
from incidents.incident.models import Incident
from incidents.timeline.models import TimelineEntry


class IntakeKind(LabelledEnum):
    """Which sender an intake listens to: it decides the URL and the payload's shape."""

    alertmanager = "alertmanager"
    grafana = "grafana"
    generic = "generic"

    __labels__ = {"alertmanager": "Prometheus Alertmanager", "grafana": "Grafana alerting",
                  "generic": "Generic JSON"}


class AlertStatus(LabelledEnum):
    firing = "firing"
    resolved = "resolved"


class Outcome(LabelledEnum):
    """What a delivery did."""

    created = "created"  # declared an incident
    updated = "updated"  # added what is firing now to the group's open incident
    resolved = "resolved"  # added "alerts resolved" to the group's incident (its status untouched)
    recorded = "recorded"  # kept, with no incident to add it to (resolved before anything fired, or closed)

    __labels__ = {"created": "Declared an incident", "updated": "Added to the open incident",
                  "resolved": "Alerts resolved (noted)", "recorded": "Kept (no incident to add it to)"}


class Intake(db.Model):
    """An alert source an admin set up: how its payloads are read, the account its incidents are
    declared as, and its bearer token (only the SHA-256 kept; a new one replaces the old)."""

    __tablename__ = "intake"
    # The token's hash and the HMAC secret are credentials; the last use moves once a minute.
    __audit_exclude__ = ("token_hash", "hmac_secret", "last_used_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[IntakeKind] = enum_column(IntakeKind, name="intake_kind")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))
    account_id: Mapped[int] = mapped_column(ForeignKey("user.id"), index=True)
    severity_label: Mapped[str] = mapped_column(String(100), default="severity")
    # Label value (lower case) -> Severity value, e.g. {"critical": "SEV1"}.
    severity_map: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    default_severity: Mapped[Severity] = enum_column(Severity, name="intake_default_severity")
    title_annotation: Mapped[str] = mapped_column(String(100), default="summary")
    description_annotation: Mapped[str] = mapped_column(String(100), default="description")
    # Grafana signs with a shared secret, so it must be kept as it is (HMAC needs the key itself).
    hmac_secret: Mapped[str | None] = mapped_column(String(200))
    hmac_timestamp_header: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Bumped by admins' edits only (not a version_id_col): the last-use note must not turn an
    # admin's save into a conflict.
    version: Mapped[int] = mapped_column(Integer, default=1, server_default="1")

    account: Mapped[User] = relationship(foreign_keys=[account_id])
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class AlertGroup(db.Model):
    """The incident one alert group declared. A group whose incident is resolved or closed opens
    a new generation with a new incident when it fires again; the unique generation is what lets
    only one of many simultaneous deliveries declare it."""

    __tablename__ = "intake_alert_group"

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id"))
    group_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the group key (keys have no length limit)
    generation: Mapped[int] = mapped_column(Integer)
    group_key: Mapped[str] = mapped_column(Text)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    incident: Mapped[Incident] = relationship()

    __table_args__ = (UniqueConstraint("intake_id", "group_hash", "generation",
                                       name="uq_intake_alert_group_generation"),)


class IntakeDelivery(db.Model):
    """One notification as it arrived (its raw body kept), what it did and where. Unique per
    intake and fingerprint: a re-sent notification is recognised and changes nothing."""

    __tablename__ = "intake_delivery"
    # The raw body can be large and is kept here; the audit log notes the delivery, not the copy.
    __audit_exclude__ = ("payload",)

    id: Mapped[int] = mapped_column(primary_key=True)
    intake_id: Mapped[int] = mapped_column(ForeignKey("intake.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    group_hash: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    status: Mapped[AlertStatus] = enum_column(AlertStatus, name="intake_delivery_status")
    outcome: Mapped[Outcome] = enum_column(Outcome, name="intake_delivery_outcome", default=Outcome.recorded)
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    group_id: Mapped[int | None] = mapped_column(ForeignKey("intake_alert_group.id"))
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    entry_id: Mapped[int | None] = mapped_column(ForeignKey("timeline_entry.id"))
    payload: Mapped[str] = mapped_column(Text)

    intake: Mapped[Intake] = relationship()
    incident: Mapped[Incident | None] = relationship()
    entry: Mapped[TimelineEntry | None] = relationship()

    __table_args__ = (
        UniqueConstraint("intake_id", "fingerprint", name="uq_intake_delivery_fingerprint"),
        # An intake's page lists its newest deliveries; the generic intake asks for a group's latest.
        Index("ix_intake_delivery_intake_id_id", "intake_id", "id"),
        Index("ix_intake_delivery_group", "intake_id", "group_hash", "id"),
    )
