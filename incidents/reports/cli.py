"""`flask --app app report pdf INCIDENT_REF --kind executive|notice -o FILE.pdf`."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import AppGroup

from incidents.errors import NotFound
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.notices.document import document_for, notice_html
from incidents.notices.models import Audience
from incidents.notices.service import latest_sendable
from incidents.reports.executive import TimelineOption, build_report, report_html
from incidents.reports.render import RenderError, render_pdf, static_folder_of
from incidents.reports.settings import render_timeout, setting

report_cli = AppGroup("report", help="Render documents.")


@report_cli.command("pdf")
@click.argument("reference")
@click.option("--kind", type=click.Choice(["executive", "notice"]), required=True,
              help="The executive postmortem report, or a customer notice.")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True, path_type=Path),
              required=True, help="Where to write the PDF.")
@click.option("--timeline", type=click.Choice(["key", "all"]), default="key", show_default=True,
              help="Executive report: key (pinned) entries or the whole timeline.")
@click.option("--audience", type=click.Choice([a.value for a in Audience]), default="customers",
              show_default=True, help="Notice: which audience's notice.")
@click.option("--released-only", is_flag=True,
              help="Notice: only a released version (default: the latest approved or released one).")
def pdf(reference: str, kind: str, output: Path, timeline: str, audience: str, released_only: bool) -> None:
    """Render an incident's executive report or its latest approved notice to a PDF file."""
    try:
        incident = get_incident(session=db.session, reference=reference)
    except NotFound:
        raise click.ClickException(f"No incident {reference!r}: check the reference (e.g. INC-2026-0001).") from None
    if kind == "executive":
        report = build_report(session=db.session, incident=incident, option=TimelineOption(timeline),
                              organisation=setting("ORGANISATION_NAME"), marking=setting("REPORT_CONFIDENTIALITY"))
        html, what = report_html(report, for_pdf=True), "executive report"
    else:
        version = latest_sendable(session=db.session, incident=incident, audience=Audience(audience),
                                  released_only=released_only)
        if version is None:
            state = "released" if released_only else "approved or released"
            raise click.ClickException(
                f"{reference} has no {state} notice to {Audience(audience).label.lower()} yet. Draft one "
                "under Reports on the incident page and have the comms lead or incident commander approve it.")
        html = notice_html(document_for(version.notice, version), for_pdf=True)
        what = f"notice to {Audience(audience).label.lower()} (version {version.number})"
    try:
        result = render_pdf(html, static_folder=static_folder_of(current_app), timeout=render_timeout())
    except RenderError as error:
        raise click.ClickException(str(error)) from error
    output.write_bytes(result.pdf)
    click.echo(f"Wrote the {what} of {reference} to {output} ({result.pages} page"
               f"{'s' if result.pages != 1 else ''}, {len(result.pdf):,} bytes).")
