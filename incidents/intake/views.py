"""POST /api/v1/intake/alertmanager, /grafana and /generic: where alerting tools deliver.

Only an intake's own token opens these (a personal access token does not, and an intake token
opens nothing else: each side checks its own prefix and table). No cookie, no CSRF: the whole
/api/v1 prefix has no session (incidents/api/auth.py), and errors are problem details. The work
is ordered so that SQLite's write lock, taken by the first query of a POST, is held briefly: the
body is read and checked before the database is touched, and its verdict told only to a caller
whose token works (a stranger learns nothing but 401).
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, abort, current_app, g, jsonify, request, url_for
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError
from werkzeug.exceptions import RequestEntityTooLarge

from incidents.api.auth import bearer_secret
from incidents.api.problems import API_PREFIX, InvalidFields, field_errors, problem
from incidents.extensions import csrf, db, limiter
from incidents.intake import manage, payloads, reading, service
from incidents.intake.auth import grafana_signature_ok
from incidents.intake.models import Intake, IntakeKind
from incidents.intake.openapi import IntakeAnswer
from incidents.markdown import prerender

log = logging.getLogger(__name__)

bp = Blueprint("intake_api", __name__, url_prefix=API_PREFIX + "/intake")
csrf.exempt(bp)  # no cookies here: the bearer token is the only credential

# One answer for every token that does not open an intake: missing, malformed, wrong, revoked, a
# personal access token, an intake whose account may no longer declare.
UNAUTHORIZED = "Send this intake's token as “Authorization: Bearer dli_…” (admins make one under Alert intakes)."
# PostgreSQL's "try again" errors (deadlock detected, serialization failure): the work is redone.
RETRIED_SQLSTATES = {"40P01", "40001"}
ROUNDS = 3


@limiter.request_filter
def _deliveries_are_not_rate_limited() -> bool:
    """An alert storm must get through: tokens hold 256 random bits (guessing is hopeless) and a
    refused one costs one indexed look-up, so the limiter skips these before its bookkeeping."""
    return request.blueprint == "intake_api"


@bp.post("/alertmanager")
def alertmanager():
    """A Prometheus Alertmanager webhook notification (payload version 4)."""
    return _deliver(IntakeKind.alertmanager)


@bp.post("/grafana")
def grafana():
    """A Grafana alerting webhook contact point's notification (signed when the intake says so)."""
    return _deliver(IntakeKind.grafana)


@bp.post("/generic")
def generic():
    """{"title", "status": firing|resolved, "dedup_key", "description", "link", "severity"}."""
    return _deliver(IntakeKind.generic)


def _deliver(kind: IntakeKind):
    body = _read_body(current_app.config["INTAKE_MAX_BYTES"])
    notification, refused = _parse(kind, body)  # judged now, told only to a caller with a working token
    intake = manage.authenticate(session=db.session, secret=bearer_secret())
    if intake is None:
        return problem(401, UNAUTHORIZED, headers={"WWW-Authenticate": 'Bearer realm="intake"'})
    if intake.kind is not kind:
        abort(403, f"This token belongs to a {intake.kind.label} intake: send to "
                   f"{url_for(f'intake_api.{intake.kind.value}', _external=True)}.")
    if kind is IntakeKind.grafana and intake.hmac_secret and not grafana_signature_ok(intake, body, request.headers):
        return problem(401, "The HMAC signature (X-Grafana-Alerting-Signature) is missing, wrong or too old: "
                            "set the same secret, and timestamp header if any, in Grafana's contact point.")
    if refused is not None:
        raise InvalidFields(refused)
    intake_id, title_annotation = intake.id, intake.title_annotation
    # End the look-up's transaction (on SQLite it holds the write lock) and render the entry's
    # alert list now, so the transaction that writes finds it rendered (incidents/markdown.py).
    db.session.commit()
    prerender([reading.alert_list(title_annotation, notification)])
    receipt = _receive(intake_id, notification, body.decode("utf-8"))
    answer = IntakeAnswer(result=receipt.result, incident=receipt.reference, delivery=receipt.delivery_id,
                          detail=receipt.detail, incident_url=url_for("incident.detail", reference=receipt.reference,
                                                                      _external=True) if receipt.reference else None)
    return jsonify(answer.model_dump()), 200 if receipt.duplicate else 202  # as the OpenAPI document says


def _read_body(limit: int) -> bytes:
    """The raw body (HMAC is over these bytes), refused with 413 past `limit`."""
    too_large = RequestEntityTooLarge(f"A delivery is at most {limit:,} bytes: lower the sender's max_alerts.")
    if request.content_length is not None and request.content_length > limit:
        raise too_large
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        raise too_large
    return body


def _parse(kind: IntakeKind, body: bytes) -> tuple[payloads.Notification | None, dict[str, list[str]] | None]:
    """The body read as `kind`'s payload, or the field errors that say why it cannot be."""
    try:
        data = json.loads(body.decode("utf-8"))
    except UnicodeDecodeError:
        return None, {"body": ["Send the body as UTF-8 JSON."]}
    except (ValueError, RecursionError):
        return None, {"body": ["The body is not JSON: send the sender's JSON as it is."]}
    if not isinstance(data, dict):
        return None, {"body": ["The body must be a JSON object."]}
    try:
        checked = payloads.PAYLOADS[kind].model_validate(data)
    except ValidationError as error:
        return None, field_errors(error.errors(include_url=False, include_input=False))
    return payloads.read(kind, checked), None


def _receive(intake_id: int, notification: payloads.Notification, raw: str) -> service.Receipt:
    """Store the delivery and commit, doing it again after a deadlock or serialization failure
    (PostgreSQL chose this transaction to give way: nothing of it was kept)."""
    intake = db.session.get(Intake, intake_id)
    stale = manage.stale_use(intake)
    for round_ in range(ROUNDS):
        g._login_user = intake.account  # the audit log names the account the intake acts as
        try:
            receipt = service.receive(session=db.session, intake=intake, notification=notification, raw=raw,
                                      link_for=lambda delivery_id: url_for("intake.delivery", delivery_id=delivery_id))
            db.session.commit()
            break
        except (OperationalError, IntegrityError) as error:
            db.session.rollback()
            if round_ == ROUNDS - 1 or (isinstance(error, OperationalError) and not _retried(error)):
                raise
            log.info("intake %s: delivery redone after %s", intake_id, type(error.orig).__name__)
            intake = db.session.get(Intake, intake_id)
    if stale:
        manage.note_use(session=db.session, intake_id=intake_id)
        db.session.commit()
    return receipt


def _retried(error: OperationalError) -> bool:
    return getattr(error.orig, "sqlstate", None) in RETRIED_SQLSTATES


@bp.errorhandler(OperationalError)
def _busy(error: OperationalError):
    """SQLite gave up waiting for the write lock (busy_timeout), or PostgreSQL kept choosing this
    delivery to give way: 503, which Alertmanager and Grafana retry (they drop a 4xx)."""
    db.session.rollback()
    if "database is locked" not in str(error.orig) and not _retried(error):
        raise error
    log.warning("intake delivery refused for now: %s", error.orig)
    return problem(503, "The database is busy: send it again in a moment.", headers={"Retry-After": "5"})
