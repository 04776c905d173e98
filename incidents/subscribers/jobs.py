"""The worker's side of subscriptions: confirmation e-mails, the fan-out of an announcement to its
subscribers, and the sending of e-mails and webhooks in batches.

Every job here may run twice (a retry, a worker stopped mid-run): the fan-out creates each delivery
once (one row per subscriber and announcement), and the senders send only deliveries still
pending, committing each one as it goes, so a retry takes up where the last attempt stopped.
"""
from __future__ import annotations

import logging

from flask import current_app
from sqlalchemy import exists, or_, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from incidents.db import utcnow
from incidents.extensions import db
from incidents.jobs import JobFailed, TryAgainLater, current_job, enqueue, job, progress
from incidents.jobs.registry import kind, periodic
from incidents.jobs.retention import HOURLY, purge_log
from incidents.outbound import post_json, signature_headers
from incidents.status.models import Component
from incidents.status.public import build_public_view, public_page
from incidents.subscribers import messages
from incidents.subscribers.mail import Mailer, MailSettings, TransientMailError
from incidents.subscribers.models import (
    QUARANTINE_AFTER,
    Announcement,
    Delivery,
    Subscriber,
    SubscriberComponent,
)
from incidents.subscribers.service import token_for

log = logging.getLogger(__name__)

FAN_OUT_BATCH = 1000  # subscribers read and deliveries written per transaction
EMAIL_BATCH = 200  # e-mails sent over one SMTP connection by one job
WEBHOOK_BATCH = 20  # webhooks posted by one job (each may take up to 10 s)
COMMIT_EVERY = 10  # e-mails handed over between two commits of their deliveries' state


def _site() -> str:
    return current_app.config["STATUS_PUBLIC_URL"]


def _unsubscribe_url(subscriber: Subscriber) -> str:
    return f"{_site()}/unsubscribe/{token_for(subscriber, 'unsubscribe')}"


def _final_attempt() -> bool:
    run = current_job()
    return run.attempt > kind(run.kind).retries


# --- confirmation ----------------------------------------------------------------------------------

@job("subscribers.confirm", retries=6, retry_delay=30)
def send_confirmation(*, subscriber_id: int) -> dict:
    """E-mail the link that confirms a subscription (double opt-in)."""
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None or subscriber.confirmed_at is not None or subscriber.unsubscribed_at is not None:
        return {"sent": False}
    page = public_page(session=db.session, config=current_app.config, base=_site())
    message = messages.confirmation_email(
        page=page, to=subscriber.email, webhook_url=subscriber.url,
        confirm_url=f"{_site()}/subscribe/confirm/{token_for(subscriber, 'confirm')}")
    with Mailer(MailSettings.from_app(current_app)) as mailer:
        sent = mailer.send(message)
    if not sent.ok:
        subscriber.bounces += 1
        db.session.commit()
        raise JobFailed(f"The confirmation e-mail was refused: {sent.error}")
    return {"sent": True}


# --- fan-out ---------------------------------------------------------------------------------------

def load_story(announcement: Announcement) -> messages.Story | None:
    """The announced update as the public sees it now (None: it is no longer public)."""
    if announcement.about == "incident":
        view = build_public_view(session=db.session, base_url=_site(), public_id=announcement.public_id)
        records = view.incidents
    else:
        view = build_public_view(session=db.session, base_url=_site(), listed=0,
                                 maintenance_id=announcement.public_id)
        records = view.scheduled_maintenances
    record = next((r for r in records if r.id == announcement.public_id), None)
    update = next((u for u in record.updates if u.id == announcement.update_id), None) if record else None
    return messages.Story(view=view, record=record, update=update) if update else None


def _audience(component_ids: list[int]):
    """Subscribers told of news about these components: active, and subscribed to all or one of them."""
    chosen = exists().where(SubscriberComponent.subscriber_id == Subscriber.id,
                            SubscriberComponent.component_id.in_(component_ids))
    return (*Subscriber.in_state("active"), or_(Subscriber.all_components, chosen))


def _insert_ignoring_repeats(rows: list[dict]) -> None:
    insert = pg_insert if db.engine.dialect.name == "postgresql" else sqlite_insert
    db.session.execute(insert(Delivery).values(rows).on_conflict_do_nothing(
        index_elements=["subscriber_id", "announcement_id"]))


