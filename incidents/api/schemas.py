"""What /api/v1 reads and answers, as pydantic models: they validate and they are the document."""
from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from incidents.incident.enums import Severity, Status

MAX_PAGE = 100

# The list's status filter: a status, or "open" for any open one (one enum, so one clear message).
StatusFilter = enum.Enum("StatusFilter", {**{s.value: s.value for s in Status}, "open": "open"}, type=str)


class Problem(BaseModel):
    """An error, as RFC 9457 problem details (served as application/problem+json)."""

    type: str = Field("about:blank", description="about:blank: the title is the HTTP status's phrase.")
    title: str
    status: int
    detail: str | None = None
    errors: dict[str, list[str]] | None = Field(None, description="On 422: each refused field's messages.")


class IncidentListQuery(BaseModel):
    """Filters and paging of the incident list."""

    model_config = ConfigDict(extra="forbid")

    status: StatusFilter | None = Field(None, description="A status, or `open` for any open one.")
    severity: Severity | None = None
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Incidents per page.")
    cursor: str | None = Field(None, max_length=200, description="From the previous page's `next_cursor`.")


class Person(BaseModel):
    id: int
    name: str


class IncidentSummary(BaseModel):
    reference: str = Field(examples=["INC-2026-0007"])
    title: str
    severity: Severity
    status: Status
    personal_data: bool
    declared_at: datetime
    resolved_at: datetime | None
    url: str = Field(description="This incident in the API.")


class Incident(IncidentSummary):
    data_categories: list[str]
    summary: str = Field(description="Markdown.")
    commander: Person | None
    comms_lead: Person | None
    executive: Person | None
    loss_began_at: datetime | None
    detected_at: datetime | None
    aware_at: datetime | None
    mitigated_at: datetime | None
    closed_at: datetime | None
    last_good_backup_at: datetime | None
    restore_verified_at: datetime | None
    rpo_target_minutes: int | None = Field(description="Most data, in minutes before the loss, accepted lost.")
    rto_target_minutes: int | None = Field(description="Longest time from loss to verified restore accepted.")
    version: int = Field(description="Changes with every edit (for optimistic locking).")


class IncidentPage(BaseModel):
    """One page of incidents, newest declared first."""

    items: list[IncidentSummary]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")
