"""/api/v1 writes: declare an incident, move its status, edit its owners and key moments, post to
and read its timeline, record impact figures and workstream progress.

The same services as the pages do the work, in one transaction per request, with the pages' own
forms checking the fields (formcheck.py). Optimistic locking as on the pages: an edit carries the
`version` it was made on (impact: the `based_on` update), and a stale one gets a 409 problem with
the resource as it is now in `current`. Creating requests take an `Idempotency-Key` header.
"""
from __future__ import annotations

from typing import Any

from flask import g, request, url_for
from flask_login import current_user
from spectree import Response
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from incidents.api import auth, formcheck, timeline_posts
from incidents.api import write_schemas as schemas
from incidents.api.idempotency import idempotent_create
from incidents.api.problems import InvalidFields, NotFoundProblem
from incidents.api.spec import BODY_PROBLEMS, JSON_PROBLEMS, PROBLEMS, REFERENCE, TAGS, WRITE_PROBLEMS, api
from incidents.api.timeline_posts import entry_answer
from incidents.api.views import bp, incident_answer, opaque_cursor, person, read_cursor
from incidents.api.writing import commit, conflict, created, followed, incident_id_or_404, incident_or_404
from incidents.audit.recorder import current_attribution
from incidents.auth.models import Role, User
from incidents.errors import EditConflict, FieldError, NotFound
from incidents.extensions import db
from incidents.idempotency import remember
from incidents.incident import service as incidents
from incidents.incident.fields import FIELDS
from incidents.incident.forms import DeclareForm, EditForm, StatusForm
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.paging import Cursor, split_page
from incidents.timeline import service as timeline_service
from incidents.timeline.forms import EntryForm
from incidents.timeline.models import EntryKind
from incidents.timeline.service import TimelineFilter

# The API's names of the edit form's person fields.
PERSON_IDS = {spec.name: f"{spec.name}_id" for spec in FIELDS if spec.kind == "person"}


# --- incidents ------------------------------------------------------------------------------------

def _replay_incident(location: str):
    reference = location.rstrip("/").rsplit("/", 1)[-1]
    return created(incident_answer(incident_or_404(reference)), location)


@bp.post("/incidents")
@auth.needs(Role.responder)
@idempotent_create(replay=_replay_incident)
@api.validate(json=schemas.DeclareIncident, resp=Response(HTTP_201=schemas.Incident, **PROBLEMS, **JSON_PROBLEMS),
              tags=TAGS["incidents"])
def declare_incident():
    """Declare an incident

    The token's owner becomes incident commander. Send an `Idempotency-Key` header (a UUID) so a
    retry after a lost answer declares nothing twice: the retry gets the same incident back with
    `Idempotent-Replayed: true`."""
    body: schemas.DeclareIncident = request.context.json
    form = formcheck.checked(DeclareForm, body.model_dump())

    def work():
        incident = incidents.declare_incident(
            session=db.session, actor=current_user, title=form.title.data, severity=body.severity,
            summary=form.summary.data or "", data_categories=form.data_categories.data,
            personal_data=form.personal_data.data)
        remember(url_for("api.incident_detail", reference=incident.reference))
        return incident_answer(incident)

    answer = commit(work)
    return created(answer, url_for("api.incident_detail", reference=answer.reference))


@bp.post("/incidents/<reference>/status")
@auth.needs(Role.responder)
@api.validate(json=schemas.StatusChange, resp=Response(
    HTTP_200=schemas.Incident, HTTP_409=schemas.IncidentConflict, **BODY_PROBLEMS), tags=TAGS["incidents"],
    path_parameter_descriptions=REFERENCE)
def change_status(reference: str):
    """Change an incident's status

    Along its lifecycle (investigating → identified → monitoring → resolved → closed; closing needs
    a published postmortem). A move the lifecycle does not allow is a 422 on `status`."""
    incident = incident_or_404(reference)
    body: schemas.StatusChange = request.context.json
    form = formcheck.checked(StatusForm, body.model_dump())
    try:
        answer = commit(lambda: _answer(followed(incident, incidents.change_status(
            session=db.session, actor=current_user, incident=incident, new_status=body.status,
            expected_version=form.version.data, note=form.note.data or ""))))
    except (EditConflict, StaleDataError) as error:
        db.session.rollback()
        return conflict(error, incident_answer(incident_or_404(reference)))
    return answer


def _answer(incident: Incident) -> schemas.Incident:
    db.session.flush()  # the version the answer gives is the one committed
    return incident_answer(incident)


@bp.patch("/incidents/<reference>")
@auth.needs(Role.responder)
@api.validate(json=schemas.IncidentEdit, resp=Response(
    HTTP_200=schemas.Incident, HTTP_409=schemas.IncidentConflict, **BODY_PROBLEMS), tags=TAGS["incidents"],
    path_parameter_descriptions=REFERENCE)
def edit_incident(reference: str):
    """Edit an incident's details, owners and key moments

    Only the fields sent change (`null` empties one; a person field takes a user id, `null` for
    nobody). Send the `version` you read: if someone saved since, nothing is saved and the answer
    is a 409 with the incident as it is now."""
    incident = incident_or_404(reference)
    body: schemas.IncidentEdit = request.context.json
    sent = {_form_name(name): getattr(body, name) for name in body.model_fields_set if name != "version"}
    values = {**_stored_values(incident), **{k: _person_value(v) if k in PERSON_IDS else v
                                             for k, v in sent.items()}}
    form = formcheck.checked(EditForm, {**values, "version": body.version},
                             names={**PERSON_IDS}, prepare=lambda f: _offer_people(f, incident, sent))
    changes = {name: value for name, value in form.changes(person=lambda uid: db.session.get(User, uid)).items()
               if name in sent}
    try:
        answer = commit(lambda: _answer(followed(incident, incidents.update_incident(
            session=db.session, actor=current_user, incident=incident, expected_version=body.version,
            changes=changes))))
    except (EditConflict, StaleDataError) as error:
        db.session.rollback()
        return conflict(error, incident_answer(incident_or_404(reference)))
    return answer


