"""What the API's tests share: a token for a user, its header, the check of a problem answer, and
the check of any answer against the served OpenAPI document."""
from __future__ import annotations

import jsonschema
import sqlalchemy as sa

from incidents.api import tokens
from incidents.auth.models import User
from incidents.extensions import db
from incidents.intake import manage

PROBLEM = "application/problem+json"


def new_token(app, email: str, *, scopes=("read",), days: int = 90, name: str = "script") -> str:
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == email))
        _token, secret = tokens.create_token(session=db.session, owner=owner, name=name, scopes=list(scopes),
                                             days=days)
        db.session.commit()
        return secret


def make_intake(app, account: str, kind: str = "alertmanager", name: str | None = None, **options) -> tuple[int, str]:
    """An intake declaring as `account`, through the service the form and CLI use: (id, token)."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == account))
        fields = manage.IntakeFields(name=name or f"{kind} intake", kind=kind, account=user, **options)
        intake, secret = manage.create_intake(session=db.session, actor=user, fields=fields)
        db.session.commit()
        return intake.id, secret


def bearer(secret: str) -> dict:
    return {"Authorization": f"Bearer {secret}"}


def check_problem(response, status: int) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM
    body = response.get_json(force=True)
    assert body["status"] == status and body["type"] == "about:blank" and body["title"] and "detail" in body
    return body


def served_document(client) -> dict:
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def conforms(document: dict, path: str, response, method: str = "get") -> dict:
    """The response's status is one the document declares for `path` (its template, e.g.
    /api/v1/systems/{name}) and `method`, and its body matches the schema given for it; the body."""
    operation = document["paths"][path][method]
    declared = operation["responses"][str(response.status_code)]["content"]
    assert response.mimetype in declared, (response.mimetype, list(declared))
    schema = {**declared[response.mimetype]["schema"], "components": document["components"]}
    body = response.get_json(force=True)
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(body)
    return body
