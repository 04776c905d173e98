"""The ledger's pages: figures and imports of an incident, an import's progress, the support look-up."""
from __future__ import annotations

import itertools
from collections.abc import Callable

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import current_user
from sqlalchemy import select

from incidents.audit import recorder as audit
from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.db import db, writing_from_here
from incidents.downloads import csv_download
from incidents.errors import DomainError
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.page import load_incident
from incidents.jobs import enqueue
from incidents.ledger import cli, csvformat, customer, exporting, figures, importing, lookup, notifying, statuses
from incidents.ledger.forms import ImportForm, LookupForm, import_form
from incidents.ledger.models import LedgerImport, LedgerNotificationBatch, LedgerPurge
from incidents.recovery.service import workstreams_for

bp = Blueprint("ledger", __name__, cli_group="ledger")
bp.cli.add_command(cli.import_command)
bp.cli.add_command(cli.purge_command)

IMPORTS_SHOWN = 20
PROBLEMS_SHOWN = 20  # on the import's page; the CSV has them all
JURISDICTIONS_SHOWN = 12  # the rest fold away: a real event touches customers in dozens of places


@bp.app_template_filter("jurisdiction")
def _jurisdiction(key: str) -> str:
    return csvformat.jurisdiction_name(key)


@bp.url_value_preprocessor
def _allow_large_uploads(endpoint, _values):
    # Runs before CSRF protection reads the form: only the import route takes files this large.
    if endpoint == "ledger.start_import":
        request.max_content_length = current_app.config["LEDGER_IMPORT_MAX_BYTES"] + 64 * 1024


def _imports_of(incident) -> list[LedgerImport]:
    return list(db.session.scalars(select(LedgerImport).where(LedgerImport.incident_id == incident.id)
                                   .order_by(LedgerImport.id.desc()).limit(IMPORTS_SHOWN)))


def _workstreams(incident):
    return workstreams_for(session=db.session, incident=incident)


def _overview(incident, form: ImportForm | None = None, code: int = 200):
    kept = figures.figures_of(session=db.session, incident_id=incident.id)
    releases = notifying.releases_to_customers(session=db.session, incident=incident)
    return render_template("ledger/overview.html", incident=incident, figures=kept, imports=_imports_of(incident),
                           batches=notifying.batches_of(session=db.session, incident=incident),
                           purge=db.session.get(LedgerPurge, incident.id),
                           releases=[(r.id, notifying.release_label(r)) for r in releases],
                           form=form or import_form(_workstreams(incident), formdata=None),
                           lookup_form=LookupForm(formdata=None), labels=DATA_CATEGORIES, states=import_states,
                           kind_labels=statuses.KIND_LABELS, shown=JURISDICTIONS_SHOWN), code


@bp.get("/incidents/<reference>/ledger")
def overview(reference: str):
    """The ledger's figures, look-up, import form (?kind=restored&workstream=ID preselects a
    workstream's restored list, the recovery page's link), batches and imports."""
    incident = load_incident(reference)
    workstreams = _workstreams(incident)
    form = import_form(workstreams, formdata=None)
    if request.args.get("kind") in statuses.KIND_LABELS:
        form.kind.data = request.args["kind"]
    chosen = request.args.get("workstream", type=int)
    if chosen in {w.id for w in workstreams}:
        form.workstream.data = chosen
    return _overview(incident, form)


@bp.post("/incidents/<reference>/ledger/imports")
@role_required(Role.responder)
def start_import(reference: str):
    incident = load_incident(reference)
    form = import_form(_workstreams(incident))
    upload = request.files.get("file")
    if not form.validate_on_submit():
        return _overview(incident, form, 422)
    if upload is None or not upload.filename:
        form.file.errors = ["Choose the CSV file to import."]
        return _overview(incident, form, 422)
    try:
        record = importing.store_upload(session=db.session, actor=current_user, incident=incident,
                                        stream=upload.stream, filename=upload.filename, mode=form.mode.data,
                                        max_bytes=current_app.config["LEDGER_IMPORT_MAX_BYTES"],
                                        kind=form.kind.data, workstream_id=form.workstream.data or None)
    except importing.ImportRefused as refused:
        db.session.rollback()
        form.file.errors = [str(refused)]
        return _overview(incident, form, 422)
    record.job = enqueue("ledger.import", session=db.session, created_by=current_user, incident=incident,
                         import_id=record.id)
    db.session.commit()
    flash(f"{record.filename} is being checked; this page follows it.", "success")
    return redirect(url_for("ledger.import_page", reference=incident.reference, public_id=record.public_id))


