"""Telling subscribers (issue #16): each new public update and maintenance step goes, through the
background worker, to the e-mail and webhook subscribers of its components; never inside the
request that published. E-mails go through a real SMTP server started here and are read back;
webhooks to a real listener, signed the Standard Webhooks way and verified with its package."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import standardwebhooks

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.jobs import BackgroundJob, enqueue
from incidents.maintenance import service as maintenance
from incidents.status import service as status
from incidents.status.models import Component
from incidents.subscribers import service as subscribers
from incidents.subscribers.models import QUARANTINE_AFTER, Announcement, Delivery, Subscriber
from tests.subscriber_fixtures import Listener, mail_to
from tests.test_status_site import _assert_no_markers

SITE = "http://status.test/status"


@pytest.fixture
def app_config(app_config, smtp):
    """Jobs run as their transaction commits (no worker to wait for); mail to the test's server;
    webhooks may reach the test's listener on 127.0.0.1 over plain http."""
    app_config.update(mail_to(smtp, SITE), OUTBOUND_ALLOW_PRIVATE="127.0.0.0/8", OUTBOUND_ALLOW_HTTP=True)
    return app_config


def components(app, *names: str) -> dict[str, int]:
    with app.app_context():
        made = {name: status.create_component(session=db.session, name=name).id for name in names}
        db.session.commit()
        return made


def subscribe(app, email: str | None = None, *, url: str | None = None, only: list[int] | None = None,
              confirmed: bool = True) -> int:
    with app.app_context():
        if url:
            subscriber = subscribers.subscribe_webhook(session=db.session, url=url, email=email or "ops@example.com",
                                                       component_ids=only)
        else:
            subscriber = subscribers.subscribe_email(session=db.session, email=email, component_ids=only)
        if confirmed:
            subscribers.confirm(session=db.session, subscriber=subscriber)
        db.session.commit()
        return subscriber.id


def publish(app, make, email: str, *, affects: dict[str, str], title="Contacts not syncing",
            body="We are looking into missing contacts.") -> tuple[str, str]:
    reference = make.incident(by=email)
    with app.app_context():
        actor = db.session.scalar(db.select(User).where(User.email == email))
        chosen = {db.session.scalar(db.select(Component).where(Component.name == name)): value
                  for name, value in affects.items()}
        incident = get_incident(session=db.session, reference=reference)
        status.publish_incident(session=db.session, actor=actor, incident=incident, public_title=title,
                                impact="major", body=body, components=chosen)
        db.session.commit()
        return reference, incident.public_id


def test_an_update_reaches_the_subscribers_of_its_components_and_no_one_else(app, make, smtp):
    ids = components(app, "Contacts sync", "Photo backup")
    subscribe(app, "all@example.com")
    subscribe(app, "contacts@example.com", only=[ids["Contacts sync"]])
    subscribe(app, "photos@example.com", only=[ids["Photo backup"]])
    subscribe(app, "unconfirmed@example.com", confirmed=False)
    gone = subscribe(app, "gone@example.com")
    with app.app_context():
        subscribers.unsubscribe(session=db.session, subscriber=db.session.get(Subscriber, gone))
        db.session.commit()
    responder = make.user(role="responder")
    publish(app, make, responder, affects={"Contacts sync": "major_outage"})

    received = sorted(m["To"] for m in smtp.inbox.messages)
    assert received == ["all@example.com", "contacts@example.com"]
    message = smtp.inbox.to("contacts@example.com")[0]
    assert message["Subject"] == "[Skylark Sync status] Investigating: Contacts not syncing"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe_url = message["List-Unsubscribe"].strip("<>")
    assert unsubscribe_url.startswith(f"{SITE}/unsubscribe/")
    text = message.get_body(("plain",)).get_content()
    assert "We are looking into missing contacts." in text and "Contacts sync (major outage)" in text
    assert unsubscribe_url in text
    html = message.get_body(("html",)).get_content()
    assert "<script" not in html and "Unsubscribe</a>" in html and "Contacts sync (major outage)" in html
    # Each address has its own link: one subscriber's link never unsubscribes another.
    other = smtp.inbox.to("all@example.com")[0]["List-Unsubscribe"]
    assert other != message["List-Unsubscribe"]
    with app.app_context():
        log = db.session.scalars(db.select(Delivery)).all()
        assert {(d.state, d.status_code) for d in log} == {("sent", 250)} and len(log) == 2


def test_publishing_only_records_the_announcement_and_the_sending_waits_for_the_worker(app_config, request):
    app_config["JOBS_IMMEDIATE"] = False
    app, make = request.getfixturevalue("app"), request.getfixturevalue("make")
    components(app, "Contacts sync")
    for n in range(30):
        subscribe(app, f"customer{n}@example.com")
    responder = make.user(role="responder")
    publish(app, make, responder, affects={"Contacts sync": "major_outage"})
    with app.app_context():
        # One announcement and one job, whatever the number of subscribers; nothing sent yet.
        assert db.session.scalar(db.select(db.func.count(Announcement.id))) == 1
        assert [j.kind for j in db.session.scalars(db.select(BackgroundJob))] == ["subscribers.fan_out"]
        assert db.session.scalar(db.select(db.func.count(Delivery.id))) == 0


