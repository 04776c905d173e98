"""The automation API's writes (issue #17): declaring with an Idempotency-Key, status changes and
edits with optimistic locking (409 with the current version), the timeline (post, read with a
cursor), impact figures and workstream progress, each refused field a 422 in one problem shape,
and every answer checked against the served OpenAPI document."""
from __future__ import annotations

import re
import threading
import time
import uuid

import pytest
import sqlalchemy as sa

from incidents.api import timeline_posts
from incidents.audit.models import AuditEvent
from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.timeline import service as timeline_service
from incidents.timeline.models import TimelineEntry
from tests.api_helpers import bearer, check_problem, conforms, new_token
from tests.helpers import drop_server_connections


@pytest.fixture
def writer(app, make):
    """A responder's write token, and its owner's email."""
    email = make.user(role="responder", name="Rae Script")
    return email, new_token(app, email, scopes=("read", "write"))


@pytest.fixture
def document(client):
    return client.get("/api/v1/openapi.json").get_json()


def declare(client, token, **fields):
    body = {"title": "Mailboxes emptied on shard 4", "severity": "SEV2", **fields}
    return client.post("/api/v1/incidents", json=body, headers=bearer(token))


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


# --- declaring -------------------------------------------------------------------------------------

def test_declaring_makes_the_incident_with_the_token_owner_as_commander(app, client, writer, document):
    email, token = writer
    response = declare(client, token, summary="Shard 4 *lost* mail", data_categories=["messages"],
                       personal_data=True)
    assert response.status_code == 201, response.get_data(as_text=True)
    body = conforms(document, "/api/v1/incidents", response, "post")
    assert response.status_code == 201
    assert response.headers["Location"].endswith(f"/api/v1/incidents/{body['reference']}")
    assert body["commander"]["name"] == "Rae Script" and body["status"] == "investigating"
    assert body["data_categories"] == ["messages"] and body["personal_data"] is True
    again = client.get(response.headers["Location"], headers=bearer(token))
    assert again.get_json()["title"] == "Mailboxes emptied on shard 4"
    with app.app_context():
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.entity_type == "incident",
                                                              AuditEvent.action == "create"))
        assert event is not None and event.token_id is not None  # attributed to the token


