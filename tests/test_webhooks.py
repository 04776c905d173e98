"""Outbound webhooks (issue #17): admins subscribe URLs to events; each event, emitted by its real
trigger (a form, a service, the worker's periodic checks), reaches a real HTTP receiver on
127.0.0.1, signed the Standard Webhooks way and verified with the `standardwebhooks` package.
Jobs run as their transaction commits (JOBS_IMMEDIATE), so retries happen at once rather than
after their real backoff, whose schedule is checked by adding its delays up."""
from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa
import standardwebhooks
from huey.exceptions import RetryTask
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.audit.models import AuditEvent
from incidents.auth.models import User
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.jobs import BackgroundJob, runner
from incidents.jobs.registry import MAX_RETRY_DELAY, kind
from incidents.webhooks import service as webhooks_service
from incidents.webhooks.events import DELIVER, emit
from incidents.webhooks.jobs import AUTO_DISABLE_AFTER, RETRIES, action_items_overdue, deadlines_near
from incidents.webhooks.models import WebhookAttempt, WebhookMessage, WebhookSubscription

ALL_EVENTS = ["incident.declared", "incident.status_changed", "incident.owner_changed", "status.update_posted",
              "postmortem.published", "action_item.overdue", "obligation.deadline_near"]


class Receiver:
    """An HTTP server on 127.0.0.1 recording each request (path, headers, body). It answers each
    POST with the next of `answers` (the last one repeats): a status, or (status, Location)."""

    def __init__(self, *answers):
        self.answers, self.received = list(answers or [200]), []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()},
                                          body))
                answer = receiver.answers.pop(0) if len(receiver.answers) > 1 else receiver.answers[0]
                status, location = answer if isinstance(answer, tuple) else (answer, None)
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_POST = do_GET = _answer  # noqa: N815 (http.server's names)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.url = self.base + "/hooks/incidents"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def payloads(self) -> list[dict]:
        return [json.loads(body) for _method, _path, _headers, body in self.received]


@pytest.fixture
def app_config(app_config):
    """Jobs run as their transaction commits; webhooks may reach 127.0.0.1 over plain http."""
    app_config.update(JOBS_IMMEDIATE=True, OUTBOUND_ALLOW_PRIVATE="127.0.0.0/8", OUTBOUND_ALLOW_HTTP=True,
                      TRACKER_URL="https://tracker.example")
    return app_config


SECRET = re.compile(r'value="(whsec_[A-Za-z0-9+/=]+)"')


def subscribe(client, url: str, *, events=ALL_EVENTS, preset: str = "standard", name: str = "Receiver") -> str:
    """Add a webhook through the admins' form (the client is signed in as an admin); its secret."""
    response = client.post("/admin/webhooks/new", data={"name": name, "url": url, "preset": preset,
                                                        "events": list(events)})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Cache-Control"] == "no-store"
    return SECRET.search(response.get_data(as_text=True)).group(1)


def subscription_id(app, name: str = "Receiver") -> int:
    with app.app_context():
        return db.session.scalar(sa.select(WebhookSubscription.id).where(WebhookSubscription.name == name))


def verify(secret: str, received) -> dict:
    """The payload of one received request, after checking its signature as a receiver would."""
    _method, _path, headers, body = received
    return standardwebhooks.Webhook(secret).verify(body, headers)


def declare(client, title: str = "Contacts vanished after the sync upgrade") -> str:
    response = client.post("/incidents/new", data={"title": title, "severity": "SEV2"})
    assert response.status_code == 302, response.get_data(as_text=True)
    return response.headers["Location"].rsplit("/", 1)[-1]


def version_of(app, reference: str) -> int:
    with app.app_context():
        return get_incident(session=db.session, reference=reference).version


# --- delivery, signature, payload -------------------------------------------------------------------

def test_a_declared_incident_reaches_the_receiver_signed_and_versioned(app, client, auth):
    auth.as_role("admin")
    with Receiver() as receiver:
        secret = subscribe(client, receiver.url)
        reference = declare(client)
    [received] = receiver.received
    method, path, headers, body = received
    assert (method, path, headers["content-type"]) == ("POST", "/hooks/incidents", "application/json")
    payload = verify(secret, received)  # raises when the signature is wrong
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(secret).verify(body + b" ", headers)
    assert set(payload) == {"type", "version", "id", "timestamp", "data"}
    assert (payload["type"], payload["version"], payload["id"]) == ("incident.declared", 1, headers["webhook-id"])
    assert payload["timestamp"].endswith("Z")
    incident = payload["data"]["incident"]
    assert incident == {**incident, "reference": reference, "title": "Contacts vanished after the sync upgrade",
                        "severity": "SEV2", "status": "investigating",
                        "url": f"https://tracker.example/incidents/{reference}"}
    assert payload["data"]["commander"]["email"] == payload["data"]["declared_by"]["email"]


