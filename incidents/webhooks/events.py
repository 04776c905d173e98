"""Emitting webhook events: called by the services in the same transaction as the change.

    from incidents.webhooks.events import emit, incident_data

    emit(session, "incident.status_changed", incident=incident,
         data={**incident_data(incident), "changes": {"status": {"from": "investigating", "to": "identified"}}})

emit writes one message per active subscription to the event and enqueues its delivery, which the
job queue sends only once the transaction commits: a change that rolls back tells nobody. With no
subscription it costs one query on a small table (through its partial index of active rows).

Payloads are versioned envelopes (`PAYLOAD_VERSION`): {"type", "version", "id", "timestamp",
"data"}; `id` is the message's webhook-id. A later, incompatible shape gets a new version.
"""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy import select, text
from sqlalchemy.orm import Session, load_only

from incidents.db import utcnow
from incidents.jobs import enqueue
from incidents.outbound import new_message_id
from incidents.webhooks.models import ACTIVE, EVENT_LABELS, OWNER_ROLES, WebhookMessage, WebhookSubscription

PAYLOAD_VERSION = 1
DELIVER = "webhooks.deliver"


def active_subscriptions(session: Session) -> list[WebhookSubscription]:
    """The subscriptions that are not disabled, ids and events only (one indexed query)."""
    return list(session.scalars(
        select(WebhookSubscription).options(load_only(WebhookSubscription.id, WebhookSubscription.events))
        .where(text(f"webhook_subscription.{ACTIVE}")).order_by(WebhookSubscription.id)))


def emit(session: Session, event: str, *, data: dict[str, Any], incident=None,
         occurred_at: datetime | None = None,
         subscriptions: list[WebhookSubscription] | None = None) -> list[WebhookMessage]:
    """Queue `event` for every active subscription to it; delivered after the caller commits.

    `subscriptions` lets a caller emitting many events (the periodic checks) read them once.
    """
    if event not in EVENT_LABELS:
        raise ValueError(f"unknown webhook event {event!r}")
    chosen = [s for s in (active_subscriptions(session) if subscriptions is None else subscriptions)
              if event in (s.events or [])]
    return queue_messages(session, event, data=data, incident=incident, occurred_at=occurred_at,
                          subscription_ids=[s.id for s in chosen])


def queue_messages(session: Session, event: str, *, data: dict[str, Any], subscription_ids: list[int],
                   incident=None, occurred_at: datetime | None = None) -> list[WebhookMessage]:
    """One message per subscription id, each with its own webhook-id, and a delivery job each."""
    if not subscription_ids:
        return []
    stamp = timestamp(occurred_at or utcnow())
    messages = []
    for subscription_id in subscription_ids:
        webhook_id = new_message_id()
        messages.append(WebhookMessage(
            subscription_id=subscription_id, event=event, webhook_id=webhook_id,
            incident_id=incident.id if incident is not None else None,
            payload={"type": event, "version": PAYLOAD_VERSION, "id": webhook_id, "timestamp": stamp, "data": data}))
    session.add_all(messages)
    session.flush()
    for message in messages:
        enqueue(DELIVER, session=session, message_id=message.id)
    return messages


def timestamp(moment: datetime) -> str:
    """An instant as receivers parse it most easily: ISO 8601 in UTC to the second, with a Z."""
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


# --- what payloads say ------------------------------------------------------------------------------

def tracker_url(path: str = "") -> str:
    """An absolute link into the tracker: messages are sent by the worker, outside any request."""
    return current_app.config["TRACKER_URL"].rstrip("/") + path


def link(endpoint: str, **values) -> str:
    """The tracker's URL of `endpoint` (built from the routes, so it follows them if they move)."""
    path = current_app.url_map.bind("localhost").build(endpoint, values)
    return tracker_url(path)


def person(user) -> dict[str, Any] | None:
    """Who holds a role, as a chat tool can mention them; None when nobody does."""
    if user is None:
        return None
    return {"id": user.id, "name": user.display, "email": user.email}


def incident_data(incident) -> dict[str, Any]:
    """The incident block every event about an incident carries."""
    return {"incident": {
        "reference": incident.reference, "title": incident.title, "severity": incident.severity.value,
        "status": incident.status.value, "status_label": incident.status.label,
        "declared_at": timestamp(incident.declared_at) if incident.declared_at else None,
        "url": link("incident.detail", reference=incident.reference)}}


def emit_declared(session: Session, incident, actor) -> None:
    emit(session, "incident.declared", incident=incident, occurred_at=incident.declared_at,
         data={**incident_data(incident), "declared_by": person(actor), "commander": person(incident.commander)})


def emit_status_changed(session: Session, incident, old, actor, occurred_at: datetime | None) -> None:
    emit(session, "incident.status_changed", incident=incident, occurred_at=occurred_at,
         data={**incident_data(incident), "changed_by": person(actor),
               "changes": {"status": {"from": old.value, "to": incident.status.value}}})


def emit_owners_changed(session: Session, incident, before: dict[str, Any], actor) -> None:
    """One event for an edit that changed any owner; `before` holds the owners as they were."""
    changes = {role: {"from": person(before[role]), "to": person(getattr(incident, role))}
               for role in OWNER_ROLES if role in before and _id(before[role]) != _id(getattr(incident, role))}
    if changes:
        emit(session, "incident.owner_changed", incident=incident,
             data={**incident_data(incident), "changed_by": person(actor), "changes": changes})


def _id(user) -> int | None:
    return user.id if user is not None else None


def emit_update_posted(session: Session, incident, entry, actor) -> None:
    """A public update on the status page: what the public reads, and where."""
    site = current_app.config["STATUS_PUBLIC_URL"].rstrip("/")
    emit(session, "status.update_posted", incident=incident, occurred_at=entry.occurred_at,
         data={**incident_data(incident), "posted_by": person(actor), "update": {
             "id": str(entry.id), "status": entry.public_status, "body": entry.body,
             "public_title": incident.public_title, "impact": incident.public_impact,
             "url": f"{site}/incidents/{incident.public_id}#update-{entry.id}"}})


def emit_postmortem_published(session: Session, incident, postmortem, actor) -> None:
    emit(session, "postmortem.published", incident=incident, occurred_at=postmortem.published_at,
         data={**incident_data(incident), "published_by": person(actor), "postmortem": {
             "version": postmortem.revision, "url": link("postmortem.view", reference=incident.reference)}})
