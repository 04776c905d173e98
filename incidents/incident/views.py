"""Incident pages: the list, declaring, the detail page, editing and status changes."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.auth.service import assignable_users
from incidents.errors import InvalidTransition
from incidents.extensions import db, limiter
from incidents.forms import has_control_chars, options, rebase
from incidents.idempotency import idempotent, remember
from incidents.incident import live, page_cache, service
from incidents.incident.enums import Severity, Status
from incidents.incident.forms import DeclareForm, EditForm, StatusForm
from incidents.incident.page import load_incident, render_incident_page, serve_incident_page
from incidents.obligations import service as obligations
from incidents.obligations.rules import rule_book
from incidents.paging import PAGE_SIZE, Cursor, split_page
from incidents.postmortem.due import due_flags
from incidents.status import service as status_service
from incidents.status.forms import component_statuses, with_component_fields
from incidents.systems import links
from incidents.versioning import save

bp = Blueprint("incident", __name__)
# A browser that just changed something reads the incident page's state fresh (see page_cache.py).
bp.after_app_request(page_cache.note_writes)
# Every open page asks these two all day and no limit applies to them: the limiter skips them
# before its bookkeeping (a request filter returns early; `exempt` would still resolve limits).
HOT_ENDPOINTS = {"incident.detail", "incident.live_version"}


@limiter.request_filter
def _not_limited() -> bool:
    return request.endpoint in HOT_ENDPOINTS


def _list_filters() -> service.IncidentFilter:
    args = request.args
    status = args.get("status", "open")
    if status not in {s.value for s in Status} | {"open", ""}:
        status = "open"
    severity = args.get("severity", "")
    owner = args.get("owner", "")
    # Plain ASCII digits of a 32-bit id: isdigit() alone lets "²" through, which int() refuses.
    owner_ok = owner.isascii() and owner.isdigit() and len(owner) <= 10 and int(owner) < 2**31
    query = args.get("q", "").strip()[:200]
    return service.IncidentFilter(
        status=status or None,
        severity=Severity(severity) if severity in Severity._value2member_map_ else None,
        owner_id=int(owner) if owner_ok else None,
        query=None if not query or has_control_chars(query) else query,
    )


def _filter_args(filters: service.IncidentFilter) -> dict[str, str]:
    """The query-string arguments that ask for `filters` again (the pager's links keep them)."""
    args = {"status": filters.status or ""}
    if filters.severity:
        args["severity"] = filters.severity.value
    if filters.owner_id:
        args["owner"] = str(filters.owner_id)
    if filters.query:
        args["q"] = filters.query
    return args


@bp.route("/")
def index():
    filters = _list_filters()
    before = Cursor.decode(request.args.get("before"))
    older, hits, ranked = None, None, True
    if filters.query:  # ranked by the full-text search: the best matches, no paging
        incidents, hits, ranked = service.search_incidents(session=db.session, filters=filters)
    else:
        incidents, older = split_page(
            service.list_incidents(session=db.session, filters=filters, limit=PAGE_SIZE + 1, before=before),
            lambda incident: Cursor(incident.declared_at, incident.id))
    return render_template("incident/list.html", incidents=incidents, filters=filters, older=older, hits=hits,
                           ranked=ranked, search_shown=service.SEARCH_SHOWN,
                           paged=before is not None, filter_args=_filter_args(filters),
                           postmortem_due=due_flags(session=db.session, incidents=incidents,
                                                    business_days=current_app.config["POSTMORTEM_DUE_BUSINESS_DAYS"]),
                           people=assignable_users(session=db.session),
                           statuses=list(Status), severities=list(Severity))


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def declare():
    components = status_service.list_components(session=db.session)
    form = (with_component_fields(DeclareForm, components, first=True) if components else DeclareForm)()
    form.systems.offer(links.catalogue_choices(session=db.session))
    if form.validate_on_submit():
        saved = save(lambda: _declare(form, components), form=form)
        if saved.ok:
            published = " and put on the status page" if form.publishes else ""
            flash(f"{saved.result} declared{published}. You are incident commander until you hand over.",
                  "success")
            return redirect(url_for("incident.detail", reference=saved.result))
    return render_template("incident/declare.html", form=form, components=components), \
        422 if form.errors else 200


def _declare(form, components) -> str:
    """Declare the incident, name the systems affected and, when asked, publish it, all in one
    transaction: a refusal of any saves nothing and shows beside its field. Returns the new reference."""
    incident = service.declare_incident(
        session=db.session, actor=current_user, title=form.title.data,
        severity=Severity(form.severity.data), summary=form.summary.data,
        data_categories=form.data_categories.data, personal_data=form.personal_data.data,
    )
    if form.systems.data:
        links.link_systems(session=db.session, actor=current_user, incident=incident,
                           systems=links.systems_by_ids(session=db.session, ids=form.systems.data))
    if form.publishes:
        status_service.publish_incident(session=db.session, actor=current_user, incident=incident,
                                        public_title=form.public_title.data, impact=form.impact.data,
                                        body=form.public_body.data,
                                        components=component_statuses(form, components))
    remember(url_for("incident.detail", reference=incident.reference))
    return incident.reference


@bp.route("/incidents/<reference>")
def detail(reference: str):
    return serve_incident_page(reference)


@bp.route("/incidents/<reference>/live")
def live_version(reference: str):
    """The page's version token for its live updates: 304 while it matches what the page holds."""
    # The pollers of every open page come here every few seconds: from the state memo, and a 304
    # is answered before any body is made.
    state = live.memo_page_state(session=db.session, reference=reference)
    if state is None:
        abort(404)
    token = state[0]
    if request.if_none_match.contains(token):
        response = current_app.response_class(status=304)
    else:
        response = jsonify(version=token)
    response.set_etag(token)
    return response


@bp.route("/incidents/<reference>/status", methods=["POST"])
@role_required(Role.responder)
def change_status(reference: str):
    incident = load_incident(reference)
    form = StatusForm()
    form.status.choices = options((s.value, s.label) for s in Status)
    if not form.validate_on_submit():
        return render_incident_page(incident, forms={"status_form": form}, code=422)
    try:
        saved = save(lambda: _followed(incident, service.change_status(
            session=db.session, actor=current_user, incident=incident, new_status=Status(form.status.data),
            expected_version=form.version.data, note=form.note.data or "")))
    except InvalidTransition as error:
        db.session.rollback()
        flash(str(error), "error")
        return redirect(url_for("incident.detail", reference=reference))
    if not saved.ok:
        if saved.conflict:
            flash(str(saved.conflict), "error")
        return redirect(url_for("incident.detail", reference=reference))
    flash(f"Status is now {incident.status.label.lower()}.", "success")
    return redirect(url_for("incident.detail", reference=reference))


def _followed(incident, result):
    """After a change of the incident's moments or status: its notification deadlines follow, in the
    same transaction (awareness and resolution are moments legal clocks count from)."""
    obligations.follow_incident_changes(session=db.session, actor=current_user, incident=incident,
                                        rules=rule_book())
    return result


def _edit_form(incident, formdata=True) -> EditForm:
    form = EditForm() if formdata else EditForm.showing(incident)
    form.set_people(assignable_users(session=db.session))
    return form




@bp.route("/incidents/<reference>/edit", methods=["GET", "POST"])
@role_required(Role.responder)
def edit(reference: str):
    incident = load_incident(reference)
    if request.method != "POST":  # GET, and HEAD which Flask routes here too
        return render_template("incident/edit.html", incident=incident, form=_edit_form(incident, False))
    form = _edit_form(incident)
    if not form.validate_on_submit():
        return render_template("incident/edit.html", incident=incident, form=form), 422
    saved = save(lambda: _followed(incident, service.update_incident(
        session=db.session, actor=current_user, incident=incident, expected_version=form.version.data,
        changes=form.changes(person=lambda user_id: db.session.get(User, user_id)))), form=form)
    if not saved.ok:
        if saved.conflict:
            incident = load_incident(reference)
            rebase(form.version, incident.version)
        return render_template("incident/edit.html", incident=incident, form=form,
                               conflict=saved.conflict), saved.code
    flash("Incident updated.", "success")
    return redirect(url_for("incident.detail", reference=reference))
