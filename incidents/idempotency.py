"""Idempotency keys: a double-click or a retry after a timeout creates one thing, not two.

A form that creates something carries a hidden `idempotency_key`, a random token drawn when the
form is rendered (`IdempotentFormMixin`). Its view is wrapped in `@idempotent`, and just before it
commits it calls `remember(location)`: the key is stored in the SAME transaction as the thing it
created, together with where the success redirect goes. Sending the same key again (the second
click, the retry after a timeout whose answer never arrived) changes nothing and gets the same
redirect. Two copies racing each other both do the work, but only one can insert the key (unique
per user and key): the loser rolls back everything it did and answers with the winner's redirect.

"The same request" means the same payload: the key is stored with a fingerprint of the form fields
(SHA-256, see `fingerprint`). A key sent again with DIFFERENT fields (a form restored by the Back
button and changed, a client reusing keys) is refused with 422, as the IETF Idempotency-Key draft
and Stripe do: the view runs again in refusal mode, so its form fails validation and is shown again
with what the person typed, the reason above it and a fresh key to send it as a new one. Nothing
of the second payload is saved, and the person is not told it was "already saved". Keys stored
before fingerprints existed have none: those are answered as before.

Adopting it in a view::

    @bp.route("/incidents/<reference>/things", methods=["POST"])
    @role_required(Role.responder)
    @idempotent
    def create_thing(reference):
        form = ThingForm()                      # ThingForm(IdempotentFormMixin, BaseForm)
        ...
        thing = service.create_thing(session=db.session, ...)
        target = url_for("thing.detail", ...)
        remember(target)                        # before the commit, after the work
        db.session.commit()
        return redirect(target)

and `{{ form.idempotency_key() }}` beside `{{ form.csrf_token }}` in the template (or
`{{ idempotency_field() }}` in a hand-written form). Requests without a key (old clients, scripts)
work as before, just without the protection.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
from datetime import datetime, timedelta
from functools import wraps

import click
from flask import abort, flash, g, has_request_context, make_response, redirect, request
from flask.cli import AppGroup
from flask_login import current_user
from markupsafe import Markup, escape
from sqlalchemy import ForeignKey, String, UniqueConstraint, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from wtforms import HiddenField, ValidationError

from incidents.db import UTCDateTime, db, utcnow

FIELD = "idempotency_key"
# Ours are 32 URL-safe characters; clients may bring their own (a UUID, say).
KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,100}")
REPLAYED = "That was already saved (sent twice?); nothing was added a second time."
KEY_REUSED = ("The idempotency key of this form was already used for a different action. Reload the page "
              "and send the form again; nothing was saved.")
KEY_REUSED_CHANGED = ("This form was already used to save something different, so what you sent this time was "
                      "NOT saved (did you go back and change it?). Your text is still here: send it again to "
                      "save it as a new one.")
KEY_DAMAGED = ("The idempotency key of this form is damaged. Reload the page and send the form again; "
               "nothing was saved.")


class IdempotencyKey(db.Model):
    """A key a user sent with a request that created something, and where its answer pointed."""

    __tablename__ = "idempotency_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(100))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    endpoint: Mapped[str] = mapped_column(String(300))  # the path the key was first sent to
    location: Mapped[str] = mapped_column(String(2000))  # the redirect the first answer gave
    # SHA-256 of the first request's form fields; None for keys stored before it was recorded.
    fingerprint: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (UniqueConstraint("user_id", "key", name="uq_idempotency_key_user_key"),)


def new_key() -> str:
    # The incident page's cache draws a placeholder, filled with a fresh key per form and response
    # (incidents/incident/page_cache.py).
    if has_request_context() and (placeholder := g.get("idempotency_placeholder")):
        return placeholder
    return secrets.token_urlsafe(24)


class IdempotentFormMixin:
    """Adds the hidden idempotency key, filled with a fresh random token whenever the form is
    drawn empty; a re-shown form (after a refusal) keeps the key it was sent with."""

    idempotency_key = HiddenField(default=new_key)

    def validate_idempotency_key(self, field):
        """Refuse the form when `@idempotent` found its key used for a different payload, and
        draw a fresh key so that sending the kept text again saves it as a new one."""
        if has_request_context() and g.get("idempotency_refused"):
            field.data = new_key()
            raise ValidationError(KEY_REUSED_CHANGED)


def idempotency_field() -> Markup:
    """A hidden input with a fresh key, for forms written by hand in a template."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD, escape(new_key()))


def _sent_key() -> str | None:
    values = request.form.getlist(FIELD) if request.method == "POST" else []
    if not values or values == [""]:
        return None
    if len(values) != 1 or not KEY_PATTERN.fullmatch(values[0]):
        abort(400, KEY_DAMAGED)
    return values[0]


# Neither is part of what the person asked for: the CSRF token differs per session, and the key is
# what the fingerprint is stored under.
NOT_PAYLOAD = frozenset({"csrf_token", FIELD})


