"""The responder's side of the status page (publishing from the incident page) and the admins'
components page."""
from __future__ import annotations

from types import SimpleNamespace

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.idempotency import idempotent, remember
from incidents.incident.views import load_incident, render_detail
from incidents.status import service
from incidents.status.forms import (
    ComponentForm,
    PublicUpdateForm,
    PublishForm,
    component_statuses,
    with_component_fields,
)
from incidents.versioning import save

bp = Blueprint("status_publish", __name__)
admin_bp = Blueprint("status_admin", __name__, url_prefix="/admin/components")


def _publish_form(components, formdata=True):
    cls = with_component_fields(PublishForm, components, first=True)
    return cls() if formdata else cls(formdata=None)


def _update_form(incident, components, formdata=True):
    cls = with_component_fields(PublicUpdateForm, components, first=False)
    if formdata:
        return cls()
    latest = service.public_updates(session=db.session, incident=incident)
    return cls(formdata=None, status=latest[0].public_status if latest else "investigating")


@bp.app_context_processor
def _panel_helper():
    def publish_panel(incident):
        """What templates/status/_publish.html shows for this incident."""
        components = service.list_components(session=db.session)
        return SimpleNamespace(
            components=components,
            links=service.linked_components(session=db.session, incident=incident),
            updates=service.public_updates(session=db.session, incident=incident),
            publish_form=g.get("publish_form") or _publish_form(components, formdata=False),
            update_form=g.get("update_form") or _update_form(incident, components, formdata=False),
        )
    return {"publish_panel": publish_panel}


@bp.route("/incidents/<reference>/publish", methods=["POST"])
@role_required(Role.responder)
@idempotent
def publish(reference: str):
    incident = load_incident(reference)
    components = service.list_components(session=db.session)
    form = _publish_form(components)
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
    g.publish_form = form
    incident = load_incident(reference)
    if incident.published_at is not None:
        g.update_form = _as_update(form, incident, components)
    return render_detail(incident, code=422)


def _as_update(form, incident, components):
    """The publish form refused because the incident is published by now (by someone else, or by
    an earlier sending of this form): the page shows the update form instead, so the typed status
    and text go there, with the reason."""
    update = _update_form(incident, components)  # same field names: the typed values carry over
    update.validate()  # a key used for other text is refused here too, and replaced
    update.public_body.errors = list(update.public_body.errors) + list(form.public_title.errors)
    return update


@bp.route("/incidents/<reference>/publish/update", methods=["POST"])
@role_required(Role.responder)
@idempotent
def update(reference: str):
    incident = load_incident(reference)
    components = service.list_components(session=db.session)
    form = _update_form(incident, components)
    target = url_for("incident.detail", reference=reference) + "#publish"

    def work():
        service.publish_update(session=db.session, actor=current_user, incident=incident,
                               status=form.public_status.data, body=form.public_body.data,
                               component_statuses=component_statuses(form, components))
        remember(target)

    if form.validate_on_submit() and save(work, form=form).ok:
        flash("Public update posted.", "success")
        return redirect(target)
    g.update_form = form
    return render_detail(load_incident(reference), code=422)


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