def test_every_event_is_sent_by_its_own_trigger(app, app_config, client, auth, make):
    app.config["WEBHOOK_DEADLINE_NEAR_HOURS"] = 72  # GDPR's 72 hours from awareness are "near" at once
    admin = auth.as_role("admin")
    reviewer = make.user(role="responder")
    new_commander = make.user_id(make.user(role="responder", name="Nia Commander"))
    with Receiver() as receiver:
        secret = subscribe(client, receiver.url)
        reference = declare(client)
        client.post(f"/incidents/{reference}/status",
                    data={"version": version_of(app, reference), "status": "identified"})
        with app.app_context():
            incident = get_incident(session=db.session, reference=reference)
            edit = {"version": incident.version, "title": incident.title, "severity": "SEV2",
                    "summary": "", "declared_at": incident.declared_at.strftime("%Y-%m-%dT%H:%M"),
                    "commander": new_commander, "comms_lead": 0, "executive": 0}
        assert client.post(f"/incidents/{reference}/edit", data=edit).status_code == 302
        assert client.post(f"/incidents/{reference}/publish", data={
            "public_title": "Contacts missing", "impact": "minor", "public_status": "investigating",
            "public_body": "We are restoring contacts."}).status_code == 302
        make.postmortem(reference, by=admin, reviewers=[reviewer], state="approved")
        with app.app_context():
            from incidents.postmortem.service import postmortem_for
            pm_version = postmortem_for(session=db.session, incident=get_incident(
                session=db.session, reference=reference)).version
        assert client.post(f"/incidents/{reference}/postmortem/publish",
                           data={"version": pm_version}).status_code == 302
        make.action_item(reference, by=admin, title="Alert on sync deletions")
        _choose_gdpr(app, reference, admin)
        with app.app_context(), clock_at(utcnow() + timedelta(days=15)):
            assert action_items_overdue() == 1
            assert action_items_overdue() == 0  # marked: never twice
        with app.app_context():
            assert deadlines_near() >= 1
            assert deadlines_near() == 0
    payloads = [verify(secret, received) for received in receiver.received]
    by_type = {}
    for payload in payloads:
        by_type.setdefault(payload["type"], []).append(payload["data"])
    assert set(by_type) == set(ALL_EVENTS)
    assert by_type["incident.status_changed"][0]["changes"] == {"status": {"from": "investigating", "to": "identified"}}
    owner_change = by_type["incident.owner_changed"][0]["changes"]
    assert list(owner_change) == ["commander"] and owner_change["commander"]["to"]["name"] == "Nia Commander"
    update = by_type["status.update_posted"][0]["update"]
    assert update["body"] == "We are restoring contacts." and update["status"] == "investigating"
    assert by_type["postmortem.published"][0]["postmortem"]["url"].endswith(f"/incidents/{reference}/postmortem")
    item = by_type["action_item.overdue"][0]["action_item"]
    assert item["title"] == "Alert on sync deletions" and len(by_type["action_item.overdue"]) == 1
    deadline = by_type["obligation.deadline_near"][0]
    assert deadline["incident"]["reference"] == reference and deadline["obligation"]["due_at"].endswith("Z")
    # A webhook-id per message, each signed on its own.
    assert len({p["id"] for p in payloads}) == len(payloads)


def _choose_gdpr(app, reference: str, email: str) -> None:
    from flask import current_app

    from incidents.obligations import service as obligations

    with app.test_request_context():
        incident = get_incident(session=db.session, reference=reference)
        incident.aware_at = utcnow() - timedelta(hours=1)
        actor = db.session.scalar(sa.select(User).where(User.email == email))
        obligations.choose_regimes(session=db.session, actor=actor, incident=incident,
                                   rules=current_app.extensions["obligation_rules"], regimes=["gdpr"])
        db.session.commit()


