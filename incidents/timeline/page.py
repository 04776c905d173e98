"""The timeline column of the incident page: which entries, in which page, under which filters."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from incidents.incident.models import Incident
from incidents.paging import Cursor, split_page
from incidents.timeline.forms import EntryForm
from incidents.timeline.models import EntryKind, Visibility
from incidents.timeline.service import (
    TimelineFilter,
    TimelineItem,
    count_entries,
    pinned_for,
    spans_days,
    timeline_for,
    timeline_span,
    utc_day,
)

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage

COUNT_AT_MOST = 10_000  # the page says "more than 10,000 entries" rather than count a million
TIMELINE_PAGE = 25  # entries per page of the incident page timeline: a few screenfuls, cheap to draw


def filters_from(args: MultiDict) -> TimelineFilter:
    """The filters a query string asks for; values that name no kind or visibility are ignored."""
    kinds = frozenset(EntryKind(v) for v in args.getlist("kind") if v in EntryKind._value2member_map_)
    visibility = args.get("visibility", "")
    return TimelineFilter(kinds=kinds, visibility=Visibility._value2member_map_.get(visibility))


def filter_args(filters: TimelineFilter) -> dict[str, list[str] | str]:
    """The query-string arguments that ask for `filters` again (for links that keep them)."""
    args: dict[str, list[str] | str] = {}
    if filters.kinds:
        args["kind"] = [k.value for k in EntryKind if k in filters.kinds]
    if filters.visibility is not None:
        args["visibility"] = filters.visibility.value
    return args


@dataclass(frozen=True)
class DayHeader:
    """A UTC day, shown above its first entry on the page."""

    day: date

    @property
    def label(self) -> str:
        return f"{self.day:%A} {self.day.day} {self.day:%B %Y}"


def day_headers(items: list[TimelineItem]) -> dict[int, DayHeader]:
    """Where a new UTC day starts among `items` (by position): always at the top of a page."""
    headers, previous = {}, None
    for position, item in enumerate(items):
        day = utc_day(item.current.occurred_at)
        if day != previous:
            headers[position] = DayHeader(day)
            previous = day
    return headers


def timeline_page(*, session: Session, incident: Incident, args: MultiDict, page_size: int) -> dict:
    """Everything the timeline column shows, as template variables, at a cost that does not grow
    with the timeline: one page of entries, the pinned ones, and a few counts."""
    filters = filters_from(args)
    before = Cursor.decode(args.get("before"))
    items = timeline_for(session=session, incident=incident, limit=page_size + 1, before=before,
                         filters=filters)
    items, older = split_page(items, lambda item: Cursor(item.current.occurred_at, item.current.root_id), page_size)
    total = count_entries(session=session, incident=incident, at_most=COUNT_AT_MOST)
    pinned = pinned_for(session=session, incident=incident)
    # Headers only when the (filtered) timeline spans days, judged on all of it, not this page.
    multi_day = spans_days(*timeline_span(session=session, incident=incident, filters=filters))
    return {
        "timeline": items, "older_cursor": older, "paged": before is not None,
        "entry_count": total, "count_at_most": COUNT_AT_MOST,
        "shown_count": count_entries(session=session, incident=incident, filters=filters, at_most=COUNT_AT_MOST)
        if filters.active else total,
        "timeline_filters": filters, "filter_args": filter_args(filters),
        "day_headers": day_headers(items) if multi_day else {},
        "pinned": pinned, "pinned_ids": {p.current.root_id for p in pinned},
        "entry_kinds": list(EntryKind), "visibilities": list(Visibility),
    }


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's timeline column and its quick-post form."""
    return {**timeline_page(session=page.session, incident=page.incident, args=page.args, page_size=TIMELINE_PAGE),
            "entry_form": page.forms.get("entry_form") or EntryForm(formdata=None)}
