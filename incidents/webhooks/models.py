"""Outbound webhooks (issue #17): an admin's subscription of a URL to events, each message it is
sent, every attempt at sending one (the delivery log), and the markers that keep the worker's
periodic events (an action item overdue, a deadline near) from being sent twice.

A subscription is audited by the recorder like every model; the counters the worker moves with each
attempt are left out of the log (noise), but an automatic disabling is a change of `disabled_at`
and is recorded. Messages and attempts are the log themselves: not audited.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, in_values, utcnow

# The events an admin may subscribe to, in the order the form lists them, with their labels.
EVENTS: dict[str, str] = {
    "incident.declared": "Incident declared",
    "incident.status_changed": "Incident status changed",
    "incident.owner_changed": "Owner changed (commander, communications lead, executive)",
    "status.update_posted": "Public update posted on the status page",
    "postmortem.published": "Postmortem published",
    "action_item.overdue": "Action item overdue",
    "obligation.deadline_near": "Notification deadline near",
}
# The incident's owners whose change is an incident.owner_changed event.
OWNER_ROLES = {"commander": "Incident commander", "comms_lead": "Communications lead",
               "executive": "Executive owner"}
# Sent by an admin from the subscription's page, to check the receiver: never subscribed to.
TEST_EVENT = "webhook.test"
EVENT_LABELS = EVENTS | {TEST_EVENT: "Test event"}

PRESETS: dict[str, str] = {
    "standard": "Standard Webhooks JSON (for your own receiver)",
    "slack": "Slack incoming webhook",
    "teams": "Microsoft Teams incoming webhook (Adaptive Card)",
}
MESSAGE_STATES = ("pending", "delivered", "failed", "skipped")
NAME_MAX, URL_MAX, REASON_MAX, ERROR_MAX = 120, 500, 500, 500
# Written out: a partial index serves only a query that repeats its condition word for word.
ACTIVE = "disabled_at IS NULL"
PENDING = "state = 'pending'"


class WebhookSubscription(db.Model):
    """A URL told of the chosen events, signed with its own secret (Standard Webhooks)."""

    __tablename__ = "webhook_subscription"
    # The secret signs messages: never copied into the log (rotating it is recorded by
    # secret_rotated_at). The rest moves with every attempt the worker makes.
    __audit_exclude__ = {"secret", "previous_secret",
                         "failed_in_a_row", "last_attempt_at", "last_attempt_ok", "last_error"}

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(NAME_MAX))
    url: Mapped[str] = mapped_column(String(URL_MAX))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    preset: Mapped[str] = mapped_column(String(10), default="standard")
    secret: Mapped[str] = mapped_column(String(100))
    secret_rotated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The secret before the last rotation: messages are signed with it too for
    # WEBHOOK_SECRET_GRACE_HOURS after secret_rotated_at, so receivers can switch without a gap.
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Bumped by admins' edits only (not a version_id_col): the worker's counters must not turn an
    # admin's edit into a conflict every time a message goes out.
    version: Mapped[int] = mapped_column(Integer, default=1)

    # Disabled by an admin, or automatically after repeated failures (see jobs.py): why and when.
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    disabled_reason: Mapped[str | None] = mapped_column(String(REASON_MAX))
    auto_disabled: Mapped[bool] = mapped_column(Boolean, default=False)

    # Messages in a row that failed after every retry (reset by a delivery or by re-enabling).
    failed_in_a_row: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_attempt_ok: Mapped[bool | None] = mapped_column(Boolean)
    last_error: Mapped[str | None] = mapped_column(String(ERROR_MAX))

    created_by: Mapped[User | None] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("preset", tuple(PRESETS)), name="preset_valid"),
        # emit() reads the active subscriptions on every change it reports: one range of this index.
        Index("ix_webhook_subscription_active", "id", sqlite_where=text(ACTIVE), postgresql_where=text(ACTIVE)),
    )

    @property
    def active(self) -> bool:
        return self.disabled_at is None

    @property
    def state(self) -> str:
        """active, disabled (by an admin) or auto_disabled."""
        if self.disabled_at is None:
            return "active"
        return "auto_disabled" if self.auto_disabled else "disabled"

    @property
    def event_labels(self) -> list[str]:
        return [label for event, label in EVENTS.items() if event in (self.events or [])]


class WebhookMessage(db.Model):
    """One event for one subscription: its payload, kept as sent, and where its delivery stands.
    Its `webhook_id` is the same on every retry, so receivers can drop a repeat."""

    __tablename__ = "webhook_message"
    __audit__ = False  # the delivery log: one row per event and subscription

    id: Mapped[int] = mapped_column(primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    event: Mapped[str] = mapped_column(String(40))
    webhook_id: Mapped[str] = mapped_column(String(40), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)
    incident_id: Mapped[int | None] = mapped_column(ForeignKey("incident.id", ondelete="SET NULL"), index=True)
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[WebhookSubscription] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("state", MESSAGE_STATES), name="state_valid"),
        Index("ix_webhook_message_subscription", "subscription_id", "id"),
        # The list page counts the messages waiting per subscription: few, among years of sent ones.
        Index("ix_webhook_message_pending", "subscription_id", sqlite_where=text(PENDING),
              postgresql_where=text(PENDING)),
    )


class WebhookAttempt(db.Model):
    """One POST of a message: what answered (status, time taken) or why nothing did."""

    __tablename__ = "webhook_attempt"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("webhook_message.id", ondelete="CASCADE"), index=True)
    # Kept here too, so a subscription's log pages through one index, newest first.
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscription.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)  # 1 for the first attempt at the message
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ok: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(ERROR_MAX))
    final: Mapped[bool] = mapped_column(Boolean, default=False)  # no retry follows (delivered or given up)

    message: Mapped[WebhookMessage] = relationship()

    __table_args__ = (Index("ix_webhook_attempt_subscription", "subscription_id", "id"),)


class WebhookMarker(db.Model):
    """A periodic event already emitted (e.g. "action_item.overdue:17:2026-12-01"): the unique key
    makes emitting it again a no-op, however often the worker looks."""

    __tablename__ = "webhook_marker"
    __audit__ = False

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
