"""The catalogue's changes: add and edit systems (optimistic locking), restore tests, reviews.

Every change here is a row change the audit recorder logs (incidents/audit/recorder.py); the
caller commits. Backup heartbeats and report tokens are in heartbeats.py.
"""
from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, NotFound, check_version
from incidents.forms import url_problem
from incidents.incident.enums import DATA_CATEGORIES
from incidents.systems.models import ORIGINS, RestoreTest, System, SystemState, name_key

CONFLICT = ("Someone changed this system while you were editing. Nothing of yours was saved: "
            "check the values now shown, then save again.")


@dataclass
class SystemFields:
    """What a person (or a CSV row) says about a system; the service checks and stores it."""

    name: str
    description: str = ""
    owner: User | None = None
    team: str = ""
    data_categories: list[str] | None = None
    personal_data: bool = False
    origin: str = "built"
    origin_name: str = ""
    acquired_on: date | None = None
    backup_method: str = ""
    backup_destination: str = ""
    rpo_target_minutes: int | None = None
    retention: str = ""


LABELS = {"name": "Name", "description": "Description", "owner": "Owner", "team": "Team",
          "data_categories": "Data categories", "personal_data": "Personal data", "origin": "Came from",
          "origin_name": "Acquired from / vendor", "acquired_on": "Acquired on", "backup_method": "Backup method",
          "backup_destination": "Where copies go", "rpo_target_minutes": "RPO target (minutes)",
          "retention": "Retention"}


def get_system(*, session: Session, system_id: int) -> System:
    system = session.get(System, system_id, options=[joinedload(System.owner), joinedload(System.state)])
    if system is None:
        raise NotFound("No such system.")
    return system


def find_by_name(*, session: Session, name: str) -> System | None:
    return session.scalar(select(System).where(System.name_key == name_key(name)))


def _check(session: Session, fields_: SystemFields, *, system: System | None) -> None:
    """Refuse what the catalogue cannot hold, beside the field at fault."""
    name = " ".join(fields_.name.split())
    if not name:
        raise FieldError("Give the system a name.", field="name")
    if len(name) > 120 or len(name_key(name)) > 120:  # case-folding can lengthen it (ß → ss)
        raise FieldError("Keep the name under 120 characters.", field="name")
    if len(fields_.description) > 5000:
        raise FieldError("Keep the description under 5,000 characters.", field="description")
    other = find_by_name(session=session, name=name)
    if other is not None and other is not system:
        raise FieldError(f"“{other.name}” is already in the catalogue.", field="name")
    # A newly named owner must be active; keeping one who has since left is allowed (the audit flags
    # it), so editing anything else about such a system still saves.
    newly_named = system is None or system.owner is not fields_.owner
    if fields_.owner is not None and not fields_.owner.active and newly_named:
        raise FieldError(f"{fields_.owner.display}'s account is disabled: choose an active owner.", field="owner")
    unknown = [c for c in fields_.data_categories or [] if c not in DATA_CATEGORIES]
    if unknown:
        raise FieldError(f"Unknown data category: {', '.join(unknown)}.", field="data_categories")
    if fields_.origin not in ORIGINS:
        raise FieldError("Choose built here, acquired or vendor.", field="origin")
    if fields_.origin in ("acquired", "vendor") and not fields_.origin_name.strip():
        what = "which company it was acquired from" if fields_.origin == "acquired" else "the vendor"
        raise FieldError(f"Say {what}.", field="origin_name")
    if fields_.acquired_on is not None and fields_.origin != "acquired":
        raise FieldError("Only an acquired system has an acquisition date.", field="acquired_on")
    if fields_.acquired_on is not None and fields_.acquired_on > utcnow().date():
        raise FieldError("The acquisition date is in the future.", field="acquired_on")
    rpo = fields_.rpo_target_minutes
    if rpo is not None and not 1 <= rpo <= 366 * 24 * 60:
        raise FieldError("An RPO target is between 1 minute and a year (527,040 minutes).",
                         field="rpo_target_minutes")
    for name_, limit in (("team", 120), ("origin_name", 200), ("backup_method", 200),
                         ("backup_destination", 200), ("retention", 200)):
        if len(getattr(fields_, name_).strip()) > limit:
            raise FieldError(f"Keep this under {limit} characters.", field=name_)


