"""The automation API's first part (issue #17): personal access tokens (settings page, CLI, what a
token may do), bearer-only requests under /api/v1 (no cookie in or out), problem details, the
incident list and one incident, checked against the served OpenAPI document, and the docs page."""
from __future__ import annotations

import json
import re
from datetime import timedelta

import jsonschema
import pytest
import sqlalchemy as sa

from incidents.api import tokens
from incidents.api.models import AccessToken
from incidents.audit.chain import verify
from incidents.audit.models import AuditEvent
from incidents.auth.models import Role, User
from incidents.credentials import hash_secret
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from tests.api_helpers import PROBLEM, bearer, check_problem, conforms, new_token, served_document


@pytest.fixture
def reader(app, make):
    """A responder's read token (acts as a viewer)."""
    email = make.user(role="responder")
    return email, new_token(app, email)


# --- the document, and responses checked against it -------------------------------------------------

def test_the_document_is_openapi_3_1_of_the_api_routes_only(client):
    document = served_document(client)
    assert document["openapi"].startswith("3.1")
    assert set(document["paths"]) == {
        "/api/v1/incidents", "/api/v1/incidents/{reference}", "/api/v1/incidents/{reference}/status",
        "/api/v1/incidents/{reference}/timeline", "/api/v1/incidents/{reference}/impact",
        "/api/v1/incidents/{reference}/workstreams",
        "/api/v1/incidents/{reference}/workstreams/{workstream_id}/progress",
        "/api/v1/incidents/{reference}/postmortem", "/api/v1/incidents/{reference}/actions",
        "/api/v1/incidents/{reference}/notices", "/api/v1/incidents/{reference}/obligations",
        "/api/v1/incidents/{reference}/systems", "/api/v1/systems", "/api/v1/systems/audit",
        "/api/v1/systems/{name}",
        "/api/v1/intake/alertmanager", "/api/v1/intake/grafana", "/api/v1/intake/generic"}
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http", "scheme": "bearer", "description": "A personal access token (dlt_…)."}
    # The intakes open to their own tokens, not to a personal one.
    assert document["components"]["securitySchemes"]["intake"]["scheme"] == "bearer"
    assert document["paths"]["/api/v1/intake/generic"]["post"]["security"] == [{"intake": []}]
    errors = document["paths"]["/api/v1/incidents"]["get"]["responses"]
    assert PROBLEM in errors["401"]["content"] and PROBLEM in errors["422"]["content"]
    for schema in document["components"]["schemas"].values():
        jsonschema.Draft202012Validator.check_schema(schema)


def test_list_filters_and_pages_match_the_document(app, client, make, reader):
    _email, secret = reader
    by = make.user(role="responder")
    refs = [make.incident(by=by, title=f"Incident {n}", severity="SEV1" if n % 2 else "SEV3") for n in range(5)]
    document = served_document(client)

    first = client.get("/api/v1/incidents?limit=2", headers=bearer(secret))
    conforms(document, "/api/v1/incidents", first)
    body = first.get_json()
    assert [i["reference"] for i in body["items"]] == refs[::-1][:2]
    seen = [i["reference"] for i in body["items"]]
    while body["next"]:
        assert body["next"].startswith("http://localhost/api/v1/incidents?") and "limit=2" in body["next"]
        page = client.get(body["next"], headers=bearer(secret))
        conforms(document, "/api/v1/incidents", page)
        body = page.get_json()
        seen += [i["reference"] for i in body["items"]]
    assert seen == refs[::-1]
    assert "~" not in first.get_json()["next_cursor"]  # opaque, not the page's inner cursor

    severe = client.get("/api/v1/incidents?severity=SEV1", headers=bearer(secret)).get_json()["items"]
    assert sorted(i["reference"] for i in severe) == sorted(refs[1::2])
    make.resolve(refs[0], by=by)
    open_ = client.get("/api/v1/incidents?status=open", headers=bearer(secret)).get_json()["items"]
    assert refs[0] not in {i["reference"] for i in open_} and len(open_) == 4
    resolved = client.get("/api/v1/incidents?status=resolved", headers=bearer(secret)).get_json()["items"]
    assert [i["reference"] for i in resolved] == [refs[0]]


