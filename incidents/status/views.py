"""Public status site: the HTML page and one page per incident. Only PublicView records reach
these templates; nothing here reads a model."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, render_template, request

from incidents.db import utcnow
from incidents.extensions import db
from incidents.maintenance.public import is_announced
from incidents.status.blueprint import bp
from incidents.status.http import public_response
from incidents.status.models import COMPONENT_SEVERITY, worst_status
from incidents.status.public import HistoryCursor, build_public_view, is_published
from incidents.status.uptime import percentage

HISTORY_DAYS = 90
PAST_SHOWN = 25  # past incidents the page shows at most; the history pages through the rest
STATUS_LABELS = {
    "operational": "Operational", "degraded_performance": "Degraded performance",
    "partial_outage": "Partial outage", "major_outage": "Major outage",
    "under_maintenance": "Under maintenance", "investigating": "Investigating",
    "identified": "Identified", "monitoring": "Monitoring", "resolved": "Resolved",
    "postmortem": "Postmortem", "scheduled": "Scheduled", "in_progress": "In progress",
    "verifying": "Verifying", "completed": "Completed",
}


def _view(**selection):
    return build_public_view(session=db.session, base_url=request.url_root.rstrip("/") + bp_prefix(),
                             **selection)


def bp_prefix() -> str:
    from flask import current_app

    return current_app.config["STATUS_PREFIX"]


@bp.app_template_filter("status_label")
def status_label(value: str) -> str:
    return STATUS_LABELS.get(value, value.replace("_", " ").capitalize())


@bp.route("/")
def page():
    # Cached like the feeds until something is published; the day is in the key because the
    # 90-day window moves with it.
    return public_response(key=f"page:{utcnow().date()}", mimetype="text/html", render=_render_page)


def _render_page() -> str:
    view = _view(listed=PAST_SHOWN, uptime=True, maintenances=PAST_SHOWN)
    cutoff = utcnow() - timedelta(days=HISTORY_DAYS)
    # Past incidents: the resolved among the newest published, and completed maintenance, within the window.
    history = [i for i in view.listed if i not in view.unresolved and (i.resolved_at or i.updated_at) >= cutoff]
    history = sorted([*history, *(m for m in view.scheduled_maintenances
                                  if m.status == "completed" and m.resolved_at >= cutoff)],
                     key=lambda i: i.resolved_at or i.updated_at, reverse=True)
    shown = [c for c in view.components
             if not c.only_show_if_degraded or COMPONENT_SEVERITY[c.status] > 0]
    groups: list[tuple[str | None, list]] = []
    for component in shown:
        if groups and groups[-1][0] == component.group_name:
            groups[-1][1].append(component)
        else:
            groups.append((component.group_name, [component]))
    names = {c.id: c.name for c in view.components}
    group_uptime = {name: percentage_of_members(view, members) for name, members in groups if name}
    return render_template("status/page.html", view=view, groups=groups, history=history, group_uptime=group_uptime,
                           names=names, history_days=HISTORY_DAYS,
                           older=view.older is not None or any(i not in history for i in view.listed
                                                               if i not in view.unresolved),
                           page_name=view.page.name, status_prefix=view.page.url)


def percentage_of_members(view, members) -> float | None:
    """A group's uptime: the mean of its showcased members' (those with any observed minute)."""
    figures = [percentage(list(view.uptime[c.id])) for c in members if c.id in view.uptime]
    figures = [f for f in figures if f is not None]
    return sum(figures) / len(figures) if figures else None


@bp.app_template_filter("uptime_percent")
def uptime_percent(value: float | None) -> str:
    """99.95% style, never rounding a partial day's loss up to a clean 100%."""
    if value is None:
        return "no data"
    return "100%" if value >= 1 else f"{min(value * 100, 99.99):.2f}%"


@bp.app_template_filter("uptime_total")
def uptime_total(days) -> str:
    return uptime_percent(percentage(list(days)))


bp.app_template_filter("worst_status")(worst_status)


@bp.app_template_filter("uptime_day")
def uptime_day(day) -> str:
    """What a day's bar says, as text (its tooltip and what a screen reader reads)."""
    if day.uptime is None:
        return f"{day.on:%d %b %Y}: no data"
    parts = [f"{minutes_label(spent)} {status_label(status).lower()}" for status, spent in day.minutes.items()]
    said = f"{day.on:%d %b %Y}: {uptime_percent(day.uptime)} up" + (f"; {', '.join(parts)}" if parts else "")
    said += f". Incidents: {'; '.join(day.incidents)}" if day.incidents else ""
    return said + (f". Maintenance: {'; '.join(day.maintenances)}" if day.maintenances else "")


def minutes_label(minutes: float) -> str:
    hours, rest = divmod(round(minutes), 60)
    return f"{hours} h {rest} min" if hours else f"{rest} min"


@bp.route("/history")
def history():
    """Every published incident, newest first, a page at a time: the page links here for anything
    past its window. `?before=` (a cursor from the previous page) asks for the next page."""
    before = HistoryCursor.decode(request.args.get("before"))
    key = f"history:{before.encode() if before else ''}"
    return public_response(key=key, mimetype="text/html", render=lambda: _render_history(before))


def _render_history(before: HistoryCursor | None) -> str:
    view = _view(before=before)
    names = {c.id: c.name for c in view.components}
    return render_template("status/history.html", view=view, incidents=view.listed, names=names,
                           paged=before is not None, page_name=view.page.name, status_prefix=view.page.url)


def _one_record(kind: str, public_id: str, exists, render):
    """The public page of one incident or maintenance: 404 for a malformed or unknown id, else
    cached like the rest of the site."""
    if len(public_id) > 40 or not public_id.isalnum() or not exists(session=db.session, public_id=public_id):
        abort(404)
    return public_response(key=f"{kind}:{public_id}", mimetype="text/html", render=lambda: render(public_id))


@bp.route("/incidents/<public_id>")
def incident(public_id: str):
    return _one_record("incident", public_id, is_published, _render_incident)


def _render_incident(public_id: str) -> str:
    view = _view(public_id=public_id)
    found = next(i for i in view.incidents if i.id == public_id)
    names = {c.id: c.name for c in view.components}
    return render_template("status/incident.html", view=view, incident=found, names=names,
                           page_name=view.page.name, status_prefix=view.page.url)


@bp.route("/maintenance/<public_id>")
def maintenance(public_id: str):
    return _one_record("maintenance", public_id, is_announced, _render_maintenance)


def _render_maintenance(public_id: str) -> str:
    view = _view(listed=0, maintenance_id=public_id)
    found = next(m for m in view.scheduled_maintenances if m.id == public_id)
    return render_template("status/maintenance.html", view=view, maintenance=found,
                           page_name=view.page.name, status_prefix=view.page.url)


@bp.app_errorhandler(404)
def not_found(error):
    """Under the status prefix a 404 is the public site's own page; under /api/v1 a problem document;
    elsewhere the app's page."""
    prefix = bp_prefix()
    if request.path == prefix or request.path.startswith(prefix + "/"):
        return render_template("status/error.html", code=404, title="Page not found",
                               page_name=_page_name(), status_prefix=prefix), 404
    from incidents.api.problems import is_api_request, problem_for
    from incidents.errors import _render_error

    if is_api_request():
        return problem_for(error)
    return _render_error(404)


def _page_name() -> str:
    from flask import current_app

    return current_app.config.get("STATUS_PAGE_NAME", "Status")
