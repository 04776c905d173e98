"""The public side's view of the world, built from an explicit list of public fields.

Nothing here is a model: the public status page, the Statuspage v2 JSON and the feeds are all made
from these frozen records, and the only way data reaches them is `build_public_view`, which copies
named public fields one by one. Internal notes, responder names, customer identifiers and draft
root causes have no field to travel in.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import UTC, datetime

from incidents.markdown import plain_text, stored_html
from incidents.status.models import (
    COMPONENT_IMPACT,
    IMPACTS,
    OPEN_PUBLIC_STATUSES,
    worst_by_component,
)

INDICATOR_DESCRIPTIONS = {
    "none": "All Systems Operational",
    "minor": "Minor Service Outage",
    "major": "Partial System Outage",
    "critical": "Major System Outage",
}


@dataclass(frozen=True)
class PublicPage:
    id: str
    name: str
    url: str  # absolute URL of the public status page
    time_zone: str
    updated_at: datetime  # the latest published change anywhere on the page


@dataclass(frozen=True)
class PublicComponent:
    id: str
    name: str
    description: str | None
    status: str  # one of COMPONENT_STATUSES (models.py)
    position: int
    group_id: str | None
    group_name: str | None
    showcase: bool
    only_show_if_degraded: bool
    created_at: datetime
    updated_at: datetime
    start_date: str | None  # YYYY-MM-DD


@dataclass(frozen=True)
class PublicUpdate:
    id: str
    incident_id: str
    status: str  # one of PUBLIC_STATUSES (models.py)
    body: str  # plain text written for the public: the Markdown's text, without its marks
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    affected_components: tuple[tuple[str, str, str], ...] = ()  # (component id, name, new status)
    body_html: str = ""  # the same text as sanitised HTML ("" = show `body` escaped)


@dataclass(frozen=True)
class PublicIncident:
    id: str
    name: str
    status: str  # the status of its newest update
    impact: str  # one of IMPACTS
    created_at: datetime
    updated_at: datetime
    started_at: datetime
    monitoring_at: datetime | None
    resolved_at: datetime | None
    shortlink: str  # absolute URL of the incident's public page
    updates: tuple[PublicUpdate, ...]  # newest first
    component_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class PublicView:
    page: PublicPage
    components: tuple[PublicComponent, ...]
    incidents: tuple[PublicIncident, ...]  # newest first: every unresolved one, and those `listed`
    # Maintenance windows not over yet and, when asked for, the latest ones (newest first):
    # maintenance/public.py's PublicMaintenance records.
    scheduled_maintenances: tuple = field(default=())
    # The page of history asked for, newest published first, and the cursor of the next page (None:
    # no older incident). A view never reads every incident ever published (issue #19).
    listed: tuple[PublicIncident, ...] = ()
    older: str | None = None
    # The last 90 days of each showcased component (by public id), when the view was asked for them
    # (the page): recorded status history, so past days stay as they were (status/uptime.py).
    uptime: dict = field(default_factory=dict)

    @property
    def unresolved(self) -> tuple[PublicIncident, ...]:
        return tuple(i for i in self.incidents if i.status not in ("resolved", "postmortem"))

    @property
    def upcoming_maintenances(self) -> tuple:
        """Maintenance yet to start, soonest first."""
        return tuple(sorted((m for m in self.scheduled_maintenances if m.upcoming),
                            key=lambda m: (m.scheduled_for, m.id)))

    @property
    def active_maintenances(self) -> tuple:
        """Maintenance under way now."""
        return tuple(m for m in self.scheduled_maintenances if m.active)

    @property
    def indicator(self) -> str:
        """none / minor / major / critical: the worst of the unresolved incidents' impacts, or
        what the components' statuses imply."""
        impacts = [i.impact for i in self.unresolved] + [COMPONENT_IMPACT[c.status] for c in self.components]
        return max(impacts, key=IMPACTS.index, default="none")

    @property
    def description(self) -> str:
        if self.indicator == "none" and self.active_maintenances:
            return "Service Under Maintenance"
        return INDICATOR_DESCRIPTIONS[self.indicator]