def _form_name(api_name: str) -> str:
    return next((form for form, api_field in PERSON_IDS.items() if api_field == api_name), api_name)


def _person_value(user_id: int | None) -> int:
    return user_id or 0  # the form's "nobody yet"


def _stored_values(incident: Incident) -> dict[str, Any]:
    """The incident's fields as its edit form would post them unchanged."""
    values: dict[str, Any] = {}
    for spec in FIELDS:
        if spec.kind == "person":
            values[spec.name] = getattr(incident, f"{spec.name}_id") or 0
        else:
            values[spec.name] = getattr(incident, spec.name)
    return values


def _offer_people(form: EditForm, incident: Incident, sent: dict[str, Any]) -> None:
    """A person field may keep whoever holds it, or take an active account."""
    asked = {value for name, value in sent.items() if name in PERSON_IDS and value}
    active = set(db.session.scalars(select(User.id).where(User.id.in_(asked), User.active.is_(True))))
    for name in PERSON_IDS:
        held = getattr(incident, f"{name}_id")
        form[name].choices = [(0, "nobody"), *((uid, str(uid)) for uid in sorted(active | {held} - {None}))]


# --- the timeline ---------------------------------------------------------------------------------

def _entry_url(reference: str) -> str:
    """Where a posted entry lives: the timeline, the entry's id as the fragment."""
    return url_for("api.timeline_page", reference=reference, _external=False)


def _replay_entry(location: str):
    path, _, entry_id = location.partition("#")
    reference = path.rstrip("/").split("/")[-2]
    incident = incident_or_404(reference)
    try:
        entry = timeline_service.get_entry(session=db.session, incident=incident, entry_id=int(entry_id))
    except (NotFound, ValueError):
        raise NotFoundProblem("The entry this key created is gone.") from None
    return created(entry_answer(entry), location)


@bp.post("/incidents/<reference>/timeline")
@auth.needs(Role.responder)
@timeline_posts.reads_first
@idempotent_create(replay=_replay_entry)
@api.validate(json=schemas.NewEntry, resp=Response(HTTP_201=schemas.Entry, HTTP_503=schemas.Problem, **BODY_PROBLEMS),
              tags=TAGS["timeline"], path_parameter_descriptions=REFERENCE)
def post_entry(reference: str):
    """Post to the timeline

    An internal note by default; `visibility: public` marks it for the public record. Send an
    `Idempotency-Key` header so a retry posts nothing twice. Posts arriving together are stored
    together, in one transaction; the answer comes once the entry is stored (503 with
    Retry-After when it could not be: nothing was stored, send it again)."""
    incident_id = incident_id_or_404(reference)
    body: schemas.NewEntry = request.context.json
    if body.kind is EntryKind.status_change:
        raise InvalidFields({"kind": ["Status changes are written by the app: POST …/status instead."]})
    form = formcheck.checked(EntryForm, body.model_dump())
    try:
        timeline_service.check_occurred_at(form.occurred_at.data)
    except FieldError as error:
        raise InvalidFields({"occurred_at": [str(error)]}) from None
    key = g.get("idempotency_key")
    sent = timeline_posts.Post(
        incident_id=incident_id, caller=current_attribution(), author=person(current_user), kind=body.kind,
        body=form.text, body_html=html_to_store(form.text.strip()),
        visibility=body.visibility, occurred_at=form.occurred_at.data, location=_entry_url(reference),
        key=timeline_posts.Key(key, g.idempotency_fingerprint, request.path) if key else None)
    answer = timeline_posts.post(sent)
    return created(answer, timeline_posts.location_of(sent, answer.id))


@bp.get("/incidents/<reference>/timeline")
@auth.needs(Role.viewer)
@api.validate(query=schemas.TimelineQuery, resp=Response(HTTP_200=schemas.TimelinePage, **WRITE_PROBLEMS),
              tags=TAGS["timeline"], path_parameter_descriptions=REFERENCE)
def timeline_page(reference: str):
    """Read the timeline

    Each entry at its latest revision, newest first (or `order=oldest`), a page at a time: follow
    `next` until it is null."""
    incident = incident_or_404(reference)
    query: schemas.TimelineQuery = request.context.query
    filters = TimelineFilter(kinds=frozenset([query.kind]) if query.kind else frozenset(),
                             visibility=query.visibility)
    items = timeline_service.timeline_for(session=db.session, incident=incident, newest_first=query.order == "newest",
                                  limit=query.limit + 1, before=read_cursor(query.cursor), filters=filters)
    page, next_cursor = split_page(items, lambda item: Cursor(item.current.occurred_at, item.current.root_id),
                                   size=query.limit)
    opaque = opaque_cursor(next_cursor) if next_cursor else None
    next_url = None
    if opaque:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for("api.timeline_page", reference=incident.reference, _external=True, **args, cursor=opaque)
    return schemas.TimelinePage(items=[entry_answer(item) for item in page], next_cursor=opaque, next=next_url)
