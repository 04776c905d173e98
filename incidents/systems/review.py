"""The acquisition review: every system that came with one acquisition, walked to an owner, a backup
policy, a recent successful backup and a tested restore.

The four checks are read off the ownership audit's own problems (audit.problems_of), so the review
and the audit page never disagree about a system. Each page is one statement, however many systems.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from incidents.systems import audit
from incidents.systems.models import System

# Each check, and the audit problems that fail it.
CHECKS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("owner", "An active owner", ("no_owner", "owner_disabled", "personal_data_unowned")),
    ("policy", "A backup policy", ("no_backup_policy",)),
    ("backup", "A recent successful backup", ("no_backup_policy", "backup_overdue", "backup_failing")),
    ("restore", "A tested restore", ("restore_never_tested", "restore_failed", "restore_test_old")),
)
ORIGIN_NAME_LIMIT = 200  # System.origin_name's length
# Without a policy there is no RPO to judge a backup's age by: the check fails for that reason.
NO_POLICY_FOR_BACKUP = "No backup policy yet: its RPO target says how recent a backup must be"


@dataclass(frozen=True)
class Check:
    key: str
    label: str
    ok: bool
    reasons: tuple[str, ...]  # the audit's labels of what fails it (empty when ok)


@dataclass
class SystemReview:
    system: System
    checks: list[Check]
    problems: list[str]  # every audit problem code (acquired_unreviewed included)

    @property
    def passed(self) -> int:
        return sum(check.ok for check in self.checks)

    @property
    def done(self) -> bool:
        return self.passed == len(self.checks)


@dataclass
class Progress:
    checks_done: int = 0
    checks_total: int = 0
    systems_done: int = 0
    systems_total: int = 0

    def add(self, review: SystemReview) -> None:
        self.checks_done += review.passed
        self.checks_total += len(review.checks)
        self.systems_done += review.done
        self.systems_total += 1

    @property
    def percent(self) -> int:
        return 100 * self.checks_done // self.checks_total if self.checks_total else 0


@dataclass
class AcquisitionReview:
    name: str
    systems: list[SystemReview] = field(default_factory=list)
    progress: Progress = field(default_factory=Progress)

    @property
    def unreviewed(self) -> int:
        return sum(r.system.last_reviewed_at is None for r in self.systems)


def review_of(system: System, clock: audit.Clock) -> SystemReview:
    """One system's four checks, by the audit's rules at `clock`."""
    problems = audit.problems_of(audit.facts_of(system, system.state), clock)
    checks = []
    for key, label, failing in CHECKS:
        found = [code for code in failing if code in problems]
        reasons = tuple(NO_POLICY_FOR_BACKUP if (key, code) == ("backup", "no_backup_policy")
                        else audit.BY_CODE[code].label for code in found)
        checks.append(Check(key, label, not found, reasons))
    return SystemReview(system, checks, problems)


def _acquired(name: str | None):
    stmt = (select(System).options(joinedload(System.owner), joinedload(System.state),
                                   joinedload(System.last_reviewed_by))
            .where(System.origin == "acquired", System.retired_at.is_(None))
            .order_by(System.origin_name, System.name_key))
    return stmt.where(System.origin_name == name) if name is not None else stmt


def acquisition_review(*, session: Session, name: str, clock: audit.Clock) -> AcquisitionReview | None:
    """Every system (not retired) acquired from `name`, checked; None when there is none."""
    if "\x00" in name or len(name) > ORIGIN_NAME_LIMIT:
        return None  # no stored name is like it (and PostgreSQL refuses NUL in a query)
    review = AcquisitionReview(name)
    for system in session.scalars(_acquired(name)):
        one = review_of(system, clock)
        review.systems.append(one)
        review.progress.add(one)
    return review if review.systems else None


def all_acquisitions(*, session: Session, clock: audit.Clock) -> list[AcquisitionReview]:
    """Each acquisition (as service.acquisitions names them) with its systems checked, by name."""
    reviews: dict[str, AcquisitionReview] = {}
    for system in session.scalars(_acquired(None)):
        review = reviews.setdefault(system.origin_name, AcquisitionReview(system.origin_name))
        one = review_of(system, clock)
        review.systems.append(one)
        review.progress.add(one)
    return list(reviews.values())
