"""The ownership audit: every system that could lose data next, worst first.

Each problem is defined once, twice spelled: as SQL (the audit worked out in full in one
statement, and the catalogue's "flagged" filter) and in Python (each system's kept audit row,
incidents/systems/audit_kept.py, and an incident's kept snapshot of its systems).
tests/test_systems_audit.py checks the two spellings agree on every problem, and the kept rows
agree with the full audit.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Integer, and_, bindparam, case, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased

from incidents.auth.models import User
from incidents.db import UTCDateTime
from incidents.systems.models import System, SystemState

# What the audit looks at, under the names both spellings use (see `_columns` and `Facts`).


@dataclass
class Facts:
    """One system's facts at one moment: from the catalogue now, or from an incident's snapshot."""

    has_owner: bool
    owner_active: bool
    personal_data: bool
    backup_method: str
    rpo_target_minutes: int | None
    last_ok_at: datetime | None
    last_report_ok: bool | None
    last_restore_test_at: datetime | None
    last_restore_test_ok: bool | None
    origin: str
    reviewed: bool

    @property
    def backup_due_at(self) -> datetime | None:
        if self.last_ok_at is None or self.rpo_target_minutes is None:
            return None
        return self.last_ok_at + timedelta(minutes=self.rpo_target_minutes)


@dataclass(frozen=True)
class Clock:
    """When the audit is taken, and how old a restore test may be."""

    now: datetime
    restore_test_max_days: int = 90

    @property
    def restore_cutoff(self) -> datetime:
        return self.now - timedelta(days=self.restore_test_max_days)


@dataclass(frozen=True)
class Problem:
    code: str
    label: str
    why: str  # one sentence, for the page's count and the JSON
    weight: int  # worst first: a system's score is the sum of its problems' weights
    fix: str  # the link's words
    fix_field: str  # the field of the system's edit form that fixes it ("" : another form on its page)
    sql: Callable[[Any, Clock], Any]
    check: Callable[[Facts, Clock], bool]


def _unowned_sql(c, _clock):
    return or_(c.owner_id.is_(None), c.owner_active == false())


def _policy_missing_sql(c, _clock):
    return or_(c.backup_method == "", c.rpo_target_minutes.is_(None))


def _policy_missing(f: Facts) -> bool:
    return not f.backup_method.strip() or f.rpo_target_minutes is None


PROBLEMS: tuple[Problem, ...] = (
    Problem("personal_data_unowned", "Personal data without an owner",
            "Holds personal data and nobody active answers for it.", 50, "Name an owner", "owner",
            lambda c, k: and_(c.personal_data.is_(True), _unowned_sql(c, k)),
            lambda f, k: f.personal_data and (not f.has_owner or not f.owner_active)),
    Problem("backup_failing", "Last backup report a failure",
            "The backup job's most recent report says it failed.", 40, "See the backup reports", "",
            lambda c, k: c.last_report_ok.is_(False),
            lambda f, k: f.last_report_ok is False),
    Problem("backup_overdue", "Last backup older than the RPO target",
            "No successful backup within its RPO target (or none ever reported).", 35,
            "See the backup reports", "",
            lambda c, k: and_(~_policy_missing_sql(c, k),
                              or_(c.last_ok_at.is_(None), c.backup_due_at < k.now)),
            lambda f, k: not _policy_missing(f) and (f.last_ok_at is None or f.backup_due_at < k.now)),
    Problem("no_backup_policy", "No backup policy",
            "No backup method or no RPO target recorded.", 30, "Set a backup policy", "backup_method",
            _policy_missing_sql, lambda f, k: _policy_missing(f)),
    Problem("restore_failed", "Last restore test failed",
            "The most recent restore test did not bring the data back.", 25, "Record a restore test", "",
            lambda c, k: c.last_restore_test_ok.is_(False),
            lambda f, k: f.last_restore_test_ok is False),
    Problem("owner_disabled", "Owner disabled",
            "The accountable owner's account is disabled.", 20, "Name an active owner", "owner",
            lambda c, k: and_(c.owner_id.is_not(None), c.owner_active == false()),
            lambda f, k: f.has_owner and not f.owner_active),
    Problem("no_owner", "No owner", "Nobody is accountable for it.", 20, "Name an owner", "owner",
            lambda c, k: c.owner_id.is_(None), lambda f, k: not f.has_owner),
    Problem("restore_never_tested", "Restore never tested",
            "Nobody has ever proven a restore from its backups.", 15, "Record a restore test", "",
            lambda c, k: c.last_restore_test_at.is_(None),
            lambda f, k: f.last_restore_test_at is None),
    Problem("restore_test_old", "Restore test too old",
            "The last restore test is older than the allowed age.", 10, "Record a restore test", "",
            lambda c, k: c.last_restore_test_at < k.restore_cutoff,
            lambda f, k: f.last_restore_test_at is not None and f.last_restore_test_at < k.restore_cutoff),
    Problem("acquired_unreviewed", "Acquired, never reviewed",
            "Came with an acquisition and nobody has reviewed it since.", 10, "Review it", "",
            lambda c, k: and_(c.origin == "acquired", c.last_reviewed_at.is_(None)),
            lambda f, k: f.origin == "acquired" and not f.reviewed),
)
BY_CODE = {p.code: p for p in PROBLEMS}


def problems_of(facts: Facts, clock: Clock) -> list[str]:
    """The codes of the problems `facts` have at `clock`, worst first."""
    return [p.code for p in PROBLEMS if p.check(facts, clock)]


def score_of(codes: list[str]) -> int:
    return sum(BY_CODE[c].weight for c in codes)


class _Columns:
    """The SQL side of `Facts`: the columns of one audit query (system ⟕ owner ⟕ state)."""

    def __init__(self, owner):
        self.owner_id = System.owner_id
        self.owner_active = func.coalesce(owner.active, False)
        self.personal_data = System.personal_data
        self.backup_method = System.backup_method
        self.rpo_target_minutes = System.rpo_target_minutes
        self.origin = System.origin
        self.last_reviewed_at = System.last_reviewed_at
        self.last_ok_at = SystemState.last_ok_at
        self.backup_due_at = SystemState.backup_due_at
        self.last_report_ok = SystemState.last_report_ok
        self.last_restore_test_at = SystemState.last_restore_test_at
        self.last_restore_test_ok = SystemState.last_restore_test_ok


def _audit_from(owner):
    return (select().select_from(System).outerjoin(owner, owner.id == System.owner_id)
            .outerjoin(SystemState, SystemState.system_id == System.id).where(System.retired_at.is_(None)))


@dataclass
class AuditRow:
    system_id: int
    name: str
    owner_name: str | None
    owner_active: bool
    team: str
    personal_data: bool
    origin: str
    origin_name: str
    last_ok_at: datetime | None
    last_report_at: datetime | None
    last_report_ok: bool | None
    failing_since: datetime | None
    last_restore_test_at: datetime | None
    problems: list[str]

    @property
    def score(self) -> int:
        return score_of(self.problems)


@dataclass
class Audit:
    clock: Clock
    systems: int  # in the catalogue (not retired)
    flagged: int  # with at least one problem
    counts: dict[str, int]  # per problem code, every code present
    rows: list[AuditRow] = field(default_factory=list)  # this page of flagged systems, worst first
    page: int = 1
    per_page: int = 50
    all_flagged: int = 0  # flagged in the whole catalogue (`flagged` counts only the listed problem's)

    @property
    def pages(self) -> int:
        return max(1, -(-self.flagged // self.per_page))


def take_full_audit(*, session: Session, clock: Clock, page: int = 1, per_page: int = 50,
                    problem: str | None = None) -> Audit:
    """The audit worked out in full from the catalogue (every system judged), in one statement:
    what incidents/systems/audit_kept.py's kept rows must always agree with, and what an audit of
    a moment before they were worked out is taken with."""
    page = max(1, page)
    params = {"audit_now": clock.now, "audit_cutoff": clock.restore_cutoff, "audit_limit": per_page,
              "audit_offset": (page - 1) * per_page}
    listed_problem = problem if problem in BY_CODE else None
    rows = session.execute(_audit_statement(listed_problem), params).all()
    total, flagged, *per_problem = rows[0][:2 + len(PROBLEMS)]
    counts = {p.code: int(n) for p, n in zip(PROBLEMS, per_problem, strict=True)}
    first = 2 + len(PROBLEMS)
    found = [AuditRow(*row[first:-1], problems=[p.code for n, p in enumerate(PROBLEMS) if row[-1] & (1 << n)])
             for row in rows if row[first] is not None]
    return Audit(clock=clock, systems=int(total), flagged=counts[listed_problem] if listed_problem else int(flagged),
                 counts=counts, rows=found, page=page, per_page=per_page, all_flagged=int(flagged))


@dataclass(frozen=True)
class _ClockParams:
    """A Clock whose moments are bound parameters, so the audit's statement is built once."""

    now: Any
    restore_cutoff: Any


