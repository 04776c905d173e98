"""The systems an incident names: naming one from the incident page (by name), picking several
from the catalogue, and taking one off. The panel itself is drawn with the incident page
(incident_forms.incident_panel)."""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.incident.page import load_incident, render_incident_page
from incidents.systems import links
from incidents.systems.blueprint import bp
from incidents.systems.incident_forms import NameSystemForm, PickSystemsForm
from incidents.versioning import save

LINKS = "/incidents/<reference>/systems"


@bp.route(LINKS, methods=["GET", "POST"])
@role_required(Role.responder)
def link(reference: str):
    """GET: the catalogue to pick from. POST: name the systems chosen there, or the one typed in the
    incident page's panel (the form that sends a `name`; a file sent as one is refused beside it)."""
    incident = load_incident(reference)
    if request.method == "POST" and "systems" not in request.form and ("name" in request.form
                                                                        or "name" in request.files):
        return _name_one(incident)
    form = PickSystemsForm() if request.method == "POST" else PickSystemsForm(formdata=None)
    form.systems.offer(links.catalogue_choices(session=db.session, incident=incident))
    if request.method != "POST":
        return _pick_page(incident, form)
    if not form.validate_on_submit():
        return _pick_page(incident, form, code=422)
    chosen = links.systems_by_ids(session=db.session, ids=form.systems.data)
    return _linked(incident, chosen, form)


def _pick_page(incident, form, code: int = 200):
    return render_template("systems/incident_link.html", incident=incident, form=form,
                           named=links.systems_of(session=db.session, incident=incident)), code


def _name_one(incident):
    form = NameSystemForm()
    if form.validate_on_submit():
        found = links.find_to_name(session=db.session, text=form.name.data, incident=incident)
        problem = _ambiguity(form.name.data.strip(), found)
        if problem is None:
            return _linked(incident, found, form)
        form.name.errors = [*form.name.errors, problem]
    return render_incident_page(incident, forms={"name_system_form": form}, code=422)


def _ambiguity(typed: str, found: list) -> str | None:
    """Why a typed name names no single system (None when it does)."""
    if not found:
        return (f"No system in the catalogue matches “{typed}” (besides those named already): check the name, "
                "or choose from the catalogue.")
    if len(found) == 1:
        return None
    names = ", ".join(f"“{s.name}”" for s in found[:links.MATCHES_SHOWN])
    more = " and more" if len(found) > links.MATCHES_SHOWN else ""
    return f"“{typed}” matches {names}{more}: type more of the name, or choose from the catalogue."


def _linked(incident, systems, form):
    """Link, commit, and go back to the incident page saying what happened."""
    saved = save(lambda: links.link_systems(session=db.session, actor=current_user, incident=incident,
                                            systems=systems), form=form)
    if saved.conflict:
        flash(str(saved.conflict), "error")
    elif saved.ok and saved.result:
        flash(f"Named as affected: {', '.join(link.system_name for link in saved.result)}. Their state when "
              "the incident was declared is kept on the incident.", "success")
    elif saved.ok:
        flash("Already named on this incident: nothing changed.", "info")
    return redirect(url_for("incident.detail", reference=incident.reference, _anchor="systems"))


@bp.route(LINKS + "/<int(max=2147483647):link_id>/remove", methods=["POST"])
@role_required(Role.responder)
def unlink(reference: str, link_id: int):
    incident = load_incident(reference)
    try:
        link = links.get_link(session=db.session, incident=incident, link_id=link_id)
    except NotFound:
        abort(404)
    name = link.system_name
    saved = save(lambda: links.unlink_system(session=db.session, actor=current_user, incident=incident, link=link))
    if saved.ok:
        flash(f"{name} is no longer named as affected.", "success")
    elif saved.conflict:
        flash(str(saved.conflict), "error")
    return redirect(url_for("incident.detail", reference=incident.reference, _anchor="systems"))