def _assign(system: System, fields_: SystemFields) -> None:
    system.name = " ".join(fields_.name.split())
    system.name_key = name_key(fields_.name)
    system.description = fields_.description.strip()
    system.owner = fields_.owner
    system.team = fields_.team.strip()
    system.data_categories = [c for c in DATA_CATEGORIES if c in (fields_.data_categories or [])]
    system.personal_data = fields_.personal_data
    system.origin = fields_.origin
    system.origin_name = fields_.origin_name.strip() if fields_.origin != "built" else ""
    system.acquired_on = fields_.acquired_on if fields_.origin == "acquired" else None
    system.backup_method = fields_.backup_method.strip()
    system.backup_destination = fields_.backup_destination.strip()
    system.rpo_target_minutes = fields_.rpo_target_minutes
    system.retention = fields_.retention.strip()


def fields_of(system: System) -> SystemFields:
    """A system's current values, as the edit form and the CSV export start from."""
    return SystemFields(**{f.name: getattr(system, f.name) for f in fields(SystemFields)})


def create_system(*, session: Session, actor: User | None, fields_: SystemFields) -> System:
    """Add a system to the catalogue (with its empty state row, which heartbeats then update)."""
    _check(session, fields_, system=None)
    system = System(created_by=actor, created_at=utcnow(), updated_at=utcnow())
    _assign(system, fields_)
    system.state = SystemState(reports=0)
    session.add(system)
    session.flush()
    return system


def update_system(*, session: Session, actor: User | None, system: System, expected_version: int | None,
                  fields_: SystemFields) -> System:
    """Change a system; a form made from an older version is refused with what changed since."""
    check_version(stored=system.version, expected=expected_version, message=lambda: CONFLICT,
                  differences=lambda: _differences(system, fields_))
    _check(session, fields_, system=system)
    _assign(system, fields_)
    _keep_due(system)
    session.flush()
    return system


def _differences(system: System, sent: SystemFields) -> list[tuple[str, str, str]]:
    stored = fields_of(system)
    return [(LABELS[f.name], _shown(getattr(stored, f.name)), _shown(getattr(sent, f.name)))
            for f in fields(SystemFields) if _shown(getattr(stored, f.name)) != _shown(getattr(sent, f.name))]


def _shown(value) -> str:
    if isinstance(value, User):
        return value.display
    if isinstance(value, list):
        return ", ".join(DATA_CATEGORIES.get(v, v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else str(value)


def _keep_due(system: System) -> None:
    """A changed RPO target moves when the backup falls due (see SystemState.backup_due_at)."""
    state = system.state
    if state is None:
        system.state = state = SystemState(reports=0)
    state.backup_due_at = (state.last_ok_at + timedelta(minutes=system.rpo_target_minutes)
                           if state.last_ok_at is not None and system.rpo_target_minutes else None)


def record_restore_test(*, session: Session, actor: User, system: System, tested_at: datetime, ok: bool,
                        performed_by: User | None, evidence_url: str = "", note: str = "") -> RestoreTest:
    """Record a restore test; the newest one is what the audit judges."""
    if tested_at > utcnow() + timedelta(minutes=5):
        raise FieldError("A restore test cannot be in the future.", field="tested_at")
    problem = url_problem(evidence_url.strip()) if evidence_url.strip() else None
    if problem:  # the form checks too; other callers (CSV, CLI) must not store a javascript: link
        raise FieldError(problem, field="evidence_url")
    test = RestoreTest(system_id=system.id, tested_at=tested_at, ok=ok, performed_by=performed_by or actor,
                       recorded_by=actor, evidence_url=evidence_url.strip(), note=note.strip(),
                       recorded_at=utcnow())
    session.add(test)
    state = system.state or SystemState(system=system, reports=0)
    if state.last_restore_test_at is None or tested_at >= state.last_restore_test_at:
        state.last_restore_test_at, state.last_restore_test_ok = tested_at, ok
    session.flush()
    return test


def restore_tests_of(*, session: Session, system: System, limit: int = 20) -> list[RestoreTest]:
    return list(session.scalars(select(RestoreTest).options(joinedload(RestoreTest.performed_by))
                                .where(RestoreTest.system_id == system.id)
                                .order_by(RestoreTest.tested_at.desc(), RestoreTest.id.desc()).limit(limit)))


def mark_reviewed(*, session: Session, actor: User, system: System) -> System:
    """Someone looked at the system's owner, policy and tests, and says so."""
    system.last_reviewed_at, system.last_reviewed_by = utcnow(), actor
    session.flush()
    return system


def retire_system(*, session: Session, actor: User, system: System) -> System:
    """The system no longer holds customer data: it leaves the audit (its history stays)."""
    if system.retired_at is None:
        system.retired_at = utcnow()
        session.flush()
    return system