def test_one_incident_and_404_match_the_document(client, make, reader):
    _email, secret = reader
    commander = make.user(role="responder", name="Dana Commander")
    ref = make.incident(by=commander, title="Contacts lost", severity="SEV1", personal_data=True)
    document = served_document(client)
    found = client.get(f"/api/v1/incidents/{ref}", headers=bearer(secret))
    conforms(document, "/api/v1/incidents/{reference}", found)
    body = found.get_json()
    assert body["reference"] == ref and body["title"] == "Contacts lost" and body["severity"] == "SEV1"
    assert body["commander"]["name"] == "Dana Commander" and body["personal_data"] is True
    missing = client.get("/api/v1/incidents/INC-1999-0001", headers=bearer(secret))
    conforms(document, "/api/v1/incidents/{reference}", missing)
    assert check_problem(missing, 404)["detail"] == "No incident INC-1999-0001."


def test_refused_query_fields_are_a_422_with_each_fields_messages(client, reader):
    _email, secret = reader
    response = client.get("/api/v1/incidents?status=lost&limit=0&colour=red", headers=bearer(secret))
    errors = check_problem(response, 422)["errors"]
    assert set(errors) == {"status", "limit", "colour"}
    assert all(isinstance(m, str) for messages in errors.values() for m in messages)
    conforms(served_document(client), "/api/v1/incidents", response)
    bad_cursor = client.get("/api/v1/incidents?cursor=not-ours", headers=bearer(secret))
    assert list(check_problem(bad_cursor, 422)["errors"]) == ["cursor"]


def test_errors_under_the_api_are_problems_and_the_html_app_keeps_its_pages(client, reader):
    _email, secret = reader
    check_problem(client.get("/api/v1/no-such-thing", headers=bearer(secret)), 404)
    not_allowed = client.delete("/api/v1/incidents", headers=bearer(secret))
    check_problem(not_allowed, 405)
    assert {"GET", "POST"} <= {m.strip() for m in not_allowed.headers["Allow"].split(",")}
    html = client.get("/no-such-page")
    assert html.status_code == 404 and html.mimetype == "text/html"


# --- who may call -----------------------------------------------------------------------------------

@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer dlt_wrong"}, {"Authorization": "Basic dXNlcg=="},
                                     {"Authorization": "Bearer " + "x" * 5000}],
                         ids=["none", "wrong", "basic", "huge"])
def test_without_a_working_token_the_answer_is_401(client, headers):
    response = client.get("/api/v1/incidents", headers=headers)
    body = check_problem(response, 401)
    assert "Bearer" in response.headers["WWW-Authenticate"] and "Authorization: Bearer" in body["detail"]


def test_a_session_cookie_alone_gets_401_and_the_api_never_sets_a_cookie(app, client, auth, make):
    email = auth.as_role("admin")
    assert client.get("/").status_code == 200  # signed in, for the HTML app
    response = client.get("/api/v1/incidents")
    check_problem(response, 401)
    assert "Set-Cookie" not in response.headers
    secret = new_token(app, email)
    with_token = client.get("/api/v1/incidents", headers=bearer(secret))
    assert with_token.status_code == 200 and "Set-Cookie" not in with_token.headers
    assert client.get("/").status_code == 200  # the session is untouched by the API


def test_with_csrf_protection_on_the_api_answers_problems_not_the_csrf_page(csrf_app, make):
    client = csrf_app.test_client()
    check_problem(client.get("/api/v1/incidents"), 401)
    check_problem(client.post("/api/v1/incidents", json={"title": "x", "severity": "SEV1"}), 401)  # no CSRF page


def test_a_token_does_no_more_than_its_scope_and_its_owners_role(app, make):
    viewer = make.user(role="viewer")
    admin = make.user(role="admin")
    with app.app_context():
        def power(email, scopes):
            owner = db.session.scalar(sa.select(User).where(User.email == email))
            token, _ = tokens.create_token(session=db.session, owner=owner, name="t", scopes=scopes)
            return token.effective_role()

        assert power(viewer, ["admin"]) is Role.viewer  # scope above the role: the role wins
        assert power(admin, ["read"]) is Role.viewer  # role above the scope: the scope wins
        assert power(admin, ["read", "write"]) is Role.responder
        assert power(admin, ["admin"]) is Role.admin
        db.session.rollback()


def test_demoting_or_disabling_the_owner_takes_effect_on_the_token_at_once(app, client, make):
    email = make.user(role="admin")
    secret = new_token(app, email, scopes=["admin"])
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        user.active = False
        db.session.commit()
    check_problem(client.get("/api/v1/incidents", headers=bearer(secret)), 401)


def test_expired_and_revoked_tokens_get_401(app, client, make):
    email = make.user(role="viewer")
    secret = new_token(app, email, days=1)
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    with app.app_context(), clock_at(utcnow() + timedelta(days=1, seconds=1)):
        assert tokens.authenticate(session=db.session, secret=secret) is None
    other = new_token(app, email)
    with app.app_context():
        token = db.session.scalar(sa.select(AccessToken).where(AccessToken.token_hash == hash_secret(other)))
        tokens.revoke_token(session=db.session, token=token)
        db.session.commit()
    check_problem(client.get("/api/v1/incidents", headers=bearer(other)), 401)


