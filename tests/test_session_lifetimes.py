"""Sessions end on the server: after an idle timeout and at an absolute lifetime from sign-in,
longer for "keep me signed in", enforced from the session row whatever cookies the browser keeps."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from incidents.auth.models import LoginSession
from incidents.db import utcnow
from incidents.extensions import db
from tests.factories import Factory

HOUR, DAY = timedelta(hours=1), timedelta(days=1)


def sign_in(client, email: str, *, remember: bool = False):
    data = {"email": email, "password": Factory.PASSWORD} | ({"remember": "y"} if remember else {})
    assert client.post("/login", data=data).status_code == 302


def backdate(app, *, started: timedelta, last_seen: timedelta | None = None) -> None:
    """Pretend every session started `started` ago and was last used `last_seen` ago (when given)."""
    now = utcnow()
    values = {"created_at": now - started} | ({"last_seen_at": now - last_seen} if last_seen else {})
    with app.app_context():
        db.session.execute(update(LoginSession).values(**values))
        db.session.commit()


def last_seen(app):
    with app.app_context():
        return db.session.scalar(db.select(LoginSession.last_seen_at))


def signed_out_because(client) -> str | None:
    """None while signed in; else the login page's text (which says why)."""
    page = client.get("/")
    if page.status_code == 200:
        return None
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    return client.get("/login").get_data(as_text=True)


@pytest.mark.parametrize("remember", [False, True])
def test_a_session_from_two_years_ago_no_longer_works(app, client, make, remember):
    sign_in(client, make.user(role="viewer"), remember=remember)
    backdate(app, started=730 * DAY)
    reason = signed_out_because(client)
    assert reason is not None and "Sign in again to continue" in reason
    assert client.get_cookie("remember_token") is None  # the remember-me cookie is dropped too
    assert signed_out_because(client) is not None


@pytest.mark.parametrize("remember, idle, ends", [
    (False, 11 * HOUR, False), (False, 13 * HOUR, True),
    (True, 13 * HOUR, False), (True, 8 * DAY, True),
])
def test_idle_timeout(app, client, make, remember, idle, ends):
    sign_in(client, make.user(role="viewer"), remember=remember)
    backdate(app, started=idle, last_seen=idle)
    reason = signed_out_because(client)
    assert (reason is not None) is ends
    if ends:
        assert "without activity" in reason


@pytest.mark.parametrize("remember, age, ends", [
    (False, 23 * HOUR, False), (False, 25 * HOUR, True),
    (True, 25 * HOUR, False), (True, 31 * DAY, True),
])
def test_absolute_lifetime_even_when_used_all_along(app, client, make, remember, age, ends):
    sign_in(client, make.user(role="viewer"), remember=remember)
    backdate(app, started=age, last_seen=timedelta(minutes=5))
    reason = signed_out_because(client)
    assert (reason is not None) is ends
    if ends:
        assert "after you signed in" in reason


def test_lifetimes_come_from_the_settings(app_config, make):
    from incidents import create_app

    app = create_app({**app_config, "SESSION_IDLE_TIMEOUT": 600})
    try:
        client = app.test_client()
        sign_in(client, Factory(app).user(role="viewer"))
        backdate(app, started=timedelta(minutes=11), last_seen=timedelta(minutes=11))
        assert "after 10 minutes without activity" in signed_out_because(client)
    finally:
        with app.app_context():
            db.engine.dispose()


def test_use_keeps_a_session_alive_with_one_write_a_minute_at_most(app, client, make):
    """Pages read on and on keep the session alive; last_seen_at moves only when a minute old."""
    sign_in(client, make.user(role="viewer"))
    backdate(app, started=11 * HOUR, last_seen=11 * HOUR)
    assert client.get("/").status_code == 200  # a GET: the touch is its own short write
    touched = last_seen(app)
    assert utcnow() - touched < timedelta(seconds=30)
    assert client.get("/").status_code == 200
    assert last_seen(app) == touched  # not written again within the minute
    backdate(app, started=11 * HOUR, last_seen=timedelta(minutes=2))
    client.post("/confirm-password", data={"password": "a wrong password"})  # a POST: in its transaction
    assert utcnow() - last_seen(app) < timedelta(seconds=30)
    # Two more hours pass: twelve since sign-in but only two idle, so the session still works.
    backdate(app, started=13 * HOUR, last_seen=2 * HOUR)
    assert client.get("/").status_code == 200
