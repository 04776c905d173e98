"""Password guessing: sign-in limits shared by every worker, per account across addresses (which the
account's owner passes on a device they signed in from before), the confirm-password limit, and the
warning about X-Forwarded-For without TRUSTED_PROXIES."""
from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from incidents import create_app
from incidents.audit.models import AuditEvent
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from tests.factories import Factory

PASSWORD = Factory.PASSWORD
WRONG = "not the password at all"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RATELIMIT_ENABLED": True}  # conftest switches limits off for other tests


def sign_in(client, email: str, password: str = PASSWORD, address: str = "127.0.0.1"):
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_guesses_spread_over_addresses_meet_the_account_limit(app, client, make):
    """36 guesses from four addresses: the 11th and later are refused, with when to try again."""
    email = make.user(role="viewer")
    answers = [sign_in(client, email, WRONG, f"198.51.100.{n}") for n in range(1, 5) for _ in range(9)]
    assert [a.status_code for a in answers[:10]] == [401] * 10
    assert {a.status_code for a in answers[10:]} == {429}
    refusal = answers[-1]
    assert "Too many sign-in attempts. Try again after" in refusal.get_data(as_text=True)
    assert 1 <= int(refusal.headers["Retry-After"]) <= 15 * 60 + 1
    # The right password from a new device and address does not get in either...
    assert sign_in(app.test_client(), email, PASSWORD, "203.0.113.9").status_code == 429
    # ...and another account is not affected.
    assert sign_in(app.test_client(), make.user(role="viewer"), PASSWORD, "203.0.113.9").status_code == 302


def test_the_owner_on_a_known_device_passes_the_account_limit(app, make):
    """A guessing run cannot lock the real user out: their own browser still signs in."""
    email, other = make.user(role="viewer"), make.user(role="viewer")
    owners_laptop, other_persons = app.test_client(), app.test_client()
    assert sign_in(owners_laptop, email, address="192.0.2.10").status_code == 302
    assert sign_in(other_persons, other, address="192.0.2.10").status_code == 302
    for device in (owners_laptop, other_persons):
        device.post("/logout")
    attacker = app.test_client()
    for n in range(12):
        sign_in(attacker, email, WRONG, f"198.51.100.{n}")
    assert sign_in(attacker, email, PASSWORD, "198.51.100.99").status_code == 429
    # A device known to a different account is still a stranger to this one.
    assert sign_in(other_persons, email, PASSWORD, "192.0.2.10").status_code == 429
    assert sign_in(owners_laptop, email, PASSWORD, "192.0.2.10").status_code == 302


def test_the_limit_holds_on_a_worker_that_started_later(app_config, app, make):
    """Counted in the database: a new worker process (or another app server) sees earlier failures."""
    email = make.user(role="viewer")
    first = app.test_client()
    for _ in range(10):
        assert sign_in(first, email, WRONG).status_code == 401
    second_worker = create_app(app_config)
    try:
        refused = sign_in(second_worker.test_client(), email, PASSWORD)
        assert refused.status_code == 429
    finally:
        with second_worker.app_context():
            db.engine.dispose()


def test_a_limit_ends_one_window_after_the_failures(app, client, make):
    from incidents.auth.models import SignInAttempt

    email = make.user(role="viewer")
    with clock_at(utcnow() - timedelta(minutes=16)):
        for n in range(10):
            assert sign_in(client, email, WRONG, f"198.51.100.{n}").status_code == 401
        assert sign_in(client, email, PASSWORD, "198.51.100.50").status_code == 429
    assert sign_in(client, email, WRONG, "198.51.100.50").status_code == 401
    # Failures older than every window are forgotten as new ones arrive.
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(SignInAttempt)) == 1
    assert sign_in(app.test_client(), email, PASSWORD, "198.51.100.51").status_code == 302


def test_a_failed_sign_in_is_one_audit_event(app, client, make):
    email = make.user(role="viewer")
    for _ in range(3):
        sign_in(client, email, WRONG)
    with app.app_context():
        events = db.session.execute(db.select(AuditEvent.action, AuditEvent.entity_type)
                                    .where(AuditEvent.action != "create")).all()
    assert events == [("sign_in_failed", "user")] * 3


def test_wrong_passwords_on_confirm_password_sign_the_session_out(app, client, make, monkeypatch):
    """Five wrong passwords in a row end the session; the right one afterwards does not help."""
    import incidents.auth.access as access

    email = make.user(role="admin")
    assert sign_in(client, email).status_code == 302
    copied = client.get_cookie("session").value
    real_time = access.time.time
    monkeypatch.setattr(access.time, "time", lambda: real_time() + app.config["RECENT_SIGN_IN_SECONDS"] + 5)

    for _ in range(4):
        assert client.post("/confirm-password", data={"password": WRONG}).status_code == 422
    ended = client.post("/confirm-password", data={"password": WRONG})
    assert ended.status_code == 302 and ended.headers["Location"].endswith("/login")
    assert "signed out after 5 wrong passwords" in client.get("/login").get_data(as_text=True)
    assert client.post("/confirm-password", data={"password": PASSWORD}).status_code == 401  # signed out
    assert client.get("/admin/users").status_code == 302
    replay = app.test_client()
    replay.set_cookie("session", copied)
    assert replay.get("/").status_code == 302  # a copy of the old cookie is signed out too


def test_a_right_confirmation_starts_the_count_again(app, client, make, monkeypatch):
    import incidents.auth.access as access

    email = make.user(role="admin")
    assert sign_in(client, email).status_code == 302
    real_time = access.time.time
    monkeypatch.setattr(access.time, "time", lambda: real_time() + app.config["RECENT_SIGN_IN_SECONDS"] + 5)
    for _ in range(4):
        client.post("/confirm-password", data={"password": WRONG})
    assert client.post("/confirm-password", data={"password": PASSWORD}).status_code == 302
    monkeypatch.setattr(access.time, "time", lambda: real_time() + 2 * app.config["RECENT_SIGN_IN_SECONDS"] + 10)
    for _ in range(4):
        assert client.post("/confirm-password", data={"password": WRONG}).status_code == 422
    assert client.post("/confirm-password", data={"password": PASSWORD}).status_code == 302


def test_forwarded_requests_without_trusted_proxies_are_warned_about_once(app, client, caplog):
    with caplog.at_level(logging.WARNING):
        client.get("/login")
        assert not [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
        for _ in range(3):
            client.get("/login", headers={"X-Forwarded-For": "203.0.113.7"})
    warnings = [r for r in caplog.records if "TRUSTED_PROXIES=0" in r.getMessage()]
    assert len(warnings) == 1 and "X-Forwarded-For" in warnings[0].getMessage()


def test_no_proxy_warning_when_proxies_are_trusted(app_config, app, caplog):
    trusting = create_app({**app_config, "TRUSTED_PROXIES": 1})
    with caplog.at_level(logging.WARNING):
        trusting.test_client().get("/login", headers={"X-Forwarded-For": "203.0.113.7"})
    assert not [r for r in caplog.records if "TRUSTED_PROXIES" in r.getMessage()]
    with trusting.app_context():
        db.engine.dispose()
