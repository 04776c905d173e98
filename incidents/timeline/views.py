"""Posting to the timeline and correcting entries."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import options, rebase
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident, render_incident_page
from incidents.timeline import service
from incidents.timeline.forms import CorrectionForm, EntryForm
from incidents.timeline.models import POSTABLE_KINDS, EntryKind, Visibility
from incidents.versioning import save

bp = Blueprint("timeline", __name__)


@bp.route("/incidents/<reference>/timeline", methods=["POST"])
@role_required(Role.responder)
@idempotent
def post(reference: str):
    incident = load_incident(reference)
    form = EntryForm()
    if not form.validate_on_submit():
        return render_incident_page(incident, forms={"entry_form": form}, code=422)
    target = url_for("incident.detail", reference=reference) + "#timeline"

    def work():
        service.add_entry(session=db.session, incident=incident, author=current_user,
                          kind=EntryKind(form.kind.data), body=form.text,
                          visibility=Visibility(form.visibility.data), occurred_at=form.occurred_at.data)
        remember(target)

    if not save(work, form=form).ok:
        return render_incident_page(load_incident(reference), forms={"entry_form": form}, code=422)
    flash("Update posted.", "success")
    return redirect(target)


# Ids beyond the 32-bit integer columns cannot exist: 404 at routing, before SQLite overflows.
@bp.route("/incidents/<reference>/timeline/<int(max=2147483647):entry_id>/correct", methods=["GET", "POST"])
@role_required(Role.responder)
def correct(reference: str, entry_id: int):
    incident = load_incident(reference)
    try:
        entry = service.get_entry(session=db.session, incident=incident, entry_id=entry_id)
    except NotFound:
        abort(404)
    latest = service.latest_revision(session=db.session, entry=entry)
    submitted = request.method == "POST"
    form = CorrectionForm(obj=None if submitted else latest)
    if latest.kind is EntryKind.status_change:
        form.kind.choices = options([(EntryKind.status_change.value, EntryKind.status_change.label)])
    else:
        form.kind.choices = options((k.value, k.label) for k in POSTABLE_KINDS)
    if not submitted:
        form.kind.data, form.visibility.data = latest.kind.value, latest.visibility.value
        form.reason.data = ""
    if form.validate_on_submit():
        saved = save(lambda: service.correct_entry(
            session=db.session, author=current_user, entry=latest, expected_revision=form.revision.data,
            body=form.body.data, reason=form.reason.data, kind=EntryKind(form.kind.data),
            visibility=Visibility(form.visibility.data), occurred_at=form.occurred_at.data), form=form)
        if saved.conflict:  # the latest text is shown above the form, the editor's kept in it
            flash(str(saved.conflict), "error")
            latest = service.latest_revision(session=db.session, entry=entry)
            rebase(form.revision, latest.revision)
        if not saved.ok:
            return render_template("timeline/correct.html", incident=incident, entry=latest, form=form), saved.code
        flash("Correction recorded; the original is kept in the entry's history.", "success")
        return redirect(url_for("incident.detail", reference=reference) + f"#entry-{latest.root_id}")
    code = 422 if form.errors else 200
    return render_template("timeline/correct.html", incident=incident, entry=latest, form=form), code


def _pin_target(reference: str, entry_id: int):
    incident = load_incident(reference)
    try:
        return incident, service.get_entry(session=db.session, incident=incident, entry_id=entry_id)
    except NotFound:
        abort(404)


@bp.route("/incidents/<reference>/timeline/<int(max=2147483647):entry_id>/pin", methods=["POST"])
@role_required(Role.responder)
def pin(reference: str, entry_id: int):
    incident, entry = _pin_target(reference, entry_id)
    if service.pin_entry(session=db.session, incident=incident, entry=entry, by=current_user):
        db.session.commit()
        flash("Pinned to the key entries.", "success")
    else:
        flash("That entry is already a key entry.", "info")
    return redirect(_back_to_timeline(reference, entry.root_id))


@bp.route("/incidents/<reference>/timeline/<int(max=2147483647):entry_id>/unpin", methods=["POST"])
@role_required(Role.responder)
def unpin(reference: str, entry_id: int):
    incident, entry = _pin_target(reference, entry_id)
    if service.unpin_entry(session=db.session, incident=incident, entry=entry, by=current_user):
        db.session.commit()
        flash("Removed from the key entries; the entry itself is unchanged.", "success")
    else:
        flash("That entry was not a key entry.", "info")
    return redirect(_back_to_timeline(reference, entry.root_id))


def _back_to_timeline(reference: str, root_id: int) -> str:
    """The incident page at the entry, keeping the timeline's filters and page."""
    kept = {key: request.args.getlist(key) for key in ("kind", "visibility", "before") if key in request.args}
    return url_for("incident.detail", reference=reference, **kept) + f"#entry-{root_id}"
