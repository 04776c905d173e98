"""The ownership audit, kept per system (the `system_audit` rows), so the audit page reads its
counts and its worst systems from indexes whatever the catalogue's size.

A system's row is worked out again, in the same transaction, by every write that changes what its
problems depend on: ORM writes through a flush hook (a system, its state, a restore test, the
`active` flag of an account that owns systems), worked out in Python from the same `Facts` and
problem checks an incident's kept snapshot uses; backup reports (Core writes, the heartbeats' on
a bare connection) by `after_reports`, one SQL UPDATE that moves the two backup problems
(tests/test_systems_audit.py checks both against the audit worked out in full). Time turns two
problems on without any write (a backup falls due, a restore test ages past the limit): each row
keeps the next moment one of its problems would start, and `take_audit` works out again the rows
whose moment has passed before it reads, as it does every row when the configured age limit
changed or the rows were never worked out.

On PostgreSQL two transactions writing one system at once must not each work its row out from a
snapshot missing the other's change: a refresh first locks the systems' state rows (heartbeats
hold them already, by their UPDATE), then reads the facts in a new statement, which sees whatever
was committed before it got the locks.
"""
from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import chain

from flask import current_app, has_app_context
from sqlalchemy import (
    Integer,
    and_,
    bindparam,
    case,
    event,
    exists,
    false,
    func,
    inspect,
    or_,
    select,
    true,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from incidents.auth.models import User
from incidents.db import UTCDateTime, utcnow, writing_from_here
from incidents.direct_write import DirectTransaction, PreparedWrite
from incidents.systems import audit
from incidents.systems.models import RestoreTest, System, SystemAudit, SystemAuditSetting, SystemState

_owner = aliased(User, name="audit_owner")
_FACT_COLUMNS = (System.id, System.retired_at, System.personal_data, System.name_key, System.owner_id,
                 func.coalesce(_owner.active, False), System.backup_method, System.rpo_target_minutes,
                 SystemState.last_ok_at, SystemState.last_report_ok, SystemState.last_restore_test_at,
                 SystemState.last_restore_test_ok, System.origin, System.last_reviewed_at)
BIT = {problem.code: 1 << n for n, problem in enumerate(audit.PROBLEMS)}


def _facts(*where):
    return (select(*_FACT_COLUMNS).select_from(System)
            .outerjoin(_owner, _owner.id == System.owner_id)
            .outerjoin(SystemState, SystemState.system_id == System.id)
            .where(*where).order_by(System.id))


@dataclass(frozen=True)
class Worked:
    """One system's audit row, worked out."""

    system_id: int
    listed: bool
    mask: int
    score: int
    personal_data: bool
    name_key: str
    recheck_at: datetime | None
    restore_due_at: datetime | None

    def values(self, now: datetime) -> dict:
        return {"system_id": self.system_id, "listed": self.listed, "mask": self.mask, "score": self.score,
                "personal_data": self.personal_data, "name_key": self.name_key, "recheck_at": self.recheck_at,
                "restore_due_at": self.restore_due_at, "worked_out_at": now}


def work_out(row, clock: audit.Clock) -> Worked:
    (system_id, retired_at, personal_data, name_key, owner_id, owner_active, backup_method, rpo, last_ok_at,
     last_report_ok, restore_at, restore_ok, origin, reviewed_at) = row
    if retired_at is not None:  # out of the audit
        return Worked(system_id, False, 0, 0, bool(personal_data), name_key, None, None)
    facts = audit.Facts(has_owner=owner_id is not None, owner_active=bool(owner_active),
                        personal_data=bool(personal_data), backup_method=backup_method or "",
                        rpo_target_minutes=rpo, last_ok_at=last_ok_at, last_report_ok=last_report_ok,
                        last_restore_test_at=restore_at, last_restore_test_ok=restore_ok, origin=origin,
                        reviewed=reviewed_at is not None)
    codes = audit.problems_of(facts, clock)
    restore_due = restore_at + timedelta(days=clock.restore_test_max_days) if restore_at is not None else None
    return Worked(system_id, True, sum(BIT[code] for code in codes), audit.score_of(codes), bool(personal_data),
                  name_key, _next_change(facts, codes, restore_due), restore_due)


def _next_change(facts: audit.Facts, codes: list[str], restore_due: datetime | None) -> datetime | None:
    """The next moment time alone turns one of the system's problems on, if any is pending: its
    backup falls due (overdue once now is past it), its restore test passes the age limit.
    (_AFTER_REPORTS spells the same in SQL.)"""
    moments = []
    if "backup_overdue" not in codes and "no_backup_policy" not in codes and facts.backup_due_at is not None:
        moments.append(facts.backup_due_at)
    if "restore_test_old" not in codes and restore_due is not None:
        moments.append(restore_due)
    return min(moments, default=None)


def _insert_for(dialect_name: str):
    """The dialect's INSERT, which has ON CONFLICT ... DO UPDATE (SQLite and PostgreSQL spell it alike)."""
    return postgresql.insert if dialect_name == "postgresql" else sqlite.insert


def _upsert(dialect_name: str):
    table = SystemAudit.__table__
    statement = _insert_for(dialect_name)(table)
    return statement.on_conflict_do_update(
        index_elements=[table.c.system_id],
        set_={name: statement.excluded[name] for name in ("listed", "mask", "score", "personal_data", "name_key",
                                                          "recheck_at", "restore_due_at", "worked_out_at")})


_UPSERTS = {name: _upsert(name) for name in ("postgresql", "sqlite")}
_LOCK_STATES = (select(SystemState.system_id).where(SystemState.system_id.in_(bindparam("ids", expanding=True)))
                .order_by(SystemState.system_id).with_for_update())


def refresh(session: Session, clock: audit.Clock, system_ids: Iterable[int] | None = None) -> int:
    """Work out again the rows of `system_ids` (every system's when None), in the session's
    transaction. Returns how many rows were written."""
    connection = session.connection()
    dialect = connection.dialect.name
    if system_ids is not None:
        system_ids = sorted(set(system_ids))
        if not system_ids:
            return 0
        if dialect == "postgresql":
            connection.execute(_LOCK_STATES, {"ids": system_ids})
        rows = connection.execute(_facts(System.id.in_(system_ids)))
    else:
        if dialect == "postgresql":
            connection.execute(select(SystemState.system_id).with_for_update())
        rows = connection.execute(_facts())
    worked = [work_out(row, clock).values(clock.now) for row in rows]
    if worked:
        connection.execute(_UPSERTS[dialect], worked)
    return len(worked)


# --- Keeping the rows: backup reports ----------------------------------------------------------------
# A report changes only what two problems depend on (the newest report's outcome, the last success),
# so a batch of them moves each system's row in SQL, in one statement for the batch: the two bits
# and their weights swapped for what the state now says, and the next moment worked out again (the
# restore test's is kept: no date arithmetic here). Its comparisons spell the same as the audit's
# (backup_failing, backup_overdue); tests/test_systems_audit.py checks the result after reports.


def _after_reports():
    kept, state = SystemAudit.__table__.c, SystemState.__table__.c
    now = bindparam("now", type_=UTCDateTime())

    def has(code: str):
        return kept.mask.op("&")(BIT[code]) != 0

    failing_bit, overdue_bit = BIT["backup_failing"], BIT["backup_overdue"]
    weights = {code: audit.BY_CODE[code].weight for code in ("backup_failing", "backup_overdue")}
    with_policy = ~has("no_backup_policy")
    failing = state.last_report_ok == false()
    overdue = and_(with_policy, or_(state.last_ok_at.is_(None), state.backup_due_at < now))
    others = kept.mask.op("&")((1 << len(audit.PROBLEMS)) - 1 - failing_bit - overdue_bit)
    mask = others.op("|")(case((failing, failing_bit), else_=0)).op("|")(case((overdue, overdue_bit), else_=0))
    score = (kept.score - case((has("backup_failing"), weights["backup_failing"]), else_=0)
             - case((has("backup_overdue"), weights["backup_overdue"]), else_=0)
             + case((failing, weights["backup_failing"]), else_=0)
             + case((overdue, weights["backup_overdue"]), else_=0))
    backup_next = case((and_(with_policy, state.backup_due_at >= now), state.backup_due_at))
    restore_next = case((~has("restore_test_old"), kept.restore_due_at))
    recheck = case((backup_next.is_(None), restore_next), (restore_next.is_(None), backup_next),
                   (backup_next < restore_next, backup_next), else_=restore_next)
    # UPDATE ... FROM system_state: the state row joined once (SQLite 3.33+, PostgreSQL).
    return (update(SystemAudit.__table__)
            .where(kept.system_id == bindparam("audited"), state.system_id == kept.system_id, kept.listed == true())
            .values(mask=mask, score=score, recheck_at=recheck, worked_out_at=now))


_AFTER_REPORTS = _after_reports()
_AFTER_REPORTS_DIRECT = PreparedWrite(_AFTER_REPORTS)


def after_reports(session: Session, clock: audit.Clock, system_ids: Iterable[int]) -> None:
    """Move the rows of systems whose state backup reports just moved (a Core write: no flush hook)."""
    session.execute(_AFTER_REPORTS, _report_params(clock, system_ids))


def after_reports_direct(transaction: DirectTransaction, clock: audit.Clock, system_ids: Iterable[int]) -> None:
    """after_reports for the heartbeats' write on a bare connection (incidents/direct_write.py)."""
    transaction.executemany(_AFTER_REPORTS_DIRECT, _report_params(clock, system_ids))


def _report_params(clock: audit.Clock, system_ids: Iterable[int]) -> list[dict]:
    return [{"audited": system_id, "now": clock.now} for system_id in sorted(set(system_ids))]


def configured_clock() -> audit.Clock:
    """Now, and the configured restore-test age limit (the default outside an app)."""
    days = audit.Clock.restore_test_max_days
    if has_app_context():
        days = current_app.config["SYSTEMS_RESTORE_TEST_MAX_DAYS"]
    return audit.Clock(now=utcnow(), restore_test_max_days=days)


# --- Keeping the rows: ORM writes --------------------------------------------------------------------

@event.listens_for(Session, "after_flush")
def _refresh_what_the_flush_changed(session: Session, _flush_context) -> None:
    changed: set[int] = set()
    owners: list[int] = []
    dirty = session.dirty  # built anew on each access: once per flush, not once per object
    for instance in chain(session.new, dirty, session.deleted):
        if isinstance(instance, System):
            changed.add(instance.id)
        elif isinstance(instance, SystemState | RestoreTest):
            changed.add(instance.system_id)
        elif isinstance(instance, User) and instance in dirty and _active_changed(instance):
            owners.append(instance.id)
    if owners:
        changed.update(session.connection().execute(select(System.id).where(System.owner_id.in_(owners))).scalars())
    if changed:
        refresh(session, configured_clock(), changed)


def _active_changed(user: User) -> bool:
    return inspect(user).attrs.active.history.has_changes()


# --- Reading the audit -----------------------------------------------------------------------------------

_SETTING = select(SystemAuditSetting.restore_test_max_days).where(SystemAuditSetting.id == 1).scalar_subquery()
_NOW = bindparam("now", type_=UTCDateTime())
_CHECK = select(_SETTING, exists().where(SystemAudit.recheck_at < _NOW),
                select(func.max(SystemAudit.worked_out_at)).scalar_subquery())
_STALE_IDS = select(SystemAudit.system_id).where(SystemAudit.recheck_at < _NOW)
_COUNTS = (select(SystemAudit.mask, func.count()).where(SystemAudit.listed == true())
           .group_by(SystemAudit.mask))


def take_audit(*, session: Session, clock: audit.Clock, page: int = 1, per_page: int = 50,
               problem: str | None = None) -> audit.Audit:
    """Counts per problem over the whole catalogue, and one page of flagged systems, worst first
    (optionally only those with `problem`), from the kept rows: a few statements whatever the
    catalogue's size. Rows time has changed are worked out first (a short write); an audit asked
    for a moment before the rows were worked out is taken in full (audit.take_full_audit)."""
    setting, stale, newest = session.execute(_CHECK, {"now": clock.now}).one()
    if newest is not None and newest > clock.now:
        return audit.take_full_audit(session=session, clock=clock, page=page, per_page=per_page, problem=problem)
    if setting != clock.restore_test_max_days or stale:
        writing_from_here()
        _bring_up_to_date(session, clock, everything=setting != clock.restore_test_max_days)
        session.commit()
    page = max(1, page)
    by_mask = session.execute(_COUNTS).all()
    counts = {p.code: sum(n for mask, n in by_mask if mask & BIT[p.code]) for p in audit.PROBLEMS}
    all_flagged = sum(n for mask, n in by_mask if mask)
    listed_problem = problem if problem in audit.BY_CODE else None
    rows = session.execute(_page(listed_problem), {"limit": per_page, "offset": (page - 1) * per_page}).all()
    found = [audit.AuditRow(*row[:-1], problems=[p.code for p in audit.PROBLEMS if row[-1] & BIT[p.code]])
             for row in rows]
    return audit.Audit(clock=clock, systems=sum(n for _, n in by_mask),
                       flagged=counts[listed_problem] if listed_problem else all_flagged, counts=counts, rows=found,
                       page=page, per_page=per_page, all_flagged=all_flagged)


@functools.cache
def _page(problem: str | None):
    kept, owner = SystemAudit, aliased(User, name="shown_owner")
    having = kept.mask.op("&")(BIT[problem]) != 0 if problem else kept.mask != 0
    return (select(System.id, System.name, owner.name, func.coalesce(owner.active, False), System.team,
                   System.personal_data, System.origin, System.origin_name, SystemState.last_ok_at,
                   SystemState.last_report_at, SystemState.last_report_ok, SystemState.failing_since,
                   SystemState.last_restore_test_at, kept.mask)
            .select_from(kept).join(System, System.id == kept.system_id)
            .outerjoin(owner, owner.id == System.owner_id)
            .outerjoin(SystemState, SystemState.system_id == System.id)
            .where(kept.listed == true(), having)
            .order_by(kept.score.desc(), kept.personal_data.desc(), kept.name_key)
            .limit(bindparam("limit", type_=Integer())).offset(bindparam("offset", type_=Integer())))


def _bring_up_to_date(session: Session, clock: audit.Clock, everything: bool) -> None:
    if not everything:
        refresh(session, clock, session.execute(_STALE_IDS, {"now": clock.now}).scalars().all())
        return
    refresh(session, clock)
    table = SystemAuditSetting.__table__
    statement = (_insert_for(session.connection().dialect.name)(table)
                 .values(id=1, restore_test_max_days=clock.restore_test_max_days))
    session.execute(statement.on_conflict_do_update(
        index_elements=[table.c.id], set_={"restore_test_max_days": statement.excluded.restore_test_max_days}))
