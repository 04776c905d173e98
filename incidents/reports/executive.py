"""The executive postmortem report: what an executive reads in five minutes, then digs into.

`build_report` gathers everything in a handful of queries; `report_html` renders the one HTML
document that is both the browser preview and the PDF's source.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import render_template
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.audit.models import AuditEvent
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.impact import service as impact
from incidents.incident.fields import KEY_MOMENTS
from incidents.incident.models import Incident
from incidents.ledger.figures import LedgerFigures, figures_of
from incidents.notices.models import Audience, Notice, NoticeRelease, NoticeVersion
from incidents.obligations.rules import rule_book
from incidents.obligations.service import outcomes as obligation_outcomes
from incidents.recovery.chart import recovery_chart
from incidents.recovery.models import Workstream
from incidents.recovery.service import Objectives, objectives_for, workstreams_for
from incidents.systems.links import LinkedSystem, systems_of
from incidents.templating import duration, format_utc, iso
from incidents.timeline.models import TimelineEntry
from incidents.timeline.service import pinned_for, timeline_for


class TimelineOption(enum.Enum):
    key = "key"  # pinned key entries only
    all = "all"  # every entry at its latest revision

    @classmethod
    def parse(cls, raw: str | None) -> TimelineOption:
        return cls.all if raw == "all" else cls.key


@dataclass(frozen=True)
class Interval:
    label: str
    value: str  # "3 h 5 min", or "—" when a moment is missing
    note: str


@dataclass(frozen=True)
class Section:
    heading: str
    html: str


@dataclass
class ExecutiveReport:
    incident: Incident
    generated_at: datetime
    organisation: str
    marking: str
    impact: impact.ImpactSummary
    intervals: list[Interval]
    objectives: Objectives
    workstreams: list[Workstream]
    chart_svg: str
    timeline_option: TimelineOption
    timeline: list[TimelineEntry]
    moments: list[tuple[str, datetime | None]]
    postmortem: object | None = None  # incidents.postmortem.models.Postmortem, when started
    summary_html: str = ""
    root_cause_html: str = ""
    sections: list[Section] = field(default_factory=list)
    action_items: list = field(default_factory=list)
    obligations: list = field(default_factory=list)  # incidents.obligations.service.Outcome
    ledger: LedgerFigures | None = None  # the affected-customer ledger's figures, when it has one
    # The systems the incident names, as they stood when it was declared (incidents/systems/links.py).
    systems: list[LinkedSystem] = field(default_factory=list)
    # The audit log's newest hash when the report was made: a copy of it outside the database
    # lets `audit verify --expect` notice history removed or rewritten afterwards.
    audit_head: str | None = None

    @property
    def owners(self) -> list[tuple[str, User | None]]:
        i = self.incident
        return [("Incident commander", i.commander), ("Communications lead", i.comms_lead),
                ("Executive owner", i.executive)]

    @property
    def workstream_owners(self) -> list[tuple[str, int]]:
        """Each workstream owner with how many workstreams they own, most first."""
        counts: dict[str, int] = {}
        for ws in self.workstreams:
            name = ws.owner.display if ws.owner else "No owner"
            counts[name] = counts.get(name, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))

    @property
    def title(self) -> str:
        return f"{self.incident.reference} · {self.incident.title}"


def _first_customer_notice(session: Session, incident: Incident) -> datetime | None:
    return session.scalar(
        select(func.min(NoticeRelease.released_at)).join(NoticeVersion).join(Notice)
        .where(Notice.incident_id == incident.id, NoticeRelease.audience == Audience.customers))


def _intervals(incident: Incident, notified_at: datetime | None, notified_how: str,
               objectives: Objectives) -> list[Interval]:
    def span(start, end) -> str:
        return duration(start, end) or "—"

    restore = span(incident.loss_began_at, incident.restore_verified_at)
    if incident.restore_verified_at is None and objectives.rto.actual is not None:
        restore = "not yet verified"
    return [
        Interval("Time to detect", span(incident.loss_began_at, incident.detected_at), "loss began → detected"),
        Interval("Time to declare", span(incident.detected_at, incident.declared_at), "detected → declared"),
        Interval("Time to notify", span(incident.declared_at, notified_at),
                 f"declared → {notified_how}" if notified_at else "no customer notice released yet"),
        Interval("Time to restore", restore, "loss began → restore verified"),
    ]


def build_report(*, session: Session, incident: Incident, option: TimelineOption,
                 organisation: str, marking: str, now: datetime | None = None) -> ExecutiveReport:
    """Everything the report shows, read once (the template runs no queries of its own)."""
    now = now or utcnow()
    workstreams = workstreams_for(session=session, incident=incident)
    objectives = objectives_for(incident, now=now)
    # Customers were first told by whichever came first: the status page or a released notice.
    told = [(at, how) for at, how in ((_first_customer_notice(session, incident), "first customer notice"),
                                      (incident.published_at, "first status-page update")) if at is not None]
    notified_at, notified_how = min(told, key=lambda pair: pair[0]) if told else (None, "")
    if option is TimelineOption.all:
        timeline = [item.current for item in timeline_for(session=session, incident=incident, newest_first=False)]
    else:
        timeline = [item.current for item in pinned_for(session=session, incident=incident)]
    report = ExecutiveReport(
        incident=incident, generated_at=now, organisation=organisation, marking=marking,
        impact=impact.summary_for(session=session, incident=incident),
        intervals=_intervals(incident, notified_at, notified_how, objectives), objectives=objectives,
        workstreams=workstreams,
        chart_svg=recovery_chart(incident=incident, series=impact.chart_points(session=session, incident=incident),
                                 workstreams=workstreams),
        timeline_option=option, timeline=timeline,
        moments=[(label, getattr(incident, name)) for name, label in KEY_MOMENTS.items()],
        audit_head=session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)),
    )
    _add_postmortem(session, incident, report)
    report.obligations = obligation_outcomes(session=session, incident=incident, rules=rule_book(), now=now)
    kept = figures_of(session=session, incident_id=incident.id)
    report.ledger = kept if kept.exists else None
    report.systems = systems_of(session=session, incident=incident)
    return report


def _add_postmortem(session: Session, incident: Incident, report: ExecutiveReport) -> None:
    """The postmortem's sections and the action items, when those features have them."""
    from incidents.actions.service import action_items_for
    from incidents.postmortem.sections import SECTIONS
    from incidents.postmortem.service import postmortem_for

    postmortem = postmortem_for(session=session, incident=incident)
    report.postmortem = postmortem
    report.action_items = action_items_for(session=session, incident=incident)
    if postmortem is None:
        return
    for key, heading, _hint in SECTIONS:
        if not postmortem.text(key).strip():
            continue
        html = str(postmortem.html(key))
        if key == "summary":
            report.summary_html = html
        elif key == "root_cause":
            report.root_cause_html = html
        else:
            report.sections.append(Section(heading, html))


def report_html(report: ExecutiveReport, *, for_pdf: bool = False, links: dict | None = None) -> str:
    """The standalone HTML document (browser preview and PDF source)."""
    return render_template("reports/executive.html", r=report, for_pdf=for_pdf,
                           generated=format_utc(report.generated_at), generated_iso=iso(report.generated_at),
                           words=timedelta_words, **(links or {}))


def timedelta_words(value: timedelta | None) -> str:
    if value is None:
        return "—"
    start = datetime(2000, 1, 1)
    return duration(start, start + value) or "0 min"
