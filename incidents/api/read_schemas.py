"""What /api/v1 answers about what hangs off an incident (its postmortem, action items, notices,
notification obligations and the systems it names) and about the systems catalogue and its audit,
as pydantic models: they check each answer and they are the document. Requests of the incident
list's shape are in schemas.py; these follow its conventions (times in ISO 8601 UTC, people as
Person, `url` the resource in the API, `html_url` its page in the app)."""
from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.api.schemas import MAX_PAGE, Person
from incidents.notices.models import Audience, Channel
from incidents.obligations.models import ObligationStatus
from incidents.postmortem.enums import PostmortemStatus
from incidents.systems.audit import PROBLEMS

# The audit's problem codes, worst first: one enum, so the document lists them and a wrong one is a 422.
ProblemCode = enum.Enum("ProblemCode", {p.code: p.code for p in PROBLEMS}, type=str)
AUDIT_PAGE_MAX = 500  # systems per page of the audit (the /systems/audit.json view's limit)
AUDIT_PAGES_MAX = 10**6  # far past any catalogue (likewise)


# --- the postmortem ------------------------------------------------------------------------------

class PostmortemSection(BaseModel):
    key: str = Field(examples=["root_cause"])
    heading: str
    markdown: str = Field(description="The section as written (Markdown); empty when nobody wrote it yet.")


class Reviewer(BaseModel):
    person: Person
    added_at: datetime
    approved_revision: int | None = Field(description="The newest revision this reviewer approved, if any.")


class Decision(BaseModel):
    """A reviewer's approval of one revision (requests for changes are on the incident's timeline)."""

    decision: Literal["approved"]
    revision: int
    by: Person | None = Field(description="Null when the reviewer's account was removed.")
    at: datetime
    comment: str


class Postmortem(BaseModel):
    incident: str = Field(description="The incident's reference.", examples=["INC-2026-0007"])
    status: PostmortemStatus
    revision: int = Field(description="The number of the latest saved text (0 before the first save).")
    version: int = Field(description="Changes with every edit (for optimistic locking).")
    submitted_at: datetime | None
    approved_at: datetime | None
    published_at: datetime | None
    published_by: Person | None
    updated_at: datetime
    due_on: date | None = Field(description="Business days after the incident was resolved; null while open.")
    overdue: bool = Field(description="Past its due date and not published.")
    reviewers: list[Reviewer]
    decisions: list[Decision] = Field(description="Newest first.")
    sections: list[PostmortemSection] = Field(
        description="The written sections in document order. The generated ones (impact, systems, timeline, "
                    "recovery) are built from the incident's record: see `html_url`.")
    html_url: str = Field(description="The postmortem's page in the app.")


# --- action items ----------------------------------------------------------------------------------

class ActionItem(BaseModel):
    id: int
    title: str
    kind: ActionKind
    priority: ActionPriority
    status: ActionStatus
    owner: Person | None = Field(description="Null only when the owner's account was removed.")
    due_on: date
    overdue: bool = Field(description="Still open and its due date (UTC) has passed.")
    reason: str = Field(description="Why it will not be done (won't do).")
    tracker_url: str | None = Field(description="The item in an issue tracker, when linked.")
    created_at: datetime
    closed_at: datetime | None
    closed_by: Person | None
    version: int = Field(description="Changes with every edit (for optimistic locking).")
    html_url: str


class ActionItemList(BaseModel):
    """The incident's action items: open ones first, soonest due first, then finished ones."""

    incident: str
    items: list[ActionItem]


# --- notices ---------------------------------------------------------------------------------------

class NoticeState(enum.StrEnum):
    draft = "draft"
    approved = "approved"
    released = "released"


class NoticeRelease(BaseModel):
    channel: Channel
    released_at: datetime
    released_by: Person | None