def test_a_second_fan_out_of_the_same_announcement_sends_nothing_twice(app, make, smtp):
    components(app, "Contacts sync")
    subscribe(app, "once@example.com")
    publish(app, make, make.user(role="responder"), affects={"Contacts sync": "partial_outage"})
    with app.app_context():
        announcement = db.session.scalar(db.select(Announcement))
        enqueue("subscribers.fan_out", session=db.session, announcement_id=announcement.id)
        db.session.commit()  # runs again, as a retry or a worker's second delivery would
    assert [m["To"] for m in smtp.inbox.messages] == ["once@example.com"]


def test_a_mailbox_that_does_not_exist_is_a_bounce_and_stops_after_three(app, make, smtp):
    components(app, "Contacts sync")
    subscribe(app, "nobody@example.com")
    subscribe(app, "someone@example.com")
    smtp.inbox.refuse.add("nobody@example.com")
    responder = make.user(role="responder")
    for n in range(4):
        publish(app, make, responder, affects={"Contacts sync": "major_outage"}, title=f"Outage {n}")
    assert len(smtp.inbox.to("someone@example.com")) == 4
    with app.app_context():
        bounced = db.session.scalar(db.select(Subscriber).where(Subscriber.email == "nobody@example.com"))
        assert bounced.bounces == 3 and not bounced.active
        states = db.session.execute(db.select(Delivery.state, Delivery.status_code, Delivery.error)
                                    .where(Delivery.subscriber_id == bounced.id)).all()
        assert len(states) == 3 and all(s == "failed" and code == 550 and "No such mailbox" in error
                                        for s, code, error in states)


def test_a_mail_server_that_is_down_is_retried_then_given_up_with_the_reason(app_config, request):
    app_config["SMTP_PORT"] = 9  # nothing listens: every attempt fails to connect
    app, make = request.getfixturevalue("app"), request.getfixturevalue("make")
    components(app, "Contacts sync")
    subscribe(app, "waiting@example.com")
    publish(app, make, make.user(role="responder"), affects={"Contacts sync": "major_outage"})
    with app.app_context():
        job = db.session.scalar(db.select(BackgroundJob).where(BackgroundJob.kind == "subscribers.send_emails"))
        assert job.state.value == "failed" and job.attempts == 9  # the first run and 8 retries
        assert "could not reach the mail server" in job.error
        delivery = db.session.scalar(db.select(Delivery))
        assert delivery.state == "failed" and "could not reach the mail server" in delivery.error


def test_scheduled_maintenance_is_announced_to_its_subscribers(app, make, smtp):
    ids = components(app, "Photo backup", "Contacts sync")
    subscribe(app, "photos@example.com", only=[ids["Photo backup"]])
    subscribe(app, "contacts@example.com", only=[ids["Contacts sync"]])
    responder = make.user(role="responder")
    with app.app_context():
        actor = db.session.scalar(db.select(User).where(User.email == responder))
        start = datetime.now(UTC) + timedelta(days=2)
        maintenance.schedule(session=db.session, actor=actor, title="Photo storage upgrade",
                             body="Backups pause for two hours.", scheduled_for=start,
                             scheduled_until=start + timedelta(hours=2),
                             components={db.session.get(Component, ids["Photo backup"]): "under_maintenance"})
        db.session.commit()
    [message] = smtp.inbox.messages
    assert message["To"] == "photos@example.com"
    assert message["Subject"] == "[Skylark Sync status] Scheduled maintenance: Photo storage upgrade"
    assert "Window: " in message.get_body(("plain",)).get_content()


def test_webhooks_are_signed_and_in_statuspage_format(app, make):
    ids = components(app, "Contacts sync", "Photo backup")
    with Listener() as listener, Listener() as photos_only:
        subscriber_id = subscribe(app, url=listener.url)
        subscribe(app, url=photos_only.url, only=[ids["Photo backup"]])
        _reference, public_id = publish(app, make, make.user(role="responder"),
                                        affects={"Contacts sync": "major_outage"})
    # The incident, then a component_update for the component it moved, as Statuspage sends them.
    [(headers, body), (component_headers, component_body)] = listener.received
    assert photos_only.received == []  # its component was not touched
    with app.app_context():
        secret = db.session.get(Subscriber, subscriber_id).signing_secret
    for sent_headers, sent_body in listener.received:
        lowered = {k.lower(): v for k, v in sent_headers.items()}
        standardwebhooks.Webhook(secret).verify(sent_body, lowered)  # raises when the signature is wrong
        assert lowered["content-type"] == "application/json"
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            standardwebhooks.Webhook(secret).verify(sent_body + b" ", lowered)
    assert headers["webhook-id"] != component_headers["webhook-id"]
    payload = json.loads(body)
    assert set(payload) == {"meta", "page", "incident"}
    assert payload["meta"]["unsubscribe"].startswith(f"{SITE}/unsubscribe/")
    assert payload["page"]["status_indicator"] == "critical"
    assert payload["incident"]["id"] == public_id and payload["incident"]["status"] == "investigating"
    assert payload["incident"]["incident_updates"][0]["body"] == "We are looking into missing contacts."
    update = json.loads(component_body)
    assert set(update) == {"meta", "page", "component_update", "component"}
    assert update["component"]["name"] == "Contacts sync" and update["component"]["status"] == "major_outage"
    assert (update["component_update"]["old_status"], update["component_update"]["new_status"]) == (
        "operational", "major_outage")
    assert update["component_update"]["component_id"] == update["component"]["id"]


