"""The responder's side of the status page (publishing from the incident page) and the admins'
components page."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident, render_incident_page
from incidents.status import service
from incidents.status.forms import (
    ComponentForm,
    component_statuses,
    publish_form,
    update_form,
)
from incidents.versioning import save

bp = Blueprint("status_publish", __name__)
admin_bp = Blueprint("status_admin", __name__, url_prefix="/admin/components")


@bp.route("/incidents/<reference>/publish", methods=["POST"])
@role_required(Role.responder)
@idempotent
def publish(reference: str):
    incident = load_incident(reference)
    components = service.list_components(session=db.session)
    form = publish_form(components)
    target = url_for("incident.detail", reference=reference) + "#publish"

    def work():
        service.publish_incident(session=db.session, actor=current_user, incident=incident,
                                 public_title=form.public_title.data, impact=form.impact.data,
                                 status=form.public_status.data, body=form.public_body.data,
                                 components=component_statuses(form, components))
        remember(target)

    if form.validate_on_submit() and save(work, form=form).ok:
        flash("Published to the status page.", "success")
        return redirect(target)
    incident = load_incident(reference)
    forms = {"publish_form": form}
    if incident.published_at is not None:
        forms["update_form"] = _as_update(form, components)
    return render_incident_page(incident, forms=forms, code=422)


def _as_update(form, components):
    """The publish form refused because the incident is published by now (by someone else, or by
    an earlier sending of this form): the page shows the update form instead, so the typed status
    and text go there, with the reason."""
    update = update_form(components)  # same field names: the typed values carry over
    update.validate()  # a key used for other text is refused here too, and replaced
    update.public_body.errors = list(update.public_body.errors) + list(form.public_title.errors)
    return update


@bp.route("/incidents/<reference>/publish/update", methods=["POST"])
@role_required(Role.responder)
@idempotent
def update(reference: str):
    incident = load_incident(reference)
    components = service.list_components(session=db.session)
    form = update_form(components)
    target = url_for("incident.detail", reference=reference) + "#publish"

    def work():
        service.publish_update(session=db.session, actor=current_user, incident=incident,
                               status=form.public_status.data, body=form.public_body.data,
                               component_statuses=component_statuses(form, components),
                               reopen=bool(form.reopen.data))
        remember(target)

    if form.validate_on_submit() and save(work, form=form).ok:
        flash("Public update posted.", "success")
        return redirect(target)
    return render_incident_page(load_incident(reference), forms={"update_form": form}, code=422)


# --- admins: components ---------------------------------------------------------------------------

def _component_values(form) -> dict:
    return {"name": form.name.data, "description": form.description.data or None,
            "group_name": form.group_name.data or None, "position": form.position.data or 0,
            "status_override": form.status_override.data or None, "showcase": bool(form.showcase.data),
            "only_show_if_degraded": bool(form.only_show_if_degraded.data)}


@admin_bp.route("", methods=["GET", "POST"])
@role_required(Role.admin)
def index():
    form = ComponentForm()
    if form.validate_on_submit() and (saved := save(
            lambda: service.create_component(session=db.session, **_component_values(form)), form=form)).ok:
        flash(f"Component {saved.result.name} added.", "success")
        return redirect(url_for("status_admin.index"))
    return render_template("status/components.html", form=form,
                           components=service.list_components(session=db.session)), \
        422 if form.errors else 200


@admin_bp.route("/<int(max=2147483647):component_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def edit(component_id: int):
    component = service.get_component(session=db.session, component_id=component_id)
    if component is None:
        abort(404)
    form = ComponentForm(obj=component)
    if not form.is_submitted():
        form.status_override.data = component.status_override or ""
    if form.validate_on_submit() and save(
            lambda: service.update_component(session=db.session, component=component, **_component_values(form)),
            form=form).ok:
        flash(f"Component {component.name} saved.", "success")
        return redirect(url_for("status_admin.index"))
    return render_template("status/component_edit.html", form=form, component=component), \
        422 if form.errors else 200


@admin_bp.route("/<int(max=2147483647):component_id>/remove", methods=["POST"])
@role_required(Role.admin)
def remove(component_id: int):
    component = service.get_component(session=db.session, component_id=component_id)
    if component is None:
        abort(404)
    service.archive_component(session=db.session, component=component)
    db.session.commit()
    flash(f"Component {component.name} removed from the status page.", "success")
    return redirect(url_for("status_admin.index"))