def test_only_chosen_events_are_sent_and_a_rolled_back_change_sends_nothing(app, client, auth, make):
    auth.as_role("admin")
    with Receiver() as receiver:
        subscribe(client, receiver.url, events=["incident.status_changed"])
        reference = declare(client)  # not chosen
        assert receiver.received == []
        with app.app_context():
            actor = db.session.scalar(sa.select(User).where(User.role == "admin"))
            from incidents.incident.enums import Status
            from incidents.incident.service import change_status
            incident = get_incident(session=db.session, reference=reference)
            change_status(session=db.session, actor=actor, incident=incident, new_status=Status.identified,
                          expected_version=incident.version)
            db.session.rollback()  # the change never happened: nobody is told
            assert db.session.scalar(sa.select(sa.func.count(WebhookMessage.id))) == 0
        assert receiver.received == []
        client.post(f"/incidents/{reference}/status", data={"version": version_of(app, reference),
                                                            "status": "identified"})
    assert [p["type"] for p in receiver.payloads()] == ["incident.status_changed"]


def test_emit_costs_one_query_when_nobody_subscribed(app, make):
    reference = make.incident()
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        seen = []
        listener = lambda *args: seen.append(args[2])  # noqa: E731
        sa.event.listen(db.engine, "before_cursor_execute", listener)
        try:
            emit(db.session, "incident.declared", incident=incident, data={})
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", listener)
        assert len(seen) == 1 and "webhook_subscription" in seen[0]
        assert db.session.scalar(sa.select(sa.func.count(BackgroundJob.id)).where(BackgroundJob.kind == DELIVER)) == 0


def test_hot_queries_read_their_indexes(app, make):
    """emit's read of the active subscriptions, a webhook's log page and the count of waiting
    messages: each through its own index, whatever the years of messages beside them."""
    from incidents.webhooks import service
    from incidents.webhooks.events import active_subscriptions
    from tests.fixtures.plans import plan, statements

    make.incident()
    with app.app_context():
        runs = {"ix_webhook_subscription_active": lambda: active_subscriptions(db.session),
                "ix_webhook_attempt_subscription": lambda: service.attempts_page(
                    session=db.session, subscription_id=1, before_id=100),
                "ix_webhook_message_pending": lambda: service.waiting_counts(session=db.session)}
        for index, run in runs.items():
            with statements() as seen:
                run()
            lines, _scans = plan(*seen[-1])
            if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # PostgreSQL goes by its statistics
                assert index in " ".join(lines), lines
            assert not any(re.fullmatch(r"SCAN webhook_\w+", line.strip()) for line in lines), lines  # a whole table


# --- retries, backoff, disabling --------------------------------------------------------------------

def test_a_failing_message_is_retried_with_the_same_webhook_id_and_every_attempt_is_logged(app, client, auth):
    auth.as_role("admin")
    with Receiver(500, 503, 200) as receiver:
        secret = subscribe(client, receiver.url)
        declare(client)
    assert len(receiver.received) == 3
    ids = {headers["webhook-id"] for _m, _p, headers, _b in receiver.received}
    assert len(ids) == 1  # one message, three attempts: the receiver can tell it is a repeat
    for received in receiver.received:
        verify(secret, received)  # each attempt signed afresh, each valid
    with app.app_context():
        attempts = db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).all()
        assert [(a.number, a.status_code, a.ok, a.final) for a in attempts] == [
            (1, 500, False, False), (2, 503, False, False), (3, 200, True, True)]
        assert all(a.response_ms is not None for a in attempts)
        assert attempts[0].error == "answered HTTP 500"
        message = db.session.scalar(sa.select(WebhookMessage))
        assert (message.state, message.attempts) == ("delivered", 3)
    page = client.get(f"/admin/webhooks/{subscription_id(app)}").get_data(as_text=True)
    assert "answered HTTP 503" in page and "Failed (a retry follows)" in page and "Delivered" in page


def test_retries_back_off_exponentially_for_about_a_day():
    spec = kind(DELIVER)
    delays = [spec.delay_after(attempt) for attempt in range(1, RETRIES + 1)]
    assert delays[:7] == [60, 120, 240, 480, 960, 1920, MAX_RETRY_DELAY]
    assert 23.5 * 3600 <= sum(delays) <= 24.5 * 3600  # the last retry, counted from the first attempt


