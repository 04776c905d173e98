"""Accounts and signing in: passwords, the `users` CLI, CSRF, safe redirects, logout, failed
logins, cookie flags and user management by admins."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
from werkzeug.security import check_password_hash, generate_password_hash

from incidents.auth import service
from incidents.auth.models import Role, User
from incidents.auth.service import MIN_PASSWORD_LENGTH
from incidents.extensions import db
from incidents.incident.models import Incident
from tests.factories import Factory
from tests.helpers import csrf_token, login_with_token

PASSWORD = Factory.PASSWORD
SITE = "https://tracker.example"


def stored_user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(db.select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(db.select(db.func.count()).select_from(model))


def signed_in(client) -> bool:
    """Whether the client's cookies sign someone in: the incident list is shown, not the login."""
    response = client.get("/")
    assert response.status_code in (200, 302)
    if response.status_code == 302:
        assert urlsplit(response.headers["Location"]).path == "/login"
    return response.status_code == 200


def set_cookie_attributes(response, name: str) -> dict[str, str | bool] | None:
    """The attributes (lower-cased names) of the Set-Cookie header for cookie `name`."""
    for header in response.headers.getlist("Set-Cookie"):
        first, *attributes = [part.strip() for part in header.split(";")]
        if first.split("=", 1)[0] == name:
            parsed: dict[str, str | bool] = {}
            for attribute in attributes:
                key, _, value = attribute.partition("=")
                parsed[key.lower()] = value or True
            return parsed
    return None


def field_errors(html: str, field: str) -> list[str]:
    """The error messages shown beside a form field."""
    match = re.search(rf'<ul class="errors" id="{field}-errors">(.*?)</ul>', html, re.S)
    return re.findall(r"<li>(.*?)</li>", match.group(1)) if match else []


# Passwords ---------------------------------------------------------------------------------

def test_passwords_are_stored_as_werkzeug_default_hashes(app_config, request):
    del app_config["PASSWORD_HASH_METHOD"]  # the suite's cheap hashing off: the app's real default
    app, make = request.getfixturevalue("app"), request.getfixturevalue("make")
    email = make.user(role="viewer")
    stored = stored_user(app, email).password_hash
    assert stored != PASSWORD and PASSWORD not in stored
    assert check_password_hash(stored, PASSWORD)
    assert not check_password_hash(stored, PASSWORD + "x")
    default_method = generate_password_hash("anything").split("$", 1)[0]
    assert stored.split("$", 1)[0] == default_method and default_method.startswith("scrypt:")


# The `users` command -----------------------------------------------------------------------

def test_cli_create_prompts_for_the_password_twice(app, runner, client):
    result = runner.invoke(args=["users", "create", "Dana@Example.com", "--role", "viewer"],
                           input="a good long password\na good long password\n")
    assert result.exit_code == 0, result.output
    assert "Password" in result.output and "a good long password" not in result.output
    user = stored_user(app, "dana@example.com")
    assert user.role is Role.viewer and user.active
    assert check_password_hash(user.password_hash, "a good long password")
    response = client.post("/login", data={"email": "dana@example.com", "password": "a good long password"})
    assert response.status_code == 302


def test_cli_create_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(args=["users", "create", "ops@example.com", "--role", "admin", "--password-stdin"],
                           input="piped in from a vault\n")
    assert result.exit_code == 0, result.output
    assert "Password" not in result.output  # no prompt for scripts
    user = stored_user(app, "ops@example.com")
    assert user.role is Role.admin
    assert check_password_hash(user.password_hash, "piped in from a vault")


def test_cli_create_refuses_a_duplicate(app, runner, make):
    email = make.user(role="viewer")
    result = runner.invoke(args=["users", "create", email.upper(), "--role", "admin", "--password-stdin"],
                           input="another long password\n")
    assert result.exit_code != 0
    assert f"An account for {email} already exists." in result.output
    user = stored_user(app, email)
    assert user.role is Role.viewer and check_password_hash(user.password_hash, PASSWORD)


