"""The worker's side of outbound webhooks: delivering each message with retries and backoff,
disabling a subscription that keeps failing, and the events nobody posts (an action item became
overdue, a notification deadline is near), found by periodic checks and emitted once each.

One job per message. Each attempt POSTs the message's body, signed (Standard Webhooks) with the
same webhook-id every time, and writes a row of the delivery log, committed before the job ends or
is retried. A worker stopped between the POST and that commit sends the message again with the
same webhook-id: receivers drop what they already have.
"""
from __future__ import annotations

import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import joinedload

from incidents.actions.enums import OPEN_CONDITION
from incidents.actions.models import ActionItem
from incidents.db import utcnow
from incidents.extensions import db
from incidents.jobs import JobFailed, TryAgainLater, current_job, job, periodic
from incidents.jobs.registry import kind
from incidents.jobs.retention import HOURLY, purge_log
from incidents.obligations.models import PENDING as OBLIGATION_PENDING
from incidents.obligations.models import Obligation
from incidents.obligations.rules import rule_book
from incidents.outbound import Delivery, post_json, signature_headers
from incidents.webhooks import presets
from incidents.webhooks.events import DELIVER, active_subscriptions, emit, incident_data, link, person, timestamp
from incidents.webhooks.models import (
    ERROR_MAX,
    REASON_MAX,
    TEST_EVENT,
    WebhookAttempt,
    WebhookMarker,
    WebhookMessage,
    WebhookSubscription,
)

log = logging.getLogger(__name__)

# Retries: the first after a minute, each later one twice as long, and none longer than the jobs
# module's MAX_RETRY_DELAY (an hour): 1, 2, 4, 8, 16, 32 minutes (63 min in all), then hourly.
# 29 retries put the last one 63 min + 23 h = about 24 h 3 min after the first attempt; then the
# message has failed for good. (tests/test_webhooks.py adds the delays up.)
FIRST_RETRY_DELAY = 60.0
BACKOFF = 2.0
RETRIES = 29
# Automatic disabling: after this many messages IN A ROW failed for good (each after ~24 hours of
# retries), with no delivery in between, the subscription is disabled and says why; admins see a
# banner on the webhooks pages and the change is in the audit log. One dead day is an outage; three
# messages lost in a row is a receiver that is gone. A test event never counts.
AUTO_DISABLE_AFTER = 3


class DeliveryFailed(TryAgainLater):
    """This attempt failed; the job is retried after its backoff."""


@job(DELIVER, retries=RETRIES, retry_delay=FIRST_RETRY_DELAY, backoff=BACKOFF)
def deliver(*, message_id: int) -> dict:
    """POST one message to its subscription; log the attempt; retry, give up, or disable."""
    message = db.session.get(WebhookMessage, message_id)
    if message is None or message.state != "pending":
        return {"state": message.state if message else "gone"}  # a repeated delivery of the job
    subscription = message.subscription
    test = message.event == TEST_EVENT
    if not subscription.active and not test:
        message.state, message.finished_at = "skipped", utcnow()
        db.session.commit()
        return {"state": "skipped"}
    outcome = _post(subscription, message)
    error = _error_of(outcome)
    # A URL our own rules refuse stays refused; a test event is for an admin waiting on the page.
    final = outcome.ok or test or (error or "").startswith("refused:") or _last_attempt()
    _log_attempt(subscription, message, outcome, error, final=final)
    if outcome.ok:
        message.state, message.finished_at = "delivered", utcnow()
        subscription.failed_in_a_row = 0
        db.session.commit()
        return {"state": "delivered", "status": outcome.status, "attempts": message.attempts}
    if not final:
        db.session.commit()
        raise DeliveryFailed(error)
    message.state, message.finished_at = "failed", utcnow()
    if not test:
        _count_failed_message(subscription, error)
    db.session.commit()
    raise JobFailed(f"Not delivered after {message.attempts} attempt{'s' if message.attempts != 1 else ''}: {error}")


def _post(subscription: WebhookSubscription, message: WebhookMessage) -> Delivery:
    body = presets.render(subscription.preset, message.payload)
    secret, *also = signing_secrets(subscription)
    headers = signature_headers(secret=secret, message_id=message.webhook_id, body=body, also_signed_with=also)
    return post_json(subscription.url, body, headers, policy=current_app.extensions["outbound_policy"])


def signing_secrets(subscription: WebhookSubscription) -> list[str]:
    """The secret, and the one before it while a rotation is within its grace period: the receiver
    verifies with either (Standard Webhooks lists several signatures in one header)."""
    grace = timedelta(hours=current_app.config["WEBHOOK_SECRET_GRACE_HOURS"])
    rotated = subscription.secret_rotated_at
    if subscription.previous_secret and rotated is not None and utcnow() - rotated < grace:
        return [subscription.secret, subscription.previous_secret]
    return [subscription.secret]


def _error_of(outcome: Delivery) -> str | None:
    """What went wrong, in words, with the start of the receiver's answer (Slack says why there)."""
    if outcome.ok:
        return None
    error = outcome.error or f"answered HTTP {outcome.status}"
    answer = " ".join(outcome.body.split())[:200]
    return (f"{error}: {answer}" if answer and outcome.error is None else error)[:ERROR_MAX]


def _last_attempt() -> bool:
    run = current_job()
    return run.attempt > kind(run.kind).retries


