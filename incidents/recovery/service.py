"""Recovery workstreams and recovery objectives (RPO/RTO).

Progress is append-only: each report records the units done so far, and the workstream keeps the
latest figure beside it under optimistic locking, so two reports from stale pages cannot silently
replace each other.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload
from sqlalchemy.orm.attributes import flag_modified

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.display import show_value as _show
from incidents.errors import FieldError, NotFound, check_version
from incidents.impact.service import chart_points
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.recovery.chart import recovery_chart
from incidents.recovery.enums import SOURCES, UNITS, WorkstreamStatus
from incidents.recovery.models import Workstream, WorkstreamProgress
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage


@dataclass
class WorkstreamFields:
    name: str
    owner: User | None
    target: int
    unit: str = "records"
    category: str | None = None
    status: WorkstreamStatus = WorkstreamStatus.planned
    eta: datetime | None = None
    source: str = "backup"
    evidence: str = ""


def _check(fields: WorkstreamFields) -> None:
    if not fields.name.strip():
        raise FieldError("Name the line of recovery work.", field="name")
    if fields.owner is None or not fields.owner.active:
        raise FieldError("Every workstream needs an accountable owner who can sign in.", field="owner")
    if fields.target <= 0:
        raise FieldError("The target must be at least 1 unit.", field="target")
    if fields.unit not in UNITS:
        raise FieldError("Choose a unit from the list.", field="unit")
    if fields.source not in SOURCES:
        raise FieldError("Choose a source from the list.", field="source")
    if fields.category is not None and fields.category not in DATA_CATEGORIES:
        raise FieldError("Choose a data category from the list.", field="category")


def get_workstream(*, session: Session, incident: Incident, workstream_id: int) -> Workstream:
    workstream = session.get(Workstream, workstream_id)
    if workstream is None or workstream.incident_id != incident.id:
        raise NotFound("No such workstream.")
    return workstream


def workstreams_for(*, session: Session, incident: Incident) -> list[Workstream]:
    """The incident's workstreams, by data category then name, with owners loaded."""
    return list(session.scalars(
        select(Workstream).where(Workstream.incident_id == incident.id)
        .options(selectinload(Workstream.owner))
        .order_by(Workstream.category, Workstream.name, Workstream.id)
    ))


def progress_history(*, session: Session, workstream: Workstream) -> list[WorkstreamProgress]:
    """Every progress report on a workstream, newest first, with its author."""
    return list(session.scalars(
        select(WorkstreamProgress).where(WorkstreamProgress.workstream_id == workstream.id)
        .options(selectinload(WorkstreamProgress.author))
        .order_by(WorkstreamProgress.as_of.desc(), WorkstreamProgress.id.desc())
    ))


def create_workstream(*, session: Session, actor: User, incident: Incident,
                      fields: WorkstreamFields) -> Workstream:
    """Start a line of recovery work and note it on the timeline."""
    _check(fields)
    workstream = Workstream(incident_id=incident.id, name=fields.name.strip(), owner=fields.owner,
                            target=fields.target, unit=fields.unit, category=fields.category,
                            status=fields.status, eta=fields.eta, source=fields.source,
                            evidence=fields.evidence.strip(),
                            evidence_html=html_to_store(fields.evidence.strip()))
    session.add(workstream)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.recovery,
              body=f"Workstream **{workstream.name}** started: {workstream.target:,} {workstream.unit} "
                   f"from {SOURCES[workstream.source].lower()}, owner {fields.owner.display}.")
    return workstream


def update_workstream(*, session: Session, actor: User, incident: Incident, workstream: Workstream,
                      expected_version: int, fields: WorkstreamFields) -> Workstream:
    """Change a workstream's plan (owner, status, target, ETA …); refuses stale forms."""
    _check(fields)
    check_version(stored=workstream.version, expected=expected_version, message=lambda: (
        f"Someone changed “{workstream.name}” while you were editing. Nothing of yours was saved: "
        "check the values now shown, then save again."))
    if fields.target < workstream.done:
        raise FieldError(f"{workstream.done:,} {workstream.unit} are already done; the target cannot "
                              "be lower than that.", field="target")
    changes = []
    for name in ("name", "owner", "target", "unit", "category", "status", "eta", "source", "evidence"):
        new = getattr(fields, name)
        new = new.strip() if isinstance(new, str) else new
        if getattr(workstream, name) != new:
            if name != "evidence":
                changes.append(f"{name}: {_show(getattr(workstream, name))} → **{_show(new)}**")
            else:
                changes.append("evidence notes updated")
                workstream.evidence_html = html_to_store(new)
            setattr(workstream, name, new)
    if changes:
        session.flush()
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.recovery,
                  body=f"Workstream **{workstream.name}** changed: " + "; ".join(changes) + ".")
    return workstream


