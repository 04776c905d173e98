"""The postmortem as a document: generated sections from the incident's record, due dates,
and the readable difference between two versions."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.db import utcnow
from incidents.impact.service import ImpactSummary, summary_for
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.postmortem.enums import PostmortemStatus
from incidents.postmortem.models import Postmortem, PostmortemVersion
from incidents.postmortem.sections import SECTIONS
from incidents.recovery.models import Workstream
from incidents.recovery.service import Objectives, objectives_for, workstreams_for
from incidents.timeline.service import PinnedItem, TimelineItem, pinned_for, timeline_for

# The full timeline in a document stops here; the incident page pages through the rest.
FULL_TIMELINE_LIMIT = 2000


@dataclass
class PostmortemDocument:
    """Everything a postmortem shows beside its written sections, read from the incident."""

    incident: Incident
    postmortem: Postmortem | None
    impact: ImpactSummary
    key_entries: list[PinnedItem]
    all_entries: list[TimelineItem] | None  # None unless the full timeline is included
    workstreams: list[Workstream]
    objectives: Objectives
    due_on: date | None
    overdue: bool


def build_document(*, session: Session, incident: Incident, postmortem: Postmortem | None,
                   business_days: int, include_full_timeline: bool | None = None,
                   on: date | None = None) -> PostmortemDocument:
    """Gather the generated sections: impact figures, key (pinned) entries first and optionally the
    whole timeline, the workstreams and RPO/RTO actual against target."""
    full = include_full_timeline if include_full_timeline is not None else bool(
        postmortem and postmortem.include_full_timeline)
    due = due_date(incident.resolved_at, business_days)
    return PostmortemDocument(
        incident=incident, postmortem=postmortem,
        impact=summary_for(session=session, incident=incident),
        key_entries=pinned_for(session=session, incident=incident),
        all_entries=(timeline_for(session=session, incident=incident, newest_first=False,
                                  limit=FULL_TIMELINE_LIMIT) if full else None),
        workstreams=workstreams_for(session=session, incident=incident),
        objectives=objectives_for(incident),
        due_on=due,
        overdue=is_overdue(due, postmortem, on=on),
    )


# --- due dates -----------------------------------------------------------------------------------

def add_business_days(start: date, days: int) -> date:
    """`days` working days (Monday to Friday) after `start`."""
    current, left = start, max(0, days)
    while left:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def due_date(resolved_at: datetime | None, business_days: int) -> date | None:
    """When the postmortem is due: business days after the incident was resolved (None before)."""
    if resolved_at is None:
        return None
    return add_business_days(resolved_at.date(), business_days)


def is_overdue(due: date | None, postmortem: Postmortem | None, *, on: date | None = None) -> bool:
    """Past its due date and still not published."""
    on = on or utcnow().date()
    published = postmortem is not None and postmortem.status is PostmortemStatus.published
    return due is not None and not published and on > due


@dataclass
class DueItem:
    incident: Incident
    postmortem: Postmortem | None
    due_on: date
    overdue: bool

    @property
    def state(self) -> str:
        return self.postmortem.status.label if self.postmortem else "Not started"


def due_item(incident: Incident, postmortem: Postmortem | None, *, business_days: int,
             on: date | None = None) -> DueItem | None:
    """The incident's postmortem as a due item: None while the incident is open or closed, or once
    the postmortem is published."""
    if incident.resolved_at is None or incident.status is Status.closed:
        return None
    if postmortem is not None and postmortem.status is PostmortemStatus.published:
        return None
    due = due_date(incident.resolved_at, business_days)
    return DueItem(incident, postmortem, due, is_overdue(due, postmortem, on=on))


def postmortems_due(*, session: Session, business_days: int, on: date | None = None) -> list[DueItem]:
    """Resolved incidents whose postmortem is not yet published, soonest due first."""
    rows = session.execute(
        select(Incident, Postmortem).outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
        .where(Incident.resolved_at.is_not(None), Incident.status != Status.closed)
        .where((Postmortem.id.is_(None)) | (Postmortem.status != PostmortemStatus.published))
    ).all()
    items = [due_item(incident, postmortem, business_days=business_days, on=on) for incident, postmortem in rows]
    return sorted(items, key=lambda item: (item.due_on, item.incident.id))


def due_flags(*, session: Session, incidents: list[Incident], business_days: int,
              on: date | None = None) -> dict[int, DueItem]:
    """For an incident list: the due postmortems among these incidents, by incident id (one query)."""
    resolved = [i for i in incidents if i.resolved_at is not None and i.status is not Status.closed]
    if not resolved:
        return {}
    found = {pm.incident_id: pm for pm in session.scalars(
        select(Postmortem).where(Postmortem.incident_id.in_([i.id for i in resolved])))}
    items = (due_item(incident, found.get(incident.id), business_days=business_days, on=on)
             for incident in resolved)
    return {item.incident.id: item for item in items if item is not None}


# --- comparing versions --------------------------------------------------------------------------

@dataclass
class SectionDiff:
    key: str
    heading: str
    changed: bool
    # (" " unchanged, "+" added, "-" removed, text) per line; the template escapes the text.
    lines: list[tuple[str, str]] = field(default_factory=list)


def diff_versions(older: PostmortemVersion | None, newer: PostmortemVersion) -> list[SectionDiff]:
    """Per written section, the lines removed and added between two versions."""
    diffs = []
    for key, heading, _hint in SECTIONS:
        before = (older.text(key) if older else "").splitlines()
        after = newer.text(key).splitlines()
        if before == after:
            diffs.append(SectionDiff(key, heading, False, [(" ", line) for line in after]))
            continue
        lines: list[tuple[str, str]] = []
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for op, a1, a2, b1, b2 in matcher.get_opcodes():
            if op == "equal":
                lines.extend((" ", line) for line in before[a1:a2])
            else:
                lines.extend(("-", line) for line in before[a1:a2])
                lines.extend(("+", line) for line in after[b1:b2])
        diffs.append(SectionDiff(key, heading, True, lines))
    return diffs
