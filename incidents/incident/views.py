"""Incident pages: the list, declaring, the detail page, editing and status changes."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.actions.service import action_items_for
from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.auth.service import assignable_users
from incidents.db import utcnow
from incidents.errors import InvalidTransition, NotFound
from incidents.extensions import db
from incidents.forms import has_control_chars, options, rebase
from incidents.idempotency import idempotent, remember
from incidents.impact import service as impact
from incidents.incident import service
from incidents.incident.enums import KEY_MOMENTS, TRANSITIONS, Severity, Status
from incidents.incident.forms import DeclareForm, EditForm, StatusForm
from incidents.postmortem.due import due_flags, due_item
from incidents.postmortem.service import postmortem_for
from incidents.recovery.chart import recovery_chart
from incidents.recovery.service import flags_for, objectives_for, workstreams_for
from incidents.timeline.forms import EntryForm
from incidents.timeline.page import timeline_page
from incidents.versioning import save

bp = Blueprint("incident", __name__)

EDITABLE_MOMENTS = [m for m in KEY_MOMENTS if m != "closed_at"]
RECOVERY_FIELDS = ["last_good_backup_at", "restore_verified_at", "rpo_target_minutes", "rto_target_minutes"]
TIMELINE_PAGE = 50  # entries per page of the incident page timeline: a screenful or two, cheap to draw


def load_incident(reference: str):
    try:
        return service.get_incident(session=db.session, reference=reference)
    except NotFound:
        abort(404)


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


@bp.route("/")
def index():
    filters = _list_filters()
    incidents = service.list_incidents(session=db.session, filters=filters)
    return render_template("incident/list.html", incidents=incidents, filters=filters,
                           postmortem_due=due_flags(session=db.session, incidents=incidents,
                                                    business_days=current_app.config["POSTMORTEM_DUE_BUSINESS_DAYS"]),
                           people=assignable_users(session=db.session),
                           statuses=list(Status), severities=list(Severity))


@bp.route("/incidents/new", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def declare():
    form = DeclareForm()
    if form.validate_on_submit():
        incident = service.declare_incident(
            session=db.session, actor=current_user, title=form.title.data,
            severity=Severity(form.severity.data), summary=form.summary.data,
            data_categories=form.data_categories.data, personal_data=form.personal_data.data,
        )
        target = url_for("incident.detail", reference=incident.reference)
        remember(target)
        db.session.commit()
        flash(f"{incident.reference} declared. You are incident commander until you hand over.", "success")
        return redirect(target)
    return render_template("incident/declare.html", form=form), 422 if form.errors else 200


def render_detail(incident, *, entry_form=None, status_form=None, code=200):
    status_form = status_form or StatusForm(formdata=None, version=incident.version)
    postmortem = postmortem_for(session=db.session, incident=incident)
    # Closing waits for the published postmortem, so the option appears only then.
    can_close = postmortem is not None and postmortem.is_published
    # No status is preselected: one stray click must not move the incident anywhere.
    status_form.status.choices = options([("", "— choose —")] +
                                         [(s.value, s.label) for s in TRANSITIONS[incident.status]
                                          if s is not Status.closed or can_close])
    workstreams = workstreams_for(session=db.session, incident=incident)
    now = utcnow()
    impact_series = impact.chart_points(session=db.session, incident=incident)
    return render_template(
        "incident/detail.html", incident=incident,
        **timeline_page(session=db.session, incident=incident, args=request.args, page_size=TIMELINE_PAGE),
        impact=impact.summary_for(session=db.session, incident=incident), workstreams=workstreams,
        objectives=objectives_for(incident, now=now), now=now,
        flags={ws.id: flags_for(ws, now=now) for ws in workstreams},
        chart_svg=recovery_chart(incident=incident, series=impact_series, workstreams=workstreams),
        entry_form=entry_form or EntryForm(formdata=None),
        status_form=status_form, moments=KEY_MOMENTS,
        postmortem=postmortem, action_items=action_items_for(session=db.session, incident=incident),
        postmortem_due=due_item(incident, postmortem,
                                business_days=current_app.config["POSTMORTEM_DUE_BUSINESS_DAYS"]),
        closing_waits=Status.closed in TRANSITIONS[incident.status] and not can_close,
    ), code


@bp.route("/incidents/<reference>")
def detail(reference: str):
    return render_detail(load_incident(reference))


@bp.route("/incidents/<reference>/status", methods=["POST"])
@role_required(Role.responder)
def change_status(reference: str):
    incident = load_incident(reference)
    form = StatusForm()
    form.status.choices = options((s.value, s.label) for s in Status)
    if not form.validate_on_submit():
        return render_detail(incident, status_form=form, code=422)
    try:
        saved = save(lambda: service.change_status(
            session=db.session, actor=current_user, incident=incident, new_status=Status(form.status.data),
            expected_version=form.version.data, note=form.note.data or ""))
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


def _edit_form(incident, formdata=True) -> EditForm:
    if formdata:
        form = EditForm()
    else:
        form = EditForm(formdata=None, obj=incident)
        form.severity.data = incident.severity.value
        for role in service.OWNER_ROLES:
            getattr(form, role).data = getattr(incident, f"{role}_id") or 0
    form.set_people(assignable_users(session=db.session))
    return form


def _submitted_changes(form: EditForm) -> dict:
    def person(field):
        return db.session.get(User, field.data) if field.data else None

    changes = {
        "title": form.title.data.strip(),
        "severity": Severity(form.severity.data),
        "summary": (form.summary.data or "").strip(),
        "data_categories": form.data_categories.data or [],
        "personal_data": bool(form.personal_data.data),
    }
    changes.update({role: person(getattr(form, role)) for role in service.OWNER_ROLES})
    changes.update({m: getattr(form, m).data for m in EDITABLE_MOMENTS})
    changes.update({name: getattr(form, name).data for name in RECOVERY_FIELDS})
    return changes


@bp.route("/incidents/<reference>/edit", methods=["GET", "POST"])
@role_required(Role.responder)
def edit(reference: str):
    incident = load_incident(reference)
    if request.method != "POST":  # GET, and HEAD which Flask routes here too
        return render_template("incident/edit.html", incident=incident, form=_edit_form(incident, False))
    form = _edit_form(incident)
    if not form.validate_on_submit():
        return render_template("incident/edit.html", incident=incident, form=form), 422
    saved = save(lambda: service.update_incident(session=db.session, actor=current_user, incident=incident,
                                                 expected_version=form.version.data,
                                                 changes=_submitted_changes(form)), form=form)
    if not saved.ok:
        if saved.conflict:
            incident = load_incident(reference)
            rebase(form.version, incident.version)
        return render_template("incident/edit.html", incident=incident, form=form,
                               conflict=saved.conflict), saved.code
    flash("Incident updated.", "success")
    return redirect(url_for("incident.detail", reference=reference))