def record_progress(*, session: Session, actor: User, incident: Incident, workstream: Workstream,
                    expected_version: int, done: int, note: str = "",
                    status: WorkstreamStatus | None = None, as_of: datetime | None = None) -> WorkstreamProgress:
    """Report units done so far (absolute, not a delta) and, optionally, a new status."""
    check_version(stored=workstream.version, expected=expected_version, message=lambda: (
        f"Someone reported progress on “{workstream.name}” while you were typing (it now stands at "
        f"{workstream.done:,} {workstream.unit}). Nothing of yours was saved: check the figure, then report again."))
    if done < 0:
        raise FieldError("Progress cannot be negative.", field="done")
    if done > workstream.target:
        raise FieldError(f"That is more than the target of {workstream.target:,} {workstream.unit}; "
                              "raise the target first if the scope grew.", field="done")
    now = utcnow()
    if as_of is not None and as_of > now:
        raise FieldError("Progress cannot be as of a time in the future.", field="as_of")
    report = WorkstreamProgress(workstream=workstream, author=actor, as_of=as_of or now,
                                recorded_at=now, done=done, note=note.strip(),
                                note_html=html_to_store(note.strip()))
    session.add(report)
    before = workstream.done
    workstream.done = done
    # Touch the row even when the figure is unchanged, so every report is a versioned UPDATE:
    # two reports made from the same page can never both be accepted.
    workstream.updated_at = now
    flag_modified(workstream, "updated_at")
    if status is not None:
        workstream.status = status
    elif workstream.status is WorkstreamStatus.planned and done > 0:
        workstream.status = WorkstreamStatus.in_progress
    session.flush()
    body = (f"**{workstream.name}**: {done:,} of {workstream.target:,} {workstream.unit} "
            f"({workstream.percent:.0f}%)" + (f", {'+' if done >= before else '−'}{abs(done - before):,} "
                                              "since the last report" if before != done else ""))
    if status is not None:
        body += f"; status {status.label.lower()}"
    body += "." + (f"\n\n{report.note}" if report.note else "")
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.recovery,
              occurred_at=report.as_of, body=body)
    return report


@dataclass
class WorkstreamFlags:
    no_owner: bool
    blocked: bool
    overdue: bool

    @property
    def any(self) -> bool:
        return self.no_owner or self.blocked or self.overdue


def flags_for(workstream: Workstream, *, now: datetime | None = None) -> WorkstreamFlags:
    """What needs attention: no accountable owner, blocked, or past its ETA while still open."""
    now = now or utcnow()
    return WorkstreamFlags(
        no_owner=workstream.owner is None or not workstream.owner.active,
        blocked=workstream.status is WorkstreamStatus.blocked,
        overdue=bool(workstream.eta and workstream.eta < now and workstream.status.is_active),
    )


@dataclass
class Objective:
    """One recovery objective: the target, the actual (or elapsed so far) and whether it is missed."""

    target: timedelta | None
    actual: timedelta | None
    final: bool  # False while still running (time to restore before the restore is verified)

    @property
    def missed(self) -> bool | None:
        if self.target is None or self.actual is None:
            return None
        return self.actual > self.target


@dataclass
class Objectives:
    rpo: Objective  # data-loss window: loss began − last good backup
    rto: Objective  # time to restore: restore verified − loss began


def objectives_for(incident: Incident, *, now: datetime | None = None) -> Objectives:
    """RPO and RTO, actual against target. Time to restore runs on until the restore is verified."""
    now = now or utcnow()
    minutes = lambda m: timedelta(minutes=m) if m is not None else None  # noqa: E731
    window = None
    if incident.loss_began_at and incident.last_good_backup_at:
        window = incident.loss_began_at - incident.last_good_backup_at
    restore, final = None, incident.restore_verified_at is not None
    if incident.loss_began_at:
        restore = (incident.restore_verified_at or now) - incident.loss_began_at
    return Objectives(rpo=Objective(minutes(incident.rpo_target_minutes), window, True),
                      rto=Objective(minutes(incident.rto_target_minutes), restore, final))


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's recovery panels: objectives, workstreams with their flags, and the chart."""
    workstreams = workstreams_for(session=page.session, incident=page.incident)
    series = chart_points(session=page.session, incident=page.incident)
    return {"workstreams": workstreams, "objectives": objectives_for(page.incident, now=page.now),
            "flags": {ws.id: flags_for(ws, now=page.now) for ws in workstreams},
            # The page lists the workstreams with their bars beside the chart: it draws the figures only.
            "chart_svg": recovery_chart(incident=page.incident, series=series, workstreams=[])}
