"""Alert intake (issue #17): Alertmanager v4, Grafana and generic webhooks declare incidents, add to
them and note resolutions without ever closing anything; re-sent deliveries change nothing; only
an intake's own token opens the door (and Grafana's HMAC signature, when configured); a burst of
deliveries from many threads declares each group's incident exactly once.

The Alertmanager fixtures are byte for byte what Alertmanager's webhook notifier sends (Go's
json.Encoder: compact, `&` written \\u0026, a trailing newline; firing alerts end at Go's zero time).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest
import requests
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.api import tokens
from incidents.audit.models import AuditEvent
from incidents.auth.models import Role, User
from incidents.auth.service import change_role
from incidents.extensions import db
from incidents.incident.enums import Severity, Status
from incidents.incident.models import Incident
from incidents.intake import manage
from incidents.intake.models import AlertGroup, Intake, IntakeDelivery
from incidents.timeline.models import TimelineEntry
from tests.api_helpers import conforms, make_intake
from tests.conftest import require
from tests.helpers import move_status, read_form, timeline_rows
from tests.live_server import free_port, serve_in_thread

FIXTURES = Path(__file__).parent / "fixtures"
PROBLEM = "application/problem+json"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def deliver(client, kind: str, secret: str | None, body: bytes, **headers):
    if secret is not None:
        headers["Authorization"] = f"Bearer {secret}"
    return client.post(f"/api/v1/intake/{kind}", data=body, headers=headers, content_type="application/json")


def with_alerts(payload: bytes, *, status: str | None = None, add: int = 0, starts: str | None = None) -> bytes:
    """A variation of an Alertmanager payload: another status, `add` more alerts, new start times."""
    data = json.loads(payload)
    if status:
        data["status"] = status
    for n in range(add):
        extra = json.loads(json.dumps(data["alerts"][0]))
        extra["labels"]["instance"], extra["fingerprint"] = f"backup-1{n}:9100", f"{n:016x}"
        data["alerts"].append(extra)
    if starts:
        for alert in data["alerts"]:
            alert["startsAt"] = starts
    return json.dumps(data).encode()


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def incident_of(app, reference: str) -> Incident:
    with app.app_context():
        incident = db.session.scalar(sa.select(Incident).where(Incident.reference == reference))
        db.session.expunge(incident)
        return incident


@pytest.fixture
def alertmanager(app, make):
    """An Alertmanager intake declaring as a responder: (responder's e-mail, token)."""
    account = make.user(role="responder", name="Alert Robot")
    return account, make_intake(app, account, "alertmanager", name="Prometheus production")[1]


# --- Alertmanager -----------------------------------------------------------------------------------

def test_a_real_alertmanager_notification_declares_an_incident(app, client, make, auth, alertmanager):
    account, secret = alertmanager
    response = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json"))
    assert response.status_code == 202, response.get_data(as_text=True)
    assert "Set-Cookie" not in response.headers  # no session under /api/v1
    answer = response.get_json()
    assert answer["result"] == "created" and answer["incident"].startswith("INC-")
    assert answer["incident_url"] == f"http://localhost/incidents/{answer['incident']}"
    incident = incident_of(app, answer["incident"])
    # Title from the `summary` annotation, severity from the `severity` label (critical -> SEV1).
    assert incident.title == "Nightly backup of the contacts store failed"
    assert incident.severity is Severity.SEV1 and incident.status is Status.investigating
    assert incident.detected_at == datetime(2026, 3, 10, 2, 14, 7, 341918, tzinfo=UTC)  # the first alert's start
    assert "Prometheus production" in incident.summary and "backup-02:9100" in incident.summary
    assert "restic exited with 1" in incident.summary  # no common description: the first alert's
    rows = timeline_rows(app, answer["incident"])
    assert [r["author_id"] for r in rows] == [make.user_id(account)] * 2
    alerts_entry = rows[-1]["body"]
    assert "2 alerts firing" in alerts_entry and f"/intake/deliveries/{answer['delivery']}" in alerts_entry
    assert "backup\\-01:9100" not in alerts_entry and "backup-01:9100" in alerts_entry
    # The raw payload is kept with the entry, and a responder can read it there.
    with app.app_context():
        delivery = db.session.get(IntakeDelivery, answer["delivery"])
        assert delivery.payload == fixture("alertmanager_v4_firing.json").decode()
        assert delivery.entry_id == rows[-1]["id"] and delivery.incident_id == incident.id
    auth.as_role("viewer")
    page = client.get(f"/intake/deliveries/{answer['delivery']}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "BackupJobFailed" in html and answer["incident"] in html and "Declared an incident" in html


def test_the_document_describes_what_alertmanager_and_grafana_really_send(app, client, make, alertmanager):
    """The OpenAPI document's payload schemas take the real notifications byte for byte, and the
    answers (received, then the same again) are as it declares."""
    document = client.get("/api/v1/openapi.json").get_json()
    _intake_id, secret = alertmanager
    for kind, name in (("alertmanager", "alertmanager_v4_firing.json"),
                       ("alertmanager", "alertmanager_v4_resolved.json"), ("grafana", "grafana_firing.json")):
        body = document["paths"][f"/api/v1/intake/{kind}"]["post"]["requestBody"]["content"]["application/json"]
        jsonschema.Draft202012Validator({**body["schema"], "components": document["components"]},
                                        format_checker=jsonschema.FormatChecker()).validate(json.loads(fixture(name)))
    first = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json"))
    again = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json"))
    assert (first.status_code, again.status_code) == (202, 200)
    assert conforms(document, "/api/v1/intake/alertmanager", first, "post")["result"] == "created"
    assert conforms(document, "/api/v1/intake/alertmanager", again, "post")["result"] == "duplicate"
    refused = deliver(client, "alertmanager", "dli_wrong", fixture("alertmanager_v4_firing.json"))
    conforms(document, "/api/v1/intake/alertmanager", refused, "post")


def test_the_same_notification_sent_again_changes_nothing(app, client, alertmanager):
    _account, secret = alertmanager
    body = fixture("alertmanager_v4_firing.json")
    first = deliver(client, "alertmanager", secret, body).get_json()
    entries = count(app, TimelineEntry)
    again = deliver(client, "alertmanager", secret, body)
    assert again.status_code == 200
    assert again.get_json()["result"] == "duplicate" and again.get_json()["incident"] == first["incident"]
    assert again.get_json()["delivery"] == first["delivery"]
    # Key order and spacing are the sender's business: the same alerts are the same delivery.
    assert deliver(client, "alertmanager", secret, json.dumps(json.loads(body), indent=1).encode()).status_code == 200
    assert (count(app, Incident), count(app, TimelineEntry), count(app, IntakeDelivery)) == (1, entries, 1)


def test_a_resolved_group_is_noted_and_never_closes_anything(app, client, alertmanager):
    _account, secret = alertmanager
    created = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json")).get_json()
    resolved = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_resolved.json"))
    assert resolved.status_code == 202
    assert resolved.get_json()["result"] == "resolved" and resolved.get_json()["incident"] == created["incident"]
    incident = incident_of(app, created["incident"])
    assert incident.status is Status.investigating and incident.resolved_at is None
    assert "Alerts resolved" in timeline_rows(app, created["incident"])[-1]["body"]
    assert deliver(client, "alertmanager", secret, fixture("alertmanager_v4_resolved.json")).get_json()["result"] \
        == "duplicate"


def test_a_firing_group_adds_what_fires_now_to_its_open_incident(app, client, alertmanager):
    _account, secret = alertmanager
    created = deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json")).get_json()
    grown = deliver(client, "alertmanager", secret, with_alerts(fixture("alertmanager_v4_firing.json"), add=1))
    assert grown.status_code == 202
    assert grown.get_json()["result"] == "updated" and grown.get_json()["incident"] == created["incident"]
    assert "Firing now: 3 alerts" in timeline_rows(app, created["incident"])[-1]["body"]
    assert count(app, Incident) == 1


def test_once_its_incident_is_resolved_or_closed_the_group_declares_a_new_one(app, client, make, alertmanager):
    _account, secret = alertmanager
    firing = fixture("alertmanager_v4_firing.json")
    first = deliver(client, "alertmanager", secret, firing).get_json()["incident"]
    make.resolve(first)
    # A resolution after a person resolved it is noted; the status stays as they left it.
    assert deliver(client, "alertmanager", secret, fixture("alertmanager_v4_resolved.json")).get_json()["result"] \
        == "resolved"
    assert incident_of(app, first).status is Status.resolved
    second = deliver(client, "alertmanager", secret, with_alerts(firing, starts="2026-03-11T02:14:07.5Z")).get_json()
    assert second["result"] == "created" and second["incident"] != first
    by = make.user(role="responder")
    move_status(app, second["incident"], by, Status.resolved, Status.closed)
    third = deliver(client, "alertmanager", secret, with_alerts(firing, starts="2026-03-12T02:14:07Z")).get_json()
    assert third["result"] == "created" and third["incident"] not in (first, second["incident"])
    assert incident_of(app, second["incident"]).status is Status.closed
    with app.app_context():
        assert db.session.scalars(sa.select(AlertGroup.generation).order_by(AlertGroup.id)).all() == [1, 2, 3]


def test_severity_mapping_and_title_fallbacks(app, client, make):
    account = make.user(role="responder")
    _id, secret = make_intake(app, account, severity_label="priority", severity_map={"p1": "SEV1"},
                              default_severity="SEV4", title_annotation="headline")
    data = json.loads(fixture("alertmanager_v4_firing.json"))
    data["commonLabels"]["priority"] = "P1"
    by_label = deliver(client, "alertmanager", secret, json.dumps(data).encode()).get_json()
    incident = incident_of(app, by_label["incident"])
    assert incident.severity is Severity.SEV1 and incident.title == "BackupJobFailed"  # no `headline`: alertname
    data["groupKey"], data["commonLabels"]["priority"] = "{}:{job=\"other\"}", "P9"
    for alert in data["alerts"]:
        alert["labels"].pop("alertname")
    data["commonLabels"].pop("alertname"), data["groupLabels"].pop("alertname")
    other = deliver(client, "alertmanager", secret, json.dumps(data).encode()).get_json()
    incident = incident_of(app, other["incident"])
    assert incident.severity is Severity.SEV4 and incident.title == '{}:{job="other"}'  # unmapped; the group key


# --- who may deliver --------------------------------------------------------------------------------

def test_only_the_intakes_own_token_opens_it_and_every_refusal_looks_the_same(app, client, make, auth,
                                                                            alertmanager):
    account, secret = alertmanager
    body = fixture("alertmanager_v4_firing.json")
    revoked_id, revoked = make_intake(app, account, name="Old Prometheus")
    admin = make.user(role="admin")
    with app.app_context():
        manage.revoke_intake(session=db.session, intake=db.session.get(Intake, revoked_id))
        owner = db.session.scalar(sa.select(User).where(User.email == admin))
        _token, personal = tokens.create_token(session=db.session, owner=owner, name="admin's", scopes=["admin"])
        db.session.commit()
    gone = make.user(role="responder")
    _gone_id, orphaned = make_intake(app, gone, name="Intake of someone who left")
    with app.app_context():
        change_role(session=db.session, user=db.session.scalar(sa.select(User).where(User.email == gone)),
                    role=Role.responder, active=False)
        db.session.commit()
    answers = [deliver(client, "alertmanager", token, body)
               for token in (None, "dli_" + "x" * 43, secret + "x", revoked, personal, orphaned)]
    answers.append(client.post("/api/v1/intake/alertmanager", data=body, headers={"Authorization": f"Basic {secret}"}))
    assert {(a.status_code, a.mimetype, a.get_data(), a.headers["WWW-Authenticate"]) for a in answers} == {
        (401, PROBLEM, answers[0].get_data(), 'Bearer realm="intake"')}
    assert count(app, IntakeDelivery) == 0 and count(app, Incident) == 0
    # The intake's token opens nothing else, and a session cookie opens nothing here.
    assert client.get("/api/v1/incidents", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert client.post("/systems/backup-report", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert deliver(client, "grafana", secret, fixture("grafana_firing.json")).status_code == 403
    auth.as_role("admin")
    assert deliver(client, "alertmanager", None, body).status_code == 401
    assert deliver(client, "alertmanager", secret, body).status_code == 202


def test_a_bad_payload_is_a_422_with_field_errors_told_only_to_the_token_holder(app, client, alertmanager):
    _account, secret = alertmanager
    good = json.loads(fixture("alertmanager_v4_firing.json"))
    naive = json.loads(json.dumps(good))
    naive["alerts"][0]["startsAt"] = "2026-03-10T02:14:07"
    cases = [(b"not json", "body"), (b"[1, 2]", "body"), (b"\xff\xfe", "body"),
             (json.dumps({**good, "version": "3"}).encode(), "version"),
             (json.dumps({**good, "status": "pending"}).encode(), "status"),
             (json.dumps({**good, "alerts": []}).encode(), "alerts"),
             (json.dumps({k: v for k, v in good.items() if k != "groupKey"}).encode(), "groupKey"),
             (json.dumps(naive).encode(), "alerts.0.startsAt"),
             (b"[" * 100_000 + b"]" * 100_000, "body")]
    for body, field in cases:
        assert deliver(client, "alertmanager", "dli_wrong", body).status_code == 401
        response = deliver(client, "alertmanager", secret, body)
        assert response.status_code == 422 and response.mimetype == PROBLEM, body[:60]
        assert field in response.get_json()["errors"], (field, response.get_json())
    assert count(app, IntakeDelivery) == 0


def test_an_oversized_delivery_is_refused_with_413(app_config, request):
    app_config["INTAKE_MAX_BYTES"] = 4_000
    app, make = request.getfixturevalue("app"), request.getfixturevalue("make")
    _id, secret = make_intake(app, make.user(role="responder"))
    client = app.test_client()
    big = with_alerts(fixture("alertmanager_v4_firing.json"), add=10)
    response = deliver(client, "alertmanager", secret, big)
    assert response.status_code == 413 and response.mimetype == PROBLEM
    assert "4,000 bytes" in response.get_json()["detail"]
    assert deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json")).status_code == 202


# --- Grafana ----------------------------------------------------------------------------------------

def signed(secret: str, body: bytes, stamp: str | None = None) -> str:
    """What Grafana sends: hex HMAC-SHA256 of the body, or of "<timestamp>:<body>"."""
    message = f"{stamp}:".encode() + body if stamp else body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def test_grafana_deliveries_are_checked_against_their_hmac_signature(app, client, make):
    account = make.user(role="responder")
    key = "grafana-shared-secret-1234"
    _id, secret = make_intake(app, account, "grafana", hmac_secret=key)
    body = fixture("grafana_firing.json")
    assert deliver(client, "grafana", secret, body).status_code == 401  # unsigned
    wrong = deliver(client, "grafana", secret, body, **{"X-Grafana-Alerting-Signature": signed("other" * 4, body)})
    assert wrong.status_code == 401 and "signature" in wrong.get_json()["detail"]
    tampered = body.replace(b"4521", b"4522")
    assert deliver(client, "grafana", secret, tampered,
                   **{"X-Grafana-Alerting-Signature": signed(key, body)}).status_code == 401
    right = deliver(client, "grafana", secret, body, **{"X-Grafana-Alerting-Signature": signed(key, body)})
    assert right.status_code == 202, right.get_data(as_text=True)
    incident = incident_of(app, right.get_json()["incident"])
    assert incident.title == "Photo restore falling behind" and incident.severity is Severity.SEV3
    entry = timeline_rows(app, incident.reference)[-1]["body"]
    assert "value \\[ var='B' labels={} value=4521 \\]" in entry and "[dashboard](<https://grafana" in entry
    # Grafana's code names the header X-Grafana-Alert-Signature when the contact point leaves it empty.
    resolved = body.replace(b'"status":"firing"', b'"status":"resolved"')
    assert deliver(client, "grafana", secret, resolved,
                   **{"X-Grafana-Alert-Signature": signed(key, resolved)}).get_json()["result"] == "resolved"


def test_grafana_signatures_with_a_timestamp_header_refuse_old_ones(app, client, make):
    key = "grafana-shared-secret-5678"
    _id, secret = make_intake(app, make.user(role="responder"), "grafana", hmac_secret=key,
                              hmac_timestamp_header="X-Grafana-Alerting-Timestamp")
    body = fixture("grafana_firing.json")
    now = str(int(time.time()))
    old = str(int(time.time()) - 3600)
    for stamp, expected in ((None, 401), (old, 401), (now, 202)):
        headers = {"X-Grafana-Alerting-Signature": signed(key, body, stamp)}
        if stamp:
            headers["X-Grafana-Alerting-Timestamp"] = stamp
        assert deliver(client, "grafana", secret, body, **headers).status_code == expected, stamp
    # Signed over the body alone while the intake expects the timestamp in it: refused.
    assert deliver(client, "grafana", secret, body, **{"X-Grafana-Alerting-Signature": signed(key, body),
                                                       "X-Grafana-Alerting-Timestamp": now}).status_code == 401


def test_a_grafana_intake_without_a_secret_takes_unsigned_deliveries(app, client, make):
    _id, secret = make_intake(app, make.user(role="responder"), "grafana")
    assert deliver(client, "grafana", secret, fixture("grafana_firing.json")).status_code == 202


# --- the generic intake -----------------------------------------------------------------------------

def test_the_generic_intake(app, client, make):
    _id, secret = make_intake(app, make.user(role="responder"), "generic")
    report = {"title": "Nightly export lost rows", "status": "firing", "dedup_key": "export-nightly",
              "description": "2,000 rows missing", "link": "https://ci.example.com/job/42", "severity": "critical"}
    send = lambda **changes: deliver(client, "generic", secret, json.dumps({**report, **changes}).encode())  # noqa: E731
    created = send()
    assert created.status_code == 202 and created.get_json()["result"] == "created"
    incident = incident_of(app, created.get_json()["incident"])
    assert incident.title == "Nightly export lost rows" and incident.severity is Severity.SEV1
    assert "2,000 rows missing" in incident.summary and "https://ci.example.com/job/42" in incident.summary
    assert send().get_json()["result"] == "duplicate"
    assert send(description="3,000 rows missing").get_json()["result"] == "updated"
    assert send(status="resolved").get_json()["result"] == "resolved"
    assert incident_of(app, incident.reference).status is Status.investigating
    make.resolve(incident.reference)
    again = send()  # the same report after the group resolved: a new firing, a new incident
    assert again.get_json()["result"] == "created" and again.get_json()["incident"] != incident.reference
    for changes, field in (({"title": ""}, "title"), ({"status": "down"}, "status"), ({"colour": "red"}, "colour"),
                           ({"link": "javascript:alert(1)"}, "link")):
        refused = send(**changes)
        assert refused.status_code == 422 and field in refused.get_json()["errors"], changes


def test_outside_text_cannot_break_out_of_the_entry(app, client, make):
    _id, secret = make_intake(app, make.user(role="responder"), "generic")
    body = {"title": "<script>alert(1)</script> [x](javascript:alert(1)) \u202e\x00", "status": "firing",
            "description": "**bold** <img src=x onerror=alert(1)>", "dedup_key": "\ud800 lone"}
    lone = deliver(client, "generic", secret, json.dumps(body).encode())  # not text: refused, never stored
    assert lone.status_code == 422 and list(lone.get_json()["errors"]) == ["dedup_key"]
    response = deliver(client, "generic", secret, json.dumps({**body, "dedup_key": "k"}).encode())
    assert response.status_code == 202
    incident = incident_of(app, response.get_json()["incident"])
    assert "\x00" not in incident.title and "\u202e" not in incident.title
    assert "<script" not in incident.summary_html and "<img" not in incident.summary_html
    assert 'href="javascript' not in incident.summary_html and "<strong>bold" not in incident.summary_html
    assert "**bold**" in incident.summary_html and "&lt;script&gt;" in incident.summary_html


# --- a real Alertmanager ---------------------------------------------------------------------------

ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")


def _wait_for(check, seconds: float = 30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if (found := check()):
            return found
        time.sleep(0.2)
    return check()


def test_a_real_alertmanager_declares_repeats_and_resolves_through_the_readme_receiver(app, make, tmp_path):
    """Alertmanager itself, configured as the README says, sends to the intake: a firing alert
    declares an incident, its repeats are duplicates, its resolution is noted and closes nothing."""
    require(ALERTMANAGER is not None, "no Alertmanager binary (tests/setup_alertmanager.sh installs Debian's "
                                      "prometheus-alertmanager)")
    _id, secret = make_intake(app, make.user(role="responder"))
    port = free_port()
    with serve_in_thread(app) as url:
        (tmp_path / "alertmanager.yml").write_text(f"""route:
  receiver: tracker
  group_by: [alertname, cluster]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 2s
receivers:
  - name: tracker
    webhook_configs:
      - url: {url}/api/v1/intake/alertmanager
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {secret}
""")
        with open(tmp_path / "alertmanager.log", "wb") as log:
            server = subprocess.Popen([ALERTMANAGER, f"--config.file={tmp_path / 'alertmanager.yml'}",
                                       f"--storage.path={tmp_path / 'data'}", f"--web.listen-address=127.0.0.1:{port}",
                                       "--cluster.listen-address="], stdout=log, stderr=subprocess.STDOUT)
        try:
            api = f"http://127.0.0.1:{port}/api/v2/alerts"
            assert _wait_for(lambda: _answers(api)), (tmp_path / "alertmanager.log").read_text()
            alert = {"labels": {"alertname": "BackupJobFailed", "cluster": "eu-west", "severity": "critical"},
                     "annotations": {"summary": "Nightly backup of the contacts store failed"},
                     "startsAt": "2026-03-10T02:14:07Z", "generatorURL": "http://prometheus:9090/graph?g0.expr=x&g0.tab=1"}
            assert requests.post(api, json=[alert], timeout=10).status_code == 200
            assert _wait_for(lambda: count(app, Incident) == 1)
            time.sleep(4)  # two repeat intervals: Alertmanager sends the same notification again
            assert requests.post(api, json=[{**alert, "endsAt": "2026-03-10T03:00:00Z"}], timeout=10).status_code == 200
            assert _wait_for(lambda: count(app, IntakeDelivery) == 2), (tmp_path / "alertmanager.log").read_text()
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
        finally:
            server.terminate()
            server.wait(10)
    with app.app_context():
        firing, resolved = db.session.scalars(sa.select(IntakeDelivery).order_by(IntakeDelivery.id)).all()
        assert (firing.outcome.value, resolved.outcome.value) == ("created", "resolved")
        assert '"version":"4"' in firing.payload and "\\u0026g0.tab=1" in firing.payload  # as Alertmanager wrote it
        incident = db.session.get(Incident, firing.incident_id)
        assert incident.status is Status.investigating and incident.severity is Severity.SEV1
    sent = re.search(r'alertmanager_notifications_total\{integration="webhook"\} (\d+)', metrics)
    failed = re.search(r'alertmanager_notifications_failed_total\{integration="webhook"\} (\d+)', metrics)
    assert int(sent.group(1)) >= 3 and int(failed.group(1)) == 0  # repeats answered as duplicates, never refused


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=2).status_code == 200
    except requests.RequestException:
        return False


# --- a burst from many threads ----------------------------------------------------------------------

def test_a_burst_from_many_threads_declares_each_group_once(app, make):
    """240 deliveries for 4 groups (a fifth of them re-sent copies) from 12 threads through a real
    HTTP server: every one answered 2xx, 4 incidents, every distinct delivery stored once."""
    _id, secret = make_intake(app, make.user(role="responder"))
    base = json.loads(fixture("alertmanager_v4_firing.json"))
    bodies = []
    for group in range(4):
        for step in range(48):
            data = json.loads(json.dumps(base))
            data["groupKey"] = f'{{}}:{{alertname="Burst{group}"}}'
            data["alerts"][0]["startsAt"] = f"2026-03-10T02:{step:02d}:00Z"
            bodies.append(json.dumps(data).encode())
    bodies += bodies[::5]  # Alertmanager re-sending some of them
    ordered = sorted(bodies, key=lambda b: hashlib.sha256(b).hexdigest())  # groups interleaved
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    local = threading.local()  # a keep-alive connection per thread (a Session is not shared safely)
    with serve_in_thread(app) as url:
        def post(body: bytes) -> int:
            http = local.__dict__.setdefault("http", requests.Session())
            return http.post(f"{url}/api/v1/intake/alertmanager", data=body, headers=headers, timeout=60).status_code
        with ThreadPoolExecutor(max_workers=12) as pool:
            statuses = list(pool.map(post, ordered))
    assert [s for s in statuses if not 200 <= s < 300] == []
    assert count(app, Incident) == 4 and count(app, IntakeDelivery) == len(set(bodies)) == 192
    with app.app_context():
        per_incident = db.session.execute(sa.select(IntakeDelivery.incident_id, sa.func.count())
                                          .group_by(IntakeDelivery.incident_id)).all()
        assert sorted(n for _, n in per_incident) == [48] * 4
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AlertGroup)) == 4


# --- the admins' pages and the CLI ------------------------------------------------------------------

def test_admins_make_rotate_and_revoke_intakes_on_the_settings_page(app, client, auth, make):
    admin = auth.as_role("admin")
    page = client.get("/settings/intakes")
    assert page.status_code == 200 and "Make an intake" in page.get_data(as_text=True)
    made = client.post("/settings/intakes", data={
        "name": "Grafana storage", "kind": "grafana", "account": make.user_id(admin), "severity_label": "severity",
        "severity_map": "critical=SEV1\nwarning = sev2", "default_severity": "SEV4", "title_annotation": "summary",
        "description_annotation": "description", "hmac_secret": "", "hmac_timestamp_header": ""})
    assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
    secret = made.get_data(as_text=True).split('value="dli_')[1].split('"')[0]
    secret = "dli_" + secret
    assert "/api/v1/intake/grafana" in made.get_data(as_text=True)
    with app.app_context():
        intake = db.session.scalar(sa.select(Intake).where(Intake.name == "Grafana storage"))
        assert intake.severity_map == {"critical": "SEV1", "warning": "SEV2"} and intake.token_hash != secret
        intake_id = intake.id
    assert deliver(client, "grafana", secret, fixture("grafana_firing.json")).status_code == 202
    listed = client.get("/settings/intakes").get_data(as_text=True)
    assert secret[:10] in listed and secret not in listed
    detail = client.get(f"/settings/intakes/{intake_id}").get_data(as_text=True)
    assert "Declared an incident" in detail and secret not in detail
    rotated = client.post(f"/settings/intakes/{intake_id}/token")
    fresh = "dli_" + rotated.get_data(as_text=True).split('value="dli_')[1].split('"')[0]
    resolved = fixture("grafana_firing.json").replace(b'"status":"firing"', b'"status":"resolved"')
    assert deliver(client, "grafana", secret, resolved).status_code == 401
    assert deliver(client, "grafana", fresh, resolved).status_code == 202
    assert client.post(f"/settings/intakes/{intake_id}/revoke").status_code == 302
    assert deliver(client, "grafana", fresh, resolved).status_code == 401
    refused = client.post("/settings/intakes", data={"name": "Grafana storage", "kind": "alertmanager",
                                                     "account": make.user_id(admin), "severity_map": "critical",
                                                     "severity_label": "bad label", "default_severity": "SEV4",
                                                     "title_annotation": "summary", "description_annotation": "d"})
    assert refused.status_code == 422 and "Line 1" in refused.get_data(as_text=True)


def test_admins_change_an_intakes_settings_and_the_next_delivery_follows_them(app, client, auth, make):
    """Its sender, URL and token stay; the severity mapping, title, account and Grafana's secret
    change for the deliveries that follow; the secret is never drawn into the page."""
    admin = auth.as_role("admin")
    other = make.user(role="responder", name="Night Responder")
    key = "grafana-shared-secret-1234"
    intake_id, secret = make_intake(app, admin, "grafana", name="Grafana storage", hmac_secret=key)
    page = client.get(f"/settings/intakes/{intake_id}/edit")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and key not in html and 'name="kind"' not in html
    form = read_form(html, f"/settings/intakes/{intake_id}/edit").to_dict()
    assert "critical=SEV1" in form["severity_map"] and form["default_severity"] == "SEV3"
    form.update({"name": "Grafana storage (prod)", "account": str(make.user_id(other)), "severity_map": "",
                 "default_severity": "SEV1", "hmac_secret": ""})  # empty: keeps the secret it has
    saved = client.post(f"/settings/intakes/{intake_id}/edit", data=form)
    assert saved.status_code == 302, saved.get_data(as_text=True)
    body = fixture("grafana_firing.json")
    assert deliver(client, "grafana", secret, body).status_code == 401  # the secret is still checked
    answer = deliver(client, "grafana", secret, body, **{"X-Grafana-Alerting-Signature": signed(key, body)})
    incident = incident_of(app, answer.get_json()["incident"])
    assert incident.severity is Severity.SEV1 and incident.commander_id == make.user_id(other)

    stale = dict(form, name="From an old tab")  # drawn from the version before the save
    conflict = client.post(f"/settings/intakes/{intake_id}/edit", data=stale)
    assert conflict.status_code == 409 and "Nothing of yours was saved" in conflict.get_data(as_text=True)
    fresh = read_form(client.get(f"/settings/intakes/{intake_id}/edit").get_data(as_text=True),
                      f"/settings/intakes/{intake_id}/edit").to_dict()
    assert fresh["name"] == "Grafana storage (prod)"
    fresh["forget_hmac_secret"] = "y"
    assert client.post(f"/settings/intakes/{intake_id}/edit", data=fresh).status_code == 302
    resolved = body.replace(b'"status":"firing"', b'"status":"resolved"')
    assert deliver(client, "grafana", secret, resolved).status_code == 202  # unsigned now taken
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        assert intake.hmac_secret is None and intake.kind.value == "grafana" and intake.version == 3
        changes = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "intake",
                                                                 AuditEvent.action == "update")).all()
        assert len(changes) == 2 and "Grafana storage (prod)" in changes[0].after
        assert not any(key in f"{event.before}{event.after}" for event in changes)


