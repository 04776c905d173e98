"""/api/v1 impact figures and recovery workstreams: what recovery scripts report.

A script restoring accounts reads the workstream (its `version`), then reports the units done so
far; figures are recorded on the latest update it read (`based_on`). Both are the pages' services
and forms; a stale version or update gets a 409 problem with the current one.
"""
from __future__ import annotations

from flask import request, url_for
from flask_login import current_user
from spectree import Response
from sqlalchemy.orm.exc import StaleDataError

from incidents.api import auth, formcheck
from incidents.api import write_schemas as schemas
from incidents.api.idempotency import idempotent_create
from incidents.api.problems import InvalidFields, NotFoundProblem
from incidents.api.spec import BODY_PROBLEMS, REFERENCE, TAGS, WRITE_PROBLEMS, api
from incidents.api.views import bp, person
from incidents.api.writing import commit, conflict, created, followed, incident_or_404
from incidents.auth.models import Role
from incidents.errors import EditConflict, NotFound
from incidents.extensions import db
from incidents.idempotency import remember
from incidents.impact import service as impact
from incidents.impact.forms import RECORD_PARTS, ImpactForm, categories_for
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.recovery import service as recovery
from incidents.recovery.forms import ProgressForm
from incidents.recovery.models import Workstream

WORKSTREAM = {**REFERENCE, "workstream_id": "The workstream's id (from the list)."}


def _update(update: ImpactUpdate | None) -> schemas.ImpactUpdate | None:
    if update is None:
        return None
    return schemas.ImpactUpdate(
        id=update.id, based_on=update.based_on_id, as_of=update.as_of, recorded_at=update.recorded_at,
        customers_affected=update.customers_affected, customers_restored=update.customers_restored,
        customers_lost=update.customers_lost, customers_notified=update.customers_notified,
        categories={c.category: schemas.CategoryFigures(affected=c.records_affected, recovered=c.records_recovered,
                                                        unrecoverable=c.records_unrecoverable)
                    for c in update.categories},
        note=update.note, author=person(update.author))


def _impact_url(reference: str, update_id: int) -> str:
    return url_for("api.latest_impact", reference=reference) + f"#{update_id}"


def _replay_impact(location: str):
    path, _, update_id = location.partition("#")
    update = db.session.get(ImpactUpdate, int(update_id)) if update_id.isdigit() else None
    if update is None:
        raise NotFoundProblem("The figures this key recorded are gone.")
    return created(_update(update), location)


@bp.get("/incidents/<reference>/impact")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=schemas.ImpactNow, **WRITE_PROBLEMS), tags=TAGS["recovery"],
              path_parameter_descriptions=REFERENCE)
def latest_impact(reference: str):
    """The latest impact figures

    `latest` is null while none were recorded; its `id` is the `based_on` of the next figures you
    record."""
    latest = impact.latest_update(session=db.session, incident=incident_or_404(reference))
    return schemas.ImpactNow(latest=_update(latest))


@bp.post("/incidents/<reference>/impact")
@auth.needs(Role.responder)
@idempotent_create(replay=_replay_impact)
@api.validate(json=schemas.NewImpact, resp=Response(
    HTTP_201=schemas.ImpactUpdate, HTTP_409=schemas.ImpactConflict, **BODY_PROBLEMS), tags=TAGS["recovery"],
    path_parameter_descriptions=REFERENCE)
