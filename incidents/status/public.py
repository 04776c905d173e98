"""The public side's view of the world, built from an explicit list of public fields.

Nothing here is a model: the public status page, the Statuspage v2 JSON and the feeds are all made
from these frozen records, and the only way data reaches them is `build_public_view`, which copies
named public fields one by one. Internal notes, responder names, customer identifiers and draft
root causes have no field to travel in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
from datetime import datetime, timezone

# Statuspage's vocabularies, exactly as the public API spells them.
COMPONENT_STATUSES = ("operational", "degraded_performance", "partial_outage", "major_outage",
                      "under_maintenance")
INCIDENT_STATUSES = ("investigating", "identified", "monitoring", "resolved", "postmortem")
IMPACTS = ("none", "minor", "major", "critical")
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
    status: str  # one of COMPONENT_STATUSES
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
    status: str  # one of INCIDENT_STATUSES
    body: str  # plain text written for the public
    created_at: datetime
    updated_at: datetime
    display_at: datetime
    affected_components: tuple[tuple[str, str, str], ...] = ()  # (component id, name, new status)


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
    incidents: tuple[PublicIncident, ...]  # newest first, published only
    scheduled_maintenances: tuple = field(default=())

    @property
    def unresolved(self) -> tuple[PublicIncident, ...]:
        return tuple(i for i in self.incidents if i.status not in ("resolved", "postmortem"))

    @property
    def indicator(self) -> str:
        """none / minor / major / critical: the worst of the unresolved incidents' impacts, or
        what the components' statuses imply."""
        worst = 0
        for incident in self.unresolved:
            worst = max(worst, IMPACTS.index(incident.impact))
        component_level = {"operational": 0, "under_maintenance": 0, "degraded_performance": 1,
                           "partial_outage": 2, "major_outage": 3}
        for component in self.components:
            worst = max(worst, component_level[component.status])
        return IMPACTS[worst]

    @property
    def description(self) -> str:
        return INDICATOR_DESCRIPTIONS[self.indicator]


