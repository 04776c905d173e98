"""The Reports area of an incident: the executive report (preview and PDF) and the notices."""
from __future__ import annotations

from flask import Blueprint, current_app, render_template, request, url_for
from flask_login import current_user

from incidents.extensions import db
from incidents.incident.page import load_incident
from incidents.notices.models import Audience
from incidents.notices.service import may_approve, notices_for
from incidents.reports.capacity import render_slot
from incidents.reports.executive import TimelineOption, build_report, report_html
from incidents.reports.render import RenderError, render_pdf, static_folder_of
from incidents.reports.responses import pdf_response, render_failed
from incidents.reports.settings import render_timeout, setting

bp = Blueprint("reports", __name__)


def _report(reference: str):
    incident = load_incident(reference)
    option = TimelineOption.parse(request.args.get("timeline"))
    report = build_report(session=db.session, incident=incident, option=option,
                          organisation=setting("ORGANISATION_NAME"), marking=setting("REPORT_CONFIDENTIALITY"))
    return incident, option, report


@bp.route("/incidents/<reference>/reports")
def index(reference: str):
    incident = load_incident(reference)
    return render_template("reports/index.html", incident=incident,
                           notices=notices_for(session=db.session, incident=incident),
                           audiences=list(Audience), may_approve=may_approve(current_user, incident))


@bp.route("/incidents/<reference>/reports/executive")
def executive(reference: str):
    incident, option, report = _report(reference)
    other = TimelineOption.all if option is TimelineOption.key else TimelineOption.key
    return report_html(report, links={
        "back_url": url_for("reports.index", reference=reference),
        "other_url": url_for("reports.executive", reference=reference, timeline=other.value),
        "pdf_url": url_for("reports.executive_pdf", reference=reference, timeline=option.value)})


@bp.route("/incidents/<reference>/reports/executive.pdf")
def executive_pdf(reference: str):
    incident, option, report = _report(reference)
    try:
        with render_slot():
            result = render_pdf(report_html(report, for_pdf=True), static_folder=static_folder_of(current_app),
                                timeout=render_timeout())
    except RenderError as error:
        return render_failed(error)
    suffix = "-full-timeline" if option is TimelineOption.all else ""
    return pdf_response(result.pdf, f"{incident.reference}-executive-report{suffix}.pdf")
