"""The catalogue in and out as CSV (export for anyone, import for admins: it changes many systems at
once), and the acquisition review: the systems that came with one acquisition, walked to an owner, a
backup policy, a recent backup and a tested restore. The file format is csvio.py's."""
from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf.file import FileField

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.db import utcnow
from incidents.downloads import csv_download
from incidents.extensions import db
from incidents.forms import BaseForm
from incidents.systems import csvio, review
from incidents.systems.audit_views import audit_clock
from incidents.systems.blueprint import bp

PROBLEMS_SHOWN = 500  # a wholly wrong file of 20,000 rows need not draw them all: the first ones say enough
NAMES_SHOWN = 8  # in the summary of what an import changed


class ImportForm(BaseForm):
    file = FileField("CSV file (UTF-8)", description="The inventory's header row, then a row per system.")


@bp.url_value_preprocessor
def _allow_inventory_uploads(endpoint, _values):
    # Runs before CSRF protection reads the form: only the import takes files above the app's limit.
    if endpoint == "systems.import_csv":
        request.max_content_length = current_app.config["SYSTEMS_IMPORT_MAX_BYTES"] + 64 * 1024


@bp.get("/systems/export.csv")
@role_required(Role.viewer)
def export_csv():
    """Every system in the catalogue (retired ones too with ?retired=1), streamed as CSV."""
    rows = csvio.export_rows(session=db.session, clock=audit_clock(), retired=request.args.get("retired") == "1")
    return csv_download(rows, f"systems-{utcnow().date().isoformat()}.csv")


@bp.route("/systems/import", methods=["GET", "POST"])
@role_required(Role.admin)
def import_csv():
    """Upload an edited export: every row checked, then all applied or none (see csvio.py)."""
    form = ImportForm()
    if not form.validate_on_submit():
        return _import_page(form, code=422 if form.is_submitted() else 200)
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        form.file.errors = ["Choose the CSV file to import."]
        return _import_page(form, code=422)
    limit = current_app.config["SYSTEMS_IMPORT_MAX_BYTES"]
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        form.file.errors = [f"The file is larger than {limit:,} bytes: split it and import the parts."]
        return _import_page(form, code=413)
    try:
        outcome = csvio.import_csv(session=db.session, actor=current_user, data=data)
    except csvio.FileRefused as refused:
        db.session.rollback()
        form.file.errors = [f"Nothing was imported. {refused.message}"]
        return _import_page(form, code=422)
    if outcome.problems:
        db.session.rollback()
        return _import_page(form, code=422, problems=outcome.problems, filename=upload.filename)
    db.session.commit()
    flash(_summary(outcome), "success")
    return redirect(url_for("systems.import_csv"))


def _summary(outcome: csvio.Outcome) -> str:
    said = f"Imported: {outcome.summary}."
    for what, names in (("Added", outcome.added), ("Updated", outcome.updated)):
        if names:
            more = f" and {len(names) - NAMES_SHOWN:,} more" if len(names) > NAMES_SHOWN else ""
            said += f" {what}: {', '.join(names[:NAMES_SHOWN])}{more}."
    return said


def _import_page(form: ImportForm, *, code: int, problems: list[csvio.RowProblem] | None = None,
                 filename: str = ""):
    problems = problems or []
    return render_template("systems/import.html", form=form, problems=problems[:PROBLEMS_SHOWN],
                           problem_count=len(problems), bad_lines=len({p.line for p in problems}),
                           filename=filename, editable=csvio.EDITABLE, facts=csvio.FACTS), code


@bp.get("/systems/acquisitions")
@role_required(Role.viewer)
def acquisitions():
    """Each acquisition with how far its systems are from owned, backed up and restore-tested."""
    chosen = request.args.get("name")
    if chosen:  # the page's picker (a GET form) sends ?name=
        return redirect(url_for("systems.acquisition", name=chosen))
    reviews = review.all_acquisitions(session=db.session, clock=audit_clock())
    return render_template("systems/acquisitions.html", reviews=reviews)


@bp.get("/systems/acquisitions/<path:name>")
@role_required(Role.viewer)
def acquisition(name: str):
    """Every system that came with acquisition `name`, with its four checks and how to fix each."""
    found = review.acquisition_review(session=db.session, name=name, clock=audit_clock())
    if found is None:
        abort(404)
    return render_template("systems/acquisition.html", review=found, checks=review.CHECKS)