def test_an_intakes_settings_refuse_bad_values_beside_the_field_and_keep_the_rest(app, client, auth, make):
    admin = auth.as_role("admin")
    intake_id, _secret = make_intake(app, admin, name="Prometheus")
    make_intake(app, admin, name="Taken name")
    url = f"/settings/intakes/{intake_id}/edit"
    form = read_form(client.get(url).get_data(as_text=True), url).to_dict()
    for change, field, words in ((("name", "taken NAME"),), "name", "already an intake"), \
            ((("severity_map", "critical"),), "severity_map", "Line 1"), \
            ((("title_annotation", "bad label"),), "title_annotation", "letters, digits"):
        refused = client.post(url, data=dict(form, **dict(change)))
        assert refused.status_code == 422, (field, refused.status_code)
        assert words in refused.get_data(as_text=True), field
    with app.app_context():
        intake = db.session.get(Intake, intake_id)
        assert intake.name == "Prometheus" and intake.version == 1
    # Only Grafana signs: an Alertmanager intake is offered no secret, and one sent anyway is ignored.
    assert client.post(url, data=dict(form, hmac_secret="a-grafana-secret-long-enough")).status_code == 302
    with app.app_context():
        assert db.session.get(Intake, intake_id).hmac_secret is None
    client.post(f"/settings/intakes/{intake_id}/revoke")
    gone = client.get(url)
    assert gone.status_code == 302 and client.post(url, data=form).status_code == 302
    with app.app_context():
        assert db.session.get(Intake, intake_id).name == "Prometheus"