def test_the_worker_puts_a_failed_attempt_back_with_its_backoff(app_config, request):
    """With a real queue (no inline runs): each failed attempt hands the job back to Huey with the
    next delay of its backoff, and says so on the job; nothing sleeps."""
    app_config["JOBS_IMMEDIATE"] = False
    app, client, auth = (request.getfixturevalue(name) for name in ("app", "client", "auth"))
    auth.as_role("admin")
    with Receiver(500) as receiver:
        subscribe(client, receiver.url)
        declare(client)
        with app.app_context():
            public_id = db.session.scalar(sa.select(BackgroundJob.public_id).where(BackgroundJob.kind == DELIVER))
        waits = []
        for _attempt in range(3):
            with pytest.raises(RetryTask) as retry:
                runner.run(app, public_id)
            waits.append(retry.value.delay)
    assert waits == [60, 120, 240] and len(receiver.received) == 3
    with app.app_context():
        job = db.session.scalar(sa.select(BackgroundJob).where(BackgroundJob.public_id == public_id))
        assert job.state.value == "queued" and "trying again in 240 s" in job.message


def test_a_receiver_that_keeps_failing_is_disabled_with_a_note_to_admins(app, client, auth):
    auth.as_role("admin")
    with Receiver(500) as receiver:
        subscribe(client, receiver.url, events=["incident.declared"])
        webhook_id = subscription_id(app)
        for n in range(AUTO_DISABLE_AFTER):
            declare(client, title=f"Lost contacts, wave {n}")
        # Every message tried 1 + RETRIES times, then given up; the last one disabled the webhook.
        assert len(receiver.received) == AUTO_DISABLE_AFTER * (RETRIES + 1)
        with app.app_context():
            subscription = db.session.get(WebhookSubscription, webhook_id)
            assert subscription.state == "auto_disabled" and subscription.failed_in_a_row == AUTO_DISABLE_AFTER
            assert "answered HTTP 500" in subscription.disabled_reason
            audited = db.session.scalars(sa.select(AuditEvent).where(
                AuditEvent.entity_type == "webhook_subscription", AuditEvent.action == "update")).all()
            disabling = [json.loads(e.after) for e in audited if "auto_disabled" in json.loads(e.after or "{}")]
            assert disabling and disabling[-1]["auto_disabled"] is True and disabling[-1]["disabled_at"]
            # The signing secret never reaches the log (its creation included).
            logged = db.session.scalars(sa.select(AuditEvent.after).where(
                AuditEvent.entity_type == "webhook_subscription")).all()
            assert logged and not any(subscription.secret in (after or "") for after in logged)
        for url in ("/admin/webhooks", f"/admin/webhooks/{webhook_id}"):
            page = client.get(url).get_data(as_text=True)
            assert "disabled automatically" in page.lower() and "3 messages in a row" in page
        sent = len(receiver.received)
        declare(client, title="Nobody hears about this one")
        assert len(receiver.received) == sent  # disabled: not even queued
        # Enabling it again starts the count from zero; the next event is sent.
        assert client.post(f"/admin/webhooks/{webhook_id}/enable").status_code == 302
        receiver.answers = [200]
        declare(client, title="Heard again")
        assert receiver.payloads()[-1]["data"]["incident"]["title"] == "Heard again"
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, webhook_id)
        assert (subscription.state, subscription.failed_in_a_row) == ("active", 0)
    assert "disabled automatically" not in client.get("/admin/webhooks").get_data(as_text=True).lower()


def test_a_delivery_in_between_resets_the_count_of_failures(app, client, auth):
    auth.as_role("admin")
    with Receiver(500) as receiver:
        subscribe(client, receiver.url, events=["incident.declared"])
        for n in range(AUTO_DISABLE_AFTER - 1):
            declare(client, title=f"Failing {n}")
        receiver.answers = [200]
        declare(client, title="Delivered")
        receiver.answers = [500]
        declare(client, title="Failing again")
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, subscription_id(app))
        assert (subscription.state, subscription.failed_in_a_row) == ("active", 1)


# --- presets ----------------------------------------------------------------------------------------

