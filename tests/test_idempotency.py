"""No double posts: a double-click or a retry with the same idempotency key creates one thing.

Every creating form carries a hidden key drawn when the form is shown. Sending it twice (one
after the other, or at the same moment from several connections) stores one record and answers
both with the same redirect; forms without a key still work; a key reused elsewhere is refused.
A key sent again with different text is refused too, with the text kept in the form: never
answered "already saved" while the second text is dropped.
"""
from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import func, select

from incidents.actions.models import ActionItem
from incidents.extensions import db
from incidents.idempotency import KEY_DAMAGED, KEY_REUSED, KEY_REUSED_CHANGED, REPLAYED, IdempotencyKey
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.notices.models import Notice
from incidents.postmortem.models import PostmortemVersion
from incidents.recovery.models import Workstream, WorkstreamProgress
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
    prepare: Callable[[Ctx], None] | None = None  # what must exist before the form is shown


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
    "public update": Creating(
        page=lambda c: f"/incidents/{c.ref}", url=lambda c: f"/incidents/{c.ref}/publish/update",
        data=lambda c: {"public_status": "identified", "public_body": "We know the cause."},
        counted=lambda c: count(c.app, TimelineEntry, TimelineEntry.public_status.is_not(None)),
        prepare=lambda c: _publish(c)),
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


def _publish(ctx: Ctx) -> None:
    published = ctx.client.post(f"/incidents/{ctx.ref}/publish", data=FORMS["publish to status page"].data(ctx))
    assert published.status_code == 302


# What a person changes before sending the same drawing of each form again (the Back button).
CHANGED = {
    "timeline post": ("body", "Tape 15 of 40 restored"),
    "declare": ("title", "Photos emptied overnight"),
    "impact update": ("customers_affected", "1377"),
    "new workstream": ("name", "Replay the other journal"),
    "progress (inline form)": ("note", "Second shelf"),
    "progress (workstream page)": ("note", "Second shelf"),
    "publish to status page": ("public_body", "We found the cause."),
    "public update": ("public_body", "We know the cause and restore from tape."),
    "action item": ("title", "Test the restore every week"),
    "customer notice": ("body", "We restored most of them."),
    "postmortem version": ("summary", "The upgrade ran without any backup at all."),
}
# Forms based on a version of what they change: sent again after the first save, they meet the
# edit-conflict answer that any stale form gets.
VERSIONED = {"impact update", "progress (inline form)", "progress (workstream page)", "postmortem version"}
# Once published, the incident page offers the text as a public update instead.
SHOWN_AGAIN_IN = {"publish to status page": lambda c: f"/incidents/{c.ref}/publish/update"}


def _key_of_form(html: str, url: str) -> str:
    """The key of the form in `html` that posts to `url` (or has no action, posting to itself)."""
    for form in re.findall(r"<form\b.*?</form>", html, flags=re.S):
        action = re.search(r'action="([^"]*)"', form)
        if action is None or action.group(1) == url:
            found = keys_in(form)
            if found:
                return found[0]
    raise AssertionError(f"no form posting to {url} with a key")


def _setup(app, client, make, form_name: str) -> Ctx:
    email = make.user(role="responder")
    assert client.post("/login", data={"email": email, "password": Factory.PASSWORD}).status_code == 302
    ctx = Ctx(app, client, make, email)
    ctx.ref = make.incident(by=email, title="Contacts gone")
    ctx.impact_id = make.impact(ctx.ref, by=email, affected=1000)
    ctx.ws_id = make.workstream(ctx.ref, by=email, name="Restore from tape", target=1000)
    if FORMS[form_name].prepare:
        FORMS[form_name].prepare(ctx)
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