class NoticeVersion(BaseModel):
    id: int = Field(description="Named by an obligation filed with this text (`notice_version_id`).")
    number: int
    state: NoticeState
    subject: str
    body: str = Field(description="Markdown.")
    author: Person | None
    created_at: datetime
    approved_by: Person | None
    approved_at: datetime | None
    releases: list[NoticeRelease] = Field(description="Each channel it went out by, first first.")
    html_url: str = Field(description="The version as a document (the app's preview).")


class Notice(BaseModel):
    id: int
    audience: Audience
    state: NoticeState = Field(description="The latest version's.")
    released_version: int | None = Field(description="The newest version that went out, if any.")
    created_at: datetime
    versions: list[NoticeVersion] = Field(description="Oldest first.")
    html_url: str


class NoticeList(BaseModel):
    """The incident's notices (to customers and to regulators or partners), oldest first."""

    incident: str
    items: list[Notice]


# --- notification obligations ----------------------------------------------------------------------

class Regime(BaseModel):
    id: str = Field(examples=["gdpr"])
    name: str
    jurisdiction: str = Field(examples=["EU", "US-CA"])


class Verdict(enum.StrEnum):
    met = "met"
    missed = "missed"
    overdue = "overdue"
    pending = "pending"
    not_required = "not_required"


class Obligation(BaseModel):
    id: int
    rule_id: str
    title: str
    regime: Regime
    recipient: str = Field(description="Who is told: authority, individuals, media, attorney_general, customers.")
    recipient_label: str
    citation: str | None = Field(description="The law (or contract) the rule comes from.")
    law_url: str | None
    counts_from: str = Field(description="The moment the clock counts from, in words.")
    anchor_at: datetime | None = Field(description="That moment, once recorded.")
    triggered_at: datetime | None = Field(description="When a threshold rule started to apply.")
    clock: Literal["due", "no_fixed_clock", "waiting"] = Field(
        description="due: `due_at` is set; no_fixed_clock: without undue delay; waiting: the moment it counts "
                    "from is not recorded yet.")
    due_at: datetime | None
    time_zone: str | None = Field(description="The recipient's zone, in which day-based deadlines end.")
    seconds_left: int | None = Field(description="Until `due_at` while pending (negative once overdue).")
    status: ObligationStatus
    verdict: Verdict
    filed_at: datetime | None
    filed_by: Person | None
    filing_reference: str = Field(description="The recipient's reference for the filing, if given.")
    notice_version_id: int | None = Field(description="The notice version filed, if any (see the notices).")
    reason: str = Field(description="Why it is not required, or why it was late.")
    attachment_name: str | None = Field(description="The kept proof of sending, if any.")
    html_url: str


class ObligationList(BaseModel):
    """The incident's obligations: open ones soonest due first, then the rest."""

    incident: str
    regimes: list[Regime] = Field(description="The regimes chosen as applying to the incident.")
    items: list[Obligation]


# --- systems -----------------------------------------------------------------------------------

class Origin(BaseModel):
    origin: Literal["built", "acquired", "vendor"]
    label: str
    name: str = Field(description="Acquired from, or the vendor.")


class AuditProblem(BaseModel):
    code: ProblemCode
    label: str
    why: str
    weight: int = Field(description="Worst first: a system's score is the sum of its problems' weights.")


class LinkedSystem(BaseModel):
    """A system the incident names, as it stood when the incident was declared (kept, never recomputed)."""

    name: str = Field(description="The system's name then.")
    url: str = Field(description="The system in the API, under its name now.")
    as_of: datetime = Field(description="The moment the facts below describe (the declaration).")
    linked_at: datetime
    owner: str | None = Field(description="The owner's name then.")
    owner_active: bool
    team: str
    personal_data: bool
    backup_method: str
    rpo_target_minutes: int | None
    last_backup_ok_at: datetime | None
    last_backup_report_at: datetime | None
    last_backup_report_ok: bool | None
    last_restore_test_at: datetime | None
    last_restore_test_ok: bool | None
    problems: list[ProblemCode] = Field(description="The audit's problems then, worst first.")