@job("subscribers.fan_out", retries=8, retry_delay=15)
def fan_out(*, announcement_id: int) -> dict:
    """Create a delivery for every subscriber this announcement concerns, and the jobs that send them."""
    announcement = db.session.get(Announcement, announcement_id)
    story = load_story(announcement) if announcement else None
    if story is None:
        return {"subscribers": 0, "note": "no longer public"}
    public_ids = list(story.record.component_ids)
    component_ids = list(db.session.scalars(select(Component.id).where(Component.public_id.in_(public_ids)))) \
        if public_ids else []
    total, after, now = 0, 0, utcnow()
    while True:
        batch = db.session.execute(select(Subscriber.id, Subscriber.kind).where(
            Subscriber.id > after, *_audience(component_ids)).order_by(Subscriber.id).limit(FAN_OUT_BATCH)).all()
        if not batch:
            break
        after = batch[-1].id
        _insert_ignoring_repeats([{"subscriber_id": sid, "announcement_id": announcement_id, "state": "pending",
                                   "attempts": 0, "created_at": now} for sid, _kind in batch])
        _start_senders(announcement_id, batch)
        db.session.commit()
        total += len(batch)
        progress(total, None, f"{total:,} subscribers queued")
    return {"subscribers": total}


def _start_senders(announcement_id: int, batch) -> None:
    kinds = dict(batch)
    rows = db.session.execute(select(Delivery.id, Delivery.subscriber_id).where(
        Delivery.announcement_id == announcement_id, Delivery.subscriber_id.in_(list(kinds)),
        Delivery.state == "pending").order_by(Delivery.id)).all()
    for channel, size, job_kind in (("email", EMAIL_BATCH, "subscribers.send_emails"),
                                    ("webhook", WEBHOOK_BATCH, "subscribers.send_webhooks")):
        ids = [delivery_id for delivery_id, subscriber_id in rows if kinds[subscriber_id] == channel]
        for start in range(0, len(ids), size):
            enqueue(job_kind, session=db.session, delivery_ids=ids[start:start + size])


# --- sending ---------------------------------------------------------------------------------------

def _pending(delivery_ids: list[int]) -> list[tuple[Delivery, Subscriber]]:
    return list(db.session.execute(
        select(Delivery, Subscriber).join(Subscriber, Subscriber.id == Delivery.subscriber_id)
        .where(Delivery.id.in_(delivery_ids), Delivery.state == "pending").order_by(Delivery.id)).all())


def _story_for(cache: dict, delivery: Delivery) -> messages.Story | None:
    if delivery.announcement_id not in cache:
        cache[delivery.announcement_id] = load_story(delivery.announcement)
    return cache[delivery.announcement_id]


@job("subscribers.send_emails", retries=8, retry_delay=30)
def send_emails(*, delivery_ids: list[int]) -> dict:
    """Send a batch of announcement e-mails over one connection; a bounce is counted, not retried."""
    pending, stories, sent = _pending(delivery_ids), {}, 0
    if not pending:
        return {"sent": 0}
    try:
        with Mailer(MailSettings.from_app(current_app)) as mailer:
            for n, (delivery, subscriber) in enumerate(pending, 1):
                story = _story_for(stories, delivery)
                delivery.attempts += 1
                if story is None or not subscriber.active:
                    delivery.state, delivery.error = "failed", "not sent: no longer public or no longer subscribed"
                else:
                    outcome = mailer.send(messages.announcement_email(story, to=subscriber.email,
                                                                      unsubscribe_url=_unsubscribe_url(subscriber)))
                    delivery.status_code, delivery.response_ms = outcome.code, outcome.elapsed_ms
                    if outcome.ok:
                        delivery.state, delivery.sent_at, sent = "sent", utcnow(), sent + 1
                    else:
                        delivery.state, delivery.error = "failed", outcome.error
                        subscriber.bounces += 1
                # Committed every few messages (a commit each made sending several times slower on
                # SQLite's fsync): only a worker killed mid-group resends, at most that group.
                if n % COMMIT_EVERY == 0:
                    db.session.commit()
            db.session.commit()
    except TransientMailError as trouble:
        # What was handed over before the trouble stays recorded: the retry sends only the rest.
        db.session.commit()
        if _final_attempt():
            _give_up(delivery_ids, str(trouble))
            raise JobFailed(f"E-mails not sent after every retry: {trouble}") from trouble
        raise
    return {"sent": sent}


