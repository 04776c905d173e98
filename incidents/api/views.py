"""/api/v1: the incidents, the OpenAPI document and its interactive docs.

Every route but the document and the docs page needs a personal access token (incidents/api/auth.py);
the per-token rate limit counts reads too. Views are thin: the incident services do the work.
"""
from __future__ import annotations

import base64
import binascii
import re
from importlib import resources

from flask import Blueprint, abort, jsonify, render_template, request, send_file, url_for
from spectree import Response
from sqlalchemy import bindparam, select
from sqlalchemy.orm import aliased
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from incidents.api import auth, rate_limit, schemas
from incidents.api.problems import API_PREFIX, InvalidFields, NotFoundProblem, problem
from incidents.api.spec import PROBLEMS, api, document
from incidents.auth.models import Role, User
from incidents.extensions import csrf, db
from incidents.incident import service as incidents
from incidents.incident.models import Incident
from incidents.paging import Cursor, split_page
from incidents.prepared_read import PreparedRead

bp = Blueprint("api", __name__, url_prefix=API_PREFIX)
csrf.exempt(bp)  # no cookies, so no cross-site request to forge: the bearer token is the proof

# Reachable without a token: the description of the API and the page that shows it.
OPEN_ENDPOINTS = {"api.openapi", "api.docs", "api.docs_asset"}
# Swagger UI's files as offapi ships them (spectree[offline]), under the names we serve them by.
DOCS_ASSETS = {"swagger-ui.css": ("swagger_style.css", "text/css"),
               "swagger-ui-bundle.js": ("swagger_bundle.js", "text/javascript"),
               "swagger-ui-standalone-preset.js": ("swagger_preset.js", "text/javascript")}




@bp.before_request
def _token_wall():
    if request.endpoint not in OPEN_ENDPOINTS:
        rate_limit.count_request(auth.rate_limit_key())  # reads count too, and 401s (by address)
        auth.require_token()
        if request.method in BODY_METHODS:
            _require_json_body()


BODY_METHODS = {"POST", "PUT", "PATCH"}


def _require_json_body() -> None:
    """Bodies are JSON objects: anything else is refused before a view (or Werkzeug's form
    parser, which a multipart type without a boundary would crash) reads it."""
    if not request.is_json:
        raise UnsupportedMediaType("Send the body as JSON, with Content-Type: application/json.")
    if not isinstance(request.get_json(silent=True), dict):
        raise BadRequest("The body is not a JSON object.")


bp.after_request(auth.note_use_after)
bp.after_request(rate_limit.add_headers)


@bp.errorhandler(NotFoundProblem)
def _not_found(error: NotFoundProblem):
    return problem(404, str(error))


@bp.get("/incidents")
@auth.needs(Role.viewer)
@api.validate(query=schemas.IncidentListQuery, resp=Response(HTTP_200=schemas.IncidentPage, **PROBLEMS),
              tags=["incidents"])
def incidents_list():
    """List incidents

    Newest declared first, filtered by status (or `open`) and severity, a page at a time: follow
    `next` (or pass `next_cursor` as `cursor`) until it is null."""
    query: schemas.IncidentListQuery = request.context.query
    before = read_cursor(query.cursor)
    rows = incidents.list_incidents(session=db.session, limit=query.limit + 1, before=before,
                                    filters=incidents.IncidentFilter(
                                        status=getattr(query.status, "value", query.status),
                                        severity=query.severity))
    page, next_cursor = split_page(rows, lambda incident: Cursor(incident.declared_at, incident.id), size=query.limit)
    opaque = opaque_cursor(next_cursor) if next_cursor else None
    next_url = None
    if opaque:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for("api.incidents_list", _external=True, **args, cursor=opaque)
    return schemas.IncidentPage(items=[incident_summary(i) for i in page], next_cursor=opaque, next=next_url)


@bp.get("/incidents/<reference>")
@auth.needs(Role.viewer)
# No query or body to check, and the answer is a schemas.Incident pydantic checked as it was built:
# Spectree's request and response validation (a tenth of this hot read) would only repeat that.
@api.validate(resp=Response(HTTP_200=schemas.Incident, HTTP_404=schemas.Problem, **PROBLEMS), tags=["incidents"],
              path_parameter_descriptions={"reference": "The incident's reference, e.g. INC-2026-0007."},
              skip_validation=True)
def incident_detail(reference: str):
    """One incident

    Its severity, status, people and key moments."""
    row = _DETAIL.first(reference=reference.upper()) if is_reference(reference) else None
    if row is None:
        abort(404, f"No incident {reference[:40]}.")
    return _detail_of_row(row)