def test_slack_and_teams_presets_are_messages_those_services_accept(app, client, auth):
    auth.as_role("admin")
    with Receiver() as slack, Receiver() as teams:
        slack_secret = subscribe(client, slack.url, preset="slack", name="Slack", events=["incident.declared"])
        subscribe(client, teams.url, preset="teams", name="Teams", events=["incident.declared"])
        reference = declare(client, title="Photos <missing> & sync stopped")
    [slack_message], [teams_message] = slack.payloads(), teams.payloads()
    verify(slack_secret, slack.received[0])  # presets are signed too (chat services ignore the headers)

    assert set(slack_message) == {"text", "blocks"}
    assert reference in slack_message["text"] and "&lt;missing&gt; &amp; sync" in slack_message["text"]
    header, section, context = slack_message["blocks"]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert header["text"]["text"] == f"Incident declared: {reference}: Photos <missing> & sync stopped"
    assert section["type"] == "section" and section["text"]["type"] == "mrkdwn"
    assert {"type": "mrkdwn", "text": "*Severity*\nSEV2"} in section["fields"]
    assert context["elements"][0]["text"] == f"<https://tracker.example/incidents/{reference}|Open in the tracker>"

    assert teams_message["type"] == "message"
    [attachment] = teams_message["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert (card["type"], card["version"]) == ("AdaptiveCard", "1.4")
    assert card["$schema"] == "http://adaptivecards.io/schemas/adaptive-card.json"
    assert card["body"][0] == {"type": "TextBlock", "text": header["text"]["text"], "size": "Medium",
                               "weight": "Bolder", "wrap": True}
    facts = next(block for block in card["body"] if block["type"] == "FactSet")["facts"]
    assert {"title": "Severity", "value": "SEV2"} in facts
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": "Open in the tracker",
                                "url": f"https://tracker.example/incidents/{reference}"}]


def test_every_event_has_a_readable_slack_and_teams_message():
    from incidents.webhooks.presets import render

    person = {"id": 1, "name": "Ada", "email": "ada@example.com"}
    incident = {"incident": {"reference": "INC-2026-0001", "title": "Lost photos", "severity": "SEV1",
                             "status": "identified", "status_label": "Identified", "url": "https://t/i"}}
    samples = {
        "incident.declared": {**incident, "declared_by": person, "commander": person},
        "incident.status_changed": {**incident, "changed_by": person,
                                    "changes": {"status": {"from": "investigating", "to": "identified"}}},
        "incident.owner_changed": {**incident, "changed_by": person,
                                   "changes": {"comms_lead": {"from": None, "to": person}}},
        "status.update_posted": {**incident, "posted_by": person, "update": {
            "id": "7", "status": "identified", "body": "We found it.", "url": "https://s/u"}},
        "postmortem.published": {**incident, "published_by": person, "postmortem": {"version": 3, "url": "https://t/p"}},
        "action_item.overdue": {**incident, "action_item": {
            "id": 4, "title": "Test restores", "due_on": "2026-12-01", "status": "open", "priority": "high",
            "kind": "prevent", "owner": None, "url": "https://t/a"}},
        "obligation.deadline_near": {**incident, "obligation": {
            "id": 5, "rule_id": "gdpr-33", "title": "Tell the authority", "regime": "GDPR", "recipient": "",
            "due_at": "2026-12-01T10:00:00Z", "url": "https://t/o"}},
        "webhook.test": {"message": "It works.", "subscription": "Ops"},
    }
    expected = {"incident.status_changed": "from investigating to identified", "incident.owner_changed":
                "Communications lead: nobody → Ada", "status.update_posted": "We found it.",
                "postmortem.published": "Version 3", "action_item.overdue": "Test restores",
                "obligation.deadline_near": "2026-12-01 10:00:00 UTC", "webhook.test": "It works."}
    for event, data in samples.items():
        envelope = {"type": event, "version": 1, "id": "msg_1", "timestamp": "2026-11-29T10:00:00Z", "data": data}
        slack = json.loads(render("slack", envelope))
        teams = json.loads(render("teams", envelope))
        assert expected.get(event, "INC-2026-0001") in slack["text"], event
        assert expected.get(event, "INC-2026-0001") in json.dumps(teams["attachments"][0]["content"]["body"],
                                                                   ensure_ascii=False), event
        assert json.loads(render("standard", envelope)) == envelope


# --- SSRF -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["http://127.0.0.1:9/hook", "https://localhost/hook", "https://10.0.0.5/hook",
                                 "https://169.254.169.254/latest/meta-data", "https://[::1]/hook",
                                 "https://2130706433/hook", "ftp://hooks.example.com/x",
                                 "https://user:pw@hooks.example.com/x"])