def _import_or_404(incident, public_id: str) -> LedgerImport:
    record = db.session.scalar(select(LedgerImport).where(LedgerImport.public_id == public_id,
                                                          LedgerImport.incident_id == incident.id))
    if record is None:
        abort(404)
    return record


@bp.get("/incidents/<reference>/ledger/imports/<public_id>")
def import_page(reference: str, public_id: str):
    incident = load_incident(reference)
    record = _import_or_404(incident, public_id)
    problems = []
    if record.finished and record.rows_bad:
        problems = list(itertools.islice(importing.problems_of(session=db.session, record=record,
                                                               batch=PROBLEMS_SHOWN), PROBLEMS_SHOWN))
    return render_template("ledger/import.html", incident=incident, record=record, state=import_states(record),
                           problems=problems, mode_labels=importing.MODE_LABELS, kind_labels=statuses.KIND_LABELS)


@bp.get("/incidents/<reference>/ledger/imports/<public_id>/progress")
def import_progress(reference: str, public_id: str):
    """What the import page's progress bar polls: state, bytes done of total, and a sentence."""
    incident = load_incident(reference)
    record = _import_or_404(incident, public_id)
    state = import_states(record)
    job = record.job
    return jsonify(state=state.key, label=state.label, finished=state.finished,
                   done=job.done if job else 0, total=job.total if job else record.size,
                   message=state.message or (job.message if job else ""))


@bp.get("/incidents/<reference>/ledger/imports/<public_id>/problems.csv")
@role_required(Role.responder)
def import_problems(reference: str, public_id: str):
    """Every row that was not applied, with its line and reason: streamed, so a million fit."""
    incident = load_incident(reference)
    record = _import_or_404(incident, public_id)

    rows = ([p.line, p.customer_ref or "", p.reason]
            for p in importing.problems_of(session=db.session, record=record))
    return csv_download(itertools.chain([["line", "customer_id", "problem"]], rows),
                        f"{incident.reference}-import-{record.public_id}-problems.csv")


@bp.get("/customers")
def customer_lookup():
    """Support look-up: type a customer id, see what they lost, what is back, what they were told."""
    form = LookupForm(request.args)
    if not request.args or not form.validate():
        return render_template("ledger/lookup.html", form=form, found=None, searched=bool(request.args),
                               labels=DATA_CATEGORIES, item_labels=lookup.ITEM_LABELS)
    writing_from_here()
    found = lookup.look_up(session=db.session, viewer=current_user, customer_ref=form.customer.data)
    if _wants_json():
        body = jsonify(customer_id=form.customer.data.strip(), found=[f.as_json() for f in found])
    else:
        body = render_template("ledger/lookup.html", form=form, found=found, searched=True,
                               labels=DATA_CATEGORIES, item_labels=lookup.ITEM_LABELS,
                               workstreams={f.incident.id: _workstreams(f.incident) for f in found})
    db.session.commit()  # the look-up's audit event
    return body


@bp.post("/incidents/<reference>/ledger/customer")
@role_required(Role.responder)
def change_customer(reference: str):
    """One customer's categories marked restored or lost for good by hand (from the look-up page)."""
    incident = load_incident(reference)
    customer_ref = request.form.get("customer_id", "").strip()
    states = {key[len("state-"):]: value for key, value in request.form.items() if str(key).startswith("state-")}
    try:
        workstream_id = int(request.form.get("workstream") or 0) or None
    except ValueError:
        workstream_id = None
    if workstream_id and workstream_id not in {w.id for w in _workstreams(incident)}:
        workstream_id = None
    back = url_for("ledger.customer_lookup", customer=customer_ref) if customer_ref else \
        url_for("ledger.overview", reference=incident.reference)
    try:
        customer.set_states(session=db.session, actor=current_user, incident=incident, customer_ref=customer_ref,
                            states=states, workstream_id=workstream_id)
    except DomainError as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(back)
    db.session.commit()
    flash(f"{customer_ref} in {incident.reference}: saved.", "success")
    return redirect(back)


@bp.get("/incidents/<reference>/ledger/customers.csv")
@role_required(Role.responder)
def export_ledger(reference: str):
    """Every customer of the ledger with what they lost, got back and were told: streamed CSV."""
    incident = load_incident(reference)
    writing_from_here()
    audit.record(db.session, action=audit.LEDGER_EXPORT, entity_type="ledger_customer", incident_id=incident.id,
                 actor_id=current_user.id, after={"what": "every customer, as CSV"})
    db.session.commit()  # who took the list out is on record before the first byte leaves
    return csv_download(exporting.full_rows(session=db.session, incident_id=incident.id),
                        f"{incident.reference}-affected-customers.csv")


