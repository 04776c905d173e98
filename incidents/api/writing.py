"""What the API's writing views share: the incident or a 404 problem, one transaction per request
with refusals as 422 problems, a stale version as a 409 with the resource now, and the
notification deadlines following the change as on the pages."""
from __future__ import annotations

from typing import Any

from flask import current_app, json
from flask_login import current_user
from sqlalchemy import select

from incidents.api.problems import PROBLEM_JSON, InvalidFields, NotFoundProblem
from incidents.api.views import is_reference
from incidents.errors import EditConflict, FieldError, InvalidTransition, NotFound
from incidents.extensions import db
from incidents.incident import service as incidents
from incidents.incident.models import Incident
from incidents.obligations import service as obligations
from incidents.obligations.rules import rule_book


def incident_or_404(reference: str) -> Incident:
    try:
        if not is_reference(reference):
            raise NotFound(reference)
        return incidents.get_incident(session=db.session, reference=reference)
    except NotFound:
        raise NotFoundProblem(f"No incident {reference[:40]}.") from None


def incident_id_or_404(reference: str) -> int:
    """Only the incident's id (for a write that needs nothing else of it), or a 404 problem."""
    found = db.session.scalar(select(Incident.id).where(Incident.reference == reference.upper())) \
        if is_reference(reference) else None
    if found is None:
        raise NotFoundProblem(f"No incident {reference[:40]}.")
    return found


def conflict(error: Exception, current: Any):
    """409: the service refused a stale version (or two saves crossed); `current` is the resource now."""
    body = {"type": "about:blank", "title": "Conflict", "status": 409,
            "detail": str(error) if isinstance(error, EditConflict) else
            "Someone saved this at the same moment; nothing of yours was saved.",
            "current": current.model_dump(mode="json") if current is not None else None}
    return current_app.response_class(json.dumps(body), status=409, mimetype=PROBLEM_JSON)


def followed(incident: Incident, result=None):
    """As on the pages: the incident's notification deadlines follow its moments and figures."""
    obligations.follow_incident_changes(session=db.session, actor=current_user, incident=incident,
                                        rules=rule_book())
    return result


def commit(work, *, field_names: dict[str, str] | None = None):
    """Run `work` and commit; a FieldError becomes a 422 beside the API's name of its field.

    `work` returns the answer, built after a flush and before the commit: the commit expires every
    object, and reading them after it would start a second transaction (on SQLite, a second turn
    at the write lock) only to read back what this one wrote."""
    try:
        result = work()
        db.session.commit()
    except FieldError as error:
        db.session.rollback()
        name = (field_names or {}).get(error.field, error.field) or "request"
        raise InvalidFields({name: [str(error)]}) from None
    except InvalidTransition as error:
        db.session.rollback()
        raise InvalidFields({"status": [str(error)]}) from None
    return result


def created(body, location: str):
    return body, 201, {"Location": location}