def _log_attempt(subscription: WebhookSubscription, message: WebhookMessage, outcome: Delivery,
                 error: str | None, *, final: bool) -> None:
    now = utcnow()
    message.attempts += 1
    db.session.add(WebhookAttempt(message_id=message.id, subscription_id=subscription.id, number=message.attempts,
                                  at=now, ok=outcome.ok, status_code=outcome.status, response_ms=outcome.elapsed_ms,
                                  error=error, final=final))
    subscription.last_attempt_at, subscription.last_attempt_ok, subscription.last_error = now, outcome.ok, error


def _count_failed_message(subscription: WebhookSubscription, error: str | None) -> None:
    """One more message failed for good; disable the subscription at AUTO_DISABLE_AFTER in a row."""
    # In SQL, so two workers failing two messages at once both count.
    subscription.failed_in_a_row = WebhookSubscription.failed_in_a_row + 1
    db.session.flush()
    in_a_row = subscription.failed_in_a_row  # read back after the UPDATE
    if in_a_row >= AUTO_DISABLE_AFTER and subscription.disabled_at is None:
        subscription.disabled_at, subscription.auto_disabled = utcnow(), True
        subscription.disabled_reason = (
            f"Disabled automatically: {in_a_row} messages in a row were not delivered after retrying for "
            f"about 24 hours each. The last error: {error}".rstrip(".") + ".")[:REASON_MAX]
        log.warning("webhook subscription %s disabled after %d messages failed in a row", subscription.id, in_a_row)


# --- events nobody posts ----------------------------------------------------------------------------

# An item found overdue longer ago than this (the worker was down, or webhooks are new) is history,
# not news: it is marked, and not sent.
OVERDUE_LOOK_BACK = timedelta(days=7)
BATCH = 500  # items looked at per run; the rest wait for the next period


def _unmarked(keys: list[str]) -> set[str]:
    """Which of these marker keys are not stored yet (one query)."""
    if not keys:
        return set()
    return set(keys) - set(db.session.scalars(select(WebhookMarker.key).where(WebhookMarker.key.in_(keys))))


@periodic("webhooks.action_items_overdue", every=300)
def action_items_overdue() -> int:
    """Emit action_item.overdue once for each open item whose due date has passed; how many."""
    today = utcnow().date()
    items = list(db.session.scalars(
        select(ActionItem).where(text(f"action_item.{OPEN_CONDITION}"), ActionItem.due_on < today,
                                 ActionItem.due_on >= today - OVERDUE_LOOK_BACK)
        .options(joinedload(ActionItem.incident), joinedload(ActionItem.owner))
        .order_by(ActionItem.due_on, ActionItem.id).limit(BATCH)))
    # Keyed by the due date too: an item given a later date and missing that one is news again.
    keyed = {f"action_item.overdue:{item.id}:{item.due_on.isoformat()}": item for item in items}
    fresh = _unmarked(list(keyed))
    subscriptions = active_subscriptions(db.session) if fresh else []
    for key in sorted(fresh):
        item = keyed[key]
        db.session.add(WebhookMarker(key=key))
        emit(db.session, "action_item.overdue", incident=item.incident, subscriptions=subscriptions, data={
            **incident_data(item.incident), "action_item": {
                "id": item.id, "title": item.title, "due_on": item.due_on.isoformat(), "status": item.status.value,
                "priority": item.priority.value, "kind": item.kind.value, "owner": person(item.owner),
                "url": link("actions.item", reference=item.incident.reference, item_id=item.id)}})
    db.session.commit()
    return len(fresh)


def _near_hours(config) -> float:
    return float(config["WEBHOOK_DEADLINE_NEAR_HOURS"])


@periodic("webhooks.deadlines_near", every=300)
def deadlines_near() -> int:
    """Emit obligation.deadline_near once for each pending obligation due within the configured
    hours (WEBHOOK_DEADLINE_NEAR_HOURS, 24 by default); how many."""
    now = utcnow()
    until = now + timedelta(hours=_near_hours(current_app.config))
    obligations = list(db.session.scalars(
        select(Obligation).where(text(f"obligation.{OBLIGATION_PENDING}"), Obligation.due_at.is_not(None),
                                 Obligation.due_at >= now, Obligation.due_at <= until)
        .options(joinedload(Obligation.incident)).order_by(Obligation.due_at, Obligation.id).limit(BATCH)))
    # Keyed by the due time too: a deadline moved (the moment it counts from was corrected) is new.
    keyed = {f"obligation.deadline_near:{o.id}:{timestamp(o.due_at)}": o for o in obligations}
    fresh = _unmarked(list(keyed))
    subscriptions = active_subscriptions(db.session) if fresh else []
    rules = rule_book().rules if fresh else {}
    for key in sorted(fresh):
        obligation = keyed[key]
        rule = rules.get(obligation.rule_id)
        db.session.add(WebhookMarker(key=key))
        emit(db.session, "obligation.deadline_near", incident=obligation.incident, subscriptions=subscriptions, data={
            **incident_data(obligation.incident), "obligation": {
                "id": obligation.id, "rule_id": obligation.rule_id, "title": rule.title if rule else obligation.rule_id,
                "regime": rule.regime.name if rule else obligation.regime,
                "recipient": rule.recipient_label if rule else "", "due_at": timestamp(obligation.due_at),
                "url": link("obligations.obligation", reference=obligation.incident.reference,
                            obligation_id=obligation.id)}})
    db.session.commit()
    return len(fresh)


@periodic("webhooks.purge_old_messages", every=HOURLY)
def purge_old_messages() -> int:
    """The delivery log past LOG_RETENTION_DAYS: messages delivered, failed for good or skipped, with
    their attempts (a message still being retried stays)."""
    table = WebhookMessage.__table__
    return purge_log("webhook messages (with their attempts)", table, table.c.created_at,
                     lambda _cutoff: table.c.state != "pending")
