"""The OpenAPI 3.1 document of /api/v1, generated from the views' pydantic models by SpecTree.

Why SpecTree (`spectree[offline]`, checked against 3.0.0 with offapi 0.1.4):
- It describes routes of a plain `Flask` app: the existing blueprints stay as they are, and in
  `strict` mode only the views decorated by this instance are in the document. APIFlask builds its
  document in its own `APIFlask` app class (the app would have to become one); flask-smorest works
  on a plain app but is marshmallow/webargs only.
- Its models are pydantic, which the project already uses (obligation rules), so one way of
  declaring fields serves validation and the document; request fields are checked by pydantic and
  turned into field errors (see `refuse_invalid` below).
- It writes OpenAPI 3.1.0 by default (pydantic's JSON Schema is 2020-12, what 3.1 uses); apispec,
  under both others, defaults to 3.0.
- Its `offline` extra, offapi, ships Swagger UI's JS and CSS in the wheel. Its page templates inline
  them in <script>/<style> (the app's CSP refuses that), so we serve those files as they are and
  our own small HTML and init script (templates/api/docs.html, static/js/api-docs.js).
We do not call `api.register(app)`: it would add /apidoc pages with inline scripts. The document
is served by our own view (views.openapi_document).
"""
from __future__ import annotations

import copy
from typing import Any

from spectree import SecurityScheme, SecuritySchemeData, SpecTree

from incidents.api.problems import PROBLEM_JSON, InvalidFields, field_errors
from incidents.api.schemas import Problem

API_TITLE = "Data-loss incident tracker API"
API_VERSION = "1.0.0"


def refuse_invalid(req: Any, resp: Any, req_validation_error: Exception | None, instance: Any,
                   model_adapter: Any) -> None:
    """SpecTree's hook after it validated a request: refused fields become a 422 problem with
    each field's messages (its own answer is a bare list of pydantic errors)."""
    if req_validation_error is not None:
        raise InvalidFields(field_errors(req_validation_error.errors(include_url=False, include_input=False)))


api = SpecTree(
    "flask",
    mode="strict",  # only the views decorated with api.validate: never the HTML app's routes
    title=API_TITLE,
    version=API_VERSION,
    description="Incidents of data loss, for scripts and other tools. Send a personal access token "
                "(Settings → API tokens, or `flask tokens create`) as `Authorization: Bearer dlt_…`.",
    path="_spectree",  # never served: SpecTree leaves routes under its own path out of the document
    page_templates={},
    security_schemes=[SecurityScheme(name="bearer", data=SecuritySchemeData(
        type="http", scheme="bearer", description="A personal access token (dlt_…)."))],
    security={"bearer": []},
    before=refuse_invalid,
    validation_error_model=Problem,
    # Components named as the models are (SpecTree's default adds a hash of the module path).
    naming_strategy=lambda model: model.__name__,
    nested_naming_strategy=lambda _parent, child: child,
)


_document: dict | None = None


def document() -> dict:
    """The OpenAPI document (built once per process, from the app's routes and the alert intake's
    models). SpecTree names every body application/json; every error of ours is
    application/problem+json, so say so."""
    global _document
    if _document is None:
        from incidents.intake.openapi import add_intake_operations

        spec = copy.deepcopy(api.spec)
        add_intake_operations(spec)  # described from their models, not validated by SpecTree
        for operation in (op for path in spec["paths"].values() for op in path.values()):
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if status.isdigit() and int(status) >= 400 and "application/json" in content:
                    content[PROBLEM_JSON] = content.pop("application/json")
        _document = spec
    return _document


# The answers routes may give besides their own, for the document (SpecTree `Response(...)`).
PROBLEMS = {"HTTP_401": Problem, "HTTP_403": Problem, "HTTP_429": Problem}  # every token route
WRITE_PROBLEMS = {**PROBLEMS, "HTTP_404": Problem}  # routes under an incident
# Routes that read a body: it must be a JSON object (400, 415; views.py), a key well-formed (400).
JSON_PROBLEMS = {"HTTP_400": Problem, "HTTP_415": Problem}
BODY_PROBLEMS = {**WRITE_PROBLEMS, **JSON_PROBLEMS}

# The documented operations' groups, and the path parameter they all share.
TAGS = {"incidents": ["incidents"], "timeline": ["timeline"], "recovery": ["impact and recovery"]}
REFERENCE = {"reference": "The incident's reference, e.g. INC-2026-0007."}