def test_a_retry_with_the_same_idempotency_key_declares_nothing_twice(app, client, writer, document):
    _email, token = writer
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = client.post("/api/v1/incidents", json={"title": "Photos gone", "severity": "SEV1"},
                        headers={**bearer(token), **key})
    # The same fields, spaced and ordered differently: the same request.
    retry = client.post("/api/v1/incidents", data='{ "severity": "SEV1",  "title": "Photos gone" }',
                        content_type="application/json", headers={**bearer(token), **key})
    assert first.status_code == retry.status_code == 201
    assert retry.headers["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first.headers
    assert retry.get_json()["reference"] == first.get_json()["reference"]
    conforms(document, "/api/v1/incidents", retry, "post")
    with app.app_context():
        assert count(Incident) == 1
    changed = client.post("/api/v1/incidents", json={"title": "Videos gone", "severity": "SEV1"},
                          headers={**bearer(token), **key})
    assert "different body" in check_problem(changed, 422)["detail"]
    elsewhere = client.post(f"/api/v1/incidents/{first.get_json()['reference']}/timeline",
                            json={"body": "x"}, headers={**bearer(token), **key})
    assert "already used" in check_problem(elsewhere, 422)["detail"]
    with app.app_context():
        assert count(Incident) == 1
    fresh = client.post("/api/v1/incidents", json={"title": "Videos gone", "severity": "SEV1"},
                        headers={**bearer(token), "Idempotency-Key": str(uuid.uuid4())})
    assert fresh.status_code == 201 and fresh.get_json()["reference"] != first.get_json()["reference"]


def test_a_damaged_idempotency_key_is_a_400(client, writer):
    _email, token = writer
    response = client.post("/api/v1/incidents", json={"title": "x", "severity": "SEV1"},
                           headers={**bearer(token), "Idempotency-Key": "short"})
    assert "Idempotency-Key" in check_problem(response, 400)["detail"]


@pytest.mark.parametrize(("body", "field"), [
    ({"severity": "SEV1"}, "title"),
    ({"title": "   ", "severity": "SEV1"}, "title"),
    ({"title": "x" * 201, "severity": "SEV1"}, "title"),
    ({"title": "Lost", "severity": "SEV9"}, "severity"),
    ({"title": "Lost", "severity": "SEV1", "data_categories": ["martian"]}, "data_categories"),
    ({"title": "Lost\u0007", "severity": "SEV1"}, "title"),
    ({"title": "Lost", "severity": "SEV1", "surprise": 1}, "surprise"),
])
def test_refused_declarations_name_the_field_and_create_nothing(app, client, writer, document, body, field):
    _email, token = writer
    response = client.post("/api/v1/incidents", json=body, headers=bearer(token))
    problem = check_problem(response, 422)
    assert any(name.split(".")[0] == field for name in problem["errors"]), problem
    conforms(document, "/api/v1/incidents", response, "post")
    with app.app_context():
        assert count(Incident) == 0


def test_a_read_token_cannot_write(app, client, make):
    email = make.user(role="responder")
    token = new_token(app, email, scopes=("read",))
    check_problem(declare(client, token), 403)
    viewer = make.user(role="viewer")
    check_problem(declare(client, new_token(app, viewer, scopes=("read", "write"))), 403)
    with app.app_context():
        assert count(Incident) == 0


# --- status and edits ------------------------------------------------------------------------------

def test_status_moves_along_the_lifecycle_and_a_stale_version_gets_the_current_one(client, writer, document):
    _email, token = writer
    incident = declare(client, token).get_json()
    ref, version = incident["reference"], incident["version"]
    path = f"/api/v1/incidents/{ref}/status"
    moved = client.post(path, json={"status": "identified", "version": version, "note": "Found the cron job"},
                        headers=bearer(token))
    body = conforms(document, "/api/v1/incidents/{reference}/status", moved, "post")
    assert moved.status_code == 200 and body["status"] == "identified" and body["version"] > version
    stale = client.post(path, json={"status": "monitoring", "version": version}, headers=bearer(token))
    problem = conforms(document, "/api/v1/incidents/{reference}/status", stale, "post")
    assert stale.status_code == 409 and problem["current"]["status"] == "identified"
    assert problem["current"]["version"] == body["version"]
    closing = client.post(path, json={"status": "closed", "version": body["version"]}, headers=bearer(token))
    assert check_problem(closing, 422)["errors"]["status"] == ["An identified incident cannot move to closed."]
    again = client.get(f"/api/v1/incidents/{ref}", headers=bearer(token)).get_json()
    assert again["status"] == "identified" and again["version"] == body["version"]


def test_a_read_right_after_a_write_answers_what_the_write_answered(app, client, make, writer, backend):
    """The one-incident read runs outside the ORM (incidents/prepared_read.py), on PostgreSQL on a
    pool of its own: it sees every write at once, with the same times, people and lists; and a
    connection the server dropped is found by the read, replaced, and the read answered."""
    _email, token = writer
    comms = make.user(role="responder", name="Cory Comms")
    ref = declare(client, token, personal_data=True, data_categories=["contacts", "photos"]).get_json()["reference"]
    first = client.get(f"/api/v1/incidents/{ref}", headers=bearer(token)).get_json()
    written = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token), json={
        "version": first["version"], "title": "Shard 4 mailboxes emptied", "comms_lead_id": make.user_id(comms),
        "loss_began_at": "2026-11-01T09:30:15+01:00", "detected_at": "2026-11-01T10:00:00Z"}).get_json()
    read = client.get(f"/api/v1/incidents/{ref}", headers=bearer(token)).get_json()
    assert read == written and read["version"] == first["version"] + 1
    assert read["loss_began_at"] == "2026-11-01T08:30:15Z" and read["data_categories"] == ["contacts", "photos"]
    if backend == "postgresql":
        assert drop_server_connections(app) >= 1
        assert client.get(f"/api/v1/incidents/{ref}", headers=bearer(token)).get_json() == written