@pytest.mark.parametrize(("fields", "field"), [
    ({"name": " ", "scopes": ["read"], "days": 30}, "name"),
    ({"name": "x" * 121, "scopes": ["read"], "days": 30}, "name"),
    ({"name": "ok", "scopes": [], "days": 30}, "scopes"),
    ({"name": "ok", "scopes": ["root"], "days": 30}, "scopes"),
    ({"name": "ok", "scopes": ["read"], "days": 0}, "days"),
    ({"name": "ok", "scopes": ["read"], "days": 367}, "days"),
])
def test_token_fields_are_checked(fields, field):
    from incidents.errors import FieldError

    with pytest.raises(FieldError) as refused:
        tokens.check_token_fields(**fields)
    assert refused.value.field == field


def test_only_the_hash_is_stored_and_last_use_is_noted_at_most_once_a_minute(app, client, make):
    email = make.user(role="viewer")
    secret = new_token(app, email)
    assert re.fullmatch(r"dlt_[A-Za-z0-9_-]{43}", secret)
    with app.app_context():
        token = db.session.scalar(sa.select(AccessToken))
        assert token.token_hash == hash_secret(secret) and secret not in json.dumps(
            [str(v) for v in db.session.execute(sa.select(AccessToken.__table__)).one()])
        assert token.hint == secret[:10] and token.last_used_at is None
    client.get("/api/v1/incidents", headers=bearer(secret))
    with app.app_context():
        first_use = db.session.scalar(sa.select(AccessToken.last_used_at))
    assert first_use is not None
    client.get("/api/v1/incidents", headers=bearer(secret))
    with app.app_context():
        assert db.session.scalar(sa.select(AccessToken.last_used_at)) == first_use  # within the minute
        db.session.execute(sa.update(AccessToken).values(last_used_at=first_use - timedelta(minutes=2)))
        db.session.commit()
    client.get("/api/v1/incidents", headers=bearer(secret))
    with app.app_context():
        assert db.session.scalar(sa.select(AccessToken.last_used_at)) > first_use - timedelta(minutes=2)


def test_noting_a_reads_token_use_waits_for_a_writer_that_got_in_first(app, client, make):
    """The token's check reads inside the request's transaction; when another process writes
    before the last use is noted (two workers serving the same script), the note must wait for
    the write lock, not fail the read (SQLite refuses to upgrade a stale snapshot at once)."""
    secret = new_token(app, make.user(role="viewer"))
    ref = make.incident(by=make.user(role="responder"))

    def another_worker_writes(response):
        with db.engine.begin() as other:
            other.execute(sa.update(AccessToken).values(name="renamed meanwhile"))
        return response

    app.after_request_funcs.setdefault("api", []).append(another_worker_writes)  # runs before the note
    answer = client.get(f"/api/v1/incidents/{ref}", headers=bearer(secret))
    assert answer.status_code == 200, answer.get_data(as_text=True)
    with app.app_context():
        token = db.session.scalar(sa.select(AccessToken))
        assert token.last_used_at is not None and token.name == "renamed meanwhile"


def test_requests_are_rate_limited_per_token_reads_included(app_config, make):
    from incidents import create_app

    app_config.update(RATELIMIT_ENABLED=True, API_RATE_LIMIT="3 per minute")
    app = create_app(app_config)
    make = type(make)(app)
    first, second = new_token(app, make.user(role="viewer")), new_token(app, make.user(role="viewer"))
    client = app.test_client()
    for left in (2, 1, 0):  # where the client stands, on every answer
        answer = client.get("/api/v1/incidents", headers=bearer(first))
        assert answer.status_code == 200
        assert (answer.headers["X-RateLimit-Limit"], answer.headers["X-RateLimit-Remaining"]) == ("3", str(left))
    limited = client.get("/api/v1/incidents", headers=bearer(first))
    assert "slow down" in check_problem(limited, 429)["detail"]
    assert 0 < int(limited.headers["Retry-After"]) <= 60 and limited.headers["X-RateLimit-Remaining"] == "0"
    assert client.get("/api/v1/incidents", headers=bearer(second)).status_code == 200  # its own count
    for _ in range(3):  # without a working token, the address is counted: guessing is limited too
        check_problem(client.get("/api/v1/incidents", headers=bearer("dlt_wrong")), 401)
    check_problem(client.get("/api/v1/incidents", headers=bearer("dlt_wrong")), 429)
    for _ in range(5):  # the HTML app's reads are still never limited
        assert client.get("/login").status_code == 200
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def test_changes_made_with_a_token_name_it_in_the_audit_log(app, client, make):
    """Reads change nothing; the one change so far (the token's creation in the settings page
    is a session's) is shown by attributing an event by hand through the request's context."""
    email = make.user(role="responder")
    secret = new_token(app, email, scopes=["write"])
    with app.test_request_context("/api/v1/incidents", headers=bearer(secret)):
        from incidents.api.auth import current_caller
        from incidents.audit.recorder import record

        caller = current_caller()
        record(db.session, action="update", entity_type="incident", entity_id=1, actor_id=caller.user_id)
        db.session.commit()
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
        assert event.token_id == caller.token_id and event.actor == email
        assert verify(session=db.session).ok  # the token id is covered by the chain


