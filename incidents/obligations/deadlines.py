"""The deadline engine: when an obligation is due, from its rule and the incident's moments.

Pure functions, no database. Times in and out are timezone-aware UTC; day-based deadlines are
counted on the recipient's calendar (its time zone and public holidays).

Hours are elapsed time, so a deadline across a daylight-saving change is still exactly N hours
later. Days and months end with the last second of the due day in the recipient's zone, as EU
law counts periods (Regulation (EEC, Euratom) No 1182/71, Art. 3(2)(c)) and as state laws' "within
30 days" is read.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dateutil.relativedelta import relativedelta

from incidents.obligations.rules import ANCHOR_LABELS, SENT_PREFIX, Offset, Rule, Threshold

END_OF_DAY = time(23, 59, 59)


@dataclass(frozen=True)
class Deadline:
    """What the engine says about one obligation.

    `state` is one of: "due" (`due_at` set), "no_fixed_clock" (without undue delay / as soon as
    feasible: no instant to count down to), "waiting" (the moment it counts from is not recorded
    yet: `waiting_for` names it).
    """

    state: str
    due_at: datetime | None = None
    anchor_at: datetime | None = None
    waiting_for: str | None = None
    how: str = ""

    @property
    def is_due(self) -> bool:
        return self.state == "due"


def end_of_day(day: date, zone: ZoneInfo) -> datetime:
    """The last second of `day` in `zone`, in UTC."""
    return datetime.combine(day, END_OF_DAY, tzinfo=zone).astimezone(UTC)


def add_business_days(start: date, count: int, holiday_dates) -> date:
    """The `count`th working day after `start` (Monday to Friday, not a holiday)."""
    day = start
    while count:
        day += timedelta(days=1)
        if day.weekday() < 5 and day not in holiday_dates:
            count -= 1
    return day


def due_after(start: datetime, offset: Offset, *, zone: ZoneInfo, holiday_dates=None) -> datetime:
    """`start` moved on by a fixed `offset`, in UTC."""
    if offset.kind == "hours":
        return (start.astimezone(UTC) + timedelta(hours=offset.amount))
    local_day = start.astimezone(zone).date()
    if offset.kind == "calendar_days":
        return end_of_day(local_day + timedelta(days=offset.amount), zone)
    if offset.kind == "business_days":
        return end_of_day(add_business_days(local_day, offset.amount, holiday_dates or {}), zone)
    if offset.kind == "calendar_months":
        # relativedelta keeps the day of the month, or takes the month's last day when it is
        # shorter: 31 January + 1 month = 28 (or 29) February.
        return end_of_day(local_day + relativedelta(months=offset.amount), zone)
    if offset.kind == "days_after_year_end":
        return end_of_day(date(local_day.year, 12, 31) + timedelta(days=offset.amount), zone)
    raise ValueError(f"an offset of kind {offset.kind} has no fixed due time")


def _holidays_for(rule: Rule, start: datetime, offset: Offset):
    if offset.kind != "business_days":
        return None
    year = start.astimezone(rule.zone).year
    # A few business days can cross into the next year; a long run rarely spans more than two.
    return rule.holiday_calendar(years=range(year, year + 2 + offset.amount // 200))


def compute(rule: Rule, anchors: dict[str, datetime | None]) -> Deadline:
    """The deadline of `rule` given the incident's recorded moments (`sent:<rule>` for filings)."""
    anchor_at = anchors.get(rule.anchor)
    if anchor_at is None:
        return Deadline("waiting", waiting_for=rule.anchor,
                        how=f"Counts from “{label_of(rule.anchor)}”, which is not recorded yet.")
    if not rule.offset.is_fixed:
        words = "without undue delay" if rule.offset.kind == "without_undue_delay" else "as soon as feasible"
        return Deadline("no_fixed_clock", anchor_at=anchor_at,
                        how=f"The law says “{words}” from {label_of(rule.anchor).lower()}: no fixed clock.")
    due = due_after(anchor_at, rule.offset, zone=rule.zone, holiday_dates=_holidays_for(rule, anchor_at, rule.offset))
    how = f"{offset_words(rule.offset)} after {label_of(rule.anchor).lower()}"
    cap = rule.not_later_than
    if cap is not None and anchors.get(cap.anchor) is not None:
        cap_at = anchors[cap.anchor].astimezone(UTC) + timedelta(hours=cap.hours)
        # Classified in time: whichever comes first. Classified after the cap: the offset alone.
        if anchor_at <= cap_at and cap_at < due:
            due = cap_at
            how = f"{cap.hours} hours after {label_of(cap.anchor).lower()} (sooner than {how})"
        elif anchor_at > cap_at:
            how += f" (classified after the {cap.hours}-hour limit from {label_of(cap.anchor).lower()})"
    return Deadline("due", due_at=due, anchor_at=anchor_at, how=how[0].upper() + how[1:] + ".")


def label_of(anchor: str) -> str:
    if anchor.startswith(SENT_PREFIX):
        return f"{anchor.removeprefix(SENT_PREFIX)} sent"
    return ANCHOR_LABELS.get(anchor, anchor)


def offset_words(offset: Offset) -> str:
    n = offset.amount
    return {"hours": f"{n} hours", "calendar_days": f"{n} calendar days", "business_days": f"{n} business days",
            "calendar_months": f"{n} month" + ("s" if n != 1 else ""),
            "days_after_year_end": f"{n} days after the end of the calendar year of"}.get(offset.kind, offset.kind)


@dataclass(frozen=True)
class ThresholdState:
    met: bool
    since: datetime | None = None  # when the count first met the thresholds, in its latest run
    count: int | None = None


def threshold_state(thresholds: Iterable[Threshold], history: Iterable[tuple[datetime, int]]) -> ThresholdState:
    """Whether the latest count meets every threshold, and since which count in the history.

    `history` is (as of, people affected) in any order. With no thresholds the rule always applies;
    with thresholds but no count yet it does not (nothing says it is crossed).
    """
    thresholds = list(thresholds)
    if not thresholds:
        return ThresholdState(True)
    since = None
    count = None
    for as_of, count in sorted(history, key=lambda pair: pair[0]):
        # A count below the line ends the run: `since` is when the latest run began.
        since = (since or as_of) if all(t.met(count) for t in thresholds) else None
    if count is None or since is None:
        return ThresholdState(False, count=count)
    return ThresholdState(True, since=since, count=count)