def test_editing_owners_and_moments_changes_only_what_is_sent(client, make, writer, document):
    _email, token = writer
    comms = make.user(role="responder", name="Cory Comms")
    incident = declare(client, token, summary="Kept as it was").get_json()
    ref = incident["reference"]
    response = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token), json={
        "version": incident["version"], "comms_lead_id": make.user_id(comms),
        "loss_began_at": "2026-11-01T09:30:15+01:00", "detected_at": "2026-11-01T10:00:00Z"})
    body = conforms(document, "/api/v1/incidents/{reference}", response, "patch")
    assert response.status_code == 200
    assert body["comms_lead"]["name"] == "Cory Comms" and body["commander"]["name"] == "Rae Script"
    assert body["loss_began_at"].startswith("2026-11-01T08:30:15")
    assert body["summary"] == "Kept as it was" and body["title"] == incident["title"]
    timeline = client.get(f"/api/v1/incidents/{ref}/timeline", headers=bearer(token)).get_json()["items"]
    assert any("Communications lead" in e["body"] and e["kind"] == "decision" for e in timeline)
    nobody = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token),
                          json={"version": body["version"], "comms_lead_id": None})
    assert nobody.get_json()["comms_lead"] is None


@pytest.mark.parametrize(("fields", "field"), [
    ({"detected_at": "2026-11-01T08:00:00Z"}, "detected_at"),  # before the loss began (set below)
    ({"aware_at": "2999-01-01T00:00:00Z"}, "aware_at"),
    ({"aware_at": "2026-11-01T08:00:00"}, "aware_at"),  # no zone: refused, not guessed
    ({"commander_id": 999999}, "commander_id"),
    ({"title": None}, "title"),
    ({"rpo_target_minutes": -5}, "rpo_target_minutes"),
])
def test_refused_edits_name_the_field_and_change_nothing(client, writer, document, fields, field):
    _email, token = writer
    incident = declare(client, token).get_json()
    ref = incident["reference"]
    set_up = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token),
                          json={"version": incident["version"], "loss_began_at": "2026-11-01T09:00:00Z"})
    version = set_up.get_json()["version"]
    response = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token), json={"version": version, **fields})
    problem = check_problem(response, 422)
    assert field in problem["errors"], problem
    conforms(document, "/api/v1/incidents/{reference}", response, "patch")
    assert client.get(f"/api/v1/incidents/{ref}", headers=bearer(token)).get_json()["version"] == version


def test_a_stale_edit_saves_nothing_and_answers_the_current_incident(client, writer):
    _email, token = writer
    incident = declare(client, token).get_json()
    ref, version = incident["reference"], incident["version"]
    client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token), json={"version": version, "title": "Newer"})
    stale = client.patch(f"/api/v1/incidents/{ref}", headers=bearer(token),
                         json={"version": version, "title": "Older"})
    problem = check_problem(stale, 409)
    assert problem["current"]["title"] == "Newer" and "Nothing of yours was saved" in problem["detail"]


# --- the timeline ----------------------------------------------------------------------------------

def test_posting_and_reading_the_timeline_a_page_at_a_time(app, client, writer, document):
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    posted = []
    for n in range(7):
        response = client.post(f"/api/v1/incidents/{ref}/timeline", headers=bearer(token),
                               json={"body": f"Restored batch {n}", "kind": "recovery",
                                     "occurred_at": f"2026-11-0{n + 1}T12:00:00Z"})
        assert response.status_code == 201
        posted.append(conforms(document, "/api/v1/incidents/{reference}/timeline", response, "post"))
    public = client.post(f"/api/v1/incidents/{ref}/timeline", headers=bearer(token),
                         json={"body": "We are restoring mailboxes.", "visibility": "public"})
    assert public.get_json()["visibility"] == "public"
    seen, url = [], f"/api/v1/incidents/{ref}/timeline?limit=3&kind=recovery&order=oldest"
    while url:
        page = client.get(url, headers=bearer(token))
        body = conforms(document, "/api/v1/incidents/{reference}/timeline", page, "get")
        assert len(body["items"]) <= 3
        seen += [item["body"] for item in body["items"]]
        url = body["next"]
    assert seen == [f"Restored batch {n}" for n in range(7)]
    newest = client.get(f"/api/v1/incidents/{ref}/timeline?limit=1", headers=bearer(token)).get_json()
    assert newest["items"][0]["body"] == "We are restoring mailboxes."


