"""Subscribers of the public status page (issue #16): people told by e-mail, and systems told by
webhook, of each new incident, public update and maintenance that touches their components.

Addresses and URLs are private: nothing on the public side reads these tables. What was sent to
whom is kept per delivery (the log admins read); which announcements went out at all is kept per
event, so an announcement is made once however often the worker looks.
"""
from __future__ import annotations

import secrets
from datetime import datetime

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.db import UTCDateTime, db, in_values, utcnow
from incidents.status.models import Component

KINDS = ("email", "webhook")
STATES = ("active", "unconfirmed", "bounced", "quarantined", "unsubscribed")
ABOUT = ("incident", "maintenance")
DELIVERY_STATES = ("pending", "sent", "failed")
# After this many bounces an address is not written to again (a mailbox that does not exist).
MAX_BOUNCES = 3
# After this many failed deliveries in a row a webhook is quarantined, as Statuspage does, until
# an admin brings it back.
QUARANTINE_AFTER = 10


def new_token_id() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(db.Model):
    """One subscription: an e-mail address, or a webhook URL with the address that confirmed it."""

    __tablename__ = "subscriber"
    # Counters move with every send; subscribing, confirming and leaving are what the log needs,
    # and each is also a column of the row (confirmed_at, unsubscribed_at, quarantined_at).
    __audit_exclude__ = {"bounces", "failures", "last_failure_at", "signing_secret"}

    id: Mapped[int] = mapped_column(primary_key=True)
    # What the links in its e-mails carry (signed): never the row id, never the address.
    token_id: Mapped[str] = mapped_column(String(40), unique=True, default=new_token_id)
    kind: Mapped[str] = mapped_column(String(10))
    email: Mapped[str] = mapped_column(String(254))  # lower-cased; for a webhook, who confirmed it
    url: Mapped[str | None] = mapped_column(String(500))
    # Signs each webhook delivery (Standard Webhooks); shown to the subscriber once, when confirmed.
    signing_secret: Mapped[str | None] = mapped_column(String(100))
    all_components: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When the last confirmation e-mail was asked for: another within minutes is not sent (someone
    # typing a victim's address again and again must not fill their inbox from us).
    confirmation_sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unsubscribed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bounces: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)  # webhook deliveries failed in a row
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    quarantined_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    components: Mapped[list[SubscriberComponent]] = relationship(cascade="all, delete-orphan")

    __table_args__ = (
        CheckConstraint(in_values("kind", KINDS), name="kind_valid"),
        CheckConstraint("(kind = 'webhook') = (url IS NOT NULL)", name="url_for_webhooks_only"),
        # One subscription per address, and per URL: subscribing again changes the existing one.
        Index("uq_subscriber_email", "email", unique=True, postgresql_where=db.text("kind = 'email'"),
              sqlite_where=db.text("kind = 'email'")),
        Index("uq_subscriber_url", "url", unique=True, postgresql_where=db.text("kind = 'webhook'"),
              sqlite_where=db.text("kind = 'webhook'")),
    )

    @property
    def state(self) -> str:
        """Its one state (a key of STATES): the first that holds, leaving outranking every trouble
        and trouble outranking waiting for confirmation. `in_state` says the same in SQL."""
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        if self.quarantined_at is not None:
            return "quarantined"
        if self.bounces >= MAX_BOUNCES:
            return "bounced"
        return "unconfirmed" if self.confirmed_at is None else "active"

    @property
    def active(self) -> bool:
        """Whether it is told of new announcements now."""
        return self.state == "active"

    @classmethod
    def in_state(cls, state: str) -> tuple:
        """SQL conditions selecting the subscribers in `state` (as `state` decides it)."""
        staying = (cls.unsubscribed_at.is_(None), cls.quarantined_at.is_(None))
        deliverable = (*staying, cls.bounces < MAX_BOUNCES)
        return {"unsubscribed": (cls.unsubscribed_at.is_not(None),),
                "quarantined": (cls.unsubscribed_at.is_(None), cls.quarantined_at.is_not(None)),
                "bounced": (*staying, cls.bounces >= MAX_BOUNCES),
                "unconfirmed": (*deliverable, cls.confirmed_at.is_(None)),
                "active": (*deliverable, cls.confirmed_at.is_not(None))}[state]


class SubscriberComponent(db.Model):
    """A component a subscriber chose (when not subscribed to all of them)."""

    __tablename__ = "subscriber_component"

    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"), primary_key=True)
    component_id: Mapped[int] = mapped_column(ForeignKey("component.id", ondelete="CASCADE"), primary_key=True,
                                              index=True)

    component: Mapped[Component] = relationship()


class Announcement(db.Model):
    """An event subscribers are told of (a public update, a maintenance step), recorded when it is
    first announced: the key makes announcing it again a no-op."""

    __tablename__ = "announcement"
    __audit__ = False  # follows a published change, which is audited itself

    id: Mapped[int] = mapped_column(primary_key=True)
    about: Mapped[str] = mapped_column(String(12))  # "incident" or "maintenance"
    public_id: Mapped[str] = mapped_column(String(20))  # the incident's or maintenance's public id
    update_id: Mapped[str] = mapped_column(String(20))  # the public id of the update announced
    announced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        CheckConstraint(in_values("about", ABOUT), name="about_valid"),
        UniqueConstraint("about", "public_id", "update_id", name="uq_announcement_once"),
    )


class Delivery(db.Model):
    """One announcement to one subscriber: the delivery log (status code, time taken, error)."""

    __tablename__ = "subscriber_delivery"
    __audit__ = False  # a hundred thousand a publish: the log is this table

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id", ondelete="CASCADE"))
    announcement_id: Mapped[int] = mapped_column(ForeignKey("announcement.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer)  # HTTP status, or the SMTP reply code
    response_ms: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    announcement: Mapped[Announcement] = relationship()

    __table_args__ = (
        CheckConstraint(in_values("state", DELIVERY_STATES), name="state_valid"),
        UniqueConstraint("subscriber_id", "announcement_id", name="uq_subscriber_delivery_once"),
        Index("ix_subscriber_delivery_subscriber", "subscriber_id", "id"),
        Index("ix_subscriber_delivery_announcement", "announcement_id", "state"),
    )
