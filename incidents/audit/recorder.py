"""Turning every flushed change into an audit event, appended in the same transaction.

After each successful flush, `_collect` notes what the flush inserted, updated and deleted, for
every mapped class (new features' models included, without their code changing). Just before the
transaction commits, `_append` flushes what is left, takes the chain's lock (PostgreSQL: a
transaction-scoped advisory lock; SQLite: writers already hold BEGIN IMMEDIATE's write lock),
reads the newest hash and appends the events, each linked to the one before. A rolled-back
transaction or savepoint drops its events with it.

Deliberately left out (noise, or secrets that must not be copied):
- tables: `audit_event` itself; `login_session` (its rows hold session tokens; signing in and out
  is recorded as sign_in / sign_out events instead); `idempotency_key` (request bookkeeping: the
  thing a request created is audited); `reference_counter` (a number allocator: the incident it
  numbers is audited). A model opts out with `__audit__ = False`.
- columns: a model's optimistic-lock counter (`version_id_col`) and `updated_at` (each event has
  its own time), and the stored HTML of user Markdown (`body_html`, `summary_html`, `evidence_html`,
  `note_html`, `sections_html`: rendered from the text beside it, which is recorded). More with
  `__audit_exclude__ = {"column", ...}` on a model.
- `password_hash` is recorded only as "(not recorded)" when it changes, never its value.
"""
from __future__ import annotations

import enum
import json
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from flask import g, has_request_context, request
from sqlalchemy import event, inspect, select, text
from sqlalchemy.orm import Session
from sqlalchemy.orm.interfaces import MANYTOONE

from incidents.audit.chain import event_hash, hmac_key
from incidents.audit.models import GENESIS, AuditEvent

EXCLUDED_TABLES = {"audit_event", "login_session", "idempotency_key", "reference_counter"}
# Derived HTML is rendered from the recorded text beside it: copying it would double the log for nothing.
RENDERED_HTML_COLUMNS = {"body_html", "summary_html", "evidence_html", "note_html", "sections_html"}
EXCLUDED_COLUMNS = {"updated_at"} | RENDERED_HTML_COLUMNS
REDACTED_COLUMNS = {"password_hash"}
REDACTED = "(not recorded)"
# Serialises appends to the chain on PostgreSQL (pg_advisory_xact_lock takes a bigint).
CHAIN_LOCK = 0x61756469745F6C6F  # "audit_lo"
PENDING = "audit_pending"
SAVEPOINTS = "audit_savepoints"
OLD_VALUES = "audit_old_values"

# Explicit actions besides the generic create / update / delete.
ROLE_CHANGE, SIGN_IN, SIGN_IN_FAILED, SIGN_OUT = "role_change", "sign_in", "sign_in_failed", "sign_out"
# The affected-customer ledger: an import (one event per file), a support look-up (who looked up
# whom) and an export of the whole list (who took it out).
LEDGER_IMPORT, LEDGER_LOOKUP, LEDGER_EXPORT = "ledger_import", "ledger_lookup", "ledger_export"
ACTIONS = ["create", "update", "delete", ROLE_CHANGE, SIGN_IN, SIGN_IN_FAILED, SIGN_OUT, LEDGER_IMPORT, LEDGER_LOOKUP,
           LEDGER_EXPORT]


