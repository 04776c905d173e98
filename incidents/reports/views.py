"""The Reports area of an incident: the executive report (preview and PDF) and the notices."""
from __future__ import annotations

import re

from flask import Blueprint, Response, current_app, render_template, request, url_for
from flask_login import current_user

from incidents.extensions import db
from incidents.incident.views import load_incident
from incidents.notices.models import Audience
from incidents.notices.service import may_approve, notices_for
from incidents.reports.capacity import RendersBusy, render_slot
from incidents.reports.executive import TimelineOption, build_report, report_html
from incidents.reports.render import RenderError, RenderTimeout, render_pdf, static_folder_of
from incidents.reports.settings import render_timeout, setting

bp = Blueprint("reports", __name__)


def pdf_response(pdf: bytes, filename: str) -> Response:
    """A PDF download; the file name is reduced to safe characters."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", filename)[:120]
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{safe}"'
    return response


def render_failed(error: RenderError):
    """A clear page instead of a server error when a PDF cannot be made."""
    if isinstance(error, RendersBusy):
        page = render_template("errors/error.html", code=503, title="Too many PDFs are being made right now",
                               message=f"{error} Nothing is wrong with this document: try the download again "
                                       f"in {error.retry_after} seconds. The HTML preview works meanwhile.")
        return page, 503, {"Retry-After": str(error.retry_after)}
    current_app.logger.warning("PDF not made: %s", error)
    message = str(error) if isinstance(error, RenderTimeout) else \
        "The PDF could not be made from this document."
    return render_template("errors/error.html", code=503, title="The PDF could not be made",
                           message=message + " The HTML preview still works; try the download again "
                                             "in a minute, and tell an admin if it keeps failing."), 503


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
