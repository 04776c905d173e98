"""Obligation pages: an incident's obligations, and the Deadlines view across incidents."""
from __future__ import annotations

import io

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.datastructures import FileStorage

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import rebase
from incidents.incident.page import load_incident
from incidents.notices.models import Notice, NoticeVersion
from incidents.obligations import contracts, service
from incidents.obligations.forms import (
    AnchorForm,
    ContractRuleForm,
    EditContractRuleForm,
    FileForm,
    NotRequiredForm,
    RegimesForm,
)
from incidents.obligations.rules import ANCHOR_LABELS, RECIPIENTS, RECORDED_ANCHORS, rule_book
from incidents.paging import PAGE_SIZE, Cursor, split_page
from incidents.versioning import Saved, save

bp = Blueprint("obligations", __name__)

PAGE = "/incidents/<reference>/obligations"
ONE = PAGE + "/<int(max=2147483647):obligation_id>"


def _version_choices(incident) -> list[tuple[int, str]]:
    rows = db.session.execute(select(NoticeVersion.id, NoticeVersion.number, Notice.audience)
                              .join(Notice, NoticeVersion.notice_id == Notice.id)
                              .where(Notice.incident_id == incident.id).order_by(NoticeVersion.id))
    return [(0, "— none —")] + [(vid, f"{audience.label} notice, version {number}") for vid, number, audience in rows]


def _forms(incident, *, regimes=None, anchor=None):
    rules = rule_book()
    chosen = service.chosen_regimes(session=db.session, incident=incident)
    if regimes is None:
        regimes = RegimesForm(formdata=None, regimes=list(chosen))
    regimes.regimes.choices = [(rid, r.name) for rid, r in sorted(rules.regimes.items(), key=lambda i: i[1].name)]
    obligations = service.obligations_of(session=db.session, incident=incident)
    return dict(rules=rules, chosen=chosen, obligations=obligations, regimes_form=regimes,
                anchor_form=anchor or AnchorForm(formdata=None),
                anchors=service.recorded_anchors(session=db.session, incident=incident),
                suggested=service.suggested_regimes(incident=incident, rules=rules),
                now=utcnow(), anchor_labels=RECORDED_ANCHORS)


def _page(incident, code: int = 200, **forms):
    return render_template("obligations/incident.html", incident=incident, **_forms(incident, **forms)), code


def _save(work, form) -> Saved:
    """Commit `work`, or show why not: a refusal beside its field, a crossing save above the form."""
    saved = save(work, form=form)
    if saved.conflict is not None:
        flash(str(saved.conflict), "error")
    return saved


def _report(changes: list[str], fallback: str) -> None:
    flash(" ".join(c.replace("**", "") for c in changes[:6]) or fallback, "success")


@bp.route(PAGE)
def incident_obligations(reference: str):
    return _page(load_incident(reference))


@bp.route(PAGE + "/regimes", methods=["POST"])
@role_required(Role.responder)
def regimes(reference: str):
    incident = load_incident(reference)
    form = RegimesForm()
    form.regimes.choices = [(rid, r.name) for rid, r in rule_book().regimes.items()]
    if not form.validate_on_submit():
        return _page(incident, 422, regimes=form)
    saved = _save(lambda: service.choose_regimes(session=db.session, actor=current_user, incident=incident,
                                                 rules=rule_book(), regimes=form.regimes.data or []), form)
    if not saved.ok:
        return _page(load_incident(reference), saved.code, regimes=form)
    _report(saved.result, "No change: those regimes were already chosen.")
    return redirect(url_for("obligations.incident_obligations", reference=reference))


@bp.route(PAGE + "/anchors", methods=["POST"])
@role_required(Role.responder)
def anchor(reference: str):
    incident = load_incident(reference)
    form = AnchorForm()
    if not form.validate_on_submit():
        return _page(incident, 422, anchor=form)
    saved = _save(lambda: service.set_anchor(session=db.session, actor=current_user, incident=incident,
                                             rules=rule_book(), kind=form.kind.data, at=form.at.data), form)
    if not saved.ok:
        return _page(load_incident(reference), saved.code, anchor=form)
    _report(saved.result, "Moment recorded; no deadline moved.")
    return redirect(url_for("obligations.incident_obligations", reference=reference))