def test_timeline_refusals(app, client, writer):
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    path = f"/api/v1/incidents/{ref}/timeline"
    assert "body" in check_problem(client.post(path, json={"body": ""}, headers=bearer(token)), 422)["errors"]
    assert "kind" in check_problem(client.post(path, json={"body": "x", "kind": "status_change"},
                                               headers=bearer(token)), 422)["errors"]
    future = client.post(path, json={"body": "x", "occurred_at": "2999-01-01T00:00:00Z"}, headers=bearer(token))
    assert "occurred_at" in check_problem(future, 422)["errors"]
    assert "cursor" in check_problem(client.get(path + "?cursor=nonsense", headers=bearer(token)), 422)["errors"]
    check_problem(client.get("/api/v1/incidents/INC-1999-0001/timeline", headers=bearer(token)), 404)
    with app.app_context():
        assert count(TimelineEntry) == 1  # the declaration only


def test_a_retried_post_is_posted_once(app, client, writer):
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    headers = {**bearer(token), "Idempotency-Key": "retry-" + uuid.uuid4().hex}
    first = client.post(f"/api/v1/incidents/{ref}/timeline", json={"body": "40,000 restored"}, headers=headers)
    again = client.post(f"/api/v1/incidents/{ref}/timeline", json={"body": "40,000 restored"}, headers=headers)
    assert first.status_code == again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json()["id"] == again.get_json()["id"]
    with app.app_context():
        assert count(TimelineEntry) == 2


def _shape(statement: str) -> str:
    """A statement as its verb and first table: "INSERT timeline_entry", "SELECT incident.id"."""
    words = re.sub(r'["`]', "", statement).split()
    verb = words[0].upper()
    if verb == "SELECT" and len(words) > 1 and words[1].startswith("incident.") and words[2].upper() == "FROM":
        return f"SELECT {words[1]}"  # a column alone, not the incident with its people
    target = next((words[n + 1] for n, word in enumerate(words[:-1]) if word.upper() in ("FROM", "INTO", "UPDATE")),
                  "") if verb != "UPDATE" else words[1]
    return f"{verb} {target.split('.')[0]}"