@pytest.mark.parametrize("stdin", [True, False], ids=["stdin", "prompt"])
def test_cli_create_refuses_a_short_password(app, runner, stdin):
    short = "x" * (MIN_PASSWORD_LENGTH - 1)
    args = ["users", "create", "short@example.com", "--role", "viewer"] + (["--password-stdin"] if stdin else [])
    result = runner.invoke(args=args, input=f"{short}\n" if stdin else f"{short}\n{short}\n")
    assert result.exit_code != 0
    assert f"at least {MIN_PASSWORD_LENGTH} characters" in result.output
    assert stored_user(app, "short@example.com") is None


def test_cli_create_refuses_an_unknown_role(app, runner):
    result = runner.invoke(args=["users", "create", "x@example.com", "--role", "owner", "--password-stdin"],
                           input="a good long password\n")
    assert result.exit_code != 0 and "owner" in result.output
    assert stored_user(app, "x@example.com") is None


def test_cli_list_shows_accounts_with_roles(app, runner, make):
    viewer = make.user(role="viewer")
    admin = make.user(role="admin")
    with app.app_context():
        db.session.scalar(db.select(User).where(User.email == viewer)).active = False
        db.session.commit()
    result = runner.invoke(args=["users", "list"])
    assert result.exit_code == 0
    lines = {line.split()[0]: line for line in result.output.splitlines()}
    assert lines[admin].split()[1] == "admin" and "disabled" not in lines[admin]
    assert lines[viewer].split()[1] == "viewer" and "(disabled)" in lines[viewer]


def test_cli_set_role(app, runner, make):
    email = make.user(role="viewer")
    result = runner.invoke(args=["users", "set-role", email, "responder"])
    assert result.exit_code == 0, result.output
    assert stored_user(app, email).role is Role.responder

    unknown = runner.invoke(args=["users", "set-role", "nobody@example.com", "admin"])
    assert unknown.exit_code != 0 and "No account for nobody@example.com" in unknown.output
    bad_role = runner.invoke(args=["users", "set-role", email, "root"])
    assert bad_role.exit_code != 0
    assert stored_user(app, email).role is Role.responder


# CSRF --------------------------------------------------------------------------------------

def test_login_needs_the_csrf_token_from_the_login_form(csrf_app):
    email = Factory(csrf_app).user(role="viewer")
    client = csrf_app.test_client()

    refused = client.post("/login", data={"email": email, "password": PASSWORD})
    assert refused.status_code == 400
    assert "nothing was saved" in refused.get_data(as_text=True)
    assert not signed_in(client)

    # A token from someone else's session (an attacker's page) is no good either.
    other = csrf_app.test_client()
    foreign = csrf_token(other.get("/login").get_data(as_text=True))
    client.get("/login")
    assert client.post("/login", data={"email": email, "password": PASSWORD,
                                       "csrf_token": foreign}).status_code == 400
    assert not signed_in(client)

    token = csrf_token(client.get("/login").get_data(as_text=True))
    accepted = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert accepted.status_code == 302
    assert signed_in(client)


def test_logout_and_other_posts_need_a_csrf_token(csrf_app):
    make = Factory(csrf_app)
    email = make.user(role="admin")
    reference = make.incident(by=email)
    client = csrf_app.test_client()
    login_with_token(client, email)
    incidents, users = count(csrf_app, Incident), count(csrf_app, User)

    assert client.post("/logout").status_code == 400
    assert signed_in(client)
    assert client.post("/incidents/new", data={"title": "Forged", "severity": "SEV1"}).status_code == 400
    assert client.post(f"/incidents/{reference}/timeline", data={"body": "Forged"}).status_code == 400
    assert client.post("/admin/users", data={"email": "forged@example.com", "role": "admin",
                                             "password": "a long forged password"}).status_code == 400
    assert (count(csrf_app, Incident), count(csrf_app, User)) == (incidents, users)

    # The same requests with the token from the app's own pages go through.
    declare_token = csrf_token(client.get("/incidents/new").get_data(as_text=True))
    assert client.post("/incidents/new", data={"title": "Real", "severity": "SEV3",
                                               "csrf_token": declare_token}).status_code == 302
    assert count(csrf_app, Incident) == incidents + 1
    page_token = csrf_token(client.get("/").get_data(as_text=True))  # the sign-out form in the header
    assert client.post("/logout", data={"csrf_token": page_token}).status_code == 302
    assert not signed_in(client)


