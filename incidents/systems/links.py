"""The systems an incident names, each with its ownership and backup state as they were when the
incident was declared: taken once, when the system is named, and kept (never recomputed), so the
record shows what responders faced, not what the catalogue says since.

The backup facts come from history (the reports and restore tests up to the declaration), so a
report that arrives after the declaration changes nothing. The catalogue keeps no history of its
own fields, so owner, team, policy and personal data are as recorded when the system is named;
the pages say so. Every link and unlink is written on the incident's timeline (internal only),
which is also what moves the incident page's version (incidents/incident/live.py reads the newest
entry), so its cached copies and open pages show the change. Services flush; the request commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app, has_app_context
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.incident.models import Incident
from incidents.incident.service import update_incident
from incidents.systems.audit import BY_CODE, Clock, Facts, Problem, problems_of
from incidents.systems.models import BackupReport, IncidentSystem, RestoreTest, System, name_key
from incidents.templating import duration, format_utc
from incidents.timeline.models import EntryKind, Visibility
from incidents.timeline.service import add_entry

DEFAULT_RESTORE_TEST_MAX_DAYS = 90


@dataclass(frozen=True)
class History:
    """A system's backup and restore-test facts up to one moment."""

    last_report_at: datetime | None = None
    last_report_ok: bool | None = None
    last_ok_at: datetime | None = None
    last_restore_test_at: datetime | None = None
    last_restore_test_ok: bool | None = None


def history_as_of(*, session: Session, system_ids: list[int], as_of: datetime) -> dict[int, History]:
    """Each system's last backup report, last successful one and last restore test at or before
    `as_of`: one statement for all of them, each fact an index range scan (system_id, time)."""
    if not system_ids:
        return {}
    r, t = BackupReport, RestoreTest

    def last_report(column):
        return (select(column).where(r.system_id == System.id, r.reported_at <= as_of)
                .order_by(r.reported_at.desc(), r.id.desc()).limit(1).correlate(System).scalar_subquery())

    def last_test(column):
        return (select(column).where(t.system_id == System.id, t.tested_at <= as_of)
                .order_by(t.tested_at.desc(), t.id.desc()).limit(1).correlate(System).scalar_subquery())

    last_ok = (select(func.max(r.reported_at)).where(r.system_id == System.id, r.ok.is_(True),
                                                     r.reported_at <= as_of).correlate(System).scalar_subquery())
    rows = session.execute(select(System.id, last_report(r.reported_at), last_report(r.ok), last_ok,
                                  last_test(t.tested_at), last_test(t.ok)).where(System.id.in_(system_ids)))
    return {row[0]: History(*row[1:]) for row in rows}


def _restore_test_max_days() -> int:
    """The configured age past which a restore test no longer counts (the audit's rule)."""
    if has_app_context():
        return int(current_app.config.get("SYSTEMS_RESTORE_TEST_MAX_DAYS", DEFAULT_RESTORE_TEST_MAX_DAYS))
    return DEFAULT_RESTORE_TEST_MAX_DAYS


def snapshot_of(system: System, history: History, *, as_of: datetime, restore_test_max_days: int) -> IncidentSystem:
    """A new link row holding `system`'s state at `as_of` (see the module's docstring)."""
    owner = system.owner
    facts = Facts(has_owner=owner is not None, owner_active=bool(owner is not None and owner.active),
                  personal_data=system.personal_data, backup_method=system.backup_method,
                  rpo_target_minutes=system.rpo_target_minutes, last_ok_at=history.last_ok_at,
                  last_report_ok=history.last_report_ok, last_restore_test_at=history.last_restore_test_at,
                  last_restore_test_ok=history.last_restore_test_ok, origin=system.origin,
                  # Only the latest review is kept: one after the declaration does not count then.
                  reviewed=system.last_reviewed_at is not None and system.last_reviewed_at <= as_of)
    return IncidentSystem(
        system_id=system.id, as_of=as_of, system_name=system.name,
        owner_name=owner.display[:120] if owner is not None else None, owner_active=facts.owner_active,
        team=system.team, personal_data=system.personal_data, backup_method=system.backup_method,
        rpo_target_minutes=system.rpo_target_minutes, last_backup_ok_at=history.last_ok_at,
        last_backup_report_at=history.last_report_at, last_backup_report_ok=history.last_report_ok,
        last_restore_test_at=history.last_restore_test_at, last_restore_test_ok=history.last_restore_test_ok,
        problems=problems_of(facts, Clock(now=as_of, restore_test_max_days=restore_test_max_days)))