def test_an_api_post_writes_its_entry_with_nothing_but_the_inserts_and_the_audit_chain(app, client, writer):
    """What a post asks the database, in order: the token and the incident's id (reads, before any
    write), then the entry's INSERT and the audit chain's append. No incident, person or Markdown
    work is left inside the write, where every other writer waits."""
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    path = f"/api/v1/incidents/{ref}/timeline"
    warm_up = client.post(path, json={"body": "warm-up"}, headers=bearer(token))  # notes the token's use
    assert warm_up.status_code == 201
    with app.app_context():
        engine = db.engine
    seen: list[str] = []

    def listener(_conn, _cursor, statement, *_rest) -> None:
        if statement.split()[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    try:
        response = client.post(path, json={"body": "Shard 4: 40,000 mailboxes back."}, headers=bearer(token))
    finally:
        sa.event.remove(engine, "before_cursor_execute", listener)
    assert response.status_code == 201, response.get_data(as_text=True)
    shapes = [_shape(statement) for statement in seen if "pg_advisory_xact_lock" not in statement]
    assert shapes == ["SELECT access_token", "SELECT incident.id", "INSERT timeline_entry", "SELECT user",
                      "SELECT audit_event", "INSERT audit_event"], shapes


def _batched_posts(app, monkeypatch, first: tuple, together: list[tuple]) -> tuple[list, list]:
    """Post `first`, hold its batch's writer until every post of `together` waits behind it, then
    let them go: they are written as one batch. Each post is (token, json, headers, address);
    returns each post's response (first, then together's in order) and the batches written."""
    batches, release, real = [], threading.Event(), timeline_posts.write_posts

    def write(session, posts):
        batches.append([sent.body for sent in posts])
        if len(batches) == 1:
            release.wait(10)
        return real(session, posts)

    monkeypatch.setattr(timeline_posts, "write_posts", write)
    responses: list = [None] * (1 + len(together))

    def send(n, token, body, headers, address):
        responses[n] = app.test_client().post(path_of(body), json=body["json"],
                                              headers={**bearer(token), **headers},
                                              environ_base={"REMOTE_ADDR": address})

    def path_of(body):
        return body["path"]

    threads = [threading.Thread(target=send, args=(0, *first))]
    threads[0].start()
    with app.app_context():
        group = timeline_posts._group()
    while not group._writing:
        time.sleep(0.001)
    threads += [threading.Thread(target=send, args=(n, *post)) for n, post in enumerate(together, start=1)]
    for thread in threads[1:]:
        thread.start()
    deadline = time.monotonic() + 10
    while len(group._waiting) < len(together) and time.monotonic() < deadline:
        time.sleep(0.001)
    release.set()
    for thread in threads:
        thread.join()
    return responses, batches


def test_posts_sent_together_are_stored_together_each_in_its_senders_name(app, client, make, writer, monkeypatch):
    """Recovery scripts posting at once: their posts are written in one transaction, but each
    entry keeps its own author, and its audit event its own account, token and address."""
    _email, token = writer
    other = new_token(app, make.user(role="responder", name="Sam Restore"), scopes=("read", "write"))
    ref = declare(client, token).get_json()["reference"]
    path = f"/api/v1/incidents/{ref}/timeline"
    post = lambda secret, text, address: (secret, {"path": path, "json": {"body": text}}, {}, address)  # noqa: E731
    responses, batches = _batched_posts(app, monkeypatch, post(token, "first", "192.0.2.1"), [
        post(token, "shard 1 restored", "192.0.2.2"), post(other, "shard 2 restored", "192.0.2.3"),
        post(other, "shard 3 restored", "192.0.2.4")])
    assert [r.status_code for r in responses] == [201] * 4, [r.get_data(as_text=True) for r in responses]
    assert batches[0] == ["first"] and sorted(batches[1]) == ["shard 1 restored", "shard 2 restored",
                                                            "shard 3 restored"]
    authors = {r.get_json()["body"]: r.get_json()["author"]["name"] for r in responses}
    assert authors == {"first": "Rae Script", "shard 1 restored": "Rae Script",
                       "shard 2 restored": "Sam Restore", "shard 3 restored": "Sam Restore"}
    with app.app_context():
        entries = {e.body: e for e in db.session.scalars(sa.select(TimelineEntry))}
        events = {int(e.entity_id): e for e in db.session.scalars(sa.select(AuditEvent).where(
            AuditEvent.entity_type == "timeline_entry", AuditEvent.action == "create"))}
        seen = {body: (events[entries[body].id].actor_id == entries[body].author_id,
                       events[entries[body].id].token_id, events[entries[body].id].remote_addr)
                for body in authors}
    tokens = {seen["first"][1], seen["shard 2 restored"][1]}
    assert len(tokens) == 2 and None not in tokens
    assert seen == {"first": (True, seen["first"][1], "192.0.2.1"),
                    "shard 1 restored": (True, seen["first"][1], "192.0.2.2"),
                    "shard 2 restored": (True, seen["shard 2 restored"][1], "192.0.2.3"),
                    "shard 3 restored": (True, seen["shard 2 restored"][1], "192.0.2.4")}


def test_two_copies_of_a_post_in_one_batch_are_stored_once(app, client, writer, monkeypatch):
    """A retry that arrives while the first copy is still waiting for its batch: one entry, both
    answered with it (the later as a replay), and the other post in the batch is unaffected."""
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    path = f"/api/v1/incidents/{ref}/timeline"
    key = {"Idempotency-Key": "copy-" + uuid.uuid4().hex}
    copy = (token, {"path": path, "json": {"body": "40,000 restored"}}, key, "192.0.2.9")
    responses, batches = _batched_posts(app, monkeypatch, (token, {"path": path, "json": {"body": "first"}}, {},
                                                           "192.0.2.1"),
                                        [copy, copy, (token, {"path": path, "json": {"body": "other"}}, {},
                                                      "192.0.2.1")])
    assert sorted(batches[1]) == ["40,000 restored", "40,000 restored", "other"]
    assert [r.status_code for r in responses] == [201] * 4
    first, again = responses[1], responses[2]
    assert first.get_json()["id"] == again.get_json()["id"]
    assert sorted(r.headers.get("Idempotent-Replayed", "") for r in (first, again)) == ["", "true"]
    with app.app_context():
        bodies = sorted(db.session.scalars(sa.select(TimelineEntry.body).where(TimelineEntry.kind != "status_change")))
    assert bodies.count("40,000 restored") == 1 and "other" in bodies and "first" in bodies


def test_a_post_whose_batch_fails_answers_503_and_stores_nothing(app, client, writer, monkeypatch):
    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    with app.app_context():
        before = count(TimelineEntry)

    def broken(**_kwargs):
        raise sa.exc.OperationalError("INSERT", {}, Exception("disk I/O error"))

    monkeypatch.setattr(timeline_service, "add_entry_by_ids", broken)
    path = f"/api/v1/incidents/{ref}/timeline"
    response = client.post(path, json={"body": "lost?"}, headers=bearer(token))
    assert check_problem(response, 503)["detail"].startswith("Not stored")
    assert response.headers["Retry-After"] == "5"
    monkeypatch.undo()
    with app.app_context():
        assert count(TimelineEntry) == before
    assert client.post(path, json={"body": "stored"}, headers=bearer(token)).status_code == 201


# --- impact and workstreams ------------------------------------------------------------------------

def test_impact_figures_are_recorded_on_the_latest_and_a_stale_base_is_a_409(client, writer, document):
    _email, token = writer
    ref = declare(client, token, data_categories=["photos"]).get_json()["reference"]
    path = f"/api/v1/incidents/{ref}/impact"
    assert client.get(path, headers=bearer(token)).get_json() == {"latest": None}
    first = client.post(path, headers=bearer(token), json={
        "customers_affected": 1000, "categories": {"photos": {"affected": 50000}}})
    body = conforms(document, "/api/v1/incidents/{reference}/impact", first, "post")
    assert first.status_code == 201 and body["categories"]["photos"]["affected"] == 50000
    second = client.post(path, headers=bearer(token), json={
        "based_on": body["id"], "customers_affected": 1000, "customers_restored": 400})
    assert second.status_code == 201
    stale = client.post(path, headers=bearer(token), json={
        "based_on": body["id"], "customers_affected": 1000, "customers_restored": 100})
    problem = conforms(document, "/api/v1/incidents/{reference}/impact", stale, "post")
    assert stale.status_code == 409 and problem["current"]["customers_restored"] == 400
    latest = client.get(path, headers=bearer(token))
    assert conforms(document, "/api/v1/incidents/{reference}/impact", latest, "get")["latest"]["id"] == \
        second.get_json()["id"]


@pytest.mark.parametrize(("fields", "field"), [
    ({"customers_affected": 10, "customers_restored": 11}, "customers_restored"),
    ({"customers_affected": -1}, "customers_affected"),
    ({"customers_affected": 10, "categories": {"videos": {"affected": 1}}}, "categories.videos"),
    ({"customers_affected": 10, "categories": {"photos": {"recovered": 1}}}, "categories.photos.affected"),
    ({"customers_affected": 10, "as_of": "2999-01-01T00:00:00Z"}, "as_of"),
])
def test_refused_figures_name_the_field(client, writer, fields, field):
    _email, token = writer
    ref = declare(client, token, data_categories=["photos"]).get_json()["reference"]
    problem = check_problem(client.post(f"/api/v1/incidents/{ref}/impact", json=fields, headers=bearer(token)), 422)
    assert any(name.startswith(field) for name in problem["errors"]), problem
    assert client.get(f"/api/v1/incidents/{ref}/impact", headers=bearer(token)).get_json() == {"latest": None}


def test_a_recovery_script_reports_workstream_progress(client, make, writer, document):
    email, token = writer
    ref = declare(client, token).get_json()["reference"]
    make.workstream(ref, by=email, name="Restore mailboxes", target=40000)
    listed = client.get(f"/api/v1/incidents/{ref}/workstreams", headers=bearer(token))
    ws = conforms(document, "/api/v1/incidents/{reference}/workstreams", listed, "get")["items"][0]
    path = f"/api/v1/incidents/{ref}/workstreams/{ws['id']}/progress"
    reported = client.post(path, headers=bearer(token), json={"version": ws["version"], "done": 10000})
    body = conforms(document, "/api/v1/incidents/{reference}/workstreams/{workstream_id}/progress", reported, "post")
    assert reported.status_code == 201 and body["done"] == 10000 and body["percent"] == 25.0
    assert body["status"] == "in_progress"
    stale = client.post(path, headers=bearer(token), json={"version": ws["version"], "done": 20000})
    assert check_problem(stale, 409)["current"]["done"] == 10000
    too_many = client.post(path, headers=bearer(token), json={"version": body["version"], "done": 50000})
    assert "target" in check_problem(too_many, 422)["errors"]["done"][0]
    check_problem(client.post(f"/api/v1/incidents/{ref}/workstreams/999999/progress", headers=bearer(token),
                              json={"version": 1, "done": 1}), 404)


# --- who may do what, with a token --------------------------------------------------------------------

@pytest.mark.parametrize(("role", "scopes"), [("viewer", ("read",)), ("responder", ("read",)),
                                              ("responder", ("read", "write")), ("admin", ("admin",))])
def test_every_api_route_asks_the_tokens_power_and_nothing_less(app, client, make, role, scopes):
    """Walk every /api/v1 route classified in the access table with a token of each power: refused
    (403) exactly where the power is below the route's minimum, never asked to sign in."""
    from tests.test_access import API_ENDPOINTS, MINIMUM_ROLE, RANK

    owner = make.user(role=role)
    token = new_token(app, owner, scopes=scopes)
    power = "responder" if role == "responder" and "write" in scopes else ("admin" if role == "admin" else "viewer")
    ref = make.incident(by=make.user(role="responder"))
    values = {"reference": ref, "workstream_id": make.workstream(ref), "name": "No such system"}
    walked = set()
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in API_ENDPOINTS:
            continue
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, json=None if method == "GET" else {}, headers=bearer(token))
            refused = RANK[power] < RANK[MINIMUM_ROLE[rule.endpoint]]
            assert (response.status_code == 403) == refused, (method, url, response.status_code)
            assert response.status_code != 401
            walked.add(rule.endpoint)
    assert walked == API_ENDPOINTS


