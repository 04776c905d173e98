"""Bearer-token authentication of /api/v1: no cookies in, none out.

- The session interface gives API requests a null session, so a session cookie carries nothing
  there (it cannot sign anyone in) and no response of the API ever sets one.
- `current_caller()` reads the Authorization header once per request: the rate limiter's key and
  the blueprint's check share it, whichever asks first.
- The token's owner becomes Flask-Login's user for the request, so services and the audit log see
  who acted; `g.api_token_id` adds which token to each audit event.
"""
from __future__ import annotations

from dataclasses import replace
from functools import wraps

from flask import Flask, abort, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from sqlalchemy.orm import Session
from werkzeug.exceptions import Unauthorized
from werkzeug.local import LocalProxy

from incidents.api import tokens
from incidents.api.problems import is_api_request
from incidents.auth.models import Role, User
from incidents.credentials import hash_secret
from incidents.db import reading_before_writing, writing_from_here
from incidents.extensions import db
from incidents.memo import forget, remembered

_UNSET = object()


class CookielessApiSessions(SecureCookieSessionInterface):
    """The app's signed-cookie sessions, except under /api/v1, where there are none."""

    def open_session(self, app: Flask, request):
        if is_api_request():
            return self.make_null_session(app)
        return super().open_session(app, request)


def install(app: Flask) -> None:
    app.session_interface = CookielessApiSessions()


def bearer_secret() -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None


def current_caller() -> tokens.Caller | None:
    """The request's caller, by its bearer token (None without a working one); looked up once."""
    caller = g.get("api_caller", _UNSET)
    if caller is _UNSET:
        secret = bearer_secret()
        caller = memo_caller(secret) if request.method in READS else _checked_for_writing(secret)
        g.api_caller = caller
        if caller is not None:
            # Flask-Login's current_user, never from a cookie here: the owner the full check
            # loaded (services link it to what they create); on a remembered check, which reads
            # use, loaded only if something asks.
            user_id = caller.user_id
            g._login_user = (caller.user if caller.user is not None
                             else LocalProxy(lambda: db.session.get(User, user_id)))
            g.api_token_id = caller.token_id
    return caller


READS = {"GET", "HEAD"}
MEMO_STORE = "api_token_memo"


def _checked_for_writing(secret: str | None) -> tokens.Caller | None:
    """Writes take the full check, every time. On SQLite it is made before the write lock, in a
    read of its own (one writer at a time: the check's query held the lock every other write waited
    on, a seventh of an API post's hold); the owner it loaded joins the request's session as is.
    On PostgreSQL, with no such lock, it runs in the request's transaction (a second connection
    would only add round trips)."""
    if db.engine.dialect.name != "sqlite" or not tokens.plausible_secret(secret):
        return tokens.authenticate(session=db.session, secret=secret)
    with reading_before_writing(), Session(db.engine, expire_on_commit=False) as check:
        caller = tokens.authenticate(session=check, secret=secret)
    # Closing the check's session (not rolling it back, which would expire them) leaves the owner's
    # attributes loaded: the request reads them without asking the database again.
    if caller is not None and caller.user is not None:
        caller = replace(caller, user=db.session.merge(caller.user, load=False))
    return caller


def memo_caller(secret: str | None) -> tokens.Caller | None:
    """For reads: the token's check remembered for SIGN_IN_MEMO_SECONDS per app process, as the
    incident page's sign-in check is (incidents/auth/memo.py). A revoked or expired token, or a
    demoted or disabled owner, therefore takes effect on reads within that many seconds (2 by
    default) on other processes; writes always take the full check."""
    if not tokens.plausible_secret(secret):
        return None
    return remembered(MEMO_STORE, hash_secret(secret), current_app.config["SIGN_IN_MEMO_SECONDS"],
                      lambda: tokens.without_objects(tokens.authenticate(session=db.session, secret=secret)))


def rate_limit_key() -> str:
    """Flask-Limiter's key: the token; without a working one, the address (401s count too)."""
    caller = current_caller()
    return f"token:{caller.token_id}" if caller else f"address:{request.remote_addr}"


class TokenRequired(Unauthorized):
    description = "Send a personal access token: Authorization: Bearer dlt_… (a session cookie is not enough)."

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), ("WWW-Authenticate", 'Bearer realm="api"')]


def require_token() -> None:
    """Refuse (401) a request without a working token; note its use at most once a minute."""
    caller = current_caller()
    if caller is None:
        raise TokenRequired()


def note_use_after(response):
    """After the view: write the token's last use when it is over a minute old (its own small
    commit, after the view's work, so a read holds no write lock while it runs)."""
    caller = g.get("api_caller")
    if caller is not None and caller.note_use and response.status_code < 500:
        if request.method in READS:
            # The token's check read a snapshot; on SQLite an UPDATE in that transaction fails at
            # once ("database is locked") when another process wrote since (the same token's use,
            # noted by another worker). A new transaction that takes the write lock waits instead.
            writing_from_here()
        tokens.note_use(session=db.session, token_id=caller.token_id)
        db.session.commit()
        if request.method in READS:  # noted: the remembered check must not ask for it again
            forget(MEMO_STORE, hash_secret(bearer_secret()))
    return response


def needs(role: Role):
    """Refuse (403) a token whose power (the lesser of its scope and its owner's role) is below `role`."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            caller = current_caller()
            if caller is None:
                raise TokenRequired()
            if caller.role.rank < role.rank:
                abort(403, f"This needs a token with the {_scope_for(role)} scope, held by a "
                           f"{role.label.lower()} or above.")
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator


def _scope_for(role: Role) -> str:
    from incidents.api.models import SCOPE_ROLES

    return next(scope.value for scope, held in SCOPE_ROLES.items() if held == role)