def test_a_failing_webhook_is_retried_logged_and_quarantined(app, make):
    components(app, "Contacts sync")
    responder = make.user(role="responder")
    with Listener(status=500) as listener:
        subscriber_id = subscribe(app, url=listener.url)
        publish(app, make, responder, affects={"Contacts sync": "major_outage"}, title="First")
        with app.app_context():
            subscriber = db.session.get(Subscriber, subscriber_id)
            # Every attempt of the first announcement failed: tried 9 times, logged, given up.
            assert subscriber.failures == 9 and subscriber.quarantined_at is None
            delivery = db.session.scalar(db.select(Delivery))
            assert (delivery.state, delivery.attempts, delivery.status_code) == ("failed", 9, 500)
            assert delivery.response_ms is not None
        publish(app, make, responder, affects={"Contacts sync": "major_outage"}, title="Second")
        with app.app_context():
            assert db.session.get(Subscriber, subscriber_id).quarantined_at is not None
        attempts = len(listener.received)
        assert attempts == QUARANTINE_AFTER  # the incident payload failed each time: nothing after it
        publish(app, make, responder, affects={"Contacts sync": "major_outage"}, title="Third")
        assert len(listener.received) == attempts  # quarantined: not called again


def test_a_webhook_to_a_private_address_is_never_called(app_config, request):
    app_config["OUTBOUND_ALLOW_PRIVATE"] = ""
    app, make = request.getfixturevalue("app"), request.getfixturevalue("make")
    components(app, "Contacts sync")
    with Listener() as listener:
        with app.app_context():
            # Subscribing refuses it outright...
            with pytest.raises(Exception, match="loopback"):
                subscribers.subscribe_webhook(session=db.session, url=listener.url.replace("http:", "https:"),
                                              email="ops@example.com", component_ids=None)
            db.session.rollback()
            # ...and one that got in (an address that later moved) is refused at delivery.
            sneaked = subscribers.Subscriber(kind="webhook", url=listener.url, email="ops@example.com",
                                             confirmed_at=datetime.now(UTC), signing_secret="whsec_" + "A" * 43)
            db.session.add(sneaked)
            db.session.commit()
        publish(app, make, make.user(role="responder"), affects={"Contacts sync": "major_outage"})
        assert listener.received == []
    with app.app_context():
        assert "loopback" in db.session.scalar(db.select(Delivery.error))


def test_nothing_internal_reaches_e_mails_or_webhooks(leak_world, smtp):
    app, markers, _public_id = leak_world
    subscribe(app, "reader@example.com")
    with Listener() as listener:
        subscribe(app, url=listener.url)
        with app.app_context():
            for announcement in db.session.scalars(db.select(Announcement)).all():
                enqueue("subscribers.fan_out", session=db.session, announcement_id=announcement.id)
            db.session.commit()
        assert len(listener.received) >= 4
        for headers, body in listener.received:
            _assert_no_markers(body.decode(), markers, "webhook payload")
            _assert_no_markers(json.dumps(headers), markers, "webhook headers")
    assert len(smtp.inbox.messages) >= 4
    for message in smtp.inbox.messages:
        _assert_no_markers(message.as_string(), markers, f"e-mail {message['Subject']}")


def test_a_window_that_opens_and_closes_by_itself_is_announced_once_each_time(app, make, smtp):
    from incidents.db import clock_at
    from incidents.maintenance.jobs import announce_automatic_steps

    components(app, "Photo backup")
    subscribe(app, "photos@example.com")
    responder = make.user(role="responder")
    start = datetime.now(UTC).replace(second=0, microsecond=0) + timedelta(hours=1)
    with app.app_context():
        actor = db.session.scalar(db.select(User).where(User.email == responder))
        maintenance.schedule(session=db.session, actor=actor, title="Photo storage upgrade", body="Backups pause.",
                             scheduled_for=start, scheduled_until=start + timedelta(hours=2))
        db.session.commit()
        for minutes in (-5, 1, 2, 121, 122):  # the worker's minutely look, before, during and after
            with clock_at(start + timedelta(minutes=minutes)):
                announce_automatic_steps()
    assert [m["Subject"] for m in smtp.inbox.messages] == [
        "[Skylark Sync status] Scheduled maintenance: Photo storage upgrade",
        "[Skylark Sync status] Maintenance in progress: Photo storage upgrade",
        "[Skylark Sync status] Maintenance completed: Photo storage upgrade"]
    assert "has started" in smtp.inbox.messages[1].get_body(("plain",)).get_content()
