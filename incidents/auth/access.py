"""Who may reach what: the login wall, role checks and safe redirects."""
from __future__ import annotations

import hashlib
import time
from datetime import timedelta
from functools import wraps
from urllib.parse import urlsplit

from flask import Flask, Response, abort, current_app, flash, g, redirect, request, session, url_for
from flask_login import current_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer

from incidents.auth import memo, service
from incidents.auth.models import Role, User
from incidents.db import utcnow
from incidents.extensions import db

# Endpoints anyone may reach without signing in. Everything else needs a login.
PUBLIC_ENDPOINTS = {
    "auth.login", "static", "health",
    # Backup jobs' heartbeats: the view itself demands a system's report token (Authorization:
    # Bearer) and answers 401 without one; a session cookie gives nothing there.
    "systems.backup_report",
}
# The public status site (published facts only), and the API, whose own wall demands a personal
# access token (incidents/api/auth.py): a session cookie gives nothing there. Likewise the alert
# intake's deliveries, which demand an intake's token (incidents/intake/views.py).
PUBLIC_BLUEPRINTS: set[str] = {"status", "api", "intake_api"}


def require_login_everywhere(app: Flask) -> None:
    """Send anonymous visitors to the login page from every non-public endpoint."""

    @app.before_request
    def _login_wall():
        endpoint = request.endpoint
        if endpoint is None:  # no route matched: let the 404/405 handlers answer
            return None
        if endpoint in PUBLIC_ENDPOINTS or request.blueprint in PUBLIC_BLUEPRINTS:
            return None
        if endpoint in memo.MEMO_ENDPOINTS:  # repeated all day by open pages: see auth/memo.py
            viewer = memo.memo_viewer(activity=memo.MEMO_ENDPOINTS[endpoint])
            if viewer is not None:
                g.memo_viewer = viewer
                return None
        if not current_user.is_authenticated:
            forget_expired_session()
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


def session_lifetimes() -> service.SessionLifetimes:
    config = current_app.config
    return service.SessionLifetimes(
        idle=timedelta(seconds=config["SESSION_IDLE_TIMEOUT"]),
        max_age=timedelta(seconds=config["SESSION_MAX_AGE"]),
        remember_idle=timedelta(seconds=config["SESSION_REMEMBER_IDLE_TIMEOUT"]),
        remember_max_age=timedelta(seconds=config["SESSION_REMEMBER_MAX_AGE"]))


def load_user(token: str) -> User | None:
    """Flask-Login's user loader: the session's user, None when it ended (noting why in `g`)."""
    try:
        return service.load_session_user(session=db.session, token=token, lifetimes=session_lifetimes(),
                                         now=utcnow(), writing=request.method not in ("GET", "HEAD", "OPTIONS"))
    except service.SessionExpired as expired:
        g.session_ended = str(expired)
        return None


def forget_expired_session() -> None:
    """After a timed-out session: drop its cookies (remember-me too) and say why on the next page."""
    reason = g.pop("session_ended", None)
    if reason is None:
        return
    session.clear()
    logout_user()  # also deletes the remember-me cookie
    flash(reason, "info")


# The "known device" cookie: the accounts this browser signed in to (at most KNOWN_DEVICE_ACCOUNTS),
# signed with the app's key. It lets the account's owner past the per-account sign-in limit that a
# guessing run from elsewhere triggered. Each mark includes a digest of the password hash, so
# changing a password forgets every device that knew the account before.
KNOWN_DEVICE_COOKIE = "known_device"
KNOWN_DEVICE_MAX_AGE = 365 * 24 * 3600
KNOWN_DEVICE_ACCOUNTS = 10


def _device_serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")


def _device_mark(user: User) -> str:
    return f"{user.id}:{hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]}"


def _known_marks() -> list[str]:
    raw = request.cookies.get(KNOWN_DEVICE_COOKIE)
    if not raw:
        return []
    try:
        marks = _device_serializer().loads(raw, max_age=KNOWN_DEVICE_MAX_AGE)
    except BadSignature:
        return []
    return [m for m in marks if isinstance(m, str)] if isinstance(marks, list) else []


def is_known_device(user: User | None) -> bool:
    """True when this browser signed in to `user`'s account before (with the current password)."""
    return user is not None and _device_mark(user) in _known_marks()


def remember_device(response: Response, user: User) -> None:
    """Mark this browser as one `user` signs in from, on `response`."""
    marks = [_device_mark(user)] + [m for m in _known_marks() if m != _device_mark(user)]
    response.set_cookie(KNOWN_DEVICE_COOKIE, _device_serializer().dumps(marks[:KNOWN_DEVICE_ACCOUNTS]),
                        max_age=KNOWN_DEVICE_MAX_AGE, httponly=True, samesite="Lax")


def warn_about_untrusted_proxies(app: Flask) -> None:
    """With TRUSTED_PROXIES=0 behind a proxy, every request seems to come from the proxy: all users
    share one address for the sign-in limits and the audit log. The app cannot know at start-up,
    so it logs a warning once, at the first request that carries X-Forwarded-For."""
    if app.config["TRUSTED_PROXIES"]:
        return
    warned = False

    @app.before_request
    def _warn_once():
        nonlocal warned
        if not warned and "X-Forwarded-For" in request.headers:
            warned = True
            app.logger.warning(
                "A request came with X-Forwarded-For but TRUSTED_PROXIES=0, so the proxy's address "
                "(%s) is used for every user: sign-in limits and the audit log cannot tell people "
                "apart. Set TRUSTED_PROXIES to the number of proxies in front of the app.",
                request.remote_addr)