# The most asked read of the API, in one statement (the incident and its three people's names) run
# outside a transaction (incidents/prepared_read.py): a fraction of what loading the ORM objects
# costs, and as current as they are.
_commander, _comms_lead, _executive = (aliased(User, name=name) for name in ("commander", "comms_lead", "executive"))
_PEOPLE = {"commander": _commander, "comms_lead": _comms_lead, "executive": _executive}
_DETAIL_COLUMNS = ("reference", "title", "severity", "status", "personal_data", "declared_at", "resolved_at",
                   "summary", "data_categories", "loss_began_at", "detected_at", "aware_at", "mitigated_at",
                   "closed_at", "last_good_backup_at", "restore_verified_at", "rpo_target_minutes",
                   "rto_target_minutes", "version")
_DETAIL = PreparedRead(select(*(getattr(Incident, name) for name in _DETAIL_COLUMNS),
                  *(column for person in _PEOPLE.values() for column in (person.id, person.name, person.email)))
           .select_from(Incident)
           .outerjoin(_commander, Incident.commander_id == _commander.id)
           .outerjoin(_comms_lead, Incident.comms_lead_id == _comms_lead.id)
           .outerjoin(_executive, Incident.executive_id == _executive.id)
           .where(Incident.reference == bindparam("reference")))


def _detail_of_row(row) -> schemas.Incident:
    values = dict(zip(_DETAIL_COLUMNS, row[:len(_DETAIL_COLUMNS)], strict=True))
    people = row[len(_DETAIL_COLUMNS):]
    for index, role in enumerate(_PEOPLE):
        person_id, name, email = people[3 * index:3 * index + 3]
        values[role] = schemas.Person(id=person_id, name=name or email) if person_id is not None else None
    values["data_categories"] = values["data_categories"] or []
    values["url"] = url_for("api.incident_detail", reference=values["reference"], _external=True)
    return schemas.Incident(**values)


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3.1 document of this API (public: it describes, it holds no data)."""
    return jsonify(document())


@bp.get("/docs")
def docs():
    """Swagger UI on the document, from files this server serves (no CDN, no inline script)."""
    return render_template("api/docs.html", spec_url=url_for("api.openapi"))


@bp.get("/docs/assets/<name>")
def docs_asset(name: str):
    if name not in DOCS_ASSETS:
        abort(404)
    filename, mimetype = DOCS_ASSETS[name]
    with resources.as_file(resources.files("offapi") / filename) as path:
        return send_file(path, mimetype=mimetype, max_age=86400, conditional=True)


REFERENCE = re.compile(r"INC-\d{4}-\d{4,9}", re.IGNORECASE)


def is_reference(text: str) -> bool:
    """Whether `text` is shaped like an incident reference; anything else names no incident, and
    is answered 404 without asking the database (PostgreSQL refuses a NUL byte with an error)."""
    return REFERENCE.fullmatch(text) is not None


def opaque_cursor(cursor: str) -> str:
    return base64.urlsafe_b64encode(cursor.encode()).decode().rstrip("=")


def read_cursor(opaque: str | None) -> Cursor | None:
    """The position an opaque cursor stands for; a cursor we did not make is a 422, not page one."""
    if opaque is None:
        return None
    try:
        raw = base64.urlsafe_b64decode(opaque + "=" * (-len(opaque) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raw = ""
    cursor = Cursor.decode(raw)
    if cursor is None:
        raise InvalidFields({"cursor": ["Not a cursor of this list: pass next_cursor from the previous page."]})
    return cursor


def _incident_url(incident: Incident) -> str:
    return url_for("api.incident_detail", reference=incident.reference, _external=True)


def person(user) -> schemas.Person | None:
    return schemas.Person(id=user.id, name=user.display) if user is not None else None


def incident_summary(incident: Incident) -> schemas.IncidentSummary:
    return schemas.IncidentSummary(
        reference=incident.reference, title=incident.title, severity=incident.severity, status=incident.status,
        personal_data=incident.personal_data, declared_at=incident.declared_at, resolved_at=incident.resolved_at,
        url=_incident_url(incident))


def incident_answer(incident: Incident) -> schemas.Incident:
    return schemas.Incident(
        **incident_summary(incident).model_dump(), summary=incident.summary,
        data_categories=incident.data_categories or [],
        commander=person(incident.commander), comms_lead=person(incident.comms_lead),
        executive=person(incident.executive), loss_began_at=incident.loss_began_at,
        detected_at=incident.detected_at, aware_at=incident.aware_at, mitigated_at=incident.mitigated_at,
        closed_at=incident.closed_at, last_good_backup_at=incident.last_good_backup_at,
        restore_verified_at=incident.restore_verified_at, rpo_target_minutes=incident.rpo_target_minutes,
        rto_target_minutes=incident.rto_target_minutes, version=incident.version)
