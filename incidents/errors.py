"""Domain errors raised by services, and the friendly error pages the web layer shows."""
from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DataError
from werkzeug.exceptions import HTTPException

from incidents.db import db

log = logging.getLogger(__name__)


class DomainError(Exception):
    """Something the user asked for that the rules do not allow; the message says why."""


class NotFound(DomainError):
    pass


class InvalidTransition(DomainError):
    pass


class FieldError(DomainError):
    """A refusal that belongs beside one form field (`field`), or above the form when it names none."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class EditConflict(DomainError):
    """Someone saved a newer version since the editor loaded the form."""

    def __init__(self, message: str, *, differences: list[tuple[str, str, str]] | None = None):
        super().__init__(message)
        # (field label, value now stored, value the editor sent): shown in the conflict box
        self.differences = differences or []


def check_version(*, stored: int, expected: int | None, message: Callable[[], str],
                  differences: Callable[[], list[tuple[str, str, str]]] | None = None) -> None:
    """Refuse an edit made on a version older than the one stored, with what changed if asked."""
    # The message and differences are built only on a conflict: they may read related rows.
    if stored != expected:
        raise EditConflict(message(), differences=differences() if differences else None)


ERROR_TITLES = {
    400: "That request could not be understood",
    401: "Sign in to continue",
    403: "You do not have access to this",
    404: "Not found",
    405: "That action is not allowed here",
    409: "Someone else changed this first",
    413: "That was too large",
    422: "That could not be saved",
    429: "Too many requests",
    500: "Something went wrong on our side",
    503: "Not available right now",
}


def _render_error(code: int, message: str | None = None):
    title = ERROR_TITLES.get(code, "Error")
    return render_template("errors/error.html", code=code, title=title, message=message), code


def register_error_handlers(app: Flask) -> None:
    """Every error becomes a friendly page with the right status; server errors are logged."""

    from incidents.api.problems import is_api_request, problem, problem_for

    @app.errorhandler(CSRFError)
    def csrf_error(error: CSRFError):
        return _render_error(400, "Your form expired or was sent from another site. "
                                  "Go back, reload the page and try again; nothing was saved.")

    @app.errorhandler(429)
    def too_many(error):
        if is_api_request():  # the API's per-token limit: a problem document, not a sign-in page
            return problem_for(error)
        return _render_error(429, "Too many sign-in attempts from here. Wait a minute, then try "
                                  "again; an admin can reset a forgotten password.")

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        if error.code is None or error.code < 400:
            return error
        if is_api_request():
            return problem_for(error)
        return _render_error(error.code, error.description if error.code != 404 else None)

    @app.errorhandler(DataError)
    def data_error(error: DataError):
        # A value the database cannot hold (an id beyond its integer range, say) is bad input.
        db.session.rollback()
        log.warning("database refused a value on %s %s: %s", request.method, request.path, error.orig)
        if is_api_request():
            return problem(400, "A value in the request is out of range.")
        return _render_error(400, "A value in the request is out of range.")

    @app.errorhandler(Exception)
    def server_error(error: Exception):
        log.exception("unhandled error on %s %s", request.method, request.path)
        db.session.rollback()
        if is_api_request():
            return problem(500, "The error has been logged; please try again in a moment.")
        return _render_error(500, "The error has been logged. Nothing you entered is lost if you "
                                  "go back; please try again in a moment.")