# Redirects after login ---------------------------------------------------------------------

OFF_SITE = ["//evil.example", "/\\evil.example", "https:evil.example", "javascript:alert(1)",
            "https://evil.example/", "%2F%2Fevil.example", "/%5Cevil.example", "\t//evil.example",
            "/\t/evil.example", "///evil.example", "http://localhost@evil.example/"]


def assert_stays_on_site(location: str) -> None:
    parts = urlsplit(location)
    assert (parts.scheme, parts.netloc) == ("", ""), location
    assert location.startswith("/") and not location.startswith("//"), location
    # Browsers drop tabs and newlines and read "\" as "/": resolve it as they would.
    as_browser_reads_it = re.sub(r"[\t\r\n]", "", location).replace("\\", "/")
    assert urlsplit(urljoin(SITE + "/login", as_browser_reads_it)).netloc == urlsplit(SITE).netloc, location


@pytest.mark.parametrize("target", OFF_SITE)
def test_login_never_redirects_off_site(app, make, target):
    email = make.user(role="viewer")
    # As a value (the server sees exactly `target`) and pasted raw into a link (decoded once).
    for query in ({"next": target}, "next=" + target):
        client = app.test_client()
        response = client.post("/login", query_string=query, data={"email": email, "password": PASSWORD})
        assert response.status_code == 302, query
        assert_stays_on_site(response.headers["Location"])
        if query != {"next": "/%5Cevil.example"}:  # that one arrives as the harmless path /%5Cevil.example
            # Refused, not repaired: the visitor lands on the incident list.
            assert response.headers["Location"] == "/", query
        # Already signed in, the login page sends visitors on at once: same rule.
        again = client.get("/login", query_string=query)
        assert again.status_code == 302, query
        assert_stays_on_site(again.headers["Location"])