class LinkedSystemList(BaseModel):
    incident: str
    items: list[LinkedSystem] = Field(description="By name.")


class SystemListQuery(BaseModel):
    """Filters and paging of the catalogue."""

    model_config = ConfigDict(extra="forbid")

    q: str | None = Field(None, max_length=200, pattern=r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$",
                          description="Part of the name.")
    owner: str | None = Field(None, pattern=r"^(none|[1-9][0-9]{0,8})$",
                              description="An owner's user id, or `none` for the systems nobody owns.")
    flagged: bool = Field(False, description="Only systems with at least one audit problem now.")
    personal_data: bool | None = None
    retired: bool = Field(False, description="Retired systems too.")
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Systems per page.")
    cursor: str | None = Field(None, max_length=400, description="From the previous page's `next_cursor`.")


class SystemSummary(BaseModel):
    name: str
    url: str
    owner: Person | None
    owner_active: bool
    team: str
    personal_data: bool
    origin: Origin
    retired_at: datetime | None
    problems: list[ProblemCode] = Field(description="The audit's problems now, worst first (none once retired).")


class SystemPage(BaseModel):
    """One page of the catalogue, by name."""

    items: list[SystemSummary]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")


class BackupState(BaseModel):
    """What the backup jobs reported and the latest restore test (all empty before the first)."""

    last_report_at: datetime | None = None
    last_report_ok: bool | None = None
    last_report_note: str = ""
    last_ok_at: datetime | None = None
    failing_since: datetime | None = Field(None, description="The first failure after the last success.")
    backup_due_at: datetime | None = Field(None, description="The last success plus the RPO target.")
    reports: int = 0
    last_restore_test_at: datetime | None = None
    last_restore_test_ok: bool | None = None


class NamingIncident(BaseModel):
    reference: str
    title: str
    declared_at: datetime
    url: str
    problems_then: list[ProblemCode]


class SystemDetail(BaseModel):
    name: str
    url: str
    html_url: str
    description: str = Field(description="Markdown.")
    owner: Person | None
    owner_active: bool
    team: str
    data_categories: list[str]
    personal_data: bool
    origin: Origin
    acquired_on: date | None
    backup_method: str
    backup_destination: str
    rpo_target_minutes: int | None
    retention: str
    last_reviewed_at: datetime | None
    retired_at: datetime | None
    backup: BackupState
    problems: list[AuditProblem] = Field(description="The audit's problems now, worst first (none once retired).")
    incidents: list[NamingIncident] = Field(description="Incidents that named it, newest first (at most 50).")
    version: int


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    page: int = Field(1, ge=1, le=AUDIT_PAGES_MAX)
    per_page: int = Field(50, ge=1, le=AUDIT_PAGE_MAX)
    problem: ProblemCode | None = Field(None, description="Only the systems with this problem.")


class AuditItem(BaseModel):
    id: int
    name: str
    url: str = Field(description="The system in the API.")
    owner: str | None = Field(description="The owner's name.")
    owner_active: bool
    team: str
    personal_data: bool
    came_from: Origin
    last_backup_ok_at: datetime | None
    last_report_at: datetime | None
    last_report_ok: bool | None
    failing_since: datetime | None
    last_restore_test_at: datetime | None
    problems: list[ProblemCode]


class Audit(BaseModel):
    """The ownership audit (the same document as /systems/audit.json): counts over the whole
    catalogue, then one page of the flagged systems, worst first."""

    generated_at: datetime
    restore_test_max_days: int
    systems: int = Field(description="In the catalogue (retired ones left out).")
    flagged: int = Field(description="With at least one problem.")
    counts: dict[str, int] = Field(description="Systems with each problem, by code.")
    problems: list[AuditProblem] = Field(description="Every problem the audit looks for, worst first.")
    items: list[AuditItem]
    next: str | None = Field(description="The next page's URL; null on the last page.")