@dataclass(frozen=True)
class HistoryCursor:
    """Where a page of public history ends: (published_at, public id) of its last incident. Public
    ids only, so a cursor says nothing about incidents that were never published."""

    published_at: datetime
    public_id: str

    def encode(self) -> str:
        return f"{self.published_at.isoformat()}~{self.public_id}"

    @classmethod
    def decode(cls, raw: str | None) -> HistoryCursor | None:
        """A cursor from a query string, or None (the first page) when missing or malformed."""
        when, _, public_id = (raw or "").partition("~")
        if not (public_id.isalnum() and public_id.isascii() and len(public_id) <= 20):
            return None
        try:
            moment = datetime.fromisoformat(when)
            return cls(moment.astimezone(UTC), public_id) if moment.tzinfo else None
        except (ValueError, OverflowError):
            return None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Incidents of history a view reads at most: the page's past incidents, incidents.json's 50 and the
# feeds' 25 all come from the newest this many, so no view grows with the years.
RECENT = 50


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def build_public_view(*, session, base_url: str, public_id: str | None = None,
                      before: HistoryCursor | None = None, listed: int | None = None,
                      uptime: bool = False, maintenances: int = 0, maintenance_id: str | None = None) -> PublicView:
    """Everything the public may see, copied field by field from published records only.

    `base_url` is the absolute URL of the public site's root (e.g. https://status.example.com/status).
    The view holds every unresolved incident and either the one with `public_id` or a page of
    history: the `listed` (default RECENT) newest published, older than `before` when given; and
    every maintenance not over yet, with the `maintenances` latest others (or the one `maintenance_id`).
    """
    from flask import current_app, has_app_context

    from incidents.db import utcnow
    from incidents.maintenance import public as maintenance

    base = base_url.rstrip("/")
    config = current_app.config if has_app_context() else {}
    open_rows = _unresolved_rows(session=session)
    if public_id is not None:
        page_rows, older = _incident_rows(session=session, public_id=public_id), None
    else:
        page_rows, older = _history_rows(session=session, before=before, size=RECENT if listed is None else listed)
    rows = {row.id: row for row in [*open_rows, *page_rows]}
    updates = _published_updates(session=session, public_ids={row.id: str(row.public_id) for row in rows.values()})
    links = _component_links(session=session, incident_ids=list(rows))
    by_row = {row_id: _public_incident(row=row, updates=updates.get(row_id, []), links=links, base=base)
              for row_id, row in rows.items()}
    unresolved_ids = {row_id for row_id, incident in by_row.items()
                      if incident.status not in ("resolved", "postmortem")}
    incidents = sorted(by_row.values(), key=lambda i: (i.started_at, i.id), reverse=True)
    planned = maintenance.load(session=session, base=base, now=utcnow(), recent=maintenances,
                               public_id=maintenance_id)
    # An incident during a maintenance is still an incident: the worse status shows.
    worst = worst_by_component([*((link.id, link.status) for link in links if link.incident_id in unresolved_ids),
                                *planned.under_way])
    components = _public_components(session=session, worst=worst)
    return PublicView(page=public_page(session=session, config=config, base=base), components=components,
                      incidents=tuple(incidents), listed=tuple(by_row[row.id] for row in page_rows),
                      scheduled_maintenances=planned.maintenances,
                      older=older.encode() if older else None,
                      uptime=_uptime(session=session, components=components) if uptime else {})


def _uptime(*, session, components: tuple[PublicComponent, ...]) -> dict[str, tuple]:
    """The 90 days of each showcased component, by public id."""
    from sqlalchemy import select

    from incidents.db import utcnow
    from incidents.status.models import Component
    from incidents.status.uptime import component_days

    shown = {c.id for c in components if c.showcase}
    ids = dict(session.execute(select(Component.public_id, Component.id).where(Component.public_id.in_(shown))).all())
    found = component_days(session=session, component_ids=list(ids.values()), now=utcnow())
    return {public_id: tuple(found[row_id]) for public_id, row_id in ids.items()}


def _public_columns():
    from incidents.incident.models import Incident

    return (Incident.id, Incident.public_id, Incident.public_title, Incident.public_impact, Incident.published_at)