def test_viewers_and_responders_cannot_reach_the_intake_settings(client, auth):
    auth.as_role("responder")
    assert client.get("/settings/intakes").status_code == 403
    assert client.post("/settings/intakes", data={"name": "x", "kind": "generic"}).status_code == 403
    assert client.get("/settings/intakes/1/edit").status_code == 403


def test_the_cli_makes_lists_and_revokes_intakes(app, runner, make):
    admin = make.user(role="admin")
    made = runner.invoke(args=["intake", "create", "Prometheus staging", "--kind", "alertmanager",
                               "--map", "critical=SEV2", "--map", "page=SEV1"])
    assert made.exit_code == 0, made.output
    assert admin in made.output and "/api/v1/intake/alertmanager" in made.output
    secret = next(word for word in made.output.split() if word.startswith("dli_"))
    listed = runner.invoke(args=["intake", "list"])
    assert secret[:10] in listed.output and secret not in listed.output and "never used" in listed.output
    with app.app_context():
        intake = db.session.scalar(sa.select(Intake).where(Intake.name == "Prometheus staging"))
        assert intake.severity_map == {"critical": "SEV2", "page": "SEV1"}
        intake_id = intake.id
    client = app.test_client()
    assert deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json")).status_code == 202
    assert "used 20" in runner.invoke(args=["intake", "list"]).output
    assert runner.invoke(args=["intake", "revoke", str(intake_id)]).exit_code == 0
    assert deliver(client, "alertmanager", secret, fixture("alertmanager_v4_resolved.json")).status_code == 401
    refused = runner.invoke(args=["intake", "create", "Prometheus staging", "--kind", "generic"])
    assert refused.exit_code != 0 and "already an intake" in refused.output