# --- the settings page and the CLI --------------------------------------------------------------------

def test_the_settings_page_makes_a_token_shown_once_and_revokes_it(app, client, auth):
    email = auth.as_role("viewer")
    page = client.get("/settings/tokens")
    assert page.status_code == 200 and "No tokens yet." in page.get_data(as_text=True)
    made = client.post("/settings/tokens", data={"name": "restore script", "scopes": ["admin"], "days": "30"})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    html = made.get_data(as_text=True)
    secret = re.search(r"dlt_[A-Za-z0-9_-]{43}", html).group(0)
    assert "acts as a viewer" in html
    listed = client.get("/settings/tokens").get_data(as_text=True)
    assert secret not in listed and secret[:10] in listed and "restore script" in listed
    assert client.get("/api/v1/incidents", headers=bearer(secret)).status_code == 200
    with app.app_context():
        token = db.session.scalar(sa.select(AccessToken))
        assert token.user.email == email and token.expires_at - token.created_at == timedelta(days=30)
        token_id = token.id
    assert client.post(f"/settings/tokens/{token_id}/revoke").status_code == 302
    check_problem(client.get("/api/v1/incidents", headers=bearer(secret)), 401)


def test_the_settings_page_refuses_bad_fields_and_other_peoples_tokens(app, client, auth, make):
    auth.as_role("responder")
    refused = client.post("/settings/tokens", data={"name": "", "scopes": ["read"], "days": "400"})
    assert refused.status_code == 422 and "dlt_" not in refused.get_data(as_text=True)
    other = make.user(role="admin")
    new_token(app, other)
    with app.app_context():
        their_id = db.session.scalar(sa.select(AccessToken.id))
    assert client.post(f"/settings/tokens/{their_id}/revoke").status_code == 404
    with app.app_context():
        assert db.session.scalar(sa.select(AccessToken.revoked_at)) is None


def test_the_cli_creates_lists_and_revokes_tokens(app, runner, client, make):
    email = make.user(role="responder")
    made = runner.invoke(args=["tokens", "create", email, "--name", "cron", "--scope", "read", "--days", "90"])
    assert made.exit_code == 0, made.output
    secret = re.search(r"dlt_[A-Za-z0-9_-]{43}", made.output).group(0)
    assert "acts as viewer" in made.output
    body = client.get("/api/v1/incidents", headers=bearer(secret))
    assert body.status_code == 200
    listed = runner.invoke(args=["tokens", "list"]).output
    assert secret[:10] in listed and secret not in listed and "active" in listed
    with app.app_context():
        token_id = db.session.scalar(sa.select(AccessToken.id))
    assert runner.invoke(args=["tokens", "revoke", str(token_id)]).exit_code == 0
    assert "revoked" in runner.invoke(args=["tokens", "list"]).output
    too_long = runner.invoke(args=["tokens", "create", email, "--name", "x", "--days", "400"])
    assert too_long.exit_code != 0 and "366 days" in too_long.output


# --- the docs page --------------------------------------------------------------------------------------

def test_the_docs_page_loads_its_assets_from_this_server_without_inline_code(client):
    page = client.get("/api/v1/docs")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<style" not in html and "style=" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html), "an inline script: the CSP refuses it"
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert len(assets) == 5 and all(a.startswith("/") and not a.startswith("//") for a in assets)
    for asset in assets:
        response = client.get(asset)
        assert response.status_code == 200 and len(response.get_data()) > 100, asset
        response.close()
    bundle = client.get("/api/v1/docs/assets/swagger-ui-bundle.js")
    assert len(bundle.get_data()) > 1_000_000 and bundle.mimetype == "text/javascript"  # Swagger UI itself
    bundle.close()
    assert client.get("/api/v1/docs/assets/../../secret").status_code == 404
