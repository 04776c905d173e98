"""Render a request's posted Markdown before the request takes the database's write lock.

On SQLite a writing request holds the one write lock from its first query (the user loader) to
its commit, so anything slow in between stalls every other writer. Markdown is the slow part of
saving text: this hook renders the posted values of every MarkdownField before the login check
runs its first query, and `render_markdown` answers from that memo inside the transaction.
"""
from __future__ import annotations

from functools import cache

from flask import Flask, request, session
from wtforms.fields.core import UnboundField

from incidents.forms import BaseForm, MarkdownField
from incidents.markdown import cost_problem, prerender

# Posted Markdown that is not a form field: the postmortem's live preview sends "text".
EXTRA_FIELDS = frozenset({"text"})


@cache
def markdown_field_names() -> frozenset[str]:
    """The names of all MarkdownFields declared on any form class."""
    names, pending = set(EXTRA_FIELDS), list(BaseForm.__subclasses__())
    while pending:
        form = pending.pop()
        pending.extend(form.__subclasses__())
        names.update(name for klass in form.__mro__ for name, value in vars(klass).items()
                     if isinstance(value, UnboundField) and issubclass(value.field_class, MarkdownField))
    return frozenset(names)


def variants(text: str) -> set[str]:
    """The forms in which services pass posted text on: as typed, trimmed, with LF line ends."""
    lf = text.replace("\r\n", "\n")
    return {text, text.strip(), lf, lf.strip()}


def install(app: Flask) -> None:
    """Register the hook; call it before the login wall so it runs before the first query."""

    @app.before_request
    def _prerender_posted_markdown():
        # Only signed-in posts (the signed cookie says so without asking the database): an
        # anonymous post is refused anyway, and should not make us work.
        if request.method != "POST" or not session.get("_user_id"):
            return None
        names = markdown_field_names()
        texts = {variant for name in names.intersection(request.form)
                 for value in request.form.getlist(name)
                 if isinstance(value, str) and value.strip() and cost_problem(value) is None
                 for variant in variants(value)}
        prerender(texts)
        return None

    # The API's JSON bodies too. Its token check (asked first by the rate limiter, whose hook runs
    # before any other) is a query, so this one goes first of all; only for a bearer secret shaped
    # like ours (no database needed to tell), so a request without one makes us render nothing.
    app.before_request_funcs.setdefault(None, []).insert(0, _prerender_api_json)


def _prerender_api_json() -> None:
    from incidents.api.auth import bearer_secret
    from incidents.api.problems import is_api_request
    from incidents.api.tokens import plausible_secret

    if request.method not in ("POST", "PATCH") or not is_api_request() or not request.is_json:
        return None
    if not plausible_secret(bearer_secret()):
        return None
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return None
    names = markdown_field_names()
    prerender({variant for name, value in body.items()
               if name in names and isinstance(value, str) and value.strip() and cost_problem(value) is None
               for variant in variants(value)})
    return None