def _give_up(delivery_ids: list[int], reason: str) -> None:
    for delivery, _subscriber in _pending(delivery_ids):
        # The last attempt's own error (refused, timed out, HTTP 500) stays first: it says why.
        delivery.state, delivery.error = "failed", (f"{delivery.error}; {reason}" if delivery.error else reason)[:500]
    db.session.commit()


def _followed(subscribers: list[Subscriber]) -> dict[int, set[str] | None]:
    """The public ids of the components each subscriber chose (None: all of them), in one query."""
    followed: dict[int, set[str] | None] = {s.id: None if s.all_components else set() for s in subscribers}
    choosing = [s.id for s in subscribers if not s.all_components]
    if choosing:
        for subscriber_id, public_id in db.session.execute(
                select(SubscriberComponent.subscriber_id, Component.public_id)
                .join(Component, Component.id == SubscriberComponent.component_id)
                .where(SubscriberComponent.subscriber_id.in_(choosing))):
            followed[subscriber_id].add(public_id)
    return followed


def _post_all(subscriber: Subscriber, delivery: Delivery, story: messages.Story, policy,
              followed: set[str] | None):
    """POST the announcement: the incident (or maintenance) payload, then a component_update for each
    component it moved that the subscriber follows, as Statuspage sends them. Each payload keeps its
    webhook-id on every attempt, so a receiver drops what it already has when a retry sends all again.
    The outcome is the first failure's, or the last success's."""
    unsubscribe_url, now = _unsubscribe_url(subscriber), utcnow()
    payloads = [(f"msg_{delivery.id}", messages.incident_payload(story, unsubscribe_url=unsubscribe_url,
                                                                 generated_at=now))]
    payloads += [(f"msg_{delivery.id}_{cid}", body) for cid, body in messages.component_payloads(
        story, unsubscribe_url=unsubscribe_url, generated_at=now, only=followed)]
    outcome = None
    for message_id, body in payloads:
        headers = {"Content-Type": "application/json",
                   **signature_headers(secret=subscriber.signing_secret or "", message_id=message_id, body=body)}
        outcome = post_json(subscriber.url, body, headers, policy=policy)
        if not outcome.ok:
            break
    return outcome


class WebhooksToRetry(TryAgainLater):
    """Some webhook deliveries failed and will be tried again with backoff."""


@job("subscribers.send_webhooks", retries=8, retry_delay=60, backoff=2.0)
def send_webhooks(*, delivery_ids: list[int]) -> dict:
    """POST each pending delivery of the batch, signed (Standard Webhooks); failures are retried
    with backoff, and a URL failing again and again is quarantined."""
    pending, stories, sent, failing = _pending(delivery_ids), {}, 0, 0
    policy = current_app.extensions["outbound_policy"]
    followed = _followed([subscriber for _delivery, subscriber in pending])
    for delivery, subscriber in pending:
        story = _story_for(stories, delivery)
        if story is None or not subscriber.active:
            delivery.state, delivery.error = "failed", "not sent: no longer public or no longer subscribed"
            db.session.commit()
            continue
        outcome = _post_all(subscriber, delivery, story, policy, followed[subscriber.id])
        delivery.attempts += 1
        delivery.status_code, delivery.response_ms = outcome.status, outcome.elapsed_ms
        if outcome.ok:
            delivery.state, delivery.sent_at, delivery.error = "sent", utcnow(), None
            subscriber.failures, sent = 0, sent + 1
        else:
            delivery.error = (outcome.error or f"answered HTTP {outcome.status}")[:500]
            subscriber.failures, subscriber.last_failure_at = subscriber.failures + 1, utcnow()
            if subscriber.failures >= QUARANTINE_AFTER:
                subscriber.quarantined_at = subscriber.quarantined_at or utcnow()
                delivery.state = "failed"
                log.warning("webhook subscriber %s quarantined after %d failures", subscriber.id, subscriber.failures)
            else:
                failing += 1
        db.session.commit()
    if failing:
        if _final_attempt():
            _give_up(delivery_ids, "not delivered after every retry")
            return {"sent": sent, "failed": failing}
        raise WebhooksToRetry(f"{failing} webhook deliveries failed; trying again later")
    return {"sent": sent}


@periodic("subscribers.purge_old_deliveries", every=HOURLY)
def purge_old_deliveries() -> int:
    """Sent and failed deliveries past LOG_RETENTION_DAYS (a hundred thousand a publish add up);
    one still pending stays."""
    table = Delivery.__table__
    return purge_log("subscriber deliveries", table, table.c.created_at, lambda _cutoff: table.c.state != "pending")
