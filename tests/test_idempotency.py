"""No double posts: a double-click or a retry with the same idempotency key creates one thing.

Every creating form carries a hidden key drawn when the form is shown. Sending it twice (one
after the other, or at the same moment from several connections) stores one record and answers
both with the same redirect; forms without a key still work; a key reused elsewhere is refused.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Callable

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from incidents.extensions import db
from incidents.idempotency import KEY_DAMAGED, KEY_REUSED, REPLAYED, IdempotencyKey
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.recovery.models import Workstream, WorkstreamProgress
from incidents.actions.models import ActionItem
from incidents.notices.models import Notice
from incidents.postmortem.models import PostmortemVersion
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory

KEY_INPUT = re.compile(r'name="idempotency_key"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="idempotency_key"')


def keys_in(html: str) -> list[str]:
    return [a or b for a, b in KEY_INPUT.findall(html)]


def count(app, model, *where) -> int:
    with app.app_context():
        n = db.session.scalar(select(func.count()).select_from(model).where(*where))
        db.session.remove()
        return n


@dataclass
class Ctx:
    app: object
    client: object
    make: Factory
    email: str
    ref: str = ""
    ws_id: int = 0
    impact_id: int = 0


@dataclass
class Creating:
    """A form that creates something: where it is shown, where it posts, what it sends, what it adds."""

    page: Callable[[Ctx], str]
    url: Callable[[Ctx], str]
    data: Callable[[Ctx], dict]
    counted: Callable[[Ctx], int]


def _entries(ctx: Ctx, body: str) -> int:
    return count(ctx.app, TimelineEntry, TimelineEntry.body == body)


FORMS = {
    "timeline post": Creating(
        page=lambda c: f"/incidents/{c.ref}", url=lambda c: f"/incidents/{c.ref}/timeline",
        data=lambda c: {"body": "Tape 14 of 40 restored", "kind": "note", "visibility": "internal"},
        counted=lambda c: _entries(c, "Tape 14 of 40 restored")),
    "declare": Creating(
        page=lambda c: "/incidents/new", url=lambda c: "/incidents/new",
        data=lambda c: {"title": "Calendars emptied overnight", "severity": "SEV2"},
        counted=lambda c: count(c.app, Incident, Incident.title == "Calendars emptied overnight")),
    "impact update": Creating(
        page=lambda c: f"/incidents/{c.ref}/impact", url=lambda c: f"/incidents/{c.ref}/impact",
        data=lambda c: {"based_on": str(c.impact_id), "customers_affected": "1200", "customers_restored": "300",
                        "customers_lost": "0", "customers_notified": "0"},
        counted=lambda c: count(c.app, ImpactUpdate)),
    "new workstream": Creating(
        page=lambda c: f"/incidents/{c.ref}/workstreams/new", url=lambda c: f"/incidents/{c.ref}/workstreams/new",
        data=lambda c: {"name": "Replay the journal", "owner": str(c.make.user_id(c.email)), "target": "500",
                        "unit": "records", "status": "planned", "source": "backup"},
        counted=lambda c: count(c.app, Workstream, Workstream.name == "Replay the journal")),
    "progress (inline form)": Creating(
        page=lambda c: f"/incidents/{c.ref}", url=lambda c: f"/incidents/{c.ref}/workstreams/{c.ws_id}/progress",
        data=lambda c: {"version": "1", "done": "120", "note": "First shelf"},
        counted=lambda c: count(c.app, WorkstreamProgress)),
    "progress (workstream page)": Creating(
        page=lambda c: f"/incidents/{c.ref}/workstreams/{c.ws_id}",
        url=lambda c: f"/incidents/{c.ref}/workstreams/{c.ws_id}/progress",
        data=lambda c: {"version": "1", "done": "120", "note": "First shelf"},
        counted=lambda c: count(c.app, WorkstreamProgress)),
    "publish to status page": Creating(
        page=lambda c: f"/incidents/{c.ref}", url=lambda c: f"/incidents/{c.ref}/publish",
        data=lambda c: {"public_title": "Sync delayed", "impact": "minor", "public_status": "investigating",
                        "public_body": "We are looking into it."},
        counted=lambda c: count(c.app, TimelineEntry, TimelineEntry.public_status.is_not(None))),
    "action item": Creating(
        page=lambda c: f"/incidents/{c.ref}/actions/new", url=lambda c: f"/incidents/{c.ref}/actions/new",
        data=lambda c: {"title": "Test the restore every month", "kind": "prevent",
                        "owner": str(c.make.user_id(c.email)), "due_on": "2099-01-31", "priority": "high"},
        counted=lambda c: count(c.app, ActionItem, ActionItem.title == "Test the restore every month")),
    "customer notice": Creating(
        page=lambda c: f"/incidents/{c.ref}/notices/new", url=lambda c: f"/incidents/{c.ref}/notices/new",
        data=lambda c: {"audience": "customers", "subject": "Your contacts", "body": "We are restoring them."},
        counted=lambda c: count(c.app, Notice)),
    "postmortem version": Creating(
        page=lambda c: f"/incidents/{c.ref}/postmortem/edit", url=lambda c: f"/incidents/{c.ref}/postmortem/edit",
        data=lambda c: {"version": "0", "summary": "The upgrade ran without a tested backup."},
        counted=lambda c: count(c.app, PostmortemVersion)),
}


def _setup(app, client, make, form_name: str) -> Ctx:
    email = make.user(role="responder")
    assert client.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
    ctx = Ctx(app, client, make, email)
    ctx.ref = make.incident(by=email, title="Contacts gone")
    ctx.impact_id = make.impact(ctx.ref, by=email, affected=1000)
    ctx.ws_id = make.workstream(ctx.ref, by=email, name="Restore from tape", target=1000)
    return ctx


def _key_from_page(ctx: Ctx, spec: Creating, url: str) -> str:
    """The key the page's form for `url` carries (each form on a page has its own)."""
    html = ctx.client.get(spec.page(ctx)).get_data(as_text=True)
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        action = re.search(r'action="([^"]*)"', form)
        if (action.group(1) if action else spec.page(ctx)) == url:
            found = keys_in(form)
            assert len(found) == 1, f"expected one key in the form for {url}"
            return found[0]
    raise AssertionError(f"no form posting to {url} on {spec.page(ctx)}")