COMPONENT_SEVERITY = {"operational": 0, "under_maintenance": 1, "degraded_performance": 2,
                      "partial_outage": 3, "major_outage": 4}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _short_hash(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def build_public_view(*, session, base_url: str) -> PublicView:
    """Everything the public may see, copied field by field from published records only.

    `base_url` is the absolute URL of the public site's root (e.g. https://status.example.com/status).
    """
    from flask import current_app, has_app_context
    from sqlalchemy import exists, func, select
    from sqlalchemy.orm import aliased

    from incidents.incident.models import Incident
    from incidents.status.models import Component, IncidentComponent, UpdateComponent
    from incidents.timeline.models import TimelineEntry, Visibility

    base = base_url.rstrip("/")
    config = current_app.config if has_app_context() else {}
    page_name = config.get("STATUS_PAGE_NAME", "Status")

    # Incidents: published ones only, named columns only.
    rows = session.execute(
        select(Incident.id, Incident.public_id, Incident.public_title, Incident.public_impact,
               Incident.published_at)
        .where(Incident.published_at.is_not(None), Incident.public_id.is_not(None))
    ).all()
    by_id = {row.id: row for row in rows}

    # Updates: each published update at its latest revision, still public.
    entry, root_entry, later = TimelineEntry, aliased(TimelineEntry), aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    is_latest = ~exists().where(later.original_id == root, later.revision > entry.revision)
    updates_by_incident: dict[int, list[tuple]] = {i: [] for i in by_id}
    if by_id:
        update_rows = session.execute(
            select(entry.incident_id, root.label("root_id"), entry.public_status, entry.body,
                   entry.occurred_at, entry.recorded_at, root_entry.recorded_at.label("first_recorded_at"))
            .join(root_entry, root_entry.id == root)
            .where(entry.incident_id.in_(list(by_id)), is_latest, entry.visibility == Visibility.public,
                   entry.public_status.is_not(None))
        ).all()
        root_ids = [r.root_id for r in update_rows]
        affected: dict[int, list[tuple[str, str, str]]] = {}
        if root_ids:
            for entry_id, public_id, name, status in session.execute(
                    select(UpdateComponent.entry_id, Component.public_id, Component.name, UpdateComponent.status)
                    .join(Component, Component.id == UpdateComponent.component_id)
                    .where(UpdateComponent.entry_id.in_(root_ids))
                    .order_by(Component.position, Component.name)):
                affected.setdefault(entry_id, []).append((str(public_id), str(name), str(status)))
        for r in update_rows:
            updates_by_incident[r.incident_id].append(r)
    else:
        affected = {}

    links = session.execute(
        select(IncidentComponent.incident_id, IncidentComponent.status, Component.id, Component.public_id)
        .join(Component, Component.id == IncidentComponent.component_id)
        .where(Component.archived_at.is_(None))
    ).all()

    incidents: list[PublicIncident] = []
    unresolved_ids: set[int] = set()
    for row in rows:
        public_id = str(row.public_id)
        raw = sorted(updates_by_incident[row.id], key=lambda r: (r.occurred_at, r.root_id), reverse=True)
        updates = tuple(PublicUpdate(
            id=str(r.root_id), incident_id=public_id, status=str(r.public_status), body=str(r.body),
            created_at=r.first_recorded_at, updated_at=r.recorded_at, display_at=r.occurred_at,
            affected_components=tuple(affected.get(r.root_id, ())),
        ) for r in raw)
        status = updates[0].status if updates else "investigating"
        if status not in ("resolved", "postmortem"):
            unresolved_ids.add(row.id)
        oldest_first = list(reversed(updates))
        monitoring_at = next((u.display_at for u in oldest_first if u.status == "monitoring"), None)
        resolved_at = (next((u.display_at for u in oldest_first if u.status == "resolved"), updates[0].display_at)
                       if status in ("resolved", "postmortem") else None)
        component_ids = {str(link.public_id) for link in links if link.incident_id == row.id}
        component_ids |= {cid for u in updates for cid, _name, _status in u.affected_components}
        incidents.append(PublicIncident(
            id=public_id, name=str(row.public_title or ""), status=status,
            impact=str(row.public_impact or "none"), created_at=row.published_at,
            updated_at=max([row.published_at, *(u.updated_at for u in updates)]),
            started_at=oldest_first[0].display_at if oldest_first else row.published_at,
            monitoring_at=monitoring_at, resolved_at=resolved_at,
            shortlink=f"{base}/incidents/{public_id}", updates=updates,
            component_ids=tuple(sorted(component_ids)),
        ))
    incidents.sort(key=lambda i: (i.started_at, i.id), reverse=True)

    # Components: the override, else the worst status their unresolved incidents put them in.
    worst: dict[int, str] = {}
    for link in links:
        if link.incident_id in unresolved_ids:
            current = worst.get(link.id, "operational")
            if COMPONENT_SEVERITY[link.status] > COMPONENT_SEVERITY[current]:
                worst[link.id] = str(link.status)
    component_rows = session.execute(
        select(Component.id, Component.public_id, Component.name, Component.description,
               Component.group_name, Component.position, Component.status_override, Component.showcase,
               Component.only_show_if_degraded, Component.created_at, Component.updated_at)
        .where(Component.archived_at.is_(None))
        .order_by(Component.group_name.is_not(None), Component.group_name, Component.position,
                  Component.name, Component.id)
    ).all()
    components = tuple(PublicComponent(
        id=str(c.public_id), name=str(c.name), description=c.description,
        status=str(c.status_override or worst.get(c.id, "operational")), position=int(c.position),
        group_id=_short_hash(f"group:{c.group_name}") if c.group_name else None,
        group_name=c.group_name, showcase=bool(c.showcase),
        only_show_if_degraded=bool(c.only_show_if_degraded), created_at=c.created_at,
        updated_at=c.updated_at, start_date=c.created_at.date().isoformat(),
    ) for c in component_rows)

    page = PublicPage(id=str(config.get("STATUS_PAGE_ID") or _short_hash(f"page:{page_name}")),
                      name=str(page_name), url=base, time_zone="Etc/UTC",
                      updated_at=last_published_change(session=session) or _EPOCH)
    return PublicView(page=page, components=components, incidents=tuple(incidents))


def is_published(*, session, public_id: str) -> bool:
    """Whether an incident with this public id is on the public site (one indexed lookup)."""
    from sqlalchemy import select

    from incidents.incident.models import Incident

    return session.scalar(select(Incident.id).where(
        Incident.public_id == public_id, Incident.published_at.is_not(None))) is not None


def last_published_change(*, session):
    """The time of the latest published change (cheap: the cache key of every public response)."""
    from sqlalchemy import func, select

    from incidents.incident.models import Incident
    from incidents.status.models import Component
    from incidents.timeline.models import TimelineEntry

    row = session.execute(select(
        select(func.max(TimelineEntry.recorded_at)).where(TimelineEntry.public_status.is_not(None))
        .scalar_subquery(),
        select(func.max(Component.updated_at)).scalar_subquery(),
        select(func.max(Incident.published_at)).scalar_subquery(),
    )).one()
    moments = [m for m in row if m is not None]
    return max(moments) if moments else None
