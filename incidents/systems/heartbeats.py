"""Backup heartbeats: backup jobs report each run themselves (CLI or HTTP with a per-system token),
so "last successful backup" is a fact, and a system silent past its RPO target gets flagged.

One report is one INSERT and one UPDATE of the system's state row, in SQL that is right even when
two reports for one system arrive at once, or out of order (a late `--at` never moves "last" back).
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, case, literal, or_, select, update
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import UTCDateTime, utcnow
from incidents.errors import FieldError
from incidents.systems.models import BackupReport, ReportToken, System, SystemState

TOKEN_PREFIX = "sysb_"  # recognisable in a leaked crontab or a secret scanner's rules
NOTE_LIMIT = 500
# A backup job's clock may run a little ahead; a report further in the future is a mistake.
FUTURE_SLACK = timedelta(minutes=5)


def hash_token(secret: str) -> str:
    """What is stored of a token: its SHA-256 (the secret has 256 random bits, so no slow hash)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def create_token(*, session: Session, actor: User | None, system: System, label: str = "") -> tuple[ReportToken, str]:
    """A new report token for `system`: the row, and the secret to show once (never stored)."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ReportToken(system_id=system.id, token_hash=hash_token(secret), hint=secret[:len(TOKEN_PREFIX) + 6],
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
    return list(session.scalars(select(ReportToken).where(ReportToken.system_id == system.id)
                                .order_by(ReportToken.revoked_at.is_not(None), ReportToken.id.desc())))


@dataclass(frozen=True)
class TokenHolder:
    token_id: int
    system_id: int
    rpo_target_minutes: int | None


def system_for_token(*, session: Session, secret: str | None) -> TokenHolder | None:
    """The system a live token reports for; None for a wrong, revoked or retired one (one answer for
    all, so a caller learns nothing about which systems or tokens exist)."""
    if not secret or len(secret) > 200:
        return None
    row = session.execute(
        select(ReportToken.id, System.id, System.rpo_target_minutes).join(System, System.id == ReportToken.system_id)
        .where(ReportToken.token_hash == hash_token(secret), ReportToken.revoked_at.is_(None),
               System.retired_at.is_(None))).first()
    return TokenHolder(*row) if row else None


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
    """Store one backup run's outcome and move the system's state; the caller commits."""
    at, note = check_report(at=at, note=note)
    report = BackupReport(system_id=system_id, reported_at=at, received_at=utcnow(), ok=ok, note=note,
                          source=source, token_id=token_id)
    session.add(report)
    session.execute(_state_update(system_id, at=at, ok=ok, note=note, rpo=rpo_target_minutes))
    if token_id is not None:
        session.execute(update(ReportToken).where(ReportToken.id == token_id).values(last_used_at=utcnow()))
    return report


def _state_update(system_id: int, *, at: datetime, ok: bool, note: str, rpo: int | None):
    s = SystemState
    # Typed binds: the UTC column type turns them into what each database stores (see UTCDateTime).
    at_, due_ = literal(at, UTCDateTime()), literal(at + timedelta(minutes=rpo) if rpo else None, UTCDateTime())
    newest = or_(s.last_report_at.is_(None), s.last_report_at <= at)
    values = {
        s.reports: s.reports + 1,
        s.last_report_at: case((newest, at_), else_=s.last_report_at),
        s.last_report_ok: case((newest, ok), else_=s.last_report_ok),
        s.last_report_note: case((newest, note), else_=s.last_report_note),
    }
    if ok:
        newest_ok = or_(s.last_ok_at.is_(None), s.last_ok_at <= at)
        values |= {s.last_ok_at: case((newest_ok, at_), else_=s.last_ok_at),
                   s.backup_due_at: case((newest_ok, due_), else_=s.backup_due_at),
                   s.failing_since: case((and_(newest, s.failing_since <= at), None), else_=s.failing_since)}
    else:
        # A failure after a success (or the first report ever) starts a failing streak; later
        # failures leave its start alone.
        after_ok = or_(s.last_report_ok.is_(None), s.last_report_ok.is_(True))
        values[s.failing_since] = case((and_(newest, after_ok), at_), else_=s.failing_since)
    return update(s).where(s.system_id == system_id).values(values)


def reports_of(*, session: Session, system: System, limit: int = 20) -> list[BackupReport]:
    """The newest backup reports of a system (the index on (system_id, reported_at) serves it)."""
    return list(session.scalars(select(BackupReport).where(BackupReport.system_id == system.id)
                                .order_by(BackupReport.reported_at.desc(), BackupReport.id.desc()).limit(limit)))
