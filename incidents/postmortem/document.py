"""The postmortem as a document: generated sections from the incident's record, and the readable
difference between two versions."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session

from incidents.impact.service import ImpactSummary, summary_for
from incidents.incident.models import Incident
from incidents.postmortem.due import due_date, is_overdue
from incidents.postmortem.models import Postmortem, PostmortemVersion
from incidents.postmortem.sections import SECTIONS
from incidents.recovery.models import Workstream
from incidents.recovery.service import Objectives, objectives_for, workstreams_for
from incidents.systems.links import LinkedSystem, systems_of
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
    systems: list[LinkedSystem] = field(default_factory=list)  # as they stood when it was declared


def build_document(*, session: Session, incident: Incident, postmortem: Postmortem | None,
                   business_days: int, include_full_timeline: bool | None = None,
                   on: date | None = None) -> PostmortemDocument:
    """Gather the generated sections: impact figures, key (pinned) entries first and optionally the
    whole timeline, the systems affected (as they stood at the declaration), the workstreams and
    RPO/RTO actual against target."""
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
        systems=systems_of(session=session, incident=incident),
    )


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
