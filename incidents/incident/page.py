"""The incident page: loading the incident a URL names, and assembling its page from the panel each
feature contributes. Views of any feature render the page through here, never through each other."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import abort, current_app, g, render_template, request
from flask_login import current_user
from sqlalchemy.orm import Session
from werkzeug.datastructures import MultiDict

from incidents.actions.service import incident_panel as actions_panel
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import options
from incidents.impact.service import incident_panel as impact_panel
from incidents.incident import live, page_cache, service
from incidents.incident.enums import TRANSITIONS, Status
from incidents.incident.fields import KEY_MOMENTS
from incidents.incident.forms import StatusForm
from incidents.incident.models import Incident
from incidents.obligations.service import incident_panel as deadlines_panel
from incidents.postmortem.service import incident_panel as postmortem_panel
from incidents.postmortem.service import postmortem_for
from incidents.recovery.service import incident_panel as recovery_panel
from incidents.status.forms import incident_panel as publishing_panel
from incidents.systems.incident_forms import incident_panel as systems_panel
from incidents.templating import duration
from incidents.timeline.page import incident_panel as timeline_panel
from incidents.timeline.service import timeline_for


def load_incident(reference: str) -> Incident:
    """The incident with this reference, or the 404 page."""
    try:
        return service.get_incident(session=db.session, reference=reference)
    except NotFound:
        abort(404)


@dataclass
class IncidentPage:
    """What a panel may use: the incident, the query string, and forms coming back with errors
    (by the name the page's templates give them)."""

    session: Session
    incident: Incident
    args: MultiDict
    settings: Mapping[str, Any]
    forms: Mapping[str, Any]
    now: datetime = field(default_factory=utcnow)
    _looked_up: dict = field(default_factory=dict)

    def once(self, lookup: Callable[..., Any]) -> Any:
        """`lookup(session=, incident=)`, queried once however many panels need it."""
        if lookup not in self._looked_up:
            self._looked_up[lookup] = lookup(session=self.session, incident=self.incident)
        return self._looked_up[lookup]


def status_panel(page: IncidentPage) -> dict:
    """The key moments and the status form, offering only the moves the lifecycle allows."""
    incident = page.incident
    form = page.forms.get("status_form") or StatusForm(formdata=None, version=incident.version)
    # Closing waits for the published postmortem, so the option appears only then.
    postmortem = page.once(postmortem_for)
    can_close = postmortem is not None and postmortem.is_published
    # No status is preselected: one stray click must not move the incident anywhere.
    form.status.choices = options([("", "— choose —")] + [(s.value, s.label) for s in TRANSITIONS[incident.status]
                                                          if s is not Status.closed or can_close])
    return {"status_form": form, "moments": KEY_MOMENTS, "status_for": status_for(incident, page.now),
            "closing_waits": Status.closed in TRANSITIONS[incident.status] and not can_close}


def status_for(incident: Incident, now: datetime) -> str:
    """How long the incident has been open, or how long it took to resolve."""
    if incident.status.is_open:
        return f"open for {duration(incident.declared_at, now) or 'under a minute'}"
    if incident.resolved_at:
        return f"resolved after {duration(incident.declared_at, incident.resolved_at) or 'under a minute'}"
    return ""


def story_panel(page: IncidentPage) -> dict:
    """The first screen's latest update: the newest timeline entry, whatever the timeline's filters."""
    latest = timeline_for(session=page.session, incident=page.incident, limit=1)
    return {"latest_entry": latest[0].current if latest else None}


# Every panel of the page: each returns its template variables (see templates/incident/detail.html).
PANELS = (story_panel, status_panel, timeline_panel, impact_panel, recovery_panel, postmortem_panel, actions_panel,
          publishing_panel, deadlines_panel, systems_panel)


def render_incident_page(incident: Incident, *, forms: Mapping[str, Any] | None = None, code: int = 200):
    """The incident page as a response, with any `forms` shown as submitted (errors beside fields)."""
    return _render(incident, forms=forms or {}, live_version=None), code


def _render(incident: Incident, *, forms: Mapping[str, Any], live_version: str | None) -> str:
    page = IncidentPage(session=db.session, incident=incident, args=request.args, settings=current_app.config,
                        forms=forms)
    if live_version is None and request.endpoint == "incident.detail":
        live_version = live.page_version(session=page.session, incident_id=incident.id)
    # Live updates only on the page's own address (a refused form re-renders it elsewhere).
    context = {"incident": incident, "now": page.now, "live_version": live_version}
    for panel in PANELS:
        context.update(panel(page))
    return render_template("incident/detail.html", **context)


def serve_incident_page(reference: str):
    """The page at its own address: 304 when the viewer holds it already, else from the page cache
    (see page_cache.py), else rendered and kept."""
    if not page_cache.cacheable():
        return render_incident_page(load_incident(reference))
    viewer = _viewer()
    minute = int(utcnow().timestamp() // 60)  # the page's clock (a test may set it)
    read = live.page_state if page_cache.wrote_lately() else live.memo_page_state  # read your writes
    state = read(session=db.session, reference=reference)
    if state is None:
        abort(404)
    key = page_cache.page_key(reference, *state, *viewer, minute)
    etag = page_cache.etag_of(key)
    if request.if_none_match.contains(etag):
        response = current_app.response_class(status=304)
        response.set_etag(etag)
        return response
    def render() -> str:
        with page_cache.drawing_placeholders():
            return _render(load_incident(reference), forms={}, live_version=state[0])

    html = page_cache.pages().get_or_render(key, render)
    response = current_app.response_class(page_cache.filled(html), mimetype="text/html")
    # Again: filling in the CSRF token gives a new session its CSRF secret, part of the tag.
    response.set_etag(page_cache.etag_of(key))
    return response


def _viewer() -> tuple[int, str]:
    """Who looks, as far as the page differs by it: the memo of the sign-in (auth/memo.py) when the
    login wall used it, else the signed-in user."""
    viewer = g.get("memo_viewer")
    if viewer is not None:
        return viewer.user_id, viewer.role.value
    return current_user.id, current_user.role.value