def link_systems(*, session: Session, actor: User | None, incident: Incident, systems: list[System],
                 restore_test_max_days: int | None = None) -> list[IncidentSystem]:
    """Name `systems` as affected by `incident`, each with its state when the incident was declared;
    systems already named are skipped. An incident without an RPO target takes the strictest of
    its systems' (an incident edit like any other, on the timeline)."""
    now = utcnow()
    as_of = min(incident.declared_at, now)
    max_days = restore_test_max_days if restore_test_max_days is not None else _restore_test_max_days()
    named = dict(session.execute(select(IncidentSystem.system_id, IncidentSystem.rpo_target_minutes)
                                 .where(IncidentSystem.incident_id == incident.id)).all())
    fresh = list({s.id: s for s in systems if s.id not in named}.values())
    history = history_as_of(session=session, system_ids=[s.id for s in fresh], as_of=as_of)
    made = []
    for system in fresh:
        link = snapshot_of(system, history.get(system.id, History()), as_of=as_of, restore_test_max_days=max_days)
        link.incident_id, link.linked_at, link.linked_by_id = incident.id, now, actor.id if actor else None
        try:
            with session.begin_nested():
                session.add(link)
        except IntegrityError:
            continue  # named by someone else at the same moment: theirs stands
        named[system.id] = link.rpo_target_minutes
        made.append(link)
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.note,
                  visibility=Visibility.internal, body=_named_entry(link))
    if made:  # naming nothing new changes nothing (not even a target someone cleared since)
        _default_rpo(session, actor, incident, [rpo for rpo in named.values() if rpo])
    return made


def _named_entry(link: IncidentSystem) -> str:
    facts = [f"owner {link.owner_name or 'none'}",
             f"last successful backup {format_utc(link.last_backup_ok_at) if link.last_backup_ok_at else 'none'}",
             f"last restore test {format_utc(link.last_restore_test_at) if link.last_restore_test_at else 'never'}"]
    problems = [BY_CODE[code].label.lower() for code in link.problems if code in BY_CODE]
    body = f"Affected system named: **{link.system_name}**. When the incident was declared: {'; '.join(facts)}."
    if problems:
        body += f" Problems then: {', '.join(problems)}."
    return body


def _default_rpo(session: Session, actor: User | None, incident: Incident, targets: list[int]) -> None:
    """Give an incident without an RPO target the strictest of its systems' targets."""
    if incident.rpo_target_minutes is not None or not targets:
        return
    update_incident(session=session, actor=actor, incident=incident, expected_version=incident.version,
                    changes={"rpo_target_minutes": min(targets)})


def get_link(*, session: Session, incident: Incident, link_id: int) -> IncidentSystem:
    link = session.get(IncidentSystem, link_id)
    if link is None or link.incident_id != incident.id:
        raise NotFound("That system is not named on this incident.")
    return link


def unlink_system(*, session: Session, actor: User | None, incident: Incident, link: IncidentSystem) -> None:
    """Take a system off the incident (the timeline says so; its snapshot goes with it)."""
    name = link.system_name
    session.delete(link)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.note,
              visibility=Visibility.internal, body=f"Affected system removed: **{name}**.")


# --- reading ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LinkedSystem:
    """A kept snapshot as the incident page, the postmortem and the report show it."""

    link: IncidentSystem

    def __getattr__(self, name):
        return getattr(self.link, name)

    @property
    def problem_list(self) -> list[Problem]:
        return [BY_CODE[code] for code in self.link.problems or [] if code in BY_CODE]

    @property
    def backup_lead(self) -> str:
        """How long before the declaration the last successful backup ran, in words."""
        return lead_time(self.link.last_backup_ok_at, self.link.as_of)


def lead_time(earlier: datetime | None, later: datetime) -> str:
    """'23 days' for long spans (a day either way is not what matters then), else '5 h 12 min'."""
    if earlier is None:
        return ""
    span = later - earlier
    if span >= timedelta(days=2):
        return f"{span.days} days"
    return duration(earlier, later) or "under a minute"


def systems_of(*, session: Session, incident: Incident) -> list[LinkedSystem]:
    """The systems `incident` names, by name (one statement)."""
    return [LinkedSystem(link) for link in session.scalars(
        select(IncidentSystem).where(IncidentSystem.incident_id == incident.id)
        .order_by(IncidentSystem.system_name, IncidentSystem.id))]


def catalogue_choices(*, session: Session, incident: Incident | None = None) -> list[tuple[int, str]]:
    """(id, name) of the systems one may name: those not retired (nor named on `incident` yet)."""
    stmt = select(System.id, System.name).where(System.retired_at.is_(None)).order_by(System.name_key)
    if incident is not None:
        stmt = stmt.where(System.id.not_in(select(IncidentSystem.system_id)
                                           .where(IncidentSystem.incident_id == incident.id)))
    return [(row.id, row.name) for row in session.execute(stmt)]


def systems_by_ids(*, session: Session, ids: list[int]) -> list[System]:
    if not ids:
        return []
    return list(session.scalars(select(System).options(joinedload(System.owner)).where(System.id.in_(ids))
                                .order_by(System.name_key)))


MATCHES_SHOWN = 5


def find_to_name(*, session: Session, text: str, incident: Incident) -> list[System]:
    """The systems (not retired) a typed name means: the one with that name, else those whose name
    contains it and that `incident` does not name yet (at most MATCHES_SHOWN + 1, so a caller can
    tell "too many")."""
    key = name_key(text)
    if not key:
        return []
    live = select(System).options(joinedload(System.owner)).where(System.retired_at.is_(None))
    exact = session.scalars(live.where(System.name_key == key)).first()
    if exact is not None:
        return [exact]
    pattern = "%" + key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    named = select(IncidentSystem.system_id).where(IncidentSystem.incident_id == incident.id)
    return list(session.scalars(live.where(System.name_key.like(pattern, escape="\\"), System.id.not_in(named))
                                .order_by(System.name_key).limit(MATCHES_SHOWN + 1)))
