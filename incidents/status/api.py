"""Public status site: the Statuspage API v2 JSON under <STATUS_PREFIX>/api/v2/.

Field names, types and values follow Atlassian Statuspage's public v2 API, so existing consumers
(dashboards, exporters, chat bots) can read us. Every payload is built from the frozen PublicView
records with explicit dicts: nothing here reads a model, so nothing unpublished can leak.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from incidents.extensions import db
from incidents.status import public
from incidents.status.blueprint import bp
from incidents.status.http import base_url, public_response
from incidents.status.models import worst_status
from incidents.status.public import PublicComponent, PublicIncident, PublicUpdate, PublicView

JSON = "application/json"
API = "/api/v2"
INCIDENT_LIMIT = 50  # incidents.json lists the 50 most recent, like Statuspage


# --- formatting -------------------------------------------------------------------------------

def zone(view: PublicView):
    try:
        return ZoneInfo(view.page.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


def iso(moment: datetime | None, tz) -> str | None:
    """Statuspage's format: milliseconds and an offset in the page's zone ("Z" when it is UTC)."""
    if moment is None:
        return None
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(tz)
    text = local.isoformat(timespec="milliseconds")
    return text[:-6] + "Z" if text.endswith("+00:00") else text


# --- serialisers ------------------------------------------------------------------------------

def page_json(view: PublicView) -> dict:
    tz = zone(view)
    return {
        "id": view.page.id,
        "name": view.page.name,
        "url": view.page.url,
        "time_zone": view.page.time_zone,
        "updated_at": iso(view.page.updated_at, tz),
    }


def status_json(view: PublicView) -> dict:
    return {"indicator": view.indicator, "description": view.description}


def component_json(view: PublicView, component: PublicComponent) -> dict:
    tz = zone(view)
    return {
        "id": component.id,
        "name": component.name,
        "status": component.status,
        "created_at": iso(component.created_at, tz),
        "updated_at": iso(component.updated_at, tz),
        "position": component.position,
        "description": component.description,
        "showcase": component.showcase,
        "start_date": component.start_date,
        "group_id": component.group_id,
        "page_id": view.page.id,
        "group": False,
        "only_show_if_degraded": component.only_show_if_degraded,
    }


def group_json(view: PublicView, group_id: str, members: list[PublicComponent]) -> dict:
    """A component group as Statuspage shows it: a component with `group: true` and its members'
    ids, its status the worst of theirs (all derived from the members' public fields)."""
    tz = zone(view)
    return {
        "id": group_id,
        "name": members[0].group_name or group_id,
        "status": worst_status(m.status for m in members),
        "created_at": iso(min(m.created_at for m in members), tz),
        "updated_at": iso(max(m.updated_at for m in members), tz),
        "position": min(m.position for m in members),
        "description": None,
        "showcase": False,
        "start_date": None,
        "group_id": None,
        "page_id": view.page.id,
        "group": True,
        "only_show_if_degraded": False,
        "components": [m.id for m in sorted(members, key=lambda m: m.position)],
    }


def components_json(view: PublicView) -> list[dict]:
    groups: dict[str, list[PublicComponent]] = {}
    for component in view.components:
        if component.group_id:
            groups.setdefault(component.group_id, []).append(component)
    rows = [((c.position, 1), component_json(view, c)) for c in view.components]
    rows += [((min(m.position for m in members), 0), group_json(view, group_id, members))
             for group_id, members in groups.items()]
    return [row for _, row in sorted(rows, key=lambda r: r[0])]


def update_json(view: PublicView, incident: PublicIncident, update: PublicUpdate, index: int) -> dict:
    tz = zone(view)
    older = incident.updates[index + 1:]  # updates are newest first

    def old_status(component_id: str) -> str:
        for previous in older:
            for code, _name, status in previous.affected_components:
                if code == component_id:
                    return status
        return "operational"

    affected = [{"code": code, "name": name, "old_status": old_status(code), "new_status": status}
                for code, name, status in update.affected_components]
    return {
        "id": update.id,
        "status": update.status,
        "body": update.body,
        "incident_id": incident.id,
        "created_at": iso(update.created_at, tz),
        "updated_at": iso(update.updated_at, tz),
        "display_at": iso(update.display_at, tz),
        "affected_components": affected or None,
        "deliver_notifications": True,
        "custom_tweet": None,
        "tweet_id": None,
    }


def incident_json(view: PublicView, incident: PublicIncident) -> dict:
    tz = zone(view)
    by_id = {c.id: c for c in view.components}
    return {
        "id": incident.id,
        "name": incident.name,
        "status": incident.status,
        "created_at": iso(incident.created_at, tz),
        "updated_at": iso(incident.updated_at, tz),
        "monitoring_at": iso(incident.monitoring_at, tz),
        "resolved_at": iso(incident.resolved_at, tz),
        "impact": incident.impact,
        "shortlink": incident.shortlink,
        "started_at": iso(incident.started_at, tz),
        "page_id": view.page.id,
        "incident_updates": [update_json(view, incident, update, index)
                             for index, update in enumerate(incident.updates)],
        "components": [component_json(view, by_id[cid]) for cid in incident.component_ids
                       if cid in by_id],
    }


def maintenance_json(view: PublicView, maintenance) -> dict:
    """A scheduled maintenance as Statuspage shows one: an incident with impact "maintenance" and
    its window."""
    tz = zone(view)
    return {**incident_json(view, maintenance), "scheduled_for": iso(maintenance.scheduled_for, tz),
            "scheduled_until": iso(maintenance.scheduled_until, tz)}


MAINTENANCE_LISTS = {
    "all": lambda v: v.scheduled_maintenances,  # not over yet, and the 50 latest (newest first)
    "upcoming": lambda v: v.upcoming_maintenances,
    "active": lambda v: v.active_maintenances,
    "upcoming_or_active": lambda v: (*v.active_maintenances, *v.upcoming_maintenances),
}


def maintenances_json(view: PublicView, which: str) -> list[dict]:
    return [maintenance_json(view, m) for m in MAINTENANCE_LISTS[which](view)]


# --- documents --------------------------------------------------------------------------------

def summary(view: PublicView) -> dict:
    return {
        "page": page_json(view),
        "components": components_json(view),
        "incidents": [incident_json(view, i) for i in view.unresolved],
        "scheduled_maintenances": maintenances_json(view, "upcoming_or_active"),
        "status": status_json(view),
    }


DOCUMENTS = {
    "summary.json": summary,
    "status.json": lambda v: {"page": page_json(v), "status": status_json(v)},
    "components.json": lambda v: {"page": page_json(v), "components": components_json(v)},
    "incidents.json": lambda v: {"page": page_json(v), "incidents": [
        incident_json(v, i) for i in v.incidents[:INCIDENT_LIMIT]]},
    "incidents/unresolved.json": lambda v: {"page": page_json(v), "incidents": [
        incident_json(v, i) for i in v.unresolved]},
    "scheduled-maintenances.json": lambda v: {"page": page_json(v), "scheduled_maintenances":
                                              maintenances_json(v, "all")},
    "scheduled-maintenances/upcoming.json": lambda v: {"page": page_json(v), "scheduled_maintenances":
                                                       maintenances_json(v, "upcoming")},
    "scheduled-maintenances/active.json": lambda v: {"page": page_json(v), "scheduled_maintenances":
                                                     maintenances_json(v, "active")},
}


def dumps(document: dict) -> str:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"))


def document_response(name: str):
    site = base_url()

    def render() -> str:
        # Only incidents.json lists past incidents, and scheduled-maintenances.json past maintenance;
        # the others show the present (unresolved, not over yet) alone.
        view = public.build_public_view(
            session=db.session, base_url=site, listed=INCIDENT_LIMIT if name == "incidents.json" else 0,
            maintenances=INCIDENT_LIMIT if name == "scheduled-maintenances.json" else 0)
        return dumps(DOCUMENTS[name](view))

    return public_response(key=f"api/v2/{name}", mimetype=JSON, render=render)


def add_document_route(name: str) -> None:
    endpoint = "api_" + name.removesuffix(".json").replace("/", "_").replace("-", "_")

    def view():
        return document_response(name)

    view.__name__ = endpoint
    bp.add_url_rule(f"{API}/{name}", endpoint=endpoint, view_func=view)


for _name in DOCUMENTS:
    add_document_route(_name)


@bp.route(f"{API}/")
@bp.route(f"{API}/<path:rest>")
def api_not_found(rest: str = ""):
    """Unknown API paths answer in JSON, with the same headers as the documents."""
    return public_response(key="api/v2/404", mimetype=JSON, status=404,
                           render=lambda: dumps({"error": "Not found"}))
