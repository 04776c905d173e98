"""Recovery workstreams: planning them, changing them, reporting progress, and their history."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.auth.service import assignable_users
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import rebase
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident
from incidents.recovery import service
from incidents.recovery.enums import SOURCES, WorkstreamStatus
from incidents.recovery.forms import EditWorkstreamForm, ProgressForm, WorkstreamForm
from incidents.recovery.models import Workstream
from incidents.versioning import save

bp = Blueprint("recovery", __name__)

# Ids beyond the 32-bit integer columns cannot exist: 404 at routing, before SQLite overflows.
WORKSTREAM = "/incidents/<reference>/workstreams/<int(max=2147483647):workstream_id>"


def load_workstream(incident, workstream_id: int) -> Workstream:
    try:
        return service.get_workstream(session=db.session, incident=incident, workstream_id=workstream_id)
    except NotFound:
        abort(404)


def _workstream_form(form_class, incident, workstream: Workstream | None = None, formdata=True):
    if formdata:
        form = form_class()
    else:
        form = form_class(formdata=None, obj=workstream)
        if workstream is not None:
            form.owner.data = workstream.owner_id or 0
            form.category.data = workstream.category or ""
            form.status.data = workstream.status.value
    categories = list(incident.data_categories or [])
    if workstream is not None and workstream.category and workstream.category not in categories:
        categories.append(workstream.category)
    form.set_choices(people=assignable_users(session=db.session), categories=categories)
    return form


def _fields(form: WorkstreamForm) -> service.WorkstreamFields:
    return service.WorkstreamFields(
        name=form.name.data, owner=db.session.get(User, form.owner.data) if form.owner.data else None,
        target=form.target.data, unit=form.unit.data, category=form.category.data or None,
        status=WorkstreamStatus(form.status.data), eta=form.eta.data, source=form.source.data,
        evidence=form.evidence.data or "")


@bp.route("/incidents/<reference>/workstreams/new", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def new(reference: str):
    incident = load_incident(reference)
    form = _workstream_form(WorkstreamForm, incident, formdata=request.method == "POST")
    if request.method != "POST":
        return render_template("recovery/workstream_form.html", incident=incident, form=form, workstream=None)
    if form.validate_on_submit():
        def work():
            workstream = service.create_workstream(session=db.session, actor=current_user, incident=incident,
                                                   fields=_fields(form))
            remember(url_for("incident.detail", reference=reference) + f"#ws-{workstream.id}")
            return workstream

        if (saved := save(work, form=form)).ok:
            flash(f"Workstream “{saved.result.name}” started.", "success")
            return redirect(url_for("incident.detail", reference=reference) + f"#ws-{saved.result.id}")
    return render_template("recovery/workstream_form.html", incident=incident, form=form, workstream=None), 422


@bp.route(WORKSTREAM)
def workstream(reference: str, workstream_id: int):
    incident = load_incident(reference)
    ws = load_workstream(incident, workstream_id)
    return _render_workstream(incident, ws)


def _render_workstream(incident, ws: Workstream, *, form: ProgressForm | None = None, conflict=None,
                       code: int = 200):
    form = form or ProgressForm(formdata=None, version=ws.version, done=ws.done)
    now = utcnow()
    return render_template("recovery/workstream.html", incident=incident, ws=ws, form=form,
                           conflict=conflict, flags=service.flags_for(ws, now=now), now=now,
                           history=service.progress_history(session=db.session, workstream=ws),
                           sources=SOURCES), code


@bp.route(WORKSTREAM + "/edit", methods=["GET", "POST"])
@role_required(Role.responder)
def edit(reference: str, workstream_id: int):
    incident = load_incident(reference)
    ws = load_workstream(incident, workstream_id)
    if request.method != "POST":
        form = _workstream_form(EditWorkstreamForm, incident, ws, formdata=False)
        return render_template("recovery/workstream_form.html", incident=incident, form=form, workstream=ws)
    form = _workstream_form(EditWorkstreamForm, incident, ws)
    if not form.validate_on_submit():
        return render_template("recovery/workstream_form.html", incident=incident, form=form, workstream=ws), 422
    saved = save(lambda: service.update_workstream(
        session=db.session, actor=current_user, incident=incident, workstream=ws,
        expected_version=form.version.data, fields=_fields(form)), form=form)
    if saved.ok:
        flash(f"Workstream “{ws.name}” updated.", "success")
        return redirect(url_for("recovery.workstream", reference=reference, workstream_id=ws.id))
    if saved.conflict:
        ws = load_workstream(incident, workstream_id)
        rebase(form.version, ws.version)
    return render_template("recovery/workstream_form.html", incident=incident, form=form, workstream=ws,
                           conflict=saved.conflict), saved.code


@bp.route(WORKSTREAM + "/progress", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def progress(reference: str, workstream_id: int):
    """The inline form on the incident page posts here; errors and conflicts get the full page."""
    incident = load_incident(reference)
    ws = load_workstream(incident, workstream_id)
    if request.method != "POST":
        return _render_workstream(incident, ws)
    form = ProgressForm()
    if not form.validate_on_submit():
        return _render_workstream(incident, ws, form=form, code=422)
    target = url_for("incident.detail", reference=reference) + f"#ws-{ws.id}"

    def work():
        service.record_progress(session=db.session, actor=current_user, incident=incident, workstream=ws,
                                expected_version=form.version.data, done=form.done.data,
                                note=form.note.data or "", status=form.new_status)
        remember(target)

    saved = save(work, form=form)
    if not saved.ok:
        if saved.conflict:
            ws = load_workstream(incident, workstream_id)
            rebase(form.version, ws.version)
        return _render_workstream(incident, ws, form=form, conflict=saved.conflict, code=saved.code)
    flash(f"Progress on “{ws.name}” recorded: {ws.done:,} of {ws.target:,} {ws.unit} "
          f"({ws.percent:.0f}%).", "success")
    return redirect(target)