@bp.route(PAGE + "/recompute", methods=["POST"])
@role_required(Role.responder)
def recompute(reference: str):
    incident = load_incident(reference)
    changes = service.recheck(session=db.session, actor=current_user, incident=incident, rules=rule_book())
    db.session.commit()
    _report(changes, "Everything was up to date.")
    return redirect(url_for("obligations.incident_obligations", reference=reference))


def _load(incident, obligation_id: int):
    try:
        return service.get_obligation(session=db.session, incident=incident, obligation_id=obligation_id)
    except NotFound:
        abort(404)


def _exemptions(rule) -> list[tuple[str, str]]:
    return [("", "— none of these —")] + [(e, e) for e in (rule.exemptions if rule else [])]


def _one(incident, obligation, *, file_form=None, not_required_form=None, code: int = 200):
    rule = rule_book().rules.get(obligation.rule_id)
    file_form = file_form or FileForm(formdata=None)
    file_form.notice_version.choices = _version_choices(incident)
    not_required_form = not_required_form or NotRequiredForm(formdata=None)
    not_required_form.exemption.choices = _exemptions(rule)
    return render_template("obligations/obligation.html", incident=incident, o=obligation, rule=rule,
                           file_form=file_form, not_required_form=not_required_form, now=utcnow()), code


@bp.route(ONE)
def obligation(reference: str, obligation_id: int):
    incident = load_incident(reference)
    return _one(incident, _load(incident, obligation_id))


@bp.route(ONE + "/file", methods=["POST"])
@role_required(Role.responder)
def file(reference: str, obligation_id: int):
    incident = load_incident(reference)
    obligation = _load(incident, obligation_id)
    form = FileForm()
    form.notice_version.choices = _version_choices(incident)
    if not form.validate_on_submit():
        return _one(incident, obligation, file_form=form, code=422)
    filing = service.Filing(filed_at=form.filed_at.data, reference=form.reference.data or "",
                            notice_version_id=form.notice_version.data or None, reason=form.reason.data or "",
                            attachment=_uploaded(request.files.get("attachment")))
    saved = _save(lambda: service.file_obligation(session=db.session, actor=current_user, incident=incident,
                                                  rules=rule_book(), obligation=obligation, filing=filing), form)
    if not saved.ok:
        incident = load_incident(reference)
        return _one(incident, _load(incident, obligation_id), file_form=form, code=saved.code)
    flash(f"Filed ({obligation.status.label.lower()}).", "success")
    return redirect(url_for("obligations.obligation", reference=reference, obligation_id=obligation_id))


@bp.route(ONE + "/not-required", methods=["POST"])
@role_required(Role.responder)
def not_required(reference: str, obligation_id: int):
    incident = load_incident(reference)
    obligation = _load(incident, obligation_id)
    form = NotRequiredForm()
    form.exemption.choices = _exemptions(rule_book().rules.get(obligation.rule_id))
    if not form.validate_on_submit():
        return _one(incident, obligation, not_required_form=form, code=422)
    saved = _save(lambda: service.mark_not_required(
        session=db.session, actor=current_user, incident=incident, rules=rule_book(), obligation=obligation,
        reason=form.explanation.data or "", exemption=form.exemption.data or ""), form)
    if not saved.ok:
        incident = load_incident(reference)
        return _one(incident, _load(incident, obligation_id), not_required_form=form, code=saved.code)
    flash("Marked not required.", "success")
    return redirect(url_for("obligations.obligation", reference=reference, obligation_id=obligation_id))


def _uploaded(upload) -> service.Attachment | None:
    """The file sent with the form, read up to one byte past the limit (the service refuses it).
    Read from the request, not the form: our forms take text fields only (BaseForm)."""
    if not isinstance(upload, FileStorage) or not upload.filename:
        return None
    try:
        return service.Attachment(name=upload.filename, data=upload.stream.read(service.attachment_max() + 1))
    finally:
        upload.close()  # a big upload is spooled to a temporary file: close it now


@bp.route(ONE + "/attachment")
def attachment(reference: str, obligation_id: int):
    incident = load_incident(reference)
    try:
        name, data = service.attachment_of(session=db.session, incident=incident, obligation_id=obligation_id)
    except NotFound:
        abort(404)
    # Always a download, never shown inline: the file is whatever someone uploaded.
    return send_file(io.BytesIO(data), mimetype="application/octet-stream", as_attachment=True,
                     download_name=name, max_age=0)


