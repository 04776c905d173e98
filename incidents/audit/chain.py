"""The hash chain: each event's hash covers its content and the previous event's hash.

With `AUDIT_HMAC_KEY` set, new events are hashed with HMAC-SHA256 under that key, so nobody
without the key can recompute a chain that verifies. Events written before the key was set keep
their plain SHA-256: a chain is a plain prefix followed by a keyed suffix, never plain after keyed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from datetime import UTC

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.audit.models import GENESIS, AuditEvent


def hmac_key() -> bytes | None:
    """The chain key from the app's config (or, outside an app, the environment); None when unset."""
    key = current_app.config.get("AUDIT_HMAC_KEY") if has_app_context() else os.environ.get("AUDIT_HMAC_KEY")
    return key.encode("utf-8") if key else None


def _payload(event) -> bytes:
    fields = [event.prev_hash, event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
              event.actor_id, event.actor, event.action, event.entity_type, event.entity_id,
              event.incident_id, event.before, event.after, event.remote_addr]
    # The API token came later (issue #17): covered only when set, so every event written before
    # it hashes as it always did.
    token_id = getattr(event, "token_id", None)
    if token_id is not None:
        fields.append(token_id)
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def event_hash(event, key: bytes | None = None) -> str:
    """SHA-256 over the event's stored fields (the JSON texts verbatim); HMAC-SHA256 when keyed."""
    if key:
        return hmac.new(key, _payload(event), hashlib.sha256).hexdigest()
    return hashlib.sha256(_payload(event)).hexdigest()


@dataclass
class Verdict:
    """What `verify` found: how many events were checked, and the first broken link if any."""

    checked: int
    head: str  # the newest hash: write it down elsewhere to notice the newest events going missing
    broken_id: int | None = None
    problem: str = ""
    broken: object | None = None  # the broken event's row
    keyed_from: int | None = None  # the first event hashed with the key (None: none is)

    @property
    def ok(self) -> bool:
        return self.broken_id is None and not self.problem


def _check(event, key: bytes | None, keyed_seen: bool) -> tuple[str | None, bool]:
    """(what is wrong with this event's own hash or None, whether it is keyed)."""
    if key and hmac.compare_digest(event_hash(event, key), event.hash):
        return None, True
    if hmac.compare_digest(event_hash(event), event.hash):
        if keyed_seen:
            return ("it is hashed without the key although earlier events are keyed: it was written by a "
                    "server without AUDIT_HMAC_KEY, or the chain was recomputed by someone without the key"), False
        return None, False
    if key:
        return "its content does not match its hash (keyed or not): it was changed after it was written", False
    return ("its content does not match its hash: it was changed after it was written (or it was hashed "
            "with AUDIT_HMAC_KEY: set it to check)"), False


def verify(*, session: Session, batch: int = 1000, key: bytes | None = None,
           expect: str | None = None) -> Verdict:
    """Recompute the chain from the first event to the newest; stop at the first broken link.
    With `key`, the newest event must be keyed; with `expect`, that hash must be in the chain."""
    previous_hash, previous_id, checked, keyed_from, expected_at = GENESIS, None, 0, None, None
    # Plain rows, not ORM objects: a long log streams through without filling the session.
    stmt = select(AuditEvent.__table__).order_by(AuditEvent.id).execution_options(yield_per=batch)
    with session.execute(stmt) as rows:  # closed even when we stop early (a server-side cursor)
        for event in rows:
            if event.prev_hash != previous_hash:
                after = f"event #{previous_id}" if previous_id is not None else "the start of the log"
                return Verdict(checked, previous_hash, event.id,
                               f"it does not link to {after}: an event before it is missing or was changed",
                               event, keyed_from)
            problem, keyed = _check(event, key, keyed_from is not None)
            if problem:
                return Verdict(checked, previous_hash, event.id, problem, event, keyed_from)
            if keyed and keyed_from is None:
                keyed_from = event.id
            if expect and event.hash == expect:
                expected_at = event.id
            previous_hash, previous_id = event.hash, event.id
            checked += 1
            last_keyed = keyed
    verdict = Verdict(checked, previous_hash, keyed_from=keyed_from)
    if key and checked and not last_keyed:
        verdict.problem = ("the newest event is not keyed although AUDIT_HMAC_KEY is set: the chain was "
                           "recomputed without the key, or nothing was recorded since the key was set "
                           "(any change, a sign-in say, writes a keyed event)")
    elif expect and expected_at is None:
        verdict.problem = (f"the expected hash {expect} is not in the chain: the events up to it were "
                           "removed, or the chain was rewritten and its hashes recomputed")
    return verdict