def _unresolved_rows(*, session) -> list:
    """Published incidents whose newest public update is not resolved (a few rows of a small index)."""
    from sqlalchemy import select

    from incidents.incident.models import Incident

    # Any comparison implies "IS NOT NULL", the partial index's condition, so both databases use it.
    return session.execute(select(*_public_columns()).where(
        Incident.public_status.in_(OPEN_PUBLIC_STATUSES), Incident.published_at.is_not(None))).all()


def _incident_rows(*, session, public_id: str) -> list:
    from sqlalchemy import select

    from incidents.incident.models import Incident

    return session.execute(select(*_public_columns()).where(
        Incident.public_id == public_id, Incident.published_at.is_not(None))).all()


def _history_rows(*, session, before: HistoryCursor | None, size: int) -> tuple[list, HistoryCursor | None]:
    """A page of published incidents, newest published first: a range of ix_incident_published."""
    from sqlalchemy import select, tuple_

    from incidents.incident.models import Incident

    if size <= 0:  # a view of the present only (summary.json): no history at all
        return [], None
    stmt = select(*_public_columns()).where(Incident.published_at.is_not(None), Incident.public_id.is_not(None))
    if before is not None:
        stmt = stmt.where(tuple_(Incident.published_at, Incident.public_id) < (before.published_at, before.public_id))
    rows = session.execute(stmt.order_by(Incident.published_at.desc(), Incident.public_id.desc())
                           .limit(size + 1)).all()
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    return rows, HistoryCursor(rows[-1].published_at, str(rows[-1].public_id))


def _published_updates(*, session, public_ids: dict[int, str]) -> dict[int, list[PublicUpdate]]:
    """Each incident's published updates at their latest revision, still public, newest first."""
    from sqlalchemy import exists, func, select
    from sqlalchemy.orm import aliased

    from incidents.timeline.models import TimelineEntry, Visibility

    if not public_ids:
        return {}
    entry, root_entry, later = TimelineEntry, aliased(TimelineEntry), aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    is_latest = ~exists().where(later.original_id == root, later.revision > entry.revision)
    update_rows = session.execute(
        select(entry.incident_id, root.label("root_id"), entry.public_status, entry.body, entry.body_html,
               entry.occurred_at, entry.recorded_at, root_entry.recorded_at.label("first_recorded_at"))
        .join(root_entry, root_entry.id == root)
        .where(entry.incident_id.in_(list(public_ids)), is_latest, entry.visibility == Visibility.public,
               entry.public_status.is_not(None))
    ).all()
    affected = _affected_components(session=session, root_ids=[r.root_id for r in update_rows])
    updates: dict[int, list[PublicUpdate]] = {}
    for r in sorted(update_rows, key=lambda r: (r.occurred_at, r.root_id), reverse=True):
        # One rule for every public output: the HTML stored when the update was written (older
        # rows: rendered now, sanitised alike) on pages and in feeds, its plain text in the JSON.
        body_html = str(stored_html(r.body_html, str(r.body)))
        updates.setdefault(r.incident_id, []).append(PublicUpdate(
            id=str(r.root_id), incident_id=public_ids[r.incident_id], status=str(r.public_status),
            body=plain_text(body_html), body_html=body_html,
            created_at=r.first_recorded_at, updated_at=r.recorded_at, display_at=r.occurred_at,
            affected_components=tuple(affected.get(r.root_id, ())),
        ))
    return updates


def _affected_components(*, session, root_ids: list[int]) -> dict[int, list[tuple[str, str, str]]]:
    """(component id, name, new status) announced by each update, in the page's component order."""
    from sqlalchemy import select

    from incidents.status.models import Component, UpdateComponent

    affected: dict[int, list[tuple[str, str, str]]] = {}
    if not root_ids:
        return affected
    for entry_id, public_id, name, status in session.execute(
            select(UpdateComponent.entry_id, Component.public_id, Component.name, UpdateComponent.status)
            .join(Component, Component.id == UpdateComponent.component_id)
            .where(UpdateComponent.entry_id.in_(root_ids))
            .order_by(Component.position, Component.name)):
        affected.setdefault(entry_id, []).append((str(public_id), str(name), str(status)))
    return affected