@functools.cache
def _audit_statement(problem: str | None):
    """The audit as one statement (built once per kind: making and hashing it cost more Python
    than the 10,000-system SQL's own work). Each system's problems are worked out once, as a bit
    mask in a materialised CTE; the counts and the page's order read the bits, and the page's
    systems are then read in full by their keys. (As two queries, counts and page, every
    problem's SQL ran about three times per system.)"""
    owner = aliased(User)
    c = _Columns(owner)
    at = _ClockParams(now=bindparam("audit_now", type_=UTCDateTime()),
                      restore_cutoff=bindparam("audit_cutoff", type_=UTCDateTime()))
    mask = sum((case((p.sql(c, at), 1 << n), else_=0) for n, p in enumerate(PROBLEMS)), literal(0))
    scoped = _audit_from(owner)
    # Only what the counts and the order need is kept per system: copying every column shown
    # into the CTE cost more than working out the problems.
    facts = (scoped.add_columns(System.id.label("system_id"), System.personal_data, System.name_key,
                                mask.label("mask"))
             .cte("audit_facts").prefix_with("MATERIALIZED"))  # worked out once, not once per use
    f = facts.c

    def has(n: int):
        return f.mask.bitwise_and(1 << n) != 0

    counts = (select(func.count().label("systems"), _count(f.mask != 0).label("flagged"),
                     *[_count(has(n)).label(f"n{n}") for n in range(len(PROBLEMS))])
              .select_from(facts).subquery("counts"))
    score = sum((case((has(n), p.weight), else_=0) for n, p in enumerate(PROBLEMS)), literal(0)).label("score")
    listed = has(list(BY_CODE).index(problem)) if problem else f.mask != 0
    shown = (select(f.system_id, f.mask, f.personal_data, f.name_key, score).where(listed)
             .order_by(score.desc(), f.personal_data.desc(), f.name_key)
             .limit(bindparam("audit_limit", type_=Integer())).offset(bindparam("audit_offset", type_=Integer()))
             .subquery("shown"))
    shown_owner, state = aliased(User), SystemState
    return (select(counts, System.id, System.name, shown_owner.name, func.coalesce(shown_owner.active, False),
                   System.team, System.personal_data, System.origin, System.origin_name, state.last_ok_at,
                   state.last_report_at, state.last_report_ok, state.failing_since, state.last_restore_test_at,
                   shown.c.mask)
            .select_from(counts.outerjoin(shown, true()).outerjoin(System, System.id == shown.c.system_id)
                         .outerjoin(shown_owner, shown_owner.id == System.owner_id)
                         .outerjoin(state, state.system_id == System.id))
            .order_by(shown.c.score.desc(), shown.c.personal_data.desc(), shown.c.name_key))


def _count(condition):
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def facts_of(system: System, state: SystemState | None) -> Facts:
    """The facts of a catalogue system as they are now."""
    return Facts(has_owner=system.owner_id is not None,
                 owner_active=bool(system.owner is not None and system.owner.active),
                 personal_data=system.personal_data, backup_method=system.backup_method,
                 rpo_target_minutes=system.rpo_target_minutes,
                 last_ok_at=state.last_ok_at if state else None,
                 last_report_ok=state.last_report_ok if state else None,
                 last_restore_test_at=state.last_restore_test_at if state else None,
                 last_restore_test_ok=state.last_restore_test_ok if state else None,
                 origin=system.origin, reviewed=system.last_reviewed_at is not None)


def flagged_sql(owner, clock: Clock):
    """SQL true for a system with at least one problem at `clock`, in a query that joins `owner`
    (an alias of User on System.owner_id) and SystemState: the catalogue's "flagged" filter, so
    it flags exactly what the audit page does."""
    c = _Columns(owner)
    return or_(*[p.sql(c, clock) for p in PROBLEMS])
