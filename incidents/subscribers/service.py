"""Subscribing, confirming, leaving, and announcing what subscribers are told of.

A subscription starts unconfirmed: the confirmation e-mail's link (double opt-in) makes it active.
Subscribing again with a known address changes nothing anyone could abuse: an unconfirmed one gets
its confirmation again, a confirmed one is left as it is (whoever typed the address may not own it).
The page says the same in every case, so it never tells whether an address is subscribed.

Announcing (`announce`) records the event and starts the fan-out job in the caller's transaction:
the request that publishes writes one row and one job, whatever the number of subscribers.
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.db import utcnow
from incidents.errors import FieldError
from incidents.outbound import new_signing_secret, parse_target
from incidents.outbound.policy import Refused, check_addresses
from incidents.status.models import Component
from incidents.subscribers.models import Announcement, Subscriber, SubscriberComponent

CONFIRM_WITHIN = timedelta(days=7)
# A confirmation e-mail is sent at most once in this long for one subscription.
CONFIRMATION_INTERVAL = timedelta(minutes=10)
TOKEN_SALT = "status-subscriber"


# --- tokens in links -------------------------------------------------------------------------------

def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=TOKEN_SALT)


def token_for(subscriber: Subscriber, action: str) -> str:
    """A signed token for a link that does `action` ("confirm" or "unsubscribe") to this subscriber."""
    return _serializer().dumps({"s": subscriber.token_id, "a": action})


def subscriber_for(*, session: Session, token: str, action: str) -> Subscriber | None:
    """The subscriber a link's token names for `action`, or None when it is forged, for another
    action, or (a confirmation) older than a week. Unsubscribe links never expire (RFC 8058)."""
    max_age = int(CONFIRM_WITHIN.total_seconds()) if action == "confirm" else None
    try:
        data = _serializer().loads(token, max_age=max_age)
    except (BadSignature, SignatureExpired):
        return None
    if not isinstance(data, dict) or data.get("a") != action or not isinstance(data.get("s"), str):
        return None
    return session.scalar(select(Subscriber).where(Subscriber.token_id == data["s"]))


# --- subscribing -----------------------------------------------------------------------------------

def _components(session: Session, component_ids: list[int] | None) -> list[Component] | None:
    """The live components chosen (None: all of them, now and later)."""
    if component_ids is None:
        return None
    chosen = list(session.scalars(select(Component).where(Component.id.in_(component_ids),
                                                          Component.archived_at.is_(None))))
    if not chosen or len(chosen) != len(set(component_ids)):
        raise FieldError("Choose components from the list, or all of them.", field="components")
    return chosen


def _set_components(subscriber: Subscriber, components: list[Component] | None) -> None:
    subscriber.all_components = components is None
    subscriber.components = [SubscriberComponent(component_id=c.id) for c in components or []]


def _normal_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not email or "@" not in email or len(email) > 254:
        raise FieldError("Enter your e-mail address.", field="email")
    return email


def _to_confirm(subscriber: Subscriber) -> Subscriber | None:
    """The subscriber, when a confirmation e-mail is due now; None within minutes of the last one."""
    now = utcnow()
    if subscriber.confirmation_sent_at is not None and now - subscriber.confirmation_sent_at < CONFIRMATION_INTERVAL:
        return None
    subscriber.confirmation_sent_at = now
    return subscriber


def subscribe_email(*, session: Session, email: str, component_ids: list[int] | None) -> Subscriber | None:
    """Subscribe an address (unconfirmed); the subscriber to send a confirmation to, or None when
    the address is already confirmed or was sent one minutes ago (flushes)."""
    email = _normal_email(email)
    components = _components(session, component_ids)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.kind == "email", Subscriber.email == email))
    if subscriber is not None and subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None:
        return None
    if subscriber is None:
        subscriber = Subscriber(kind="email", email=email, created_at=utcnow())
        session.add(subscriber)
    subscriber.confirmed_at = subscriber.unsubscribed_at = None
    _set_components(subscriber, components)
    session.flush()
    return _to_confirm(subscriber)


def check_webhook_url(url: str) -> str:
    """The URL as typed, or a FieldError saying why it cannot be delivered to."""
    url = (url or "").strip()
    if not url:
        raise FieldError("Enter the https URL to send updates to.", field="url")
    if len(url) > 500:
        raise FieldError("Use a URL of at most 500 characters.", field="url")
    policy = current_app.extensions["outbound_policy"]
    try:
        target = parse_target(url, policy)
        if target.ip is not None or target.host == "localhost" or target.host.endswith(".localhost"):
            # Names are resolved and checked again at every delivery (the address may move).
            check_addresses(target.host, [str(target.ip or "127.0.0.1")], policy)
    except Refused as refusal:
        # The visitor is told what is wrong with the URL, not how this server is configured.
        reason = str(refusal).split(" (an admin may allow it")[0]
        raise FieldError(f"This URL cannot receive updates: {reason}.", field="url") from None
    return url


def subscribe_webhook(*, session: Session, url: str, email: str,
                      component_ids: list[int] | None) -> Subscriber | None:
    """Subscribe a webhook URL, confirmed through `email` (flushes); None when that URL is already
    an active subscription."""
    url, email = check_webhook_url(url), _normal_email(email)
    components = _components(session, component_ids)
    subscriber = session.scalar(select(Subscriber).where(Subscriber.kind == "webhook", Subscriber.url == url))
    if subscriber is not None and subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None:
        return None
    if subscriber is None:
        subscriber = Subscriber(kind="webhook", url=url, email=email, created_at=utcnow())
        session.add(subscriber)
    subscriber.email, subscriber.confirmed_at, subscriber.unsubscribed_at = email, None, None
    _set_components(subscriber, components)
    session.flush()
    return _to_confirm(subscriber)


def confirm(*, session: Session, subscriber: Subscriber) -> None:
    """The address's owner confirmed: from now on it is told (a webhook gets its signing secret)."""
    if subscriber.confirmed_at is None or subscriber.unsubscribed_at is not None:
        subscriber.confirmed_at, subscriber.unsubscribed_at = utcnow(), None
        if subscriber.kind == "webhook":
            subscriber.signing_secret = new_signing_secret()
    session.flush()


def unsubscribe(*, session: Session, subscriber: Subscriber) -> None:
    """Stop telling this subscriber anything (flushes). Doing it twice is harmless."""
    if subscriber.unsubscribed_at is None:
        subscriber.unsubscribed_at = utcnow()
    session.flush()


def reactivate(*, session: Session, subscriber: Subscriber) -> None:
    """An admin brings a quarantined webhook or a bounced address back (flushes)."""
    subscriber.quarantined_at, subscriber.failures, subscriber.bounces = None, 0, 0
    session.flush()


# --- announcing ------------------------------------------------------------------------------------

def announce(*, session: Session, about: str, public_id: str, update_id: str) -> Announcement | None:
    """Record that subscribers are to be told of this update and start telling them after the
    caller commits; None (nothing started) when it was announced before."""
    from incidents.jobs import enqueue

    if session.scalar(select(Announcement.id).where(Announcement.about == about, Announcement.public_id == public_id,
                                                    Announcement.update_id == update_id)) is not None:
        return None
    announcement = Announcement(about=about, public_id=public_id, update_id=update_id, announced_at=utcnow())
    session.add(announcement)
    session.flush()
    enqueue("subscribers.fan_out", session=session, announcement_id=announcement.id)
    return announcement