def test_subscribing_a_private_address_is_refused_beside_the_field(app_config, request, url):
    app_config.update(OUTBOUND_ALLOW_PRIVATE="", OUTBOUND_ALLOW_HTTP=False)
    app, client, auth = (request.getfixturevalue(name) for name in ("app", "client", "auth"))
    auth.as_role("admin")
    response = client.post("/admin/webhooks/new", data={"name": "Inside", "url": url, "preset": "standard",
                                                        "events": ALL_EVENTS})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'id="url-errors"' in page and "Events cannot be sent to this URL" in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(WebhookSubscription.id))) == 0


def test_a_delivery_to_loopback_is_refused_and_nothing_reaches_the_listener(app_config, request):
    """By default (no OUTBOUND_ALLOW_PRIVATE) the listener on 127.0.0.1 is never called and the log
    says why; every other test here allows 127.0.0.0/8 and is delivered to it."""
    app_config.update(OUTBOUND_ALLOW_PRIVATE="")
    app, client, auth = (request.getfixturevalue(name) for name in ("app", "client", "auth"))
    auth.as_role("admin")
    with Receiver() as receiver:
        # A name that resolves to loopback passes the form (names are checked at each delivery):
        # "localhost" is refused at once, so the test stores the listener's URL as it would be
        # stored had its name pointed elsewhere when it was saved.
        with app.app_context():
            db.session.add(WebhookSubscription(name="Moved", url=receiver.url, events=ALL_EVENTS,
                                               secret="whsec_" + "A" * 43))
            db.session.commit()
        declare(client)
    assert receiver.received == []
    with app.app_context():
        [attempt] = db.session.scalars(sa.select(WebhookAttempt)).all()  # refused: not retried
        assert attempt.final and not attempt.ok and attempt.status_code is None
        assert attempt.error.startswith("refused: 127.0.0.1 is a loopback address")
        assert db.session.scalar(sa.select(WebhookMessage.state)) == "failed"
    assert "is a loopback address" in client.get(f"/admin/webhooks/{subscription_id(app, 'Moved')}").get_data(
        as_text=True)


def test_a_redirect_is_logged_as_a_failure_and_not_followed(app, client, auth):
    auth.as_role("admin")
    with Receiver() as elsewhere, Receiver() as receiver:
        receiver.answers = [(302, elsewhere.url), 200]
        subscribe(client, receiver.url, events=["incident.declared"])
        declare(client)
    assert elsewhere.received == []  # never followed
    assert [method for method, *_rest in receiver.received] == ["POST", "POST"]  # retried, same URL
    with app.app_context():
        first = db.session.scalars(sa.select(WebhookAttempt).order_by(WebhookAttempt.id)).first()
        assert (first.ok, first.status_code) == (False, 302)
        assert first.error == f"redirect not followed (302 to {elsewhere.url})"


# --- the admins' pages ------------------------------------------------------------------------------

def test_a_test_event_is_sent_once_even_to_a_disabled_webhook_and_never_disables_it(app, client, auth):
    auth.as_role("admin")
    with Receiver(500) as receiver:
        secret = subscribe(client, receiver.url)
        webhook_id = subscription_id(app)
        assert client.post(f"/admin/webhooks/{webhook_id}/disable").status_code == 302
        for _ in range(AUTO_DISABLE_AFTER + 1):
            response = client.post(f"/admin/webhooks/{webhook_id}/test", follow_redirects=True)
            assert "A test event is on its way" in response.get_data(as_text=True)
        assert len(receiver.received) == AUTO_DISABLE_AFTER + 1  # one attempt each: no retries
        receiver.answers = [204]
        client.post(f"/admin/webhooks/{webhook_id}/test")
    payload = verify(secret, receiver.received[-1])
    assert payload["type"] == "webhook.test" and "this webhook works" in payload["data"]["message"]
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, webhook_id)
        assert (subscription.state, subscription.failed_in_a_row) == ("disabled", 0)  # still the admin's choice
    page = client.get(f"/admin/webhooks/{webhook_id}").get_data(as_text=True)
    assert "Test event" in page and "Disabled by" in page and "answered HTTP 500" in page