def test_login_returns_to_the_page_that_asked_for_it(client, make):
    email = make.user(role="viewer")
    reference = make.incident(title="Invoices truncated")
    wall = client.get(f"/incidents/{reference}")
    assert wall.status_code == 302
    location = urlsplit(wall.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/login", {"next": [f"/incidents/{reference}"]})
    response = client.post(wall.headers["Location"], data={"email": email, "password": PASSWORD})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/incidents/{reference}"
    assert "Invoices truncated" in client.get(response.headers["Location"]).get_data(as_text=True)


# Logging out -------------------------------------------------------------------------------

def replay(app, cookies: dict[str, str]):
    """A fresh browser holding copies of `cookies`."""
    client = app.test_client()
    for name, value in cookies.items():
        client.set_cookie(name, value)
    return client


def test_logout_ends_the_session_for_copies_of_its_cookie(app, client, auth):
    auth.as_role("viewer")
    copied = {"session": client.get_cookie("session").value}
    assert signed_in(replay(app, copied))  # the copy works while the session lives

    response = client.post("/logout")
    assert response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/login"
    assert not signed_in(client)
    assert not signed_in(replay(app, copied))


def test_logout_ends_remember_me_too(app, client, make):
    email = make.user(role="viewer")
    assert client.post("/login", data={"email": email, "password": PASSWORD, "remember": "y"}).status_code == 302
    copied = {name: client.get_cookie(name).value for name in ("session", "remember_token")}
    assert signed_in(replay(app, {"remember_token": copied["remember_token"]}))  # remember-me works alone

    response = client.post("/logout")
    removed = set_cookie_attributes(response, "remember_token")
    assert removed is not None and removed.get("max-age") == "0"  # the browser drops it
    assert not signed_in(replay(app, copied))
    assert not signed_in(replay(app, {"remember_token": copied["remember_token"]}))


def test_logout_is_post_only(client, auth):
    auth.as_role("viewer")
    assert client.get("/logout").status_code == 405
    assert signed_in(client)  # a link or an <img src="/logout"> cannot sign anyone out


# Failed logins -----------------------------------------------------------------------------

def failed_login_page(client, email: str, password: str) -> tuple[int, str]:
    response = client.post("/login", data={"email": email, "password": password})
    assert not signed_in(client)
    return response.status_code, response.get_data(as_text=True).replace(email, "EMAIL")


def test_unknown_email_wrong_password_and_disabled_account_look_the_same(app, client, make):
    known = make.user(role="viewer")
    disabled = make.user(role="viewer")
    with app.app_context():
        db.session.scalar(db.select(User).where(User.email == disabled)).active = False
        db.session.commit()

    unknown_status, unknown_page = failed_login_page(client, "nobody@example.com", PASSWORD)
    assert unknown_status == 401
    assert "That e-mail and password do not match an active account." in unknown_page
    assert failed_login_page(client, known, "not the password") == (unknown_status, unknown_page)
    assert failed_login_page(client, disabled, PASSWORD) == (unknown_status, unknown_page)


def test_failed_logins_do_the_same_hashing_work(app, client, make, monkeypatch):
    """Equal work instead of wall-clock time: every path checks exactly one hash of one method."""
    checked: list[str] = []
    real_check = service.check_password_hash

    def counting_check(pwhash: str, password: str) -> bool:
        checked.append(pwhash.split("$", 1)[0])  # method and cost, e.g. scrypt:32768:8:1
        return real_check(pwhash, password)

    monkeypatch.setattr(service, "check_password_hash", counting_check)
    known = make.user(role="viewer")
    disabled = make.user(role="viewer")
    with app.app_context():
        db.session.scalar(db.select(User).where(User.email == disabled)).active = False
        db.session.commit()
    method = stored_user(app, known).password_hash.split("$", 1)[0]

    for email, password in [(known, PASSWORD), ("nobody@example.com", PASSWORD),
                            (known, "not the password"), (disabled, PASSWORD)]:
        checked.clear()
        client.post("/login", data={"email": email, "password": password})
        assert checked == [method], (email, password)
        client.post("/logout")


# Cookie flags ------------------------------------------------------------------------------

def login_cookies(client, email: str, **request) -> dict:
    response = client.post("/login", data={"email": email, "password": PASSWORD, "remember": "y"}, **request)
    assert response.status_code == 302
    return {name: set_cookie_attributes(response, name) for name in ("session", "remember_token")}


def test_cookies_are_httponly_and_lax_but_not_secure_over_http(client, make):
    for name, attributes in login_cookies(client, make.user(role="viewer")).items():
        assert attributes is not None, name
        assert attributes.get("httponly") is True, name
        assert attributes.get("samesite") == "Lax", name
        assert "secure" not in attributes, name  # would make the cookie vanish on plain HTTP


def test_cookies_are_secure_over_https(client, make):
    cookies = login_cookies(client, make.user(role="viewer"), base_url="https://localhost")
    for name, attributes in cookies.items():
        assert attributes is not None, name
        assert attributes.get("secure") is True, name
        assert attributes.get("httponly") is True, name
        assert attributes.get("samesite") == "Lax", name
    # Later responses that rewrite the session cookie keep the flag too.
    response = client.post("/logout", base_url="https://localhost")
    assert set_cookie_attributes(response, "session").get("secure") is True


# User management by admins -----------------------------------------------------------------

def test_admin_creates_an_account_that_can_sign_in(app, client, auth):
    auth.as_role("admin")
    response = client.post("/admin/users", data={"email": "new.person@example.com", "name": "New Person",
                                                 "role": "responder", "password": "a good long password"})
    assert response.status_code == 302
    assert "new.person@example.com" in client.get("/admin/users").get_data(as_text=True)
    user = stored_user(app, "new.person@example.com")
    assert user.role is Role.responder and user.name == "New Person"
    assert check_password_hash(user.password_hash, "a good long password")
    client.post("/logout")
    assert client.post("/login", data={"email": "new.person@example.com",
                                       "password": "a good long password"}).status_code == 302


@pytest.mark.parametrize("problem", ["bad e-mail", "short password", "duplicate"])
def test_admin_create_account_shows_errors_beside_fields(app, client, auth, make, problem):
    auth.as_role("admin")
    existing = make.user(role="viewer")
    data = {"email": "fresh@example.com", "name": "", "role": "admin", "password": "a good long password"}
    if problem == "bad e-mail":
        data["email"] = "fresh.example.com"
    elif problem == "short password":
        data["password"] = "x" * (MIN_PASSWORD_LENGTH - 1)
    else:
        data["email"] = existing.upper()
    users = count(app, User)

    response = client.post("/admin/users", data=data)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    email_errors, password_errors = field_errors(page, "email"), field_errors(page, "password")
    if problem == "short password":
        assert email_errors == [] and len(password_errors) == 1
        assert str(MIN_PASSWORD_LENGTH) in password_errors[0]
    else:
        assert password_errors == [] and len(email_errors) == 1
        if problem == "duplicate":
            assert email_errors == [f"An account for {existing} already exists."]
    assert count(app, User) == users
    assert stored_user(app, existing).role is Role.viewer


def test_admin_cannot_remove_their_own_admin_rights(app, client, auth, make):
    me = auth.as_role("admin")
    my_id = make.user_id(me)
    for change in ({"name": "Me", "role": "responder", "active": "y"}, {"name": "Me", "role": "admin"}):
        response = client.post(f"/admin/users/{my_id}", data=change)
        assert response.status_code == 422
        assert any("cannot remove your own admin rights" in e
                   for e in field_errors(response.get_data(as_text=True), "role"))
        user = stored_user(app, me)
        assert user.role is Role.admin and user.active
        assert client.get("/admin/users").status_code == 200

    # Another admin can be changed: the refusal is about yourself only.
    other = make.user(role="admin")
    assert client.post(f"/admin/users/{make.user_id(other)}",
                       data={"name": "Other", "role": "viewer", "active": "y"}).status_code == 302
    assert stored_user(app, other).role is Role.viewer


def test_disabling_an_account_ends_its_sessions(app, client, make):
    person = make.user(role="responder")
    theirs = app.test_client()
    assert theirs.post("/login", data={"email": person, "password": PASSWORD, "remember": "y"}).status_code == 302
    copied = {name: theirs.get_cookie(name).value for name in ("session", "remember_token")}
    assert signed_in(theirs)

    admin = make.user(role="admin")
    assert client.post("/login", data={"email": admin, "password": PASSWORD}).status_code == 302
    url = f"/admin/users/{make.user_id(person)}"
    assert client.post(url, data={"name": "Person", "role": "responder"}).status_code == 302  # unticked
    assert stored_user(app, person).active is False
    assert not signed_in(theirs)
    assert not signed_in(replay(app, {"remember_token": copied["remember_token"]}))

    # Enabling the account again does not bring the old sessions back; signing in again works.
    assert client.post(url, data={"name": "Person", "role": "responder", "active": "y"}).status_code == 302
    assert not signed_in(replay(app, copied))
    assert not signed_in(replay(app, {"remember_token": copied["remember_token"]}))
    fresh = app.test_client()
    assert fresh.post("/login", data={"email": person, "password": PASSWORD}).status_code == 302
    assert signed_in(fresh)


def test_password_guessing_is_slowed_down_per_account(app_config, app):
    """After ten failed sign-ins on one account in a minute, even the right password waits."""
    from incidents import create_app
    from tests.factories import Factory

    # A second app on the same database with limits on; the `app` fixture still cleans up.
    app = create_app({**app_config, "RATELIMIT_ENABLED": True})
    client = app.test_client()
    email = Factory(app).user(role="viewer")
    other = Factory(app).user(role="viewer")
    for _ in range(10):
        assert client.post("/login", data={"email": email, "password": "wrong-password!"}).status_code == 401
    blocked = client.post("/login", data={"email": email, "password": Factory.PASSWORD})
    assert blocked.status_code == 429
    assert "Too many sign-in attempts" in blocked.get_data(as_text=True)
    # Another account from the same address is not locked out by someone guessing at the first.
    assert client.post("/login", data={"email": other, "password": Factory.PASSWORD}).status_code == 302
    with app.app_context():
        db.engine.dispose()


def test_the_last_active_admin_cannot_be_demoted_or_disabled(app, client, runner, auth):
    me = auth.as_role("admin")
    with app.app_context():
        admins = db.session.scalars(db.select(User).where(User.role == Role.admin)).all()
    assert [a.email for a in admins] == [me]
    refused = runner.invoke(args=["users", "set-role", me, "viewer"])
    assert refused.exit_code != 0 and "last active admin" in refused.output
    assert stored_user(app, me).role is Role.admin
    # With a second admin the first may step down, from the shell.
    runner.invoke(args=["users", "create", "second-admin@example.com", "--role", "admin",
                        "--password-stdin"], input="another long password\n")
    assert runner.invoke(args=["users", "set-role", me, "viewer"]).exit_code == 0
    assert stored_user(app, me).role is Role.viewer


def test_a_password_of_only_spaces_is_refused_beside_the_field(app, client, auth, make):
    auth.as_role("admin")
    other = make.user(role="viewer")
    old_hash = stored_user(app, other).password_hash
    response = client.post(f"/admin/users/{make.user_id(other)}",
                           data={"name": "Other", "role": "viewer", "active": "y", "password": " " * 12})
    assert response.status_code == 422
    assert "A password cannot be only spaces." in field_errors(response.get_data(as_text=True), "password")
    assert stored_user(app, other).password_hash == old_hash


@pytest.mark.parametrize("bad", ["not-an-address", "two@@example.com", "spaces in@example.com"])
def test_cli_create_refuses_a_malformed_email(app, runner, bad):
    result = runner.invoke(args=["users", "create", bad, "--password-stdin"], input="a long password\n")
    assert result.exit_code != 0 and "not a valid e-mail address" in result.output
    assert count(app, User) == 0


def test_user_management_needs_a_recent_sign_in(app, client, auth, make, monkeypatch):
    """An admin session older than the window (or revived by remember-me) must confirm the password
    before it can see or change people and roles; other pages are unaffected."""
    import incidents.auth.access as access

    auth.as_role("admin")
    other = make.user(role="viewer")
    assert client.get("/admin/users").status_code == 200
    real_time = access.time.time
    monkeypatch.setattr(access.time, "time", lambda: real_time() + app.config["RECENT_SIGN_IN_SECONDS"] + 5)

    page = client.get("/admin/users")
    assert page.status_code == 302 and "/confirm-password?next=/admin/users" in page.headers["Location"]
    refused = client.post(f"/admin/users/{make.user_id(other)}", data={"name": "X", "role": "admin", "active": "y"})
    assert refused.status_code == 302 and "/confirm-password" in refused.headers["Location"]
    assert stored_user(app, other).role is Role.viewer  # nothing changed
    assert client.get("/").status_code == 200  # reading incidents needs no fresh sign-in

    wrong = client.post("/confirm-password?next=/admin/users", data={"password": "not my password"})
    assert wrong.status_code == 422 and "That password is not right." in wrong.get_data(as_text=True)
    assert client.get("/admin/users").status_code == 302
    right = client.post("/confirm-password?next=/admin/users", data={"password": Factory.PASSWORD})
    assert right.status_code == 302 and right.headers["Location"].endswith("/admin/users")
    assert client.get("/admin/users").status_code == 200


@pytest.mark.parametrize(("path", "data"), [
    ("/settings/tokens", {"name": "restore script", "scopes": ["write"], "days": "30"}),
    ("/settings/intakes", {"name": "Prometheus", "kind": "alertmanager"}),
    ("/admin/webhooks/new", {"name": "Ops chat", "url": "https://hooks.example.com/x", "preset": "standard",
                             "events": ["incident.declared"]}),
], ids=["access token", "alert intake", "webhook"])
def test_making_a_credential_or_a_data_feed_needs_a_recent_sign_in(app, client, auth, monkeypatch, path, data):
    """A token acts as its owner, an intake token declares incidents and a webhook sends incident
    data where it says: a borrowed, unlocked laptop confirms the password first, as for user
    management, and nothing is made."""
    import incidents.auth.access as access
    from incidents.api.models import AccessToken
    from incidents.intake.models import Intake
    from incidents.webhooks.models import WebhookSubscription

    auth.as_role("admin")
    real_time = access.time.time
    monkeypatch.setattr(access.time, "time", lambda: real_time() + app.config["RECENT_SIGN_IN_SECONDS"] + 5)
    refused = client.post(path, data=data)
    assert refused.status_code == 302 and "/confirm-password" in refused.headers["Location"]
    for model in (AccessToken, Intake, WebhookSubscription):
        assert count(app, model) == 0