def test_a_revoked_token_stops_writing_at_once_and_reading_within_the_memo(app, client, writer):
    """Reads pass on a check remembered for SIGN_IN_MEMO_SECONDS (as the incident page's sign-in
    does); writes always take the full check."""
    from incidents.api import tokens
    from incidents.api.auth import MEMO_STORE
    from incidents.api.models import AccessToken

    _email, token = writer
    app.config["SIGN_IN_MEMO_SECONDS"] = 3600  # a clock that will not run out during the test
    for _ in range(2):  # the first read notes the token's use and asks again; the second is remembered
        assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    with app.app_context():
        row = db.session.scalar(sa.select(AccessToken))
        tokens.revoke_token(session=db.session, token=row)
        db.session.commit()
    check_problem(declare(client, token), 401)
    assert client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    app.extensions[MEMO_STORE].clear()  # the memo's seconds have passed
    check_problem(client.get("/api/v1/incidents", headers=bearer(token)), 401)


@pytest.mark.parametrize("backend", ["sqlite"])  # PostgreSQL holds no lock for a whole request
def test_posted_markdown_is_rendered_before_the_write_lock(app, client, writer, backend, monkeypatch):
    """On SQLite a writing request holds the one write lock from its first query (the token's
    check) to its commit: the body's Markdown is rendered before that, as the pages' forms do."""
    from sqlalchemy import event

    from incidents import markdown

    _email, token = writer
    ref = declare(client, token).get_json()["reference"]
    text = "\n\n".join(f"- step {n}: restored **{n * 1000}** mailboxes from [snapshot {n}](https://x.test/{n})"
                       for n in range(200))
    open_transactions, under_lock, before_lock = [0], [], []
    with app.app_context():
        engine = db.engine
    listeners = {"begin": lambda conn: open_transactions.__setitem__(0, open_transactions[0] + 1),
                 "commit": lambda conn: open_transactions.__setitem__(0, open_transactions[0] - 1),
                 "rollback": lambda conn: open_transactions.__setitem__(0, open_transactions[0] - 1)}
    real = markdown.render_uncached

    def watched(source):
        (under_lock if open_transactions[0] else before_lock).append(len(source))
        return real(source)

    for name, listener in listeners.items():
        event.listen(engine, name, listener)
    monkeypatch.setattr(markdown, "render_uncached", watched)
    try:
        response = client.post(f"/api/v1/incidents/{ref}/timeline", json={"body": text}, headers=bearer(token))
    finally:
        for name, listener in listeners.items():
            event.remove(engine, name, listener)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert len(text) in before_lock
    assert max(under_lock, default=0) < 200, under_lock
