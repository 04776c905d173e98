"""Postmortem pages: the document, writing it (with a live preview), review, versions, what is due."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from incidents.actions.service import action_items_for, today
from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.errors import EditConflict, FieldError, NotFound
from incidents.extensions import db
from incidents.forms import has_control_chars, rebase, show_error
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident
from incidents.markdown import render_markdown
from incidents.paging import PAGE_SIZE, Cursor, split_page
from incidents.postmortem import service
from incidents.postmortem.document import build_document, diff_versions
from incidents.postmortem.due import postmortems_due
from incidents.postmortem.forms import PostmortemForm, RemoveReviewerForm, ReviewerForm, ReviewForm, WorkflowForm
from incidents.postmortem.sections import HEADINGS, MAX_SECTION_LENGTH, SECTIONS
from incidents.versioning import save

bp = Blueprint("postmortem", __name__)

BASE = "/incidents/<reference>/postmortem"


def _business_days() -> int:
    return current_app.config["POSTMORTEM_DUE_BUSINESS_DAYS"]


def _load(reference: str):
    incident = load_incident(reference)
    return incident, service.postmortem_for(session=db.session, incident=incident)


def _require_postmortem(postmortem):
    if postmortem is None:
        abort(404, "Nobody has started this postmortem yet.")
    return postmortem


def _render(incident, postmortem, *, reviewer_form=None, review_form=None, workflow_form=None,
            code: int = 200):
    document = build_document(session=db.session, incident=incident, postmortem=postmortem,
                              business_days=_business_days(),
                              include_full_timeline=request.args.get("timeline") == "all" or None)
    version = postmortem.version if postmortem else 1
    return render_template(
        "postmortem/view.html", incident=incident, postmortem=postmortem, doc=document, sections=SECTIONS,
        action_items=action_items_for(session=db.session, incident=incident), today=today(),
        approvals=service.approvals_for(session=db.session, postmortem=postmortem) if postmortem else [],
        reviewer_form=reviewer_form or ReviewerForm(formdata=None),
        review_form=review_form or ReviewForm(formdata=None, version=version),
        workflow_form=workflow_form or WorkflowForm(formdata=None, version=version),
        remove_form=RemoveReviewerForm(formdata=None),
        is_reviewer=bool(postmortem and service.is_reviewer(postmortem, current_user)),
    ), code


@bp.route(BASE)
def view(reference: str):
    incident, postmortem = _load(reference)
    return _render(incident, postmortem)


def _edit_page(incident, postmortem, form, *, conflict=None, previews=None, code=200):
    return render_template("postmortem/edit.html", incident=incident, postmortem=postmortem, form=form,
                           conflict=conflict, previews=previews or {}, headings=HEADINGS), code


@bp.route(BASE + "/edit", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def edit(reference: str):
    incident, postmortem = _load(reference)
    if request.method != "POST":
        form = PostmortemForm(formdata=None, version=postmortem.version if postmortem else 0,
                              include_full_timeline=bool(postmortem and postmortem.include_full_timeline),
                              **({key: postmortem.text(key) for key, _h, _t in SECTIONS} if postmortem else {}))
        return _edit_page(incident, postmortem, form)
    form = PostmortemForm()
    if not form.validate_on_submit():
        return _edit_page(incident, postmortem, form, code=422)
    if "preview" in request.form:  # the page without JavaScript: show the sections rendered, save nothing
        previews = {key: render_markdown(text) for key, text in form.sections().items()}
        return _edit_page(incident, postmortem, form, previews=previews)
    before = postmortem.status if postmortem else None

    def work():
        nonlocal postmortem
        if postmortem is None:
            if form.version.data != 0:
                raise StaleDataError()
            postmortem = service.start_postmortem(session=db.session, actor=current_user, incident=incident)
            expected = postmortem.version
        elif form.version.data == 0:
            raise EditConflict("Someone started this postmortem while you were writing. Nothing of yours "
                               "was saved: compare the text, then save again.")
        else:
            expected = form.version.data
        version = service.save_sections(session=db.session, actor=current_user, incident=incident,
                                        postmortem=postmortem, expected_version=expected,
                                        sections=form.sections(),
                                        include_full_timeline=bool(form.include_full_timeline.data))
        remember(url_for("postmortem.view", reference=reference))
        return version

    if not (attempt := save(work, form=form)).ok:
        incident, postmortem = _load(reference)
        if attempt.conflict:
            rebase(form.version, postmortem.version if postmortem else 0)
            mine = form.sections()
            attempt.conflict.differences = [
                (heading, postmortem.text(key) if postmortem else "", mine.get(key, "").strip())
                for key, heading, _hint in SECTIONS
                if (postmortem.text(key) if postmortem else "") != mine.get(key, "").strip()]
        return _edit_page(incident, postmortem, form, conflict=attempt.conflict, code=attempt.code)
    saved = attempt.result
    if saved is None:
        flash("Saved: the text had not changed.", "info")
    elif before is not None and before is not postmortem.status:
        flash(f"Saved as version {saved.number}. The text had been {before.label.lower()}, so it is back "
              "in review: a reviewer needs to approve it again.", "success")
    else:
        flash(f"Saved as version {saved.number}.", "success")
    return redirect(url_for("postmortem.view", reference=reference))


@bp.route(BASE + "/preview", methods=["POST"])
@role_required(Role.responder)
def preview(reference: str):
    """The live preview: Markdown in, sanitised HTML out (the same rendering as the document)."""
    load_incident(reference)
    text = request.form.get("text", "")
    if not isinstance(text, str) or len(text) > MAX_SECTION_LENGTH:
        return jsonify(error=f"Preview up to {MAX_SECTION_LENGTH:,} characters."), 400
    if has_control_chars(text):
        return jsonify(error="Remove the invisible control characters."), 400
    return jsonify(html=str(render_markdown(text)))


@bp.route(BASE + "/reviewers", methods=["POST"])
@role_required(Role.responder)
def add_reviewer(reference: str):
    incident, postmortem = _load(reference)
    postmortem = _require_postmortem(postmortem)
    form = ReviewerForm()
    if form.validate_on_submit():
        try:
            service.check_editable(incident)
            reviewer = service.add_reviewer(session=db.session, actor=current_user, postmortem=postmortem,
                                            email=form.email.data)
            db.session.commit()
        except FieldError as error:
            db.session.rollback()
            show_error(form, error)
        else:
            flash(f"{reviewer.user.display} is now a reviewer.", "success")
            return redirect(url_for("postmortem.view", reference=reference) + "#review")
    incident, postmortem = _load(reference)
    return _render(incident, postmortem, reviewer_form=form, code=422)


@bp.route(BASE + "/reviewers/<int(max=2147483647):reviewer_id>/remove", methods=["POST"])
@role_required(Role.responder)
def remove_reviewer(reference: str, reviewer_id: int):
    incident, postmortem = _load(reference)
    postmortem = _require_postmortem(postmortem)
    if not RemoveReviewerForm().validate_on_submit():
        abort(400)
    try:
        service.check_editable(incident)
        service.remove_reviewer(session=db.session, postmortem=postmortem, reviewer_id=reviewer_id)
        db.session.commit()
    except NotFound:
        abort(404)
    except FieldError as error:
        flash(str(error), "error")
        return redirect(url_for("postmortem.view", reference=reference))
    flash("Reviewer removed.", "success")
    return redirect(url_for("postmortem.view", reference=reference) + "#review")


def _workflow(reference: str, step, done_message: str, form_class=WorkflowForm, **extra):
    incident, postmortem = _load(reference)
    postmortem = _require_postmortem(postmortem)
    form = form_class()
    if not form.validate_on_submit():
        kind = "review_form" if form_class is ReviewForm else "workflow_form"
        return _render(incident, postmortem, **{kind: form}, code=422)
    saved = save(lambda: step(session=db.session, actor=current_user, incident=incident, postmortem=postmortem,
                              expected_version=form.version.data, **{k: v(form) for k, v in extra.items()}),
                 form=form if form_class is ReviewForm else None)
    if saved.refused and form.errors:  # a review comment refused beside its field
        incident, postmortem = _load(reference)
        return _render(incident, postmortem, review_form=form, code=422)
    if not saved.ok:
        if saved.conflict:
            flash(str(saved.conflict), "error")
        return redirect(url_for("postmortem.view", reference=reference))
    flash(done_message, "success")
    return redirect(url_for("postmortem.view", reference=reference))


@bp.route(BASE + "/submit", methods=["POST"])
@role_required(Role.responder)
def submit(reference: str):
    return _workflow(reference, service.submit_for_review, "Sent to review.")


@bp.route(BASE + "/review", methods=["POST"])
@role_required(Role.responder)
def review(reference: str):
    decision = request.form.get("decision")
    if decision == "changes":
        return _workflow(reference, service.request_changes, "Changes requested; the postmortem is a draft "
                         "again.", ReviewForm, comment=lambda f: f.comment.data or "")
    return _workflow(reference, service.approve, "Approved. It can now be published.", ReviewForm,
                     comment=lambda f: f.comment.data or "")


@bp.route(BASE + "/publish", methods=["POST"])
@role_required(Role.responder)
def publish(reference: str):
    return _workflow(reference, service.publish, "Published. The incident can now be closed.")


@bp.route(BASE + "/versions")
def versions(reference: str):
    incident, postmortem = _load(reference)
    postmortem = _require_postmortem(postmortem)
    return render_template("postmortem/versions.html", incident=incident, postmortem=postmortem,
                           versions=service.versions_for(session=db.session, postmortem=postmortem))


@bp.route(BASE + "/versions/<int(max=2147483647):number>")
def version(reference: str, number: int):
    """One version compared with the one before it, section by section."""
    incident, postmortem = _load(reference)
    postmortem = _require_postmortem(postmortem)
    try:
        newer = service.get_version(session=db.session, postmortem=postmortem, number=number)
    except NotFound:
        abort(404)
    older = None
    if number > 1:
        older = service.get_version(session=db.session, postmortem=postmortem, number=number - 1)
    return render_template("postmortem/version.html", incident=incident, postmortem=postmortem,
                           newer=newer, older=older, diffs=diff_versions(older, newer))


@bp.route("/postmortems/due")
def due():
    """Resolved incidents whose postmortem is not yet published, soonest due first, a page at a time."""
    after = Cursor.decode(request.args.get("after"))
    items, later = split_page(postmortems_due(session=db.session, business_days=_business_days(),
                                              limit=PAGE_SIZE + 1, after=after),
                              lambda item: Cursor(item.incident.resolved_at, item.incident.id))
    return render_template("postmortem/due.html", items=items, later=later, paged=after is not None,
                           business_days=_business_days())