@pytest.mark.parametrize("form_name", FORMS)
def test_sending_the_same_form_twice_creates_one_and_answers_alike(app, client, make, form_name):
    spec = FORMS[form_name]
    ctx = _setup(app, client, make, form_name)
    before = spec.counted(ctx)
    key = _key_from_page(ctx, spec, spec.url(ctx))
    data = {**spec.data(ctx), "idempotency_key": key}

    first = client.post(spec.url(ctx), data=data)
    assert first.status_code == 302, first.get_data(as_text=True)[:2000]
    second = client.post(spec.url(ctx), data=data)
    assert second.status_code == 302
    assert second.headers["Location"] == first.headers["Location"]
    assert spec.counted(ctx) == before + 1
    assert REPLAYED in client.get(second.headers["Location"]).get_data(as_text=True)
    assert count(app, IdempotencyKey) == 1


def test_each_drawing_of_a_form_has_its_own_key(app, client, make):
    ctx = _setup(app, client, make, "declare")
    for spec in FORMS.values():
        first, second = (_key_from_page(ctx, spec, spec.url(ctx)) for _ in range(2))
        assert first != second and len(first) >= 32


def test_without_a_key_old_clients_still_post_every_time(app, client, make):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    for _ in range(2):
        assert client.post(spec.url(ctx), data=spec.data(ctx)).status_code == 302
    assert spec.counted(ctx) == 2
    assert count(app, IdempotencyKey) == 0


def test_a_refused_post_does_not_use_up_its_key(app, client, make):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    key = _key_from_page(ctx, spec, spec.url(ctx))
    refused = client.post(spec.url(ctx), data={**spec.data(ctx), "body": "", "idempotency_key": key})
    assert refused.status_code == 422
    assert key in keys_in(refused.get_data(as_text=True))  # the form shown again keeps its key
    assert client.post(spec.url(ctx), data={**spec.data(ctx), "idempotency_key": key}).status_code == 302
    assert spec.counted(ctx) == 1