def record_impact(reference: str):
    """Record impact figures

    Totals as of now (or `as_of`): customers affected, restored, permanently lost and notified,
    and record counts per data category of the incident. Send `based_on`, the id of the latest
    figures you read (none for the first): if newer ones were recorded meanwhile, nothing is
    saved and the answer is a 409 with them."""
    incident = incident_or_404(reference)
    body: schemas.NewImpact = request.context.json
    latest = impact.latest_update(session=db.session, incident=incident)
    categories = categories_for(incident, latest)
    unknown = sorted(set(body.categories) - set(categories))
    if unknown:
        raise InvalidFields({f"categories.{name}": ["Not a data category of this incident (edit its data "
                                                     "categories first)."] for name in unknown})
    values = {**body.model_dump(exclude={"categories"}),
              **{f"{category}-{part}": getattr(figures, part)
                 for category, figures in body.categories.items() for part in RECORD_PARTS}}
    form = formcheck.checked(ImpactForm.for_categories(categories), values,
                             names={f"{c}-{p}": f"categories.{c}.{p}" for c in categories for p in RECORD_PARTS})

    def work():
        update = impact.record_impact(
            session=db.session, actor=current_user, incident=incident, counts=form.counts(),
            categories=form.category_counts(), based_on_id=form.based_on.data, note=form.note.data or "",
            as_of=form.as_of.data)
        followed(incident)
        remember(_impact_url(reference, update.id))
        return _update(update)

    try:
        answer = commit(work)
    except (EditConflict, StaleDataError) as error:
        db.session.rollback()
        return conflict(error, _update(impact.latest_update(session=db.session, incident=incident_or_404(reference))))
    return created(answer, _impact_url(reference, answer.id))


# --- workstreams ----------------------------------------------------------------------------------

def _workstream(ws: Workstream) -> schemas.Workstream:
    return schemas.Workstream(id=ws.id, name=ws.name, unit=ws.unit, target=ws.target, done=ws.done,
                              percent=round(ws.percent, 2), status=ws.status, owner=person(ws.owner), eta=ws.eta,
                              version=ws.version)


def _load_workstream(incident: Incident, workstream_id: int) -> Workstream:
    try:
        return recovery.get_workstream(session=db.session, incident=incident, workstream_id=workstream_id)
    except NotFound:
        raise NotFoundProblem(f"No workstream {workstream_id} in {incident.reference}.") from None


@bp.get("/incidents/<reference>/workstreams")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=schemas.WorkstreamList, **WRITE_PROBLEMS), tags=TAGS["recovery"],
              path_parameter_descriptions=REFERENCE)
def workstreams(reference: str):
    """The incident's recovery workstreams

    With the units done so far and each one's `version`, which a progress report sends back."""
    rows = recovery.workstreams_for(session=db.session, incident=incident_or_404(reference))
    return schemas.WorkstreamList(items=[_workstream(ws) for ws in rows])


def _progress_url(reference: str, workstream_id: int, version: int) -> str:
    return url_for("api.workstreams", reference=reference) + f"#{workstream_id}.{version}"


def _replay_progress(location: str):
    path, _, anchor = location.partition("#")
    workstream_id = anchor.partition(".")[0]
    ws = db.session.get(Workstream, int(workstream_id)) if workstream_id.isdigit() else None
    if ws is None:
        raise NotFoundProblem("The workstream this key reported on is gone.")
    return created(_workstream(ws), location)


# Ids beyond the 32-bit integer columns cannot exist: 404 at routing, before SQLite overflows.
@bp.post("/incidents/<reference>/workstreams/<int(max=2147483647):workstream_id>/progress")
@auth.needs(Role.responder)
@idempotent_create(replay=_replay_progress)
@api.validate(json=schemas.NewProgress, resp=Response(
    HTTP_201=schemas.Workstream, HTTP_409=schemas.WorkstreamConflict, **BODY_PROBLEMS), tags=TAGS["recovery"],
    path_parameter_descriptions=WORKSTREAM)
def report_progress(reference: str, workstream_id: int):
    """Report a workstream's progress

    The units done so far (a total, not a change), and optionally a new status. Send the
    `version` you read: a report made meanwhile gets a 409 with the workstream as it is now."""
    incident = incident_or_404(reference)
    ws = _load_workstream(incident, workstream_id)
    body: schemas.NewProgress = request.context.json
    form = formcheck.checked(ProgressForm, body.model_dump())

    def work():
        recovery.record_progress(session=db.session, actor=current_user, incident=incident, workstream=ws,
                                 expected_version=form.version.data, done=form.done.data,
                                 note=form.note.data or "", status=form.new_status)
        db.session.flush()
        remember(_progress_url(reference, ws.id, ws.version))
        return _workstream(ws)

    try:
        answer = commit(work)
    except (EditConflict, StaleDataError) as error:
        db.session.rollback()
        return conflict(error, _workstream(_load_workstream(incident_or_404(reference), workstream_id)))
    return created(answer, url_for("api.workstreams", reference=reference))
