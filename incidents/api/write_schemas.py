"""What the API's writes read and answer (declare, status, edit, timeline, impact, progress).

Fields are typed here (pydantic, so the OpenAPI document describes them); the rules beyond types
are the HTML forms' own (incidents/api/formcheck.py). Times must carry a zone: a time without
one is refused rather than guessed.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StrictInt

from incidents.api.schemas import MAX_PAGE, Incident, Person, Problem
from incidents.incident.enums import DATA_CATEGORIES, Severity, Status
from incidents.recovery.enums import WorkstreamStatus
from incidents.timeline.models import EntryKind, Visibility

MAX_TEXT = 20_000
MAX_COUNT = 2**53  # beyond what any count here reaches; the forms refuse what is out of their range
UserId = Field(None, ge=1, le=2**31 - 1)


def _text_only(value: Any) -> Any:
    """JSON gives times as text (RFC 3339); a number is refused, not read as seconds since 1970."""
    if value is not None and not isinstance(value, str):
        raise ValueError("Give the time as text, e.g. 2026-11-29T09:30:00Z.")
    return value


# Bodies are typed strictly (StrictInt, StrictBool, Moment): pydantic would otherwise read 0 as
# false, false as 0 and 0 as 1 January 1970.
Moment = Annotated[AwareDatetime, BeforeValidator(_text_only)]

# The data categories an incident may name (keys of incidents.incident.enums.DATA_CATEGORIES).
Category = Literal[tuple(DATA_CATEGORIES)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DeclareIncident(Strict):
    """A new incident; the token's owner becomes its commander until someone takes over."""

    title: str = Field(min_length=1, max_length=200, examples=["Photo uploads lost on shard 7"])
    severity: Severity
    summary: str = Field("", max_length=MAX_TEXT, description="Markdown, internal.")
    data_categories: list[Category] = Field([], max_length=50, description="The data categories affected.")
    personal_data: StrictBool = False


class StatusChange(Strict):
    status: Status
    version: StrictInt = Field(ge=1, le=2**31 - 1, description="The incident's version you last read.")
    note: str = Field("", max_length=MAX_TEXT, description="Why (Markdown); goes on the timeline.")


class IncidentEdit(Strict):
    """Only the fields sent change; `null` empties a field (a person: nobody yet)."""

    version: StrictInt = Field(ge=1, le=2**31 - 1, description="The incident's version you last read.")
    title: str | None = Field(None, max_length=200)
    severity: Severity | None = None
    summary: str | None = Field(None, max_length=MAX_TEXT)
    data_categories: list[Category] | None = Field(None, max_length=50)
    personal_data: StrictBool | None = None
    commander_id: StrictInt | None = UserId
    comms_lead_id: StrictInt | None = UserId
    executive_id: StrictInt | None = UserId
    loss_began_at: Moment | None = None
    detected_at: Moment | None = None
    declared_at: Moment | None = None
    aware_at: Moment | None = None
    mitigated_at: Moment | None = None
    resolved_at: Moment | None = None
    last_good_backup_at: Moment | None = None
    restore_verified_at: Moment | None = None
    rpo_target_minutes: StrictInt | None = Field(None, ge=0, le=MAX_COUNT)
    rto_target_minutes: StrictInt | None = Field(None, ge=0, le=MAX_COUNT)


class IncidentConflict(Problem):
    """409: someone saved a newer version; nothing was saved. `current` is the incident now."""

    current: Incident


class NewEntry(Strict):
    body: str = Field(min_length=1, max_length=MAX_TEXT, description="Markdown.")
    kind: EntryKind = Field(EntryKind.note, description="Any kind but status_change (written by the app).")
    visibility: Visibility = Visibility.internal
    occurred_at: Moment | None = Field(None, description="When it happened; now when left out.")


class Entry(BaseModel):
    id: int = Field(description="The entry's id (its first revision's, kept through corrections).")
    revision: int
    kind: EntryKind
    visibility: Visibility
    body: str = Field(description="Markdown.")
    occurred_at: datetime
    recorded_at: datetime
    author: Person | None
    public_status: str | None = Field(description="Set on updates published to the status page.")
    corrected: bool


class TimelineQuery(Strict):
    limit: int = Field(50, ge=1, le=MAX_PAGE, description="Entries per page.")
    cursor: str | None = Field(None, max_length=200, description="From the previous page's `next_cursor`.")
    kind: EntryKind | None = None
    visibility: Visibility | None = None
    order: str = Field("newest", pattern="^(newest|oldest)$", description="`newest` first, or `oldest`.")


class TimelinePage(BaseModel):
    items: list[Entry]
    next_cursor: str | None = Field(description="Opaque; null on the last page.")
    next: str | None = Field(description="The next page's URL; null on the last page.")


class CategoryFigures(Strict):
    affected: StrictInt | None = Field(None, ge=0, le=MAX_COUNT)
    recovered: StrictInt | None = Field(None, ge=0, le=MAX_COUNT)
    unrecoverable: StrictInt | None = Field(None, ge=0, le=MAX_COUNT)


class NewImpact(Strict):
    """New figures (totals, not changes). `based_on` is the id of the latest update you read
    (null for the first): a newer one recorded meanwhile gets a 409."""

    based_on: StrictInt | None = Field(None, ge=1, le=2**31 - 1)
    customers_affected: StrictInt = Field(ge=0, le=MAX_COUNT)
    customers_restored: StrictInt = Field(0, ge=0, le=MAX_COUNT)
    customers_lost: StrictInt = Field(0, ge=0, le=MAX_COUNT)
    customers_notified: StrictInt = Field(0, ge=0, le=MAX_COUNT)
    categories: dict[str, CategoryFigures] = Field({}, max_length=50,
                                                   description="Record counts per data category of the incident.")
    as_of: Moment | None = Field(None, description="When the figures were true; now when left out.")
    note: str = Field("", max_length=MAX_TEXT)


class ImpactUpdate(BaseModel):
    id: int
    based_on: int | None
    as_of: datetime
    recorded_at: datetime
    customers_affected: int
    customers_restored: int
    customers_lost: int
    customers_notified: int
    categories: dict[str, CategoryFigures]
    note: str
    author: Person | None


class ImpactNow(BaseModel):
    latest: ImpactUpdate | None = Field(description="The latest figures; null while none were recorded. "
                                                    "Its id is the `based_on` of the next figures you record.")


class ImpactConflict(Problem):
    current: ImpactUpdate | None


class NewProgress(Strict):
    """Units done so far (a total, not a change) and, optionally, a new status."""

    version: StrictInt = Field(ge=1, le=2**31 - 1, description="The workstream's version you last read.")
    done: StrictInt = Field(ge=0, le=MAX_COUNT)
    status: WorkstreamStatus | None = None
    note: str = Field("", max_length=MAX_TEXT)


class Workstream(BaseModel):
    id: int
    name: str
    unit: str
    target: int
    done: int
    percent: float
    status: WorkstreamStatus
    owner: Person | None
    eta: datetime | None
    version: int


class WorkstreamList(BaseModel):
    items: list[Workstream]


class WorkstreamConflict(Problem):
    current: Workstream
