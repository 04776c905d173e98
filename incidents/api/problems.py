"""Errors under /api/v1 as RFC 9457 problem details (`application/problem+json`): `type`, `title`,
`status`, `detail`, and for 422 `errors`, each field's messages. The HTML app's error pages are
untouched: incidents/errors.py asks `is_api_request()` first."""
from __future__ import annotations

from flask import Response, json, request
from werkzeug.exceptions import HTTPException, UnprocessableEntity
from werkzeug.http import HTTP_STATUS_CODES

API_PREFIX = "/api/v1"
PROBLEM_JSON = "application/problem+json"


def is_api_request() -> bool:
    """True for any request under /api/v1, matched to a route or not (a 404 there is the API's)."""
    path = request.path
    return path == API_PREFIX or path.startswith(API_PREFIX + "/")


class InvalidFields(UnprocessableEntity):
    """A request whose fields were refused: answered 422 with each field's messages."""

    def __init__(self, errors: dict[str, list[str]], detail: str = "Some fields were refused: see `errors`."):
        super().__init__(detail)
        self.errors = errors


class NotFoundProblem(Exception):
    """No such thing under /api/v1: answered as a 404 problem (views.py) with this message."""


def problem(status: int, detail: str | None = None, *, errors: dict[str, list[str]] | None = None,
            headers: dict[str, str] | None = None) -> Response:
    """A problem-details response. `type` is about:blank, so `title` is the status's own phrase."""
    body: dict = {"type": "about:blank", "title": HTTP_STATUS_CODES.get(status, "Error"), "status": status}
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = errors
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON, headers=headers)
    return response


def problem_for(error: HTTPException) -> Response:
    """The problem an HTTP error raised under /api/v1 stands for (keeping its headers: Allow on a
    405, WWW-Authenticate on a 401, Retry-After on a 429)."""
    code = error.code or 500
    headers = {k: v for k, v in error.get_headers() if k.lower() != "content-type"}
    return problem(code, _detail(error, code), errors=getattr(error, "errors", None), headers=headers)


def _detail(error: HTTPException, code: int) -> str:
    if code == 429:
        return "Too many requests with this token: slow down and retry after the time in Retry-After."
    if code == 404 and error.description == type(error).description:
        return "No such resource: check the URL against /api/v1/openapi.json."
    return error.description or ""


def field_errors(validation_errors: list[dict]) -> dict[str, list[str]]:
    """pydantic's errors as {field: [messages]}, the field named by its path (`limit`, `owner.id`)."""
    out: dict[str, list[str]] = {}
    for item in validation_errors:
        loc = [str(part) for part in item.get("loc", ())]
        name = ".".join(loc) or "request"
        messages = out.setdefault(name, [])
        if item.get("msg") not in messages:
            messages.append(item.get("msg", "Invalid value."))
    return out