def test_a_disabled_webhook_hears_nothing_until_enabled(app, client, auth):
    auth.as_role("admin")
    with Receiver() as receiver:
        subscribe(client, receiver.url, events=["incident.declared"])
        webhook_id = subscription_id(app)
        client.post(f"/admin/webhooks/{webhook_id}/disable")
        declare(client, title="Unheard")
        assert receiver.received == []
        client.post(f"/admin/webhooks/{webhook_id}/enable")
        declare(client, title="Heard")
    assert [p["data"]["incident"]["title"] for p in receiver.payloads()] == ["Heard"]


def test_messages_waiting_when_a_webhook_is_disabled_are_not_sent(app_config, request):
    app_config["JOBS_IMMEDIATE"] = False
    app, client, auth = (request.getfixturevalue(name) for name in ("app", "client", "auth"))
    auth.as_role("admin")
    with Receiver() as receiver:
        subscribe(client, receiver.url, events=["incident.declared"])
        declare(client)
        client.post(f"/admin/webhooks/{subscription_id(app)}/disable")
        with app.app_context():
            public_id = db.session.scalar(sa.select(BackgroundJob.public_id).where(BackgroundJob.kind == DELIVER))
        runner.run(app, public_id)
    assert receiver.received == []
    with app.app_context():
        assert db.session.scalar(sa.select(WebhookMessage.state)) == "skipped"


def test_rotating_the_secret_shows_the_new_one_once_and_signs_with_both_for_the_grace_period(app, client, auth):
    """Receivers switch without a gap: for WEBHOOK_SECRET_GRACE_HOURS each message is signed by the
    new secret and the old one (two signatures in the header); after that by the new one only."""
    auth.as_role("admin")
    with Receiver() as receiver:
        old = subscribe(client, receiver.url)
        webhook_id = subscription_id(app)
        response = client.post(f"/admin/webhooks/{webhook_id}/rotate")
        assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
        assert "for 24 hours with the old one too" in response.get_data(as_text=True)
        new = SECRET.search(response.get_data(as_text=True)).group(1)
        assert new != old and new not in client.get(f"/admin/webhooks/{webhook_id}").get_data(as_text=True)
        client.post(f"/admin/webhooks/{webhook_id}/test")
        with app.app_context():
            rotated = db.session.get(WebhookSubscription, webhook_id).secret_rotated_at
        # A day later (the admin's session has long ended: the service, as the page would).
        with clock_at(rotated + timedelta(hours=24, minutes=1)), app.test_request_context():
            subscription = db.session.get(WebhookSubscription, webhook_id)
            webhooks_service.send_test(session=db.session, subscription=subscription,
                                       actor=subscription.created_by)
            db.session.commit()
    during, after = receiver.received
    assert len(during[2]["webhook-signature"].split()) == 2
    verify(new, during)
    verify(old, during)
    verify(new, after)
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        verify(old, after)
    with app.app_context():  # the old secret is never in the audit log
        logged = " ".join(str(e.before) + str(e.after) for e in db.session.scalars(sa.select(AuditEvent)))
        assert old not in logged and new not in logged


def test_editing_changes_events_url_and_format_and_refuses_a_stale_form(app, client, auth):
    auth.as_role("admin")
    with Receiver() as first, Receiver() as second:
        subscribe(client, first.url, events=["incident.declared"])
        webhook_id = subscription_id(app)
        form = {"name": "Ops chat", "url": second.url, "preset": "slack", "events": ["incident.status_changed"],
                "version": 1}
        assert client.post(f"/admin/webhooks/{webhook_id}/edit", data=form).status_code == 302
        stale = client.post(f"/admin/webhooks/{webhook_id}/edit", data={**form, "name": "Stale"})
        assert stale.status_code == 409 and "Someone saved this webhook" in stale.get_data(as_text=True)
        reference = declare(client)
        client.post(f"/incidents/{reference}/status", data={"version": version_of(app, reference),
                                                            "status": "identified"})
    assert first.received == []
    [slack_message] = second.payloads()
    assert "is now identified" in slack_message["text"]
    with app.app_context():
        subscription = db.session.get(WebhookSubscription, webhook_id)
        assert (subscription.name, subscription.version) == ("Ops chat", 2)


def test_bad_forms_say_what_is_wrong_beside_each_field(app, client, auth):
    auth.as_role("admin")
    response = client.post("/admin/webhooks/new", data={"name": "", "url": "", "preset": "fax", "events": ["nope"]})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    for field in ("name", "url", "preset", "events"):
        assert f'id="{field}-errors"' in page, field
    response = client.post("/admin/webhooks/new", data={"name": "Ops", "url": "https://hooks.example.com/x",
                                                        "preset": "standard"})
    assert response.status_code == 422 and "Choose at least one event" in response.get_data(as_text=True)