@pytest.mark.parametrize("form_name", FORMS)
def test_the_same_key_with_different_text_is_refused_and_the_text_kept(app, client, make, form_name):
    spec = FORMS[form_name]
    ctx = _setup(app, client, make, form_name)
    before = spec.counted(ctx)
    key = _key_from_page(ctx, spec, spec.url(ctx))
    data = {**spec.data(ctx), "idempotency_key": key}
    assert client.post(spec.url(ctx), data=data).status_code == 302
    name, typed = CHANGED[form_name]

    refused = client.post(spec.url(ctx), data={**data, name: typed})

    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    assert KEY_REUSED_CHANGED in html and REPLAYED not in html
    assert typed in html  # what the person typed is still in the form
    shown_in = SHOWN_AGAIN_IN.get(form_name, spec.url)(ctx)
    fresh = _key_of_form(html, shown_in)
    assert fresh != key
    assert spec.counted(ctx) == before + 1  # the second text was not saved over or beside the first
    assert count(app, IdempotencyKey) == 1

    again = client.post(shown_in, data={**data, name: typed, "idempotency_key": fresh})
    if form_name in VERSIONED:
        assert KEY_REUSED_CHANGED not in again.get_data(as_text=True)
    else:
        assert again.status_code == 302  # sent again with the fresh key, it is saved as a new one
        assert typed in client.get(again.headers["Location"]).get_data(as_text=True)


def test_a_key_stored_before_fingerprints_is_answered_as_before(app, client, make):
    """Keys saved by the previous version carry no fingerprint: their repeat gets the first answer."""
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    key = _key_from_page(ctx, spec, spec.url(ctx))
    first = client.post(spec.url(ctx), data={**spec.data(ctx), "idempotency_key": key})
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).values(fingerprint=None))
        db.session.commit()
    again = client.post(spec.url(ctx), data={**spec.data(ctx), "body": "Another text", "idempotency_key": key})
    assert (again.status_code, again.headers["Location"]) == (302, first.headers["Location"])
    assert spec.counted(ctx) == 1 and _entries(ctx, "Another text") == 0


def test_each_drawing_of_a_form_has_its_own_key(app, client, make):
    ctx = _setup(app, client, make, "declare")
    for spec in FORMS.values():  # in order: the public update form appears once published
        if spec.prepare:
            spec.prepare(ctx)
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


def _all_at_once(app, signed_in, url: str, data: dict | list[dict]) -> list:
    """POST the same data (or copy n: data[n]) from COPIES connections of one signed-in browser at
    the same moment; the answers are (status, Location, body)."""
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
            response = clients[n].post(url, data=data[n] if isinstance(data, list) else data)
            answers[n] = (response.status_code, response.headers.get("Location"), response.get_data(as_text=True))
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
    assert {status for status, _, _ in answers} == {302}
    assert len({location for _, location, _ in answers}) == 1  # every copy is sent to the same place
    assert count(app, IdempotencyKey) == 1


def test_one_key_sent_at_once_with_different_texts_saves_one_and_refuses_the_rest(app, client, make):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    key = _key_from_page(ctx, spec, spec.url(ctx))
    texts = [f"Shelf {n} of {COPIES} restored" for n in range(COPIES)]

    answers = _all_at_once(app, client, spec.url(ctx),
                           [{**spec.data(ctx), "body": text, "idempotency_key": key} for text in texts])

    saved = [text for text in texts if _entries(ctx, text) == 1]
    assert len(saved) == 1 and sum(_entries(ctx, text) for text in texts) == 1
    for text, (status, _, body) in zip(texts, answers, strict=True):
        if text in saved:
            assert status == 302
        else:  # the losers are told their text was not saved, and get it back: not "already saved"
            assert status == 422 and KEY_REUSED_CHANGED in body and text in body


def test_prune_forgets_old_keys_and_keeps_recent_ones(app, client, make, runner):
    spec = FORMS["timeline post"]
    ctx = _setup(app, client, make, "timeline post")
    old_key, new_key = "old-key-0123456789abcdef", "new-key-0123456789abcdef"
    for key, body in [(old_key, "Sent last month"), (new_key, "Sent just now")]:
        response = client.post(spec.url(ctx), data={**spec.data(ctx), "body": body, "idempotency_key": key})
        assert response.status_code == 302
    with app.app_context():
        db.session.execute(sa.update(IdempotencyKey).where(IdempotencyKey.key == old_key)
                           .values(created_at=datetime.now(UTC) - timedelta(days=30)))
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
