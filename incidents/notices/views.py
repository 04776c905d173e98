"""Notice pages: draft, edit (a new version each time), approve, release; preview, text and PDF."""
from __future__ import annotations

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import rebase
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident
from incidents.notices import service
from incidents.notices.document import document_for, notice_html, notice_pdf, notice_text
from incidents.notices.forms import ApproveForm, ChecklistForm, EditNoticeForm, NewNoticeForm, ReleaseForm
from incidents.notices.models import Audience, Channel
from incidents.obligations import service as obligations
from incidents.obligations.rules import rule_book
from incidents.reports.capacity import render_slot
from incidents.reports.render import RenderError
from incidents.reports.responses import pdf_response, render_failed
from incidents.versioning import save

bp = Blueprint("notices", __name__)

NOTICE = "/incidents/<reference>/notices/<int(max=2147483647):notice_id>"
VERSION = NOTICE + "/v<int(max=2147483647):number>"


def _load(reference: str, notice_id: int):
    incident = load_incident(reference)
    try:
        return incident, service.get_notice(session=db.session, incident=incident, notice_id=notice_id)
    except NotFound:
        abort(404)


def _version(notice, number: int):
    try:
        return service.get_version(notice=notice, number=number)
    except NotFound:
        abort(404)


@bp.route("/incidents/<reference>/notices/new", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def new(reference: str):
    incident = load_incident(reference)
    if request.method != "POST":
        audience = Audience(request.args.get("audience")) if request.args.get("audience") in \
            Audience._value2member_map_ else Audience.customers
        subject, body = service.draft_for(session=db.session, incident=incident, audience=audience)
        form = NewNoticeForm(formdata=None, audience=audience.value, subject=subject, body=body)
        return render_template("notices/edit.html", incident=incident, form=form, notice=None)
    form = NewNoticeForm()
    if form.validate_on_submit():
        def work():
            notice = service.create_notice(session=db.session, actor=current_user, incident=incident,
                                           audience=Audience(form.audience.data), subject=form.subject.data,
                                           body=form.body.data)
            remember(url_for("notices.detail", reference=reference, notice_id=notice.id))
            return notice

        if (saved := save(work, form=form)).ok:
            flash(f"Notice to {saved.result.audience.label.lower()} drafted (version 1). It needs approval "
                  "before it is released.", "success")
            return redirect(url_for("notices.detail", reference=reference, notice_id=saved.result.id))
    return render_template("notices/edit.html", incident=incident, form=form, notice=None), 422


@bp.route(NOTICE)
def detail(reference: str, notice_id: int):
    incident, notice = _load(reference, notice_id)
    return _render_detail(incident, notice)


def _render_detail(incident, notice, *, release_form=None, checklist_form=None, code: int = 200):
    latest = notice.latest
    approved = notice.approved
    may_approve = service.may_approve(current_user, incident)
    groups = _checklist(incident, notice)
    checklist_form = checklist_form or _with_items(ChecklistForm(formdata=None, covered=notice.covered_items), groups)
    covered = set(notice.covered_items or [])
    return render_template(
        "notices/detail.html", incident=incident, notice=notice, latest=latest, approved=approved,
        may_approve=may_approve, checklist_form=checklist_form,
        missing=[text for group in groups for key, text in group.items if key not in covered],
        approval_refusal=may_approve and service.approval_refusal(user=current_user, version=latest),
        approve_form=ApproveForm(formdata=None, version=latest.number),
        release_form=release_form or _with_obligations(
            ReleaseForm(formdata=None, version=approved.number if approved else 1), incident, notice),
        channels=list(Channel)), code


@bp.route(NOTICE + "/edit", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def edit(reference: str, notice_id: int):
    incident, notice = _load(reference, notice_id)
    latest = notice.latest
    if request.method != "POST":
        form = EditNoticeForm(formdata=None, version=latest.number, subject=latest.subject, body=latest.body)
        return render_template("notices/edit.html", incident=incident, form=form, notice=notice)
    form = EditNoticeForm()
    if not form.validate_on_submit():
        return render_template("notices/edit.html", incident=incident, form=form, notice=notice), 422

    def work():
        version = service.save_version(session=db.session, actor=current_user, incident=incident, notice=notice,
                                       based_on=form.version.data, subject=form.subject.data, body=form.body.data)
        remember(url_for("notices.detail", reference=reference, notice_id=notice_id))
        return version

    if (saved := save(work, form=form)).ok:
        flash(f"Version {saved.result.number} saved. It needs approval before it is released.", "success")
        return redirect(url_for("notices.detail", reference=reference, notice_id=notice_id))
    if saved.conflict:
        incident, notice = _load(reference, notice_id)
        rebase(form.version, notice.latest.number)
    return render_template("notices/edit.html", incident=incident, form=form, notice=notice,
                           conflict=saved.conflict), saved.code


@bp.route(NOTICE + "/approve", methods=["POST"])
@role_required(Role.responder)
def approve(reference: str, notice_id: int):
    incident, notice = _load(reference, notice_id)
    form = ApproveForm()
    if not form.validate_on_submit():
        flash("The approval form was incomplete; nothing was approved. Reload the page and try again.", "error")
        return _render_detail(incident, notice, code=422)
    if not service.may_approve(current_user, incident):
        abort(403, "Only the incident's communications lead or incident commander can approve notices.")
    try:
        saved = save(lambda: service.approve(session=db.session, actor=current_user, incident=incident,
                                             notice=notice, number=form.version.data))
    except NotFound:
        db.session.rollback()
        flash("That version does not exist; nothing was approved.", "error")
        return _render_detail(incident, notice, code=422)
    except service.ApprovalRefused as error:
        db.session.rollback()
        abort(403, str(error))
    if not saved.ok:  # a refusal is flashed by save(); a conflict is said here
        if saved.conflict:
            flash(str(saved.conflict), "error")
        incident, notice = _load(reference, notice_id)
        return _render_detail(incident, notice, code=409)
    version = saved.result
    flash(f"Version {version.number} approved: it may now be released.", "success")
    return redirect(url_for("notices.detail", reference=reference, notice_id=notice_id))


@bp.route(NOTICE + "/release", methods=["POST"])
@role_required(Role.responder)
def release(reference: str, notice_id: int):
    incident, notice = _load(reference, notice_id)
    form = _with_obligations(ReleaseForm(), incident, notice)
    if form.validate_on_submit():
        def work():
            record = service.release(session=db.session, actor=current_user, incident=incident, notice=notice,
                                     number=form.version.data, channel=Channel(form.channel.data))
            obligations.file_by_release(session=db.session, actor=current_user, incident=incident,
                                        rules=rule_book(), audience=notice.audience.value,
                                        obligation_ids=form.file_obligations.data or [],
                                        notice_version_id=record.version_id, released_at=record.released_at,
                                        reason=form.reason.data or "")
            return record

        try:
            saved = save(work, form=form)
        except NotFound:
            db.session.rollback()
            form.version.errors = ["That version does not exist; reload the page."]
        else:
            if saved.ok:
                flash(f"Recorded: version {form.version.data} released to {saved.result.audience.label.lower()} "
                      f"by {saved.result.channel.label.lower()}.", "success")
                return redirect(url_for("notices.detail", reference=reference, notice_id=notice_id))
    incident, notice = _load(reference, notice_id)
    return _render_detail(incident, notice, release_form=form, code=422)


def _with_obligations(form: ReleaseForm, incident, notice) -> ReleaseForm:
    """Offer the pending notification obligations a notice to this audience meets."""
    form.file_obligations.choices = [
        (o.id, f"{rule.title} ({rule.regime.name}), due {o.due_at:%Y-%m-%d %H:%M} UTC" if o.due_at
         else f"{rule.title} ({rule.regime.name})")
        for o, rule in obligations.fileable_by_release(session=db.session, incident=incident, rules=rule_book(),
                                                       audience=notice.audience.value)]
    return form


def _checklist(incident, notice) -> list:
    return obligations.notice_checklist(session=db.session, incident=incident, rules=rule_book(),
                                        audience=notice.audience.value)


def _with_items(form: ChecklistForm, groups) -> ChecklistForm:
    form.covered.choices = [(key, f"{text} ({group.title}, {group.regime})") for group in groups
                            for key, text in group.items]
    return form


@bp.route(NOTICE + "/checklist", methods=["POST"])
@role_required(Role.responder)
def checklist(reference: str, notice_id: int):
    incident, notice = _load(reference, notice_id)
    form = _with_items(ChecklistForm(), _checklist(incident, notice))
    if not form.validate_on_submit():
        return _render_detail(incident, notice, checklist_form=form, code=422)
    saved = save(lambda: service.set_covered_items(session=db.session, actor=current_user, incident=incident,
                                                   notice=notice, covered=form.covered.data or []), form=form)
    if not saved.ok:
        incident, notice = _load(reference, notice_id)
        return _render_detail(incident, notice, checklist_form=form, code=saved.code)
    flash("Checklist saved.", "success")
    return redirect(url_for("notices.detail", reference=reference, notice_id=notice_id) + "#checklist")


def _links(reference: str, notice_id: int, number: int) -> dict:
    return {"back_url": url_for("notices.detail", reference=reference, notice_id=notice_id),
            "text_url": url_for("notices.text", reference=reference, notice_id=notice_id, number=number),
            "pdf_url": url_for("notices.pdf", reference=reference, notice_id=notice_id, number=number)}


@bp.route(VERSION)
def preview(reference: str, notice_id: int, number: int):
    _incident, notice = _load(reference, notice_id)
    doc = document_for(notice, _version(notice, number))
    return notice_html(doc, links=_links(reference, notice_id, number))


@bp.route(VERSION + ".txt")
def text(reference: str, notice_id: int, number: int):
    _incident, notice = _load(reference, notice_id)
    doc = document_for(notice, _version(notice, number))
    return Response(notice_text(doc), mimetype="text/plain")


@bp.route(VERSION + ".pdf")
def pdf(reference: str, notice_id: int, number: int):
    _incident, notice = _load(reference, notice_id)
    doc = document_for(notice, _version(notice, number))
    try:
        with render_slot():
            result = notice_pdf(doc)
    except RenderError as error:
        return render_failed(error)
    state = doc.state.lower()
    return pdf_response(result.pdf, f"notice-{notice.audience.value}-v{number}-{state}.pdf")
