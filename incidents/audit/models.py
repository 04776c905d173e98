"""One row per change: append-only (database triggers refuse UPDATE and DELETE) and hash-chained."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from incidents.db import UTCDateTime, db

# The first event links to this instead of a previous event's hash.
GENESIS = "0" * 64


class AuditEvent(db.Model):
    """Who did what to which record, when, with the values before and after.

    No foreign keys on purpose: the record must outlive the accounts and rows it talks about, and
    a foreign key action (SET NULL, CASCADE) would be an UPDATE or DELETE the triggers refuse.
    `prev_hash` is unique, so two appends can never both claim the same predecessor.
    """

    __tablename__ = "audit_event"
    __audit__ = False  # the log does not log itself

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column()
    actor: Mapped[str] = mapped_column(String(254))  # the e-mail then, or "anonymous" / "system"
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(100))  # the table name
    entity_id: Mapped[str | None] = mapped_column(String(100))
    incident_id: Mapped[int | None] = mapped_column()
    before: Mapped[str | None] = mapped_column(Text)  # JSON of the changed fields' old values
    after: Mapped[str | None] = mapped_column(Text)  # JSON of their new values
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    # The personal access token an API request came with (the actor is its owner); None otherwise.
    token_id: Mapped[int | None] = mapped_column()
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_audit_event_occurred_at", "occurred_at"),
        Index("ix_audit_event_actor", "actor"),
        Index("ix_audit_event_entity", "entity_type", "entity_id"),
        Index("ix_audit_event_incident_id", "incident_id"),
    )