def plain_value(value: Any) -> Any:
    """A value as JSON can hold it."""
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain_value(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain_value(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


def _dump(values: dict | None) -> str | None:
    if values is None:
        return None
    return json.dumps(plain_value(values), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def audited(obj) -> bool:
    cls = type(obj)
    return getattr(cls, "__audit__", True) and getattr(cls, "__tablename__", None) not in EXCLUDED_TABLES


def _columns(mapper) -> list:
    """The column attributes worth recording for a mapper."""
    skip = set(EXCLUDED_COLUMNS) | set(getattr(mapper.class_, "__audit_exclude__", ()))
    version = mapper.version_id_col
    return [attr for attr in mapper.column_attrs
            if attr.key not in skip and not (version is not None and version in attr.columns)]


def _value(key: str, value: Any) -> Any:
    return REDACTED if key in REDACTED_COLUMNS and value is not None else value


def _primary_key(state) -> tuple | None:
    """The record's primary key, from its loaded values (a new row has no identity key yet while
    its flush is still finishing)."""
    mapper = state.mapper
    values = tuple(state.dict.get(mapper.get_property_by_column(col).key) for col in mapper.primary_key)
    if all(v is not None for v in values):
        return values
    return state.identity


def _entity_id(state) -> str | None:
    key = _primary_key(state)
    return ",".join(str(part) for part in key) if key else None


def _incident_id(state) -> int | None:
    """The incident the record belongs to, from what is already loaded (no queries in a flush)."""
    if state.mapper.local_table.name == "incident":
        return (_primary_key(state) or (None,))[0]
    own = state.dict.get("incident_id")
    if own is not None:
        return own
    for relationship in state.mapper.relationships:
        if relationship.direction is not MANYTOONE:
            continue
        parent = state.dict.get(relationship.key)
        if parent is not None:
            parent_state = inspect(parent)
            if parent_state.mapper.local_table.name == "incident":
                return (_primary_key(parent_state) or (None,))[0]
            if parent_state.dict.get("incident_id") is not None:
                return parent_state.dict["incident_id"]
    return None


@dataclass(frozen=True)
class Attribution:
    """Who a change is attributed to: the account, the API token it used, the address it came from."""
    actor_id: int | None
    token_id: int | None
    remote_addr: str | None


_acting_for: ContextVar[Attribution | None] = ContextVar("audit_acting_for", default=None)


def current_attribution() -> Attribution:
    """This request's caller, as its changes are attributed (to hand to `acting_for` elsewhere)."""
    return Attribution(actor_id=_current_actor_id(), token_id=_current_token_id(), remote_addr=_remote_addr())


@contextmanager
def acting_for(caller: Attribution):
    """Attribute the changes made inside to `caller` instead of this request's own: a group
    commit's leader (incidents/group_commit.py) writes the items of the requests waiting beside
    it, each in its sender's name."""
    token = _acting_for.set(caller)
    try:
        yield
    finally:
        _acting_for.reset(token)


def _current_actor_id() -> int | None:
    """The signed-in user's id, without loading anything: Flask-Login keeps the loaded user in g."""
    if (acting := _acting_for.get()) is not None:
        return acting.actor_id
    if not has_request_context():
        return None
    user = g.get("_login_user")
    if user is None or not getattr(user, "is_authenticated", False):
        return None
    identity = inspect(user).identity
    return identity[0] if identity else None


def _current_token_id() -> int | None:
    """The personal access token of an API request (set by incidents/api/auth.py), else None."""
    if (acting := _acting_for.get()) is not None:
        return acting.token_id
    return g.get("api_token_id") if has_request_context() else None


def _change(action: str, state, before: dict | None, after: dict | None) -> dict:
    return {"action": action, "entity_type": state.mapper.local_table.name, "entity_id": _entity_id(state),
            "incident_id": _incident_id(state), "before": before, "after": after,
            "actor_id": _current_actor_id(), "remote_addr": _remote_addr(), "token_id": _current_token_id()}


def _remote_addr() -> str | None:
    if (acting := _acting_for.get()) is not None:
        return acting.remote_addr
    return (request.remote_addr or "")[:64] or None if has_request_context() else None


def _created(state) -> dict:
    after = {attr.key: _value(attr.key, state.dict[attr.key]) for attr in _columns(state.mapper)
             if attr.key in state.dict}
    return _change("create", state, None, after)


def _load_unknown_old_values(session: Session, _flush_context, _instances) -> None:
    """Before a flush: a value set on an expired record (after a commit) has no known old value,
    so read it from the database while queries are still allowed."""
    for obj in session.dirty:
        if not audited(obj):
            continue
        state = inspect(obj)
        unknown = [attr for attr in _columns(state.mapper)
                   if state.attrs[attr.key].history.added and not state.attrs[attr.key].history.deleted
                   and not state.attrs[attr.key].history.unchanged]
        if not unknown or state.identity is None:
            continue
        columns = [attr.columns[0] for attr in unknown]
        where = [col == value for col, value in zip(state.mapper.primary_key, state.identity, strict=True)]
        row = session.execute(select(*columns).where(*where)).first()
        if row is not None:
            session.info.setdefault(OLD_VALUES, {})[id(state)] = dict(zip([a.key for a in unknown], row, strict=True))


def _updated(state, old_values: dict) -> dict | None:
    before, after = {}, {}
    for attr in _columns(state.mapper):
        history = state.attrs[attr.key].history
        if not history.added and not history.deleted:
            continue
        old = history.deleted[0] if history.deleted else old_values.get(attr.key)
        new = history.added[0] if history.added else None
        if old == new and history.deleted:
            continue
        before[attr.key], after[attr.key] = _value(attr.key, old), _value(attr.key, new)
    if not after:
        return None
    action = ROLE_CHANGE if state.mapper.local_table.name == "user" and "role" in after else "update"
    return _change(action, state, before, after)


def _deleted(state) -> dict:
    before = {attr.key: _value(attr.key, state.dict[attr.key]) for attr in _columns(state.mapper)
              if attr.key in state.dict}
    return _change("delete", state, before, None)


def _collect(session: Session, _flush_context) -> None:
    """After a successful flush: note each audited insert, update and delete."""
    pending = session.info.setdefault(PENDING, [])
    for obj in session.new:
        if audited(obj):
            pending.append(_created(inspect(obj)))
    old_values = session.info.pop(OLD_VALUES, {})
    for obj in session.dirty:
        if audited(obj) and session.is_modified(obj, include_collections=False):
            change = _updated(inspect(obj), old_values.get(id(inspect(obj)), {}))
            if change is not None:
                pending.append(change)
    for obj in session.deleted:
        if audited(obj):
            pending.append(_deleted(inspect(obj)))


def record(session: Session, *, action: str, entity_type: str, entity_id: Any = None,
           actor_id: int | None = None, incident_id: int | None = None,
           before: dict | None = None, after: dict | None = None) -> None:
    """Add an event that is not a row change (a sign-in, a failed sign-in) to this transaction;
    it is appended when the transaction commits."""
    session.info.setdefault(PENDING, []).append(
        {"action": action, "entity_type": entity_type,
         "entity_id": None if entity_id is None else str(entity_id), "incident_id": incident_id,
         "before": before, "after": after, "actor_id": actor_id, "remote_addr": _remote_addr(),
         "token_id": _current_token_id()})


MERGED = {"create", "update", ROLE_CHANGE}


def _merged(pending: list[dict]) -> list[dict]:
    """One event per record and transaction: a service that flushes twice (a query in between
    autoflushes) changes a record once as far as the log is concerned."""
    out: list[dict] = []
    seen: dict[tuple, dict] = {}
    for change in pending:
        key = (change["entity_type"], change["entity_id"], change["actor_id"])
        first = seen.get(key)
        if change["entity_id"] is None or change["action"] not in MERGED or first is None \
                or change["action"] == "create":
            out.append(change)
            if change["action"] in MERGED and change["entity_id"] is not None:
                seen[key] = change
            continue
        first["after"] = {**(first["after"] or {}), **(change["after"] or {})}
        if first["action"] != "create":
            first["before"] = {**(change["before"] or {}), **(first["before"] or {})}
            if change["action"] == ROLE_CHANGE:
                first["action"] = ROLE_CHANGE
        first["incident_id"] = first["incident_id"] or change["incident_id"]
    return out


def _actor_labels(session: Session, ids: set[int]) -> dict[int, str]:
    from incidents.auth.models import User

    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.email).where(User.id.in_(ids))).all())