def _component_links(*, session, incident_ids: list[int]) -> list:
    """Which of these incidents puts which shown component in which status."""
    from sqlalchemy import select

    from incidents.status.models import Component, IncidentComponent

    if not incident_ids:
        return []
    return session.execute(
        select(IncidentComponent.incident_id, IncidentComponent.status, Component.id, Component.public_id)
        .join(Component, Component.id == IncidentComponent.component_id)
        .where(Component.archived_at.is_(None), IncidentComponent.incident_id.in_(incident_ids))
    ).all()


def _public_incident(*, row, updates: list[PublicUpdate], links: list, base: str) -> PublicIncident:
    """One published incident from its row, its updates (newest first) and its component links."""
    public_id = str(row.public_id)
    status = updates[0].status if updates else "investigating"
    oldest_first = list(reversed(updates))
    monitoring_at = next((u.display_at for u in oldest_first if u.status == "monitoring"), None)
    resolved_at = (next((u.display_at for u in oldest_first if u.status == "resolved"), updates[0].display_at)
                   if status in ("resolved", "postmortem") else None)
    component_ids = {str(link.public_id) for link in links if link.incident_id == row.id}
    component_ids |= {cid for u in updates for cid, _name, _status in u.affected_components}
    return PublicIncident(
        id=public_id, name=str(row.public_title or ""), status=status,
        impact=str(row.public_impact or "none"), created_at=row.published_at,
        updated_at=max([row.published_at, *(u.updated_at for u in updates)]),
        started_at=oldest_first[0].display_at if oldest_first else row.published_at,
        monitoring_at=monitoring_at, resolved_at=resolved_at,
        shortlink=f"{base}/incidents/{public_id}", updates=tuple(updates),
        component_ids=tuple(sorted(component_ids)),
    )


def _public_components(*, session, worst: dict[int, str]) -> tuple[PublicComponent, ...]:
    """Shown components in page order, each with its override, else the worst status `worst` gives."""
    from sqlalchemy import select

    from incidents.status.models import Component

    component_rows = session.execute(
        select(Component.id, Component.public_id, Component.name, Component.description,
               Component.group_name, Component.position, Component.status_override, Component.showcase,
               Component.only_show_if_degraded, Component.created_at, Component.updated_at)
        .where(Component.archived_at.is_(None))
        .order_by(Component.group_name.is_not(None), Component.group_name, Component.position,
                  Component.name, Component.id)
    ).all()
    return tuple(PublicComponent(
        id=str(c.public_id), name=str(c.name), description=c.description,
        status=str(c.status_override or worst.get(c.id, "operational")), position=int(c.position),
        group_id=_short_hash(f"group:{c.group_name}") if c.group_name else None,
        group_name=c.group_name, showcase=bool(c.showcase),
        only_show_if_degraded=bool(c.only_show_if_degraded), created_at=c.created_at,
        updated_at=c.updated_at, start_date=c.created_at.date().isoformat(),
    ) for c in component_rows)


def public_page(*, session, config, base: str) -> PublicPage:
    """The page's own record: its name and id from the settings, its time of last change."""
    page_name = config.get("STATUS_PAGE_NAME", "Status")
    return PublicPage(id=str(config.get("STATUS_PAGE_ID") or _short_hash(f"page:{page_name}")),
                      name=str(page_name), url=base, time_zone="Etc/UTC",
                      updated_at=last_published_change(session=session) or _EPOCH)


def is_published(*, session, public_id: str) -> bool:
    """Whether an incident with this public id is on the public site (one indexed lookup)."""
    from sqlalchemy import select

    from incidents.incident.models import Incident

    return session.scalar(select(Incident.id).where(
        Incident.public_id == public_id, Incident.published_at.is_not(None))) is not None


def last_published_change(*, session):
    """The time of the latest published change (cheap: the cache key of every public response)."""
    from sqlalchemy import func, select

    from incidents.db import utcnow
    from incidents.incident.models import Incident
    from incidents.maintenance.public import change_moments
    from incidents.status.models import Component
    from incidents.timeline.models import TimelineEntry

    row = session.execute(select(
        select(func.max(TimelineEntry.recorded_at)).where(TimelineEntry.public_status.is_not(None))
        .scalar_subquery(),
        select(func.max(Component.updated_at)).scalar_subquery(),
        select(func.max(Incident.published_at)).scalar_subquery(),
        *change_moments(utcnow()),
    )).one()
    moments = [m for m in row if m is not None]
    return max(moments) if moments else None
