"""Who is signed in, remembered for a moment, for the requests open pages repeat all day.

Every open incident page asks `/incidents/<ref>/live` every few seconds, and many people reload the
page itself while nothing changes. Checking the sign-in session in the database on each of those
(the session row and its user) costs more than the answer itself. So the requests of the endpoints
in `MEMO_ENDPOINTS` may pass the login wall on a memo of the check: made at most once every
SIGN_IN_MEMO_SECONDS per session token and app process, with the same rules as the full check (the
session exists, is not revoked, has not timed out, its user is active). A sign-out, a revocation
or a disabled account therefore takes effect on these endpoints within that many seconds (2 by
default) on other app processes, at once on the process that handled the sign-out.

A memo hit does not note the request in the session's last_seen_at: the live check is a script
polling, not the person being active, so it must not keep an unattended session alive for ever.
The page itself is activity: when its session is due a note (service.SEEN_PRECISION), the page
takes the full check, which writes it.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from flask import current_app, session
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from incidents.auth import service
from incidents.auth.models import LoginSession, Role
from incidents.db import utcnow
from incidents.extensions import db
from incidents.memo import forget, remembered

# Endpoint → whether a request to it counts as the person being active (see the module's text).
MEMO_ENDPOINTS = {"incident.live_version": False, "incident.detail": True}
STORE = "sign_in_memo"


@dataclass(frozen=True)
class Viewer:
    user_id: int
    role: Role
    last_seen_at: datetime


def memo_viewer(*, activity: bool) -> Viewer | None:
    """The signed-in viewer of this request from the memo, or None: no session cookie, no live
    session, or (for `activity`) the session is due a note in last_seen_at. None means "take the
    full check", which also says why a session ended."""
    token = session.get("_user_id")
    if not isinstance(token, str):
        return None
    viewer = remembered(STORE, token, current_app.config["SIGN_IN_MEMO_SECONDS"], lambda: _look_up(token))
    if viewer is None or (activity and utcnow() - viewer.last_seen_at >= service.SEEN_PRECISION):
        return None
    return viewer


def forget_session(token: str | None) -> None:
    """Drop a session from this process's memo (at sign-out)."""
    if token:
        forget(STORE, token)


def _look_up(token: str) -> Viewer | None:
    login = db.session.scalar(select(LoginSession).options(joinedload(LoginSession.user))
                              .where(LoginSession.token == token, LoginSession.revoked_at.is_(None)))
    if login is None or not login.user.active:
        return None
    from incidents.auth.access import session_lifetimes  # access imports this module

    try:
        service.check_lifetime(login=login, lifetimes=session_lifetimes(), now=utcnow())
    except service.SessionExpired:
        return None
    return Viewer(user_id=login.user_id, role=login.user.role, last_seen_at=login.last_seen_at)
