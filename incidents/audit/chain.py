"""The hash chain: each event's hash covers its content and the previous event's hash."""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timezone

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.audit.models import GENESIS, AuditEvent


def event_hash(event) -> str:
    """SHA-256 over the event's stored fields (as stored: the JSON texts are hashed verbatim)."""
    payload = json.dumps(
        [event.prev_hash, event.occurred_at.astimezone(timezone.utc).isoformat(timespec="microseconds"),
         event.actor_id, event.actor, event.action, event.entity_type, event.entity_id,
         event.incident_id, event.before, event.after, event.remote_addr],
        ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class Verdict:
    """What `verify` found: how many events were checked, and the first broken link if any."""

    checked: int
    head: str  # the newest hash: write it down elsewhere to notice the newest events going missing
    broken_id: int | None = None
    problem: str = ""
    broken: object | None = None  # the broken event's row

    @property
    def ok(self) -> bool:
        return self.broken_id is None


def verify(*, session: Session, batch: int = 1000) -> Verdict:
    """Recompute the chain from the first event to the newest; stop at the first broken link."""
    previous_hash, previous_id, checked = GENESIS, None, 0
    # Plain rows, not ORM objects: a long log streams through without filling the session.
    stmt = select(AuditEvent.__table__).order_by(AuditEvent.id).execution_options(yield_per=batch)
    with session.execute(stmt) as rows:  # closed even when we stop early (a server-side cursor)
        for event in rows:
            if event.prev_hash != previous_hash:
                after = f"event #{previous_id}" if previous_id is not None else "the start of the log"
                return Verdict(checked, previous_hash, event.id,
                               f"it does not link to {after}: an event before it is missing or was changed",
                               event)
            if event_hash(event) != event.hash:
                return Verdict(checked, previous_hash, event.id,
                               "its content does not match its hash: it was changed after it was written",
                               event)
            previous_hash, previous_id = event.hash, event.id
            checked += 1
    return Verdict(checked, previous_hash)