def test_the_delivery_log_pages_newest_first(app, client, auth):
    from incidents.paging import PAGE_SIZE

    auth.as_role("admin")
    with Receiver() as receiver:
        subscribe(client, receiver.url)
        webhook_id = subscription_id(app)
        for _ in range(3):
            client.post(f"/admin/webhooks/{webhook_id}/test")
        with app.app_context():
            message_id = db.session.scalar(sa.select(WebhookMessage.id).order_by(WebhookMessage.id).limit(1))
            db.session.add_all(WebhookAttempt(message_id=message_id, subscription_id=webhook_id, number=n, ok=True,
                                              status_code=200, response_ms=n, final=True)
                               for n in range(10, 10 + PAGE_SIZE))
            db.session.commit()
    first = client.get(f"/admin/webhooks/{webhook_id}").get_data(as_text=True)
    older = re.search(r'href="(/admin/webhooks/\d+\?before=\d+)"', first).group(1)
    assert f"{PAGE_SIZE + 9} ms" in first and "Older attempts" in first
    rest = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    assert rest.count("<tr>") - 1 == 3 and "Newest attempts" in rest
    assert client.get(f"/admin/webhooks/{webhook_id}?before=junk").status_code == 200


def test_only_admins_reach_the_webhooks_pages(app, client, auth):
    auth.as_role("responder")
    assert client.get("/admin/webhooks").status_code == 403
    assert client.post("/admin/webhooks/new", data={"name": "x", "url": "https://hooks.example.com/x",
                                                    "events": ALL_EVENTS}).status_code == 403
    assert "/admin/webhooks" not in client.get("/").get_data(as_text=True)  # not in the menu either


# --- fuzz -------------------------------------------------------------------------------------------

URLS = st.one_of(st.text(max_size=80), st.from_regex(
    r"(https?|ftp|HTTPS)://[a-z0-9.:@%\[\]_-]{0,40}(/[\x00-\x7f\u00e9\u202e]{0,30})?", fullmatch=True))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(url=URLS)
def test_any_url_is_accepted_or_refused_in_words(app, url):
    from incidents.errors import FieldError
    from incidents.outbound import Refused, check_addresses, parse_target
    from incidents.webhooks.service import check_url

    with app.test_request_context():
        try:
            saved = check_url(url)
        except FieldError as refusal:
            assert refusal.field == "url" and str(refusal)
            return
        # Accepted: the outbound client takes it too, and any address in it passed the policy.
        target = parse_target(saved, app.extensions["outbound_policy"])
        if target.ip is not None:
            try:
                check_addresses(target.host, [target.host], app.extensions["outbound_policy"])
            except Refused:
                pytest.fail(f"{url!r} was accepted but its address is refused")


@settings(max_examples=60, deadline=None)
@given(title=st.text(max_size=300), body=st.text(max_size=4000), name=st.text(max_size=60))
def test_presets_render_any_text_within_the_chat_services_limits(title, body, name):
    from incidents.webhooks.presets import SLACK_HEADER_MAX, SLACK_TEXT_MAX, render

    incident = {"reference": "INC-2026-0001", "title": title, "severity": "SEV1", "status": "identified",
                "status_label": "Identified", "url": "https://t/i"}
    envelope = {"type": "status.update_posted", "version": 1, "id": "msg_1", "timestamp": "2026-11-29T10:00:00Z",
                "data": {"incident": incident, "posted_by": {"id": 1, "name": name, "email": "a@example.com"},
                         "update": {"id": "1", "status": "identified", "body": body, "url": "https://s/u"}}}
    slack = json.loads(render("slack", envelope))
    assert len(slack["text"]) <= SLACK_TEXT_MAX and len(slack["blocks"][0]["text"]["text"]) <= SLACK_HEADER_MAX
    assert all(len(block["text"]["text"]) <= SLACK_TEXT_MAX for block in slack["blocks"] if block["type"] == "section")
    assert "<" not in slack["blocks"][1]["text"]["text"]  # escaped: no link or mention smuggled in
    teams = json.loads(render("teams", envelope))
    assert teams["attachments"][0]["content"]["body"][0]["text"].startswith("Public update on INC-2026-0001")