def fingerprint(form) -> str:
    """SHA-256 over the posted fields (name order, values in the order sent), without the CSRF
    token and the key: equal for a double-click or a retry, different when anything typed differs."""
    fields = sorted((name, form.getlist(name)) for name in set(form.keys()) - NOT_PAYLOAD)
    canonical = json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def find(*, session: Session, user_id: int, key: str) -> IdempotencyKey | None:
    """The key `key` of user `user_id`, if a request with it created something."""
    return session.scalar(select(IdempotencyKey).where(IdempotencyKey.user_id == user_id,
                                                      IdempotencyKey.key == key))


class DuplicateRequest(Exception):
    """Another request with the same key committed first; this one's work was rolled back."""

    def __init__(self, stored: IdempotencyKey):
        super().__init__(stored.key)
        self.stored = stored


def _answer_again(stored: IdempotencyKey, sent: str, view, args, kwargs):
    """The answer for a key seen before: the first answer's redirect for the same payload; the form
    refused and shown again for a different one; a refusal when the key belongs to another action."""
    if stored.endpoint != request.path:
        abort(422, KEY_REUSED)
    if stored.fingerprint is None or stored.fingerprint == sent:  # None: stored before fingerprints
        flash(REPLAYED, "info")
        return redirect(stored.location)
    db.session.rollback()
    g.idempotency_refused = True
    try:
        response = make_response(view(*args, **kwargs))
    finally:
        g.pop("idempotency_refused", None)
    # Views answer a form that fails validation with 422 already; a view that would not (or one
    # whose form lacks the mixin) still must not look like a success.
    if response.status_code < 400:
        abort(422, KEY_REUSED_CHANGED)
    return response


def idempotent(view):
    """Make a creating POST view safe to send twice (see the module docstring)."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        key = _sent_key()
        if key is None or not current_user.is_authenticated:
            return view(*args, **kwargs)
        sent = fingerprint(request.form)
        stored = find(session=db.session, user_id=current_user.id, key=key)
        if stored is None:
            g.idempotency_key, g.idempotency_fingerprint = key, sent
            try:
                response = make_response(view(*args, **kwargs))
            except DuplicateRequest as duplicate:
                stored = duplicate.stored
            else:
                if response.status_code != 409:
                    return response
                # An edit conflict with a copy of this request (a double-click on a form with a
                # version number): if the copy saved it, answer as it did (or refuse, if it
                # saved something else).
                db.session.rollback()
                stored = find(session=db.session, user_id=current_user.id, key=key)
                if stored is None:
                    return response
            finally:
                g.pop("idempotency_key", None)
                g.pop("idempotency_fingerprint", None)
        return _answer_again(stored, sent, view, args, kwargs)

    return wrapped


def remember(location: str, *, session: Session | None = None) -> None:
    """Record the request's key (if it sent one) with the redirect its success answers with, in
    the current transaction. Call it after the work and before the commit. When a concurrent copy
    of the request got there first, everything is rolled back and `@idempotent` answers with that
    copy's redirect."""
    session = session or db.session
    if g.get("idempotency_refused"):
        # A view that reached its success path although the form was refused: save nothing.
        session.rollback()
        abort(422, KEY_REUSED_CHANGED)
    key = g.get("idempotency_key")
    if key is None:
        return
    user_id = current_user.id
    try:
        with session.begin_nested():
            session.add(IdempotencyKey(key=key, user_id=user_id, endpoint=request.path[:300],
                                       location=location[:2000], fingerprint=g.get("idempotency_fingerprint"),
                                       created_at=utcnow()))
    except IntegrityError:
        session.rollback()
        stored = find(session=session, user_id=user_id, key=key)
        if stored is None:
            raise
        raise DuplicateRequest(stored) from None


# A retry worth protecting comes within minutes; a week covers a laptop closed over a weekend.
DEFAULT_KEEP_DAYS = 7


def prune(*, session: Session, older_than: timedelta) -> int:
    """Forget keys older than `older_than`; returns how many. A key sent again after that creates
    the thing again, so keep them longer than any client retries."""
    cutoff = utcnow() - older_than
    return session.execute(delete(IdempotencyKey).where(IdempotencyKey.created_at < cutoff)).rowcount


idempotency_cli = AppGroup("idempotency", help="The idempotency keys of creating forms.")


@idempotency_cli.command("prune")
@click.option("--days", type=click.IntRange(min=1), default=DEFAULT_KEEP_DAYS, show_default=True,
              help="Keep keys younger than this many days.")
def prune_command(days: int) -> None:
    """Delete idempotency keys older than DAYS (schedule it daily, e.g. beside the backup)."""
    removed = prune(session=db.session, older_than=timedelta(days=days))
    db.session.commit()
    click.echo(f"Removed {removed} idempotency key{'s' if removed != 1 else ''} older than {days} days.")