def test_the_audit_log_names_the_intakes_account_and_keeps_no_payload(app, client, alertmanager):
    account, secret = alertmanager
    deliver(client, "alertmanager", secret, fixture("alertmanager_v4_firing.json"))
    with app.app_context():
        events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type.in_(
            ["intake_delivery", "incident", "timeline_entry"]))).all()
        assert {e.actor for e in events} == {account} and len(events) >= 4
        delivery = next(e for e in events if e.entity_type == "intake_delivery")
        assert "payload" not in json.loads(delivery.after) and "BackupJobFailed" not in delivery.after


# --- no input reaches a server error ----------------------------------------------------------------

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner,
                                                                                 max_size=4), max_leaves=20)
FIELDS = ["version", "groupKey", "status", "alerts", "commonLabels", "commonAnnotations", "startsAt", "endsAt",
          "labels", "annotations", "fingerprint", "title", "dedup_key", "description", "link", "severity", "values"]


def test_no_payload_reaches_a_server_error(app, make):
    """Hypothesis mutates the real payloads (and sends JSON of any shape) with working tokens."""
    account = make.user(role="responder")
    secrets = {kind: make_intake(app, account, kind)[1] for kind in ("alertmanager", "grafana", "generic")}
    client = app.test_client()
    seeds = {"alertmanager": json.loads(fixture("alertmanager_v4_firing.json")),
             "grafana": json.loads(fixture("grafana_firing.json")),
             "generic": {"title": "t", "status": "firing", "dedup_key": "k", "description": "", "link": ""}}

    @settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(kind=st.sampled_from(sorted(seeds)), data=st.data())
    def run(kind, data):
        payload = json.loads(json.dumps(seeds[kind]))
        target = payload["alerts"][0] if kind != "generic" and data.draw(st.booleans()) else payload
        for _ in range(data.draw(st.integers(1, 3))):
            target[data.draw(st.sampled_from(FIELDS))] = data.draw(JSON)
        body = json.dumps(payload).encode() if data.draw(st.integers(0, 9)) else data.draw(st.binary(max_size=60))
        response = deliver(client, kind, secrets[kind], body)
        assert response.status_code in (200, 202, 422), (response.status_code, body[:300])

    run()