def test_a_key_used_for_another_action_is_refused(app, client, make):
    timeline, declare = FORMS["timeline post"], FORMS["declare"]
    ctx = _setup(app, client, make, "timeline post")
    key = _key_from_page(ctx, timeline, timeline.url(ctx))
    assert client.post(timeline.url(ctx), data={**timeline.data(ctx), "idempotency_key": key}).status_code == 302
    incidents = count(app, Incident)

    reused = client.post("/incidents/new", data={**declare.data(ctx), "idempotency_key": key})
    assert reused.status_code == 422
    assert KEY_REUSED in reused.get_data(as_text=True)
    assert count(app, Incident) == incidents
    # The same on another incident's timeline: a key belongs to one action on one record.
    other = make.incident(by=ctx.email, title="Another one")
    reused = client.post(f"/incidents/{other}/timeline", data={**timeline.data(ctx), "idempotency_key": key})
    assert reused.status_code == 422
    assert timeline.counted(ctx) == 1


def test_a_damaged_key_is_refused_with_a_reason(app, client, make):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    for bad in ["short", "x" * 101, "has spaces in it, sixteen+", "<script>alert(1)</script>xx",
                "nul\x00nul-nul-nul-nul", ["k" * 20, "j" * 20]]:
        response = client.post(spec.url(ctx), data={**spec.data(ctx), "idempotency_key": bad})
        assert response.status_code == 400, bad
        assert KEY_DAMAGED in response.get_data(as_text=True)
    assert spec.counted(ctx) == 0


def test_keys_belong_to_one_person(app, client, make):
    """Two people cannot collide (or replay each other's answers) by sending the same key."""
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    key = "shared-key-0123456789abcdef"
    assert client.post(spec.url(ctx), data={**spec.data(ctx), "idempotency_key": key}).status_code == 302
    other = app.test_client()
    email = make.user(role="responder")
    assert other.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
    assert other.post(spec.url(ctx), data={**spec.data(ctx), "idempotency_key": key}).status_code == 302
    assert spec.counted(ctx) == 2


# --- at the same moment -------------------------------------------------------------------------

COPIES = 8


def _all_at_once(app, signed_in, url: str, data: dict) -> list:
    """POST the same data from COPIES connections of one signed-in browser at the same moment."""
    clients = []
    for _ in range(COPIES):
        c = app.test_client()
        c.set_cookie("session", signed_in.get_cookie("session").value)
        clients.append(c)
    barrier = threading.Barrier(COPIES)
    answers: list = [None] * COPIES
    errors: list = []

    def send(n: int) -> None:
        try:
            barrier.wait(timeout=30)
            response = clients[n].post(url, data=data)
            answers[n] = (response.status_code, response.headers.get("Location"))
            response.close()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=send, args=(n,)) for n in range(COPIES)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    return answers


@pytest.mark.parametrize("form_name", ["timeline post", "progress (inline form)"])
def test_the_same_key_sent_at_once_from_many_connections_creates_one(app, client, make, form_name):
    spec = FORMS[form_name]
    ctx = _setup(app, client, make, form_name)
    before = spec.counted(ctx)
    data = {**spec.data(ctx), "idempotency_key": _key_from_page(ctx, spec, spec.url(ctx))}

    answers = _all_at_once(app, client, spec.url(ctx), data)

    assert spec.counted(ctx) == before + 1
    assert {status for status, _ in answers} == {302}
    assert len({location for _, location in answers}) == 1  # every copy is sent to the same place
    assert count(app, IdempotencyKey) == 1


def test_prune_forgets_old_keys_and_keeps_recent_ones(app, client, make, runner):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    old_key, new_key = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
    for key, body in [(old_key, "Sent last month"), (new_key, "Sent just now")]:
        response = client.post(spec.url(ctx), data={**spec.data(ctx), "body": body, "idempotency_key": key})
        assert response.status_code == 302
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.key == old_key)
                           .values(created_at=datetime.now(timezone.utc) - timedelta(days=30)))
        db.session.commit()

    result = runner.invoke(args=["idempotency", "prune", "--days", "7"])
    assert result.exit_code == 0, result.output
    assert "Removed 1 idempotency key older than 7 days." in result.output
    with app.app_context():
        assert db.session.scalars(select(IdempotencyKey.key)).all() == [new_key]
    # The recent key still protects against a repeat; the entries themselves are untouched.
    again = client.post(spec.url(ctx), data={**spec.data(ctx), "body": "Sent just now", "idempotency_key": new_key})
    assert again.status_code == 302
    assert _entries(ctx, "Sent just now") == 1 and _entries(ctx, "Sent last month") == 1


def test_prune_refuses_a_nonsense_age(runner):
    result = runner.invoke(args=["idempotency", "prune", "--days", "0"])
    assert result.exit_code != 0
    assert "--days" in result.output
