"""Responders' pages for scheduled maintenance: the list, scheduling, the plan, updates, calling off."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.db import utcnow
from incidents.extensions import db
from incidents.forms import rebase
from incidents.idempotency import idempotent, remember
from incidents.maintenance import lifecycle, service
from incidents.maintenance.forms import chosen_components, edit_form, schedule_form, update_form
from incidents.status.service import list_components
from incidents.versioning import save

bp = Blueprint("maintenance", __name__, url_prefix="/maintenance")
MAINTENANCE_ID = "<int(max=2147483647):maintenance_id>"


def _plan_values(form, components) -> dict:
    return {"title": form.title.data or "", "scheduled_for": form.scheduled_for.data,
            "scheduled_until": form.scheduled_until.data, "components": chosen_components(form, components),
            "auto_start": bool(form.auto_start.data), "auto_complete": bool(form.auto_complete.data)}


@bp.get("")
def index():
    components = list_components(session=db.session)
    return _render_index(schedule_form(components, formdata=False), components)


def _render_index(form, components, code: int = 200):
    open_ones, past = service.list_for_responders(session=db.session, now=utcnow())
    return render_template("maintenance/index.html", form=form, components=components, open_ones=open_ones,
                           past=past, status_of=service.status_of, status_labels=service.STATUS_LABELS), code


@bp.post("")
@role_required(Role.responder)
@idempotent
def schedule():
    components = list_components(session=db.session)
    form = schedule_form(components)

    def work():
        maintenance = service.schedule(session=db.session, actor=current_user, body=form.body.data or "",
                                       **_plan_values(form, components))
        remember(url_for("maintenance.detail", maintenance_id=maintenance.id))
        return maintenance

    if form.validate_on_submit() and (saved := save(work, form=form)).ok:
        flash(f"Maintenance \"{saved.result.title}\" is on the status page.", "success")
        return redirect(url_for("maintenance.detail", maintenance_id=saved.result.id))
    return _render_index(form, components, 422)


def _load(maintenance_id: int):
    maintenance = service.get(session=db.session, maintenance_id=maintenance_id)
    if maintenance is None:
        abort(404)
    return maintenance


@bp.get(f"/{MAINTENANCE_ID}")
def detail(maintenance_id: int):
    maintenance = _load(maintenance_id)
    components = list_components(session=db.session)
    return _render_detail(maintenance, components, plan=edit_form(components, maintenance),
                          update=update_form(maintenance, formdata=False))


def _render_detail(maintenance, components, *, plan, update, conflict=None, code: int = 200):
    return render_template("maintenance/detail.html", maintenance=maintenance, components=components,
                           plan=plan, update=update, conflict=conflict, steps=service.steps_of(maintenance),
                           auto_wording=lifecycle.AUTO_WORDING, status_labels=service.STATUS_LABELS,
                           status=service.status_of(maintenance)), code


@bp.post(f"/{MAINTENANCE_ID}/plan")
@role_required(Role.responder)
def edit(maintenance_id: int):
    maintenance = _load(maintenance_id)
    components = list_components(session=db.session)
    form = edit_form(components)
    saved = None
    if form.validate_on_submit():
        saved = save(lambda: service.edit(session=db.session, actor=current_user, maintenance=maintenance,
                                          version=form.version.data, **_plan_values(form, components)), form=form)
        if saved.ok:
            flash("Plan saved; the status page shows it.", "success")
            return redirect(url_for("maintenance.detail", maintenance_id=maintenance_id))
    maintenance = _load(maintenance_id)
    conflict = saved.conflict if saved is not None else None
    if conflict is not None:
        rebase(form.version, maintenance.version)
    return _render_detail(maintenance, components, plan=form, update=update_form(maintenance, formdata=False),
                          conflict=conflict, code=saved.code if saved is not None else 422)


@bp.post(f"/{MAINTENANCE_ID}/updates")
@role_required(Role.responder)
@idempotent
def post_update(maintenance_id: int):
    maintenance = _load(maintenance_id)
    form = update_form()
    target = url_for("maintenance.detail", maintenance_id=maintenance_id)

    def work():
        service.post_update(session=db.session, actor=current_user, maintenance=maintenance,
                            status=form.status.data, body=form.body.data or "")
        remember(target)

    if form.validate_on_submit() and save(work, form=form).ok:
        flash("Update posted to the status page.", "success")
        return redirect(target)
    components = list_components(session=db.session)
    maintenance = _load(maintenance_id)
    return _render_detail(maintenance, components, plan=edit_form(components, maintenance), update=form, code=422)


@bp.post(f"/{MAINTENANCE_ID}/cancel")
@role_required(Role.responder)
def cancel(maintenance_id: int):
    maintenance = _load(maintenance_id)
    saved = save(lambda: service.cancel(session=db.session, actor=current_user, maintenance=maintenance))
    if saved.ok:
        flash(f"Maintenance \"{maintenance.title}\" called off and taken off the status page.", "success")
    return redirect(url_for("maintenance.detail", maintenance_id=maintenance_id))
