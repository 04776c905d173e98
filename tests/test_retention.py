"""Logs that only grow are deleted after LOG_RETENTION_DAYS (incidents/jobs/retention.py): finished
background jobs, webhook messages with their attempts, subscriber deliveries, and alert deliveries
that reached no incident. Anything still pending stays, and so does what an incident links to."""
from __future__ import annotations

import uuid
from datetime import timedelta

import sqlalchemy as sa

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.intake import manage
from incidents.intake.jobs import purge_unattached_deliveries
from incidents.intake.models import AlertStatus, IntakeDelivery, Outcome
from incidents.jobs.models import BackgroundJob, JobState
from incidents.jobs.retention import purge_finished_jobs, purge_old_rows
from incidents.subscribers.jobs import purge_old_deliveries
from incidents.subscribers.models import Announcement, Delivery, Subscriber
from incidents.webhooks.jobs import purge_old_messages
from incidents.webhooks.models import WebhookAttempt, WebhookMessage, WebhookSubscription

DAYS = 30


def ages():
    now = utcnow()
    return now - timedelta(days=DAYS + 1), now - timedelta(days=DAYS - 1)


def remaining(app, model, column="id") -> list:
    with app.app_context():
        return sorted(db.session.scalars(sa.select(getattr(model, column))))


def test_finished_jobs_past_the_retention_go_and_running_or_recent_ones_stay(app):
    app.config["LOG_RETENTION_DAYS"] = DAYS
    old, recent = ages()
    with app.app_context():
        jobs = {name: BackgroundJob(kind="demo.job", state=state, created_at=made, finished_at=finished)
                for name, state, made, finished in (
                    ("old done", JobState.succeeded, old, old), ("old failed", JobState.failed, old, old),
                    ("old cancelled", JobState.cancelled, old, old), ("old running", JobState.running, old, None),
                    ("old queued", JobState.queued, old, None), ("recent done", JobState.succeeded, recent, recent),
                    ("old, finished lately", JobState.succeeded, old, recent))}
        db.session.add_all(jobs.values())
        db.session.commit()
        kept = {jobs[name].id for name in ("old running", "old queued", "recent done", "old, finished lately")}
        purge_finished_jobs()
    assert set(remaining(app, BackgroundJob)) == kept


def test_webhook_messages_go_with_their_attempts_and_one_being_retried_stays(app):
    app.config["LOG_RETENTION_DAYS"] = DAYS
    old, recent = ages()
    with app.app_context():
        hook = WebhookSubscription(name="Chat", url="https://hooks.example.com/x", events=["incident.declared"],
                                   secret="whsec_test")
        db.session.add(hook)
        db.session.flush()
        messages = {state + made_name: WebhookMessage(subscription_id=hook.id, event="incident.declared",
                                                      webhook_id=f"msg_{uuid.uuid4().hex}", payload={}, state=state,
                                                      created_at=made)
                    for state in ("delivered", "failed", "skipped", "pending")
                    for made_name, made in (("", old), (" recent", recent))}
        db.session.add_all(messages.values())
        db.session.flush()
        db.session.add_all(WebhookAttempt(message_id=m.id, subscription_id=hook.id, number=1, at=m.created_at,
                                          ok=m.state == "delivered") for m in messages.values())
        db.session.commit()
        kept = {m.id for name, m in messages.items() if "recent" in name or name == "pending"}
        hook_id = hook.id
        assert purge_old_messages() == 3
    assert set(remaining(app, WebhookMessage)) == kept
    assert set(remaining(app, WebhookAttempt, "message_id")) == kept  # the attempts went with them
    assert remaining(app, WebhookSubscription) == [hook_id]


def test_subscriber_deliveries_past_the_retention_go_unless_still_pending(app):
    app.config["LOG_RETENTION_DAYS"] = DAYS
    old, recent = ages()
    with app.app_context():
        announcement = Announcement(about="incident", public_id="pub1", update_id="upd1")
        people = [Subscriber(kind="email", email=f"reader{n}@example.com") for n in range(4)]
        db.session.add_all([announcement, *people])
        db.session.flush()
        deliveries = [Delivery(subscriber_id=person.id, announcement_id=announcement.id, state=state, created_at=made)
                      for person, (state, made) in zip(people, (("sent", old), ("failed", old), ("pending", old),
                                                                ("sent", recent)), strict=True)]
        db.session.add_all(deliveries)
        db.session.commit()
        kept = {deliveries[2].id, deliveries[3].id}
        assert purge_old_deliveries() == 2
    assert set(remaining(app, Delivery)) == kept


def test_alert_deliveries_go_only_when_they_reached_no_incident(app, make):
    app.config["LOG_RETENTION_DAYS"] = DAYS
    old, recent = ages()
    account = make.user(role="responder")
    reference = make.incident(by=account)
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == account))
        intake, _secret = manage.create_intake(session=db.session, actor=user, fields=manage.IntakeFields(
            name="Prometheus", kind="alertmanager", account=user))
        incident_id = db.session.scalar(sa.select(Incident.id).where(Incident.reference == reference))
        db.session.flush()
        deliveries = [IntakeDelivery(intake_id=intake.id, fingerprint=uuid.uuid4().hex, group_hash="g",
                                     status=AlertStatus.firing, outcome=outcome, incident_id=linked, payload="{}",
                                     received_at=made)
                      for outcome, linked, made in ((Outcome.recorded, None, old), (Outcome.created, incident_id, old),
                                                    (Outcome.recorded, None, recent))]
        db.session.add_all(deliveries)
        db.session.commit()
        kept = {deliveries[1].id, deliveries[2].id}
        assert purge_unattached_deliveries() == 1
    assert set(remaining(app, IntakeDelivery)) == kept


def test_a_retention_of_zero_keeps_everything(app):
    app.config["LOG_RETENTION_DAYS"] = 0
    old, _recent = ages()
    with app.app_context():
        db.session.add(BackgroundJob(kind="demo.job", state=JobState.succeeded, created_at=old - timedelta(days=3650),
                                     finished_at=old - timedelta(days=3650)))
        db.session.commit()
        purge_finished_jobs()
    assert len(remaining(app, BackgroundJob)) == 1


def test_rows_go_a_batch_at_a_time_and_the_walk_stops_at_the_first_new_row(app):
    """Pending rows among old ones are stepped over, batches commit one by one, and rows made after
    the cutoff are never read: the walk ends with the first batch that reaches one."""
    old, recent = ages()
    with app.app_context():
        states = ["succeeded", "running", "failed"] * 4  # 12 old rows, 4 of them still running
        jobs = [BackgroundJob(kind="demo.job", state=JobState(state), created_at=old, finished_at=old)
                for state in states]
        jobs += [BackgroundJob(kind="demo.job", state=JobState.succeeded, created_at=recent) for _ in range(20)]
        db.session.add_all(jobs)
        db.session.commit()
        seen: list[str] = []
        listener = lambda _c, _cur, statement, *_rest: seen.append(statement)  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            table = BackgroundJob.__table__
            deleted = purge_old_rows(session=db.session, table=table, made_at=table.c.created_at,
                                     cutoff=utcnow() - timedelta(days=DAYS),
                                     deletable=table.c.state != "running", batch=5)
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert deleted == 8
        selects = [s for s in seen if s.lstrip().upper().startswith("SELECT")]
        assert len(selects) == 3  # 5 + 5 old rows, then a batch that reaches the new ones: done
        assert db.session.scalar(sa.select(sa.func.count(BackgroundJob.id))) == 4 + 20
