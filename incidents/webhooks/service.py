"""Managing webhook subscriptions (admins) and reading their delivery log.

Services flush; the view commits. Each change is audited by the recorder (the subscription is an
ordinary audited model); the signing secret itself never reaches the log.
"""
from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, check_version
from incidents.outbound import Refused, check_addresses, new_signing_secret, parse_target
from incidents.paging import PAGE_SIZE
from incidents.webhooks.events import queue_messages
from incidents.webhooks.models import (
    EVENTS,
    NAME_MAX,
    PENDING,
    PRESETS,
    REASON_MAX,
    TEST_EVENT,
    URL_MAX,
    WebhookAttempt,
    WebhookMessage,
    WebhookSubscription,
)


@dataclass(frozen=True)
class Fields:
    """What an admin types for a subscription."""

    name: str
    url: str
    events: list[str]
    preset: str


def check_url(url: str) -> str:
    """The URL as typed, or a FieldError saying why no message could be delivered to it.

    Addresses written in the URL (and localhost) are checked here; host names are resolved and
    checked at every delivery, since the address behind a name may change.
    """
    url = (url or "").strip()
    if not url:
        raise FieldError("Enter the URL to send the events to.", field="url")
    if len(url) > URL_MAX:
        raise FieldError(f"Use a URL of at most {URL_MAX} characters.", field="url")
    policy = current_app.extensions["outbound_policy"]
    try:
        target = parse_target(url, policy)
        if target.ip is not None or target.host == "localhost" or target.host.endswith(".localhost"):
            check_addresses(target.host, [str(target.ip or "127.0.0.1")], policy)
    except Refused as refusal:
        raise FieldError(f"Events cannot be sent to this URL: {refusal}.", field="url") from None
    return url


def _checked(fields: Fields) -> Fields:
    name = fields.name.strip()
    if not name:
        raise FieldError("Name the webhook after where it goes, e.g. “#incidents on Slack”.", field="name")
    if len(name) > NAME_MAX:
        raise FieldError(f"Use a name of at most {NAME_MAX} characters.", field="name")
    events = [event for event in EVENTS if event in set(fields.events or [])]
    if not events:
        raise FieldError("Choose at least one event to send.", field="events")
    if fields.preset not in PRESETS:
        raise FieldError("Choose one of the listed formats.", field="preset")
    return Fields(name=name, url=check_url(fields.url), events=events, preset=fields.preset)


def create_subscription(*, session: Session, actor: User, fields: Fields) -> tuple[WebhookSubscription, str]:
    """Subscribe a URL; returns it and its signing secret, to show once (flushes)."""
    fields = _checked(fields)
    secret = new_signing_secret()
    subscription = WebhookSubscription(name=fields.name, url=fields.url, events=fields.events, preset=fields.preset,
                                       secret=secret, created_by=actor, created_at=utcnow())
    session.add(subscription)
    session.flush()
    return subscription, secret


def update_subscription(*, session: Session, subscription: WebhookSubscription, expected_version: int,
                        fields: Fields) -> WebhookSubscription:
    """Change the name, URL, events or format; refuses a form drawn from an older version (flushes)."""
    check_version(stored=subscription.version, expected=expected_version, message=lambda: (
        "Someone saved this webhook while you were editing it. Nothing of yours was saved: check the "
        "values now shown, then save again."))
    fields = _checked(fields)
    subscription.name, subscription.url = fields.name, fields.url
    subscription.events, subscription.preset = fields.events, fields.preset
    subscription.version += 1
    session.flush()
    return subscription


def disable(*, session: Session, subscription: WebhookSubscription, actor: User) -> None:
    """Stop sending to it until it is enabled again (flushes); messages waiting are not sent."""
    if subscription.disabled_at is None:
        subscription.disabled_at = utcnow()
        subscription.disabled_reason = f"Disabled by {actor.display}."[:REASON_MAX]
        subscription.auto_disabled = False
    session.flush()


def enable(*, session: Session, subscription: WebhookSubscription) -> None:
    """Send to it again, its count of failures starting from zero (flushes)."""
    subscription.disabled_at, subscription.disabled_reason, subscription.auto_disabled = None, None, False
    subscription.failed_in_a_row = 0
    session.flush()


def rotate_secret(*, session: Session, subscription: WebhookSubscription) -> str:
    """A new signing secret for the messages sent from now on; returns it, to show once (flushes).
    The old one keeps signing beside it for the grace period (jobs.signing_secrets)."""
    subscription.previous_secret = subscription.secret
    subscription.secret = new_signing_secret()
    subscription.secret_rotated_at = utcnow()
    session.flush()
    return subscription.secret


def send_test(*, session: Session, subscription: WebhookSubscription, actor: User) -> WebhookMessage:
    """Queue a test event to this subscription, even a disabled one (to check its receiver first).
    It is tried once, never retried, and never counts towards disabling it."""
    [message] = queue_messages(session, TEST_EVENT, subscription_ids=[subscription.id], data={
        "message": f"A test event sent by {actor.display}: this webhook works.",
        "subscription": subscription.name})
    return message


# --- reading ----------------------------------------------------------------------------------------

def subscriptions(*, session: Session) -> list[WebhookSubscription]:
    """Every subscription, newest first (admins make a handful, so no paging)."""
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id.desc())))


def auto_disabled(*, session: Session) -> list[WebhookSubscription]:
    """The subscriptions the worker disabled after repeated failures, newest first: the banner."""
    return list(session.scalars(select(WebhookSubscription).where(
        WebhookSubscription.disabled_at.is_not(None), WebhookSubscription.auto_disabled)
        .order_by(WebhookSubscription.disabled_at.desc())))


def attempts_page(*, session: Session, subscription_id: int, before_id: int | None,
                  limit: int = PAGE_SIZE + 1) -> list[tuple[WebhookAttempt, WebhookMessage]]:
    """A subscription's delivery log newest first, as (attempt, message) rows before `before_id`."""
    query = (select(WebhookAttempt, WebhookMessage).join(WebhookMessage, WebhookMessage.id == WebhookAttempt.message_id)
             .where(WebhookAttempt.subscription_id == subscription_id)
             .order_by(WebhookAttempt.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(WebhookAttempt.id < before_id)
    return [tuple(row) for row in session.execute(query)]


def waiting_counts(*, session: Session) -> dict[int, int]:
    """How many messages wait to be sent (or retried), per subscription (one query)."""
    return dict(session.execute(select(WebhookMessage.subscription_id, func.count()).where(
        text(f"webhook_message.{PENDING}")).group_by(WebhookMessage.subscription_id)).all())
