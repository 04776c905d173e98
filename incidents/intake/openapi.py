"""The alert intake's three endpoints in the API's OpenAPI document (/api/v1/openapi.json).

SpecTree describes the views it validates; these it must not validate: the view reads the raw
bytes (Grafana's HMAC is over them) and judges the intake's token before the fields, so a caller
without a working token learns nothing about its payload. So they are described here, from the
same pydantic models the view checks a payload with (payloads.PAYLOADS) and the model of its
answer, and added to the document SpecTree builds (incidents/api/spec.py).
"""
from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel

from incidents.api.problems import PROBLEM_JSON
from incidents.intake.models import IntakeKind, Outcome
from incidents.intake.payloads import PAYLOADS
from incidents.intake.service import DUPLICATE

SECURITY_SCHEME = "intake"
TAG = "alert intake"


class IntakeAnswer(BaseModel):
    """What a delivery did (the view answers with this model): `result` is created, updated,
    resolved, recorded (202) or duplicate (200)."""

    result: Literal[tuple(o.value for o in Outcome) + (DUPLICATE,)]  # type: ignore[valid-type]
    incident: str | None  # the incident's reference, when the delivery reached one
    delivery: int
    detail: str
    incident_url: str | None


ABOUT = {
    IntakeKind.alertmanager: (
        "Receive a Prometheus Alertmanager notification",
        "Alertmanager's webhook (payload version 4), as its `webhook_configs` send it with "
        "`http_config.authorization` carrying this intake's token. A firing group declares an incident "
        "or adds what fires now to the group's open one; a resolved group adds a note and closes nothing. "
        "The same notification again changes nothing (200, `duplicate`)."),
    IntakeKind.grafana: (
        "Receive a Grafana alerting notification",
        "Grafana's webhook contact point. When the intake has an HMAC secret, the "
        "`X-Grafana-Alerting-Signature` header must sign the body (and its timestamp header, if set)."),
    IntakeKind.generic: (
        "Receive an alert from anything else",
        "`title`, `status` (firing or resolved), `dedup_key` (deliveries with the same key are one "
        "group), `description`, `link`, `severity`. Unknown fields are refused."),
}
# Refusals: a token that opens no intake (401, the same for every cause), a token of another
# intake kind (403), a body too large (413), a payload that is not what the kind sends (422).
REFUSALS = {"401": "Unauthorized", "403": "Forbidden", "413": "Content Too Large", "422": "Unprocessable Content"}


def add_intake_operations(spec: dict[str, Any]) -> None:
    """Add POST /api/v1/intake/{alertmanager,grafana,generic} to `spec` (SpecTree's document)."""
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for model in (*PAYLOADS.values(), IntakeAnswer):
        _add_schema(schemas, model)
    spec["components"].setdefault("securitySchemes", {})[SECURITY_SCHEME] = {
        "type": "http", "scheme": "bearer",
        "description": "An alert intake's own token (dli_…), made by an admin under Settings → Alert intakes; "
                       "a personal access token does not open an intake."}
    spec.setdefault("tags", []).append({"name": TAG, "description": "Where alerting tools deliver."})
    answer = {"application/json": {"schema": _ref(IntakeAnswer)}}
    problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for kind, model in PAYLOADS.items():
        summary, description = ABOUT[kind]
        spec["paths"][f"/api/v1/intake/{kind.value}"] = {"post": {
            "summary": summary, "description": description, "operationId": f"intake_{kind.value}",
            "tags": [TAG], "security": [{SECURITY_SCHEME: []}],
            "requestBody": {"required": True, "content": {"application/json": {"schema": _ref(model)}}},
            "responses": {
                "202": {"description": "Received: what it did is in `result`", "content": answer},
                "200": {"description": "The same delivery again: nothing changed", "content": answer},
                **{status: {"description": phrase, "content": problem} for status, phrase in REFUSALS.items()},
            }}}


def _ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _add_schema(schemas: dict[str, Any], model: type[BaseModel]) -> None:
    """The model's JSON schema and those it refers to, as components (a name taken by another
    schema is a mistake to see at once, not a component to overwrite)."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, nested in {**schema.pop("$defs", {}), model.__name__: schema}.items():
        if schemas.get(name, nested) != nested:
            raise ValueError(f"Two schemas named {name} in the API's document")
        schemas[name] = nested