@bp.route("/deadlines")
def deadlines():
    raw = request.args.get("after")
    after = service.Undated.decode(raw) or Cursor.decode(raw)
    rows, later = split_page(service.open_deadlines(session=db.session, limit=PAGE_SIZE + 1, after=after),
                             service.deadline_cursor, PAGE_SIZE)
    return render_template("obligations/deadlines.html", rows=rows, rules=rule_book(), now=utcnow(), later=later,
                           paged=after is not None)


@bp.app_template_filter("in_zone")
def in_zone(value, zone) -> str:
    """A UTC time as the recipient reads it: local date and time with the zone's abbreviation."""
    if value is None:
        return "—"
    local = value.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()} ({zone.key})"


@bp.app_template_filter("countdown")
def countdown(value, now) -> str:
    """How long until (or since) a due time, in days and hours."""
    seconds = int((value - now).total_seconds())
    hours, minutes = divmod(abs(seconds) // 60, 60)
    days, hours = divmod(hours, 24)
    words = (f"{days} d " if days else "") + f"{hours} h" + ("" if days else f" {minutes} min")
    return f"{words} left" if seconds >= 0 else f"overdue by {words}"


# --- admins: contract rules ------------------------------------------------------------------------

CONTRACTS = "/admin/obligation-rules"


def _contract_fields(form) -> contracts.ContractFields:
    return contracts.ContractFields(
        title=form.title.data or "", recipient=form.recipient.data, anchor=form.anchor.data,
        offset_kind=form.offset_kind.data, offset_amount=form.offset_amount.data, content=form.content.data or "",
        note=form.note.data or "")


@bp.route(CONTRACTS, methods=["GET", "POST"])
@role_required(Role.admin)
def contract_rules():
    posted = request.method == "POST"
    form = ContractRuleForm() if posted else ContractRuleForm(formdata=None)
    if posted and form.validate_on_submit():
        saved = save(lambda: contracts.create_contract_rule(session=db.session, actor=current_user,
                                                            fields=_contract_fields(form)), form=form)
        if saved.ok:
            flash("Contract rule added: incidents that chose customer contracts have its obligation now.", "success")
            return redirect(url_for("obligations.contract_rules"))
    return render_template("obligations/contracts.html", rules=contracts.list_contract_rules(session=db.session),
                           form=form, anchor_labels=ANCHOR_LABELS, recipients=RECIPIENTS), 422 if posted else 200


def _contract(rule_id: int):
    try:
        return contracts.get_contract_rule(session=db.session, rule_id=rule_id)
    except NotFound:
        abort(404)


@bp.route(CONTRACTS + "/<int(max=2147483647):rule_id>", methods=["GET", "POST"])
@role_required(Role.admin)
def contract_rule(rule_id: int):
    rule = _contract(rule_id)
    if request.method != "POST":
        form = EditContractRuleForm(formdata=None, obj=rule)
        return render_template("obligations/contract.html", rule=rule, form=form)
    form = EditContractRuleForm()
    conflict = None
    if form.validate_on_submit():
        saved = save(lambda: contracts.update_contract_rule(
            session=db.session, actor=current_user, rule=rule, expected_version=form.version.data,
            fields=_contract_fields(form)), form=form)
        if saved.ok:
            flash("Contract rule saved; open deadlines made from it moved with it.", "success")
            return redirect(url_for("obligations.contract_rules"))
        rule, conflict = _contract(rule_id), saved.conflict
        if conflict:
            rebase(form.version, rule.version)
        return render_template("obligations/contract.html", rule=rule, form=form, conflict=conflict), saved.code
    return render_template("obligations/contract.html", rule=rule, form=form), 422


@bp.route(CONTRACTS + "/<int(max=2147483647):rule_id>/retire", methods=["POST"])
@role_required(Role.admin)
def retire_contract_rule(rule_id: int):
    rule = _contract(rule_id)
    if save(lambda: contracts.retire_contract_rule(session=db.session, actor=current_user, rule=rule)).ok:
        flash("Contract rule retired: it makes no new obligations.", "success")
    return redirect(url_for("obligations.contract_rules"))