def _batch_or_404(incident, public_id: str) -> LedgerNotificationBatch:
    batch = db.session.scalar(select(LedgerNotificationBatch).where(
        LedgerNotificationBatch.public_id == public_id, LedgerNotificationBatch.incident_id == incident.id))
    if batch is None:
        abort(404)
    return batch


@bp.post("/incidents/<reference>/ledger/batches")
@role_required(Role.responder)
def start_batch(reference: str):
    """Fix the customers still to be sent a released notice on its channel, for export."""
    incident = load_incident(reference)
    releases = {r.id: r for r in notifying.releases_to_customers(session=db.session, incident=incident)}
    try:
        release = releases.get(int(request.form.get("release") or 0))
    except ValueError:
        release = None
    if release is None:
        flash("Choose a released customer notice to send.", "error")
        return redirect(url_for("ledger.overview", reference=incident.reference) + "#batches")
    try:
        batch = notifying.start_batch(session=db.session, actor=current_user, incident=incident, release=release)
    except DomainError as refused:
        db.session.rollback()
        flash(str(refused), "error")
        return redirect(url_for("ledger.overview", reference=incident.reference) + "#batches")
    db.session.commit()
    flash(f"Batch of {batch.customers:,} customers ready: download it, send it, then mark it sent.", "success")
    return redirect(url_for("ledger.overview", reference=incident.reference) + "#batches")


@bp.get("/incidents/<reference>/ledger/batches/<public_id>.csv")
@role_required(Role.responder)
def export_batch(reference: str, public_id: str):
    """The batch's customers as CSV, streamed, for the mail-merge or bulk e-mail tool."""
    incident = load_incident(reference)
    batch = _batch_or_404(incident, public_id)
    return csv_download(exporting.batch_rows(session=db.session, batch_id=batch.id),
                        f"{incident.reference}-notice-v{batch.notice_version.number}-{batch.channel}-{public_id}.csv")


@bp.post("/incidents/<reference>/ledger/batches/<public_id>/sent")
@role_required(Role.responder)
def batch_sent(reference: str, public_id: str):
    incident = load_incident(reference)
    batch = _batch_or_404(incident, public_id)

    def send() -> str:
        sent = notifying.mark_sent(session=db.session, actor=current_user, incident=incident, batch=batch)
        return f"{sent:,} customers recorded as sent notice version {batch.notice_version.number}."

    _commit_or_flash(send)
    return redirect(url_for("ledger.overview", reference=incident.reference) + "#batches")


@bp.post("/incidents/<reference>/ledger/batches/<public_id>/discard")
@role_required(Role.responder)
def discard_batch(reference: str, public_id: str):
    incident = load_incident(reference)
    batch = _batch_or_404(incident, public_id)

    def discard() -> str:
        notifying.discard(session=db.session, batch=batch)
        return "Batch discarded; its customers will be in the next export."

    _commit_or_flash(discard)
    return redirect(url_for("ledger.overview", reference=incident.reference) + "#batches")


def _commit_or_flash(work: Callable[[], str]) -> None:
    """Run one change: commit it and flash what `work` says it did, or roll back and flash why not."""
    try:
        message = work()
    except DomainError as refused:
        db.session.rollback()
        flash(str(refused), "error")
    else:
        db.session.commit()
        flash(message, "success")


@bp.post("/incidents/<reference>/ledger/snapshot")
@role_required(Role.responder)
def snapshot(reference: str):
    """Record the ledger's figures now as the incident's impact (after changes made one by one)."""
    incident = load_incident(reference)
    figures.snapshot_impact(session=db.session, actor=current_user, incident=incident,
                            note="From the affected-customer ledger.")
    db.session.commit()
    flash("Impact recorded from the ledger.", "success")
    return redirect(url_for("ledger.overview", reference=incident.reference))


def _wants_json() -> bool:
    return request.args.get("format") == "json" or (
        request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json")


class ImportState:
    """An import's state for people: its own, unless its job ended without finishing it."""

    LABELS = {"queued": "Waiting for a worker", "running": "Checking and applying", "applied": "Applied",
              "refused": "Refused: nothing applied", "failed": "Failed: nothing applied"}

    def __init__(self, key: str, message: str):
        self.key, self.message = key, message

    @property
    def label(self) -> str:
        return self.LABELS[self.key]

    @property
    def finished(self) -> bool:
        return self.key in ("applied", "refused", "failed")


def import_states(record: LedgerImport) -> ImportState:
    job = record.job
    if not record.finished and job is not None and job.state.finished:
        # The job gave up (or was cancelled) before the import's own commit: nothing was applied.
        return ImportState("failed", job.error or job.message or "The import stopped before it was applied.")
    return ImportState(record.state, record.message)