def _append(session: Session) -> None:
    """Before the outermost commit: chain the transaction's events onto the log."""
    if session.in_nested_transaction():
        return
    session.flush()  # whatever is still pending becomes events now, before we take the lock
    pending = _merged(session.info.pop(PENDING, []))
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": CHAIN_LOCK})
    labels = _actor_labels(session, {c["actor_id"] for c in pending if c["actor_id"] is not None})
    fallback = "anonymous" if has_request_context() else "system"
    previous = session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)) or GENESIS
    now = datetime.now(UTC)  # the real time, even while a demo replays a story's clock
    key = hmac_key()
    for change in pending:
        row = AuditEvent(occurred_at=now, actor_id=change["actor_id"],
                         actor=labels.get(change["actor_id"], fallback)[:254], action=change["action"],
                         entity_type=change["entity_type"][:100],
                         entity_id=(change["entity_id"] or None) and change["entity_id"][:100],
                         incident_id=change["incident_id"], before=_dump(change["before"]),
                         after=_dump(change["after"]), remote_addr=change["remote_addr"],
                         token_id=change.get("token_id"), prev_hash=previous)
        row.hash = event_hash(row, key)
        previous = row.hash
        session.add(row)
    session.flush()


def _mark_savepoint(session: Session, transaction) -> None:
    if transaction.nested:
        session.info.setdefault(SAVEPOINTS, {})[id(transaction)] = len(session.info.get(PENDING, []))


def _end_transaction(session: Session, transaction) -> None:
    if transaction.parent is None:  # the outermost transaction: nothing carries over
        session.info.pop(PENDING, None)
        session.info.pop(SAVEPOINTS, None)


def _soft_rollback(session: Session, previous_transaction) -> None:
    """A rolled-back savepoint takes the events of its flushes with it."""
    if previous_transaction.nested:
        mark = session.info.get(SAVEPOINTS, {}).pop(id(previous_transaction), None)
        if mark is not None:
            del session.info.get(PENDING, [])[mark:]


def install() -> None:
    """Listen on every session (idempotent)."""
    if event.contains(Session, "after_flush", _collect):
        return
    event.listen(Session, "before_flush", _load_unknown_old_values)
    event.listen(Session, "after_flush", _collect)
    event.listen(Session, "before_commit", _append)
    event.listen(Session, "after_transaction_create", _mark_savepoint)
    event.listen(Session, "after_transaction_end", _end_transaction)
    event.listen(Session, "after_soft_rollback", _soft_rollback)
