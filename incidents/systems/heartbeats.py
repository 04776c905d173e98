"""Backup heartbeats: backup jobs report each run themselves (CLI or HTTP with a per-system token),
so "last successful backup" is a fact, and a system silent past its RPO target gets flagged.

One report is one INSERT and one UPDATE of the system's state row, in SQL that is right even when
two reports for one system arrive at once, or out of order (a late `--at` never moves "last" back).
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import groupby

from sqlalchemy import (
    ARRAY,
    String,
    and_,
    any_,
    bindparam,
    case,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, joinedload
from sqlalchemy.orm.util import identity_key

from incidents.auth.models import User
from incidents.credentials import hash_secret, hint_of, new_secret, plausible
from incidents.db import UTCDateTime, utcnow
from incidents.direct_write import DirectTransaction, PreparedWrite, run_direct
from incidents.errors import FieldError
from incidents.systems import audit_kept
from incidents.systems.models import BackupReport, ReportToken, System, SystemState

TOKEN_PREFIX = "sysb_"  # recognisable in a leaked crontab or a secret scanner's rules
NOTE_LIMIT = 500
# A backup job's clock may run a little ahead; a report further in the future is a mistake.
FUTURE_SLACK = timedelta(minutes=5)




def create_token(*, session: Session, actor: User | None, system: System, label: str = "") -> tuple[ReportToken, str]:
    """A new report token for `system`: the row, and the secret to show once (never stored)."""
    secret = new_secret(TOKEN_PREFIX)
    token = ReportToken(system_id=system.id, token_hash=hash_secret(secret), hint=hint_of(secret, TOKEN_PREFIX),
                        label=label.strip()[:120], created_by=actor, created_at=utcnow())
    session.add(token)
    session.flush()
    return token, secret


def revoke_token(*, session: Session, actor: User | None, token: ReportToken) -> ReportToken:
    if token.revoked_at is None:
        token.revoked_at, token.revoked_by_id = utcnow(), actor.id if actor else None
        session.flush()
    return token


def tokens_of(*, session: Session, system: System) -> list[ReportToken]:
    # With their makers in the same statement: the list names each one's.
    return list(session.scalars(select(ReportToken).options(joinedload(ReportToken.created_by))
                                .where(ReportToken.system_id == system.id)
                                .order_by(ReportToken.revoked_at.is_not(None), ReportToken.id.desc())))


@dataclass(frozen=True)
class TokenHolder:
    token_id: int
    system_id: int
    rpo_target_minutes: int | None
    system_name: str  # for the endpoint's answer, read by the same look-up


def system_for_token(*, session: Session, secret: str | None) -> TokenHolder | None:
    """The system a live token reports for; None for a wrong, revoked or retired one (one answer for
    all, so a caller learns nothing about which systems or tokens exist)."""
    if not plausible(secret):
        return None
    row = session.execute(_TOKEN_LOOKUP, {"token_hash": hash_secret(secret)}).first()
    return TokenHolder(*row) if row else None


_token, _system = ReportToken.__table__.c, System.__table__.c
_TOKEN_COLUMNS = (_token.id, _system.id, _system.rpo_target_minutes, _system.name)


def _tokens_touch(hash_matches):
    """Every unrevoked token of a batch marked used, and read back with its system, in one
    statement driven by the hash's unique index. The system's columns are subqueries on an alias:
    SQLite's RETURNING sees only the table it updates, and SQLAlchemy writes its columns there
    unqualified (`s.id = system_id`: the alias has no system_id, so that is the token's). A retired
    system's token is marked used too (something still reports for it), but does not work."""
    owning = System.__table__.alias("s")

    def of_token(column):
        return select(column).where(owning.c.id == _token.system_id).scalar_subquery()

    return (update(ReportToken.__table__)
            .where(hash_matches, _token.revoked_at.is_(None))
            .values(last_used_at=bindparam("used_at", type_=UTCDateTime()))
            .returning(_token.token_hash, _token.id, _token.system_id, of_token(owning.c.rpo_target_minutes),
                       of_token(owning.c.name), of_token(owning.c.retired_at)))


# The hashes are bound as one value whatever their number (so the statement is compiled once):
# `= ANY(array)` on PostgreSQL, `IN json_each(...)` on SQLite.
_TOKENS_TOUCH = PreparedWrite(None, per_dialect={
    "postgresql": _tokens_touch(_token.token_hash == any_(bindparam("hashes", type_=ARRAY(String)))),
    "sqlite": _tokens_touch(_token.token_hash.in_(
        select(literal_column("value")).select_from(func.json_each(bindparam("hashes", type_=String))))),
})
_TOKEN_LOOKUP = (select(*_TOKEN_COLUMNS)
                 .join_from(ReportToken.__table__, System.__table__, _system.id == _token.system_id)
                 .where(_token.token_hash == bindparam("token_hash"), _token.revoked_at.is_(None),
                        _system.retired_at.is_(None)))


def parse_report_time(text: str, *, naive_is_utc: bool = False) -> datetime:
    """An ISO 8601 time as UTC, or a FieldError. A time without its zone is refused unless
    `naive_is_utc` (the CLI, where the app's rule "times are UTC unless marked" applies): a backup
    host's local clock sent without a zone would be hours off, silently."""
    text = text.strip()
    try:
        if len(text) > 64:
            raise ValueError
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise FieldError("Give the time in ISO 8601 with its zone, e.g. 2009-10-02T04:40:00Z.", field="at") from None
    if moment.tzinfo is None:
        if not naive_is_utc:
            raise FieldError("Give the time with its zone (Z or +hh:mm), e.g. 2009-10-02T04:40:00Z.", field="at")
        moment = moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 at +05:00, say
        raise FieldError("That time is out of range.", field="at") from None


def check_report(*, at: datetime | None, note: str) -> tuple[datetime, str]:
    """The report's time (now when not given) and note, or a FieldError saying what is wrong."""
    now = utcnow()
    at = at or now
    if at > now + FUTURE_SLACK:
        raise FieldError("The report's time is in the future: check the backup host's clock.", field="at")
    note = note.strip()
    if len(note) > NOTE_LIMIT:
        raise FieldError(f"Keep the note under {NOTE_LIMIT} characters.", field="note")
    if any(ord(ch) < 32 and ch not in "\t\n" for ch in note):
        raise FieldError("The note holds control characters.", field="note")
    return at, note


def record_report(*, session: Session, system_id: int, rpo_target_minutes: int | None, ok: bool,
                  at: datetime | None = None, note: str = "", source: str = "cli",
                  token_id: int | None = None) -> BackupReport:
    """Store one backup run's outcome and move the system's state; the caller commits. Returns the
    stored report, detached: it is written with one INSERT, not through the session's unit of work."""
    at, note = check_report(at=at, note=note)
    session.flush()  # a state row still pending must exist before the UPDATE below
    received = utcnow()
    values = {"system_id": system_id, "reported_at": at, "received_at": received, "ok": ok, "note": note,
              "source": source, "token_id": token_id}
    report_id = session.execute(_INSERT_REPORT, values).inserted_primary_key[0]
    session.execute(_STATE_UPDATES[ok], {"state_of": system_id, "at": at, "note": note,
                                         "due": at + timedelta(minutes=rpo_target_minutes) if rpo_target_minutes
                                         else None})
    _forget_loaded(session, SystemState, system_id, _STATE_COLUMNS)
    if token_id is not None:
        session.execute(_TOKEN_USED, {"token_id": token_id, "used_at": received})
        _forget_loaded(session, ReportToken, token_id, ("last_used_at",))
    audit_kept.after_reports(session, audit_kept.configured_clock(), [system_id])
    return BackupReport(id=report_id, **values)


@dataclass(frozen=True)
class Heartbeat:
    """A report sent with a token, its fields already checked (check_report). `record` False: only
    the token is to be judged (the fields were refused, and the caller answers for the token first)."""

    secret: str
    ok: bool = True
    at: datetime | None = None
    note: str = ""
    record: bool = True


def record_heartbeats(engine: Engine, sent: Sequence[Heartbeat], source: str = "http") -> list[TokenHolder | None]:
    """Record many token-authenticated reports in their own transaction, committed on return (the
    HTTP endpoint's group commit), in four statements whatever their number: one UPDATE marks
    every live token presented as used and reads back its system (RETURNING), one INSERT stores the
    reports, the state UPDATEs move each system (in arrival order), and one UPDATE moves their kept
    audit rows (audit_kept.after_reports). On a bare driver connection
    (incidents/direct_write.py): through the Session, SQLAlchemy's bookkeeping cost the app server
    more than the database's work. Returns each report's holder, or None where the token does not
    work (nothing is recorded for it). A token whose report was refused (`record` False) was
    still used: its last use moves too."""
    hashes = [hash_secret(h.secret) if plausible(h.secret) else "" for h in sent]
    lookup = _hash_list(engine, {h for h in hashes if h})

    def write(transaction: DirectTransaction) -> list[TokenHolder | None]:
        clock = audit_kept.configured_clock()
        received = clock.now
        found = {token_hash: TokenHolder(*holder) for token_hash, *holder, retired_at
                 in transaction.rows(_TOKENS_TOUCH, hashes=lookup, used_at=received) if retired_at is None}
        holders = [found.get(h) for h in hashes]
        rows, updates = [], []
        for heartbeat, holder in zip(sent, holders, strict=True):
            if holder is None or not heartbeat.record:
                continue
            at = heartbeat.at or received
            rows.append({"system_id": holder.system_id, "reported_at": at, "received_at": received,
                         "ok": heartbeat.ok, "note": heartbeat.note, "source": source, "token_id": holder.token_id})
            due = at + timedelta(minutes=holder.rpo_target_minutes) if holder.rpo_target_minutes else None
            updates.append((heartbeat.ok, {"state_of": holder.system_id, "at": at, "note": heartbeat.note, "due": due}))
        transaction.executemany(_INSERT_REPORTS, rows)
        for ok, run in groupby(updates, key=lambda update_: update_[0]):  # consecutive runs keep the order
            transaction.executemany(_DIRECT_STATE_UPDATES[ok], [params for _, params in run])
        audit_kept.after_reports_direct(transaction, clock, {row["system_id"] for row in rows})
        return holders

    return run_direct(engine, write)


def _hash_list(engine: Engine, hashes: set[str]):
    """The hashes as _TOKENS_TOUCH's one parameter: a list (an array) on PostgreSQL, a JSON array on SQLite."""
    ordered = sorted(hashes)
    return ordered if engine.dialect.name == "postgresql" else json.dumps(ordered)


def _forget_loaded(session: Session, model, key: int, attributes) -> None:
    """The statements above change rows behind the session's back: expire what it holds of them."""
    loaded = session.identity_map.get(identity_key(model, key))
    if loaded is not None:
        session.expire(loaded, list(attributes))


# The heartbeat's statements, built once: a report is one INSERT and two UPDATEs that only bind
# values (building these expressions anew cost more than running them). Typed binds: the UTC
# column type turns times into what each database stores (see UTCDateTime).
_INSERT_REPORT = insert(BackupReport.__table__)
_TOKEN_USED = (update(ReportToken.__table__).where(ReportToken.__table__.c.id == bindparam("token_id"))
               .values(last_used_at=bindparam("used_at", type_=UTCDateTime())))
_STATE_COLUMNS = ("reports", "last_report_at", "last_report_ok", "last_report_note", "last_ok_at", "backup_due_at",
                  "failing_since")


def _state_update(ok: bool):
    """One report's move of the state row: "last" only ever moves forward, whatever order reports
    arrive in; every SET reads the row as it was before the UPDATE."""
    s = SystemState.__table__.c
    at, due = bindparam("at", type_=UTCDateTime()), bindparam("due", type_=UTCDateTime())
    newest = or_(s.last_report_at.is_(None), s.last_report_at <= at)
    values = {
        s.reports: s.reports + 1,
        s.last_report_at: case((newest, at), else_=s.last_report_at),
        s.last_report_ok: case((newest, literal(ok)), else_=s.last_report_ok),
        s.last_report_note: case((newest, bindparam("note")), else_=s.last_report_note),
    }
    if ok:
        newest_ok = or_(s.last_ok_at.is_(None), s.last_ok_at <= at)
        values |= {s.last_ok_at: case((newest_ok, at), else_=s.last_ok_at),
                   s.backup_due_at: case((newest_ok, due), else_=s.backup_due_at),
                   s.failing_since: case((and_(newest, s.failing_since <= at), None), else_=s.failing_since)}
    else:
        # A failure after a success (or the first report ever) starts a failing streak; later
        # failures leave its start alone.
        after_ok = or_(s.last_report_ok.is_(None), s.last_report_ok.is_(True))
        values[s.failing_since] = case((and_(newest, after_ok), at), else_=s.failing_since)
    return update(SystemState.__table__).where(s.system_id == bindparam("state_of")).values(values)


_STATE_UPDATES = {True: _state_update(True), False: _state_update(False)}
# The same statements for record_heartbeats' bare driver connection (incidents/direct_write.py).
_INSERT_REPORTS = PreparedWrite(_INSERT_REPORT, ("system_id", "reported_at", "received_at", "ok", "note", "source",
                                                 "token_id"))
_DIRECT_STATE_UPDATES = {ok: PreparedWrite(statement) for ok, statement in _STATE_UPDATES.items()}


def reports_of(*, session: Session, system: System, limit: int = 20) -> list[BackupReport]:
    """The newest backup reports of a system (the index on (system_id, reported_at) serves it)."""
    return list(session.scalars(select(BackupReport).where(BackupReport.system_id == system.id)
                                .order_by(BackupReport.reported_at.desc(), BackupReport.id.desc()).limit(limit)))
