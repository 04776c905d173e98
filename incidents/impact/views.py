"""Recording impact updates, and the history of every update recorded."""
from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.forms import rebase
from incidents.idempotency import idempotent, remember
from incidents.impact import service
from incidents.impact.forms import CUSTOMER_FIELDS, ImpactForm, categories_for
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.page import load_incident
from incidents.obligations import service as obligations
from incidents.obligations.rules import rule_book
from incidents.versioning import save

bp = Blueprint("impact", __name__)


def _render(incident, form, latest, *, conflict=None, code=200):
    return render_template("impact/record.html", incident=incident, form=form, latest=latest,
                           conflict=conflict, labels=DATA_CATEGORIES), code


@bp.route("/incidents/<reference>/impact", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def record(reference: str):
    incident = load_incident(reference)
    latest = service.latest_update(session=db.session, incident=incident)
    form_class = ImpactForm.for_categories(categories_for(incident, latest))
    if request.method != "POST":  # GET, and HEAD which Flask routes here too
        form = form_class(formdata=None)
        form.fill_from(latest)
        return _render(incident, form, latest)

    form = form_class()
    if not form.validate_on_submit():
        return _render(incident, form, latest, code=422)
    target = url_for("incident.detail", reference=reference) + "#impact"

    def work():
        update = service.record_impact(
            session=db.session, actor=current_user, incident=incident, counts=form.counts(),
            categories=form.category_counts(), based_on_id=form.based_on.data,
            note=form.note.data or "", as_of=form.as_of.data)
        obligations.follow_incident_changes(session=db.session, actor=current_user, incident=incident,
                                            rules=rule_book())
        remember(target)
        return update

    saved = save(work, form=form)
    if not saved.ok:
        latest = service.latest_update(session=db.session, incident=incident)
        if saved.conflict:
            rebase(form.based_on, latest.id)
            saved.conflict.differences = [(form[name].label.text, f"{getattr(latest, name):,}",
                                           "—" if form[name].data is None else f"{form[name].data:,}")
                                          for name in CUSTOMER_FIELDS]
        return _render(incident, form, latest, conflict=saved.conflict, code=saved.code)
    update = saved.result
    pct = f", {update.restored_pct:.1f}% restored" if update.restored_pct is not None else ""
    flash(f"Impact recorded: {update.customers_affected:,} customers affected{pct}.", "success")
    return redirect(target)


@bp.route("/incidents/<reference>/impact/history")
def history(reference: str):
    incident = load_incident(reference)
    updates = service.history(session=db.session, incident=incident)
    return render_template("impact/history.html", incident=incident, updates=updates, labels=DATA_CATEGORIES)
