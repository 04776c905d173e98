"""Who may reach what: the login wall, role checks and safe redirects."""
from __future__ import annotations

from functools import wraps
from urllib.parse import urlsplit

import time

from flask import Flask, abort, current_app, redirect, request, session, url_for
from flask_login import current_user

from incidents.auth.models import Role

# Endpoints anyone may reach without signing in. Everything else needs a login.
PUBLIC_ENDPOINTS = {"auth.login", "static", "health"}
PUBLIC_BLUEPRINTS: set[str] = {"status"}  # the public status site: published facts only


def require_login_everywhere(app: Flask) -> None:
    """Send anonymous visitors to the login page from every non-public endpoint."""

    @app.before_request
    def _login_wall():
        endpoint = request.endpoint
        if endpoint is None:  # no route matched: let the 404/405 handlers answer
            return None
        if endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
            return None
        if not current_user.is_authenticated:
            if request.method in ("GET", "HEAD"):
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            abort(401)
        return None


def role_required(role: Role):
    """Refuse (403) signed-in users below `role`; the login wall handles anonymous ones."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                abort(401)
            if not current_user.can(role):
                abort(403)
            return view(*args, **kwargs)

        wrapped.required_role = role
        return wrapped

    return decorator


def safe_next_url(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None. Blocks //host, /\\host, scheme: tricks."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return None
    if any(ch in target for ch in "\\\r\n\t\x00") or any(ord(ch) < 32 for ch in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def mark_recent_sign_in() -> None:
    """Remember, in the signed session, when this person last proved who they are."""
    session["signed_in_at"] = int(time.time())


def signed_in_recently() -> bool:
    window = current_app.config["RECENT_SIGN_IN_SECONDS"]
    return time.time() - session.get("signed_in_at", 0) <= window


def recent_sign_in_required(view):
    """Send a person whose sign-in is older than RECENT_SIGN_IN_SECONDS (or came from a remember-me
    cookie) to confirm their password first: a borrowed, unlocked laptop must not hand out roles."""

    @wraps(view)
    def wrapped(*args, **kwargs):
        if current_user.is_authenticated and not signed_in_recently():
            target = request.full_path.rstrip("?") if request.method in ("GET", "HEAD") else request.path
            return redirect(url_for("auth.reauth", next=target))
        return view(*args, **kwargs)

    return wrapped
