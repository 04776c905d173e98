"""90-day uptime of the status page's components, from their recorded status history (history.py).

Per day (UTC) and component: the minutes it spent in each status. Minutes in major outage count
fully against uptime, minutes in partial outage count 0.3, degraded performance and maintenance not
at all (Statuspage's rule). Only observed minutes count: a day before the component's history began,
or the part of today still to come, is no data, not uptime. A group's figure is its members' mean.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from incidents.incident.models import Incident
from incidents.maintenance import public as maintenance
from incidents.status.models import (
    CLOSED_PUBLIC_STATUSES,
    OPEN_PUBLIC_STATUSES,
    ComponentStatusChange,
    IncidentComponent,
    UpdateComponent,
)
from incidents.timeline.models import TimelineEntry

DAYS = 90
OUTAGE_WEIGHT = {"major_outage": 1.0, "partial_outage": 0.3}


@dataclass(frozen=True)
class Day:
    on: date
    observed: float = 0.0  # minutes of the day the history covers
    minutes: dict[str, float] = field(default_factory=dict)  # status -> minutes, operational left out
    incidents: tuple[str, ...] = ()  # public titles of the published incidents that touched it that day
    maintenances: tuple[str, ...] = ()  # titles of the maintenance work on it that day

    @property
    def outage(self) -> float:
        """Weighted outage minutes."""
        return sum(OUTAGE_WEIGHT.get(status, 0.0) * spent for status, spent in self.minutes.items())

    @property
    def uptime(self) -> float | None:
        """The share of the observed day that counts as up (None: nothing observed)."""
        return None if self.observed <= 0 else max(0.0, 1 - self.outage / self.observed)

    @property
    def worst(self) -> str:
        """The worst status seen that day ("operational" when nothing else was)."""
        for status in ("major_outage", "partial_outage", "degraded_performance", "under_maintenance"):
            if self.minutes.get(status):
                return status
        return "operational"


def days_of(changes: Iterable[tuple[str, datetime]], *, first: date, last: date, now: datetime) -> list[Day]:
    """Each day from `first` to `last` (UTC) from a component's changes, oldest first; `changes`
    holds (status, since) in time order, the first one at or before `first` when history reaches it."""
    spans = _spans(list(changes), now)
    out, on = [], first
    while on <= last:
        start = datetime.combine(on, time(), UTC)
        end = min(start + timedelta(days=1), now)
        observed, minutes = 0.0, {}
        for status, since, until in spans:
            overlap = (min(until, end) - max(since, start)).total_seconds() / 60
            if overlap > 0:
                observed += overlap
                if status != "operational":
                    minutes[status] = minutes.get(status, 0.0) + overlap
        out.append(Day(on=on, observed=observed, minutes=minutes))
        on += timedelta(days=1)
    return out


def _spans(changes: list[tuple[str, datetime]], now: datetime) -> list[tuple[str, datetime, datetime]]:
    """(status, from, until) for each change, the last one lasting until now."""
    return [(status, since, changes[n + 1][1] if n + 1 < len(changes) else now)
            for n, (status, since) in enumerate(changes)]


def percentage(days: list[Day]) -> float | None:
    """Uptime over the days, weighted by observed minutes (None: nothing observed)."""
    observed = sum(d.observed for d in days)
    return None if observed <= 0 else max(0.0, 1 - sum(d.outage for d in days) / observed)


def component_days(*, session: Session, component_ids: list[int], now: datetime,
                   days: int = DAYS) -> dict[int, list[Day]]:
    """The last `days` days (today included) of each component, by component id. Reads the changes
    inside the window and the one in force when it opened: what 90 days hold, never all history."""
    if not component_ids:
        return {}
    last = now.astimezone(UTC).date()
    first = last - timedelta(days=days - 1)
    opened = datetime.combine(first, time(), UTC)
    change, earlier = ComponentStatusChange, aliased(ComponentStatusChange)
    in_force = (select(earlier.id).where(earlier.component_id == change.component_id, earlier.changed_at <= opened)
                .order_by(earlier.changed_at.desc(), earlier.id.desc()).limit(1).scalar_subquery())
    rows = session.execute(
        select(change.component_id, change.status, change.changed_at)
        .where(change.component_id.in_(component_ids), (change.changed_at > opened) | (change.id == in_force))
        .order_by(change.component_id, change.changed_at, change.id)).all()
    changes: dict[int, list[tuple[str, datetime]]] = {cid: [] for cid in component_ids}
    for component_id, status, changed_at in rows:
        changes[component_id].append((str(status), max(changed_at, opened)))
    titles = incidents_by_day(session=session, component_ids=component_ids, first=first, now=now)
    work = maintenance.windows(session=session, component_ids=component_ids, opened=opened, now=now)
    return {cid: [with_maintenance(replace(day, incidents=tuple(titles.get(cid, {}).get(day.on, ()))),
                                   work.get(cid, ()))
                  for day in days_of(found, first=first, last=last, now=now)]
            for cid, found in changes.items()}


def with_maintenance(day: Day, windows) -> Day:
    """The day with the maintenance work done on it: its minutes count as under maintenance (never
    against uptime) and its titles are named. Worked out from the maintenance's own steps, so a
    window that opened automatically counts though no one wrote anything at that moment."""
    start = datetime.combine(day.on, time(), UTC)
    end = start + timedelta(days=1)
    minutes, titles = dict(day.minutes), []
    for title, since, until in windows:
        overlap = (min(until, end) - max(since, start)).total_seconds() / 60
        if overlap > 0:
            minutes["under_maintenance"] = minutes.get("under_maintenance", 0.0) + overlap
            titles.append(title)
    return replace(day, minutes=minutes, maintenances=tuple(titles)) if titles else day


def incidents_by_day(*, session: Session, component_ids: list[int], first: date,
                     now: datetime) -> dict[int, dict[date, list[str]]]:
    """For each component, the public titles of the published incidents that named it, on every
    day from the first public update in the window naming it to the incident's resolution (or
    today; an unresolved incident that puts it in a status now, from the window's start). Public
    fields only: the incident's public title, its updates' public times."""
    opened = datetime.combine(first, time(), UTC)
    columns = (Incident.id, Incident.public_title, Incident.public_status)
    named = list(session.execute(
        select(UpdateComponent.component_id, *columns, TimelineEntry.occurred_at)
        .join(TimelineEntry, TimelineEntry.id == UpdateComponent.entry_id)
        .join(Incident, Incident.id == TimelineEntry.incident_id)
        .where(UpdateComponent.component_id.in_(component_ids), Incident.published_at.is_not(None),
               TimelineEntry.occurred_at >= opened)))
    named += [(component_id, incident_id, title, state, opened) for component_id, incident_id, title, state
              in session.execute(
                  select(IncidentComponent.component_id, *columns)
                  .join(Incident, Incident.id == IncidentComponent.incident_id)
                  .where(IncidentComponent.component_id.in_(component_ids), Incident.published_at.is_not(None),
                         Incident.public_status.in_(OPEN_PUBLIC_STATUSES)))]
    incident_ids = {row[1] for row in named}
    last_update = dict(session.execute(
        select(TimelineEntry.incident_id, func.max(TimelineEntry.occurred_at))
        .where(TimelineEntry.incident_id.in_(incident_ids), TimelineEntry.public_status.is_not(None))
        .group_by(TimelineEntry.incident_id)).all()) if incident_ids else {}
    spans: dict[tuple[int, int], list] = {}
    for component_id, incident_id, title, state, when in named:
        start, end, _title = spans.get((component_id, incident_id), (when, when, None))
        ended = last_update.get(incident_id, when) if state in CLOSED_PUBLIC_STATUSES else now
        spans[(component_id, incident_id)] = [min(start, when), max(end, ended), str(title or "")]
    out: dict[int, dict[date, list[str]]] = {}
    for (component_id, _incident), (start, end, title) in sorted(spans.items(), key=lambda item: item[1][0]):
        on = max(start, opened).astimezone(UTC).date()
        while on <= end.astimezone(UTC).date():
            out.setdefault(component_id, {}).setdefault(on, []).append(title)
            on += timedelta(days=1)
    return out
