"""The Statuspage API v2 JSON: shape (JSON Schemas), values, HTTP caching and a real consumer."""
from __future__ import annotations

import importlib
import json
import sys
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry, Resource

from incidents.status import public
from incidents.status.public import PublicComponent, PublicIncident, PublicPage, PublicUpdate, PublicView
from tests.live_server import serve_in_thread

SCHEMAS = Path(__file__).resolve().parents[1] / "incidents" / "status" / "schemas"
ENDPOINTS = {
    "summary.json": "summary",
    "status.json": "status",
    "components.json": "components",
    "incidents.json": "incidents",
    "incidents/unresolved.json": "incidents-unresolved",
    "scheduled-maintenances.json": "scheduled-maintenances",
    "scheduled-maintenances/upcoming.json": "scheduled-maintenances-upcoming",
    "scheduled-maintenances/active.json": "scheduled-maintenances-active",
}
API = "/status/api/v2/"
T0 = datetime(2026, 3, 1, 9, 30, 15, 123456, tzinfo=UTC)


def load_schemas() -> tuple[Registry, dict]:
    schemas = {p.stem: json.loads(p.read_text()) for p in SCHEMAS.glob("*.json")}
    registry = Registry().with_resources(
        (s["$id"], Resource.from_contents(s)) for s in schemas.values())
    return registry, schemas


REGISTRY, SCHEMA_DOCS = load_schemas()


def validate(name: str, document) -> None:
    """Raises with every problem when `document` does not match schemas/<name>.json."""
    validator = Draft202012Validator(SCHEMA_DOCS[name], registry=REGISTRY, format_checker=FormatChecker())
    errors = sorted(validator.iter_errors(document), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_schemas_are_valid_and_strict():
    for schema in SCHEMA_DOCS.values():
        Draft202012Validator.check_schema(schema)
    # A payload with a field Statuspage does not have, or a wrong enum, is refused.
    with pytest.raises(AssertionError):
        validate("status", {"page": {"id": "p", "name": "n", "url": "https://x", "time_zone": "Etc/UTC",
                                     "updated_at": "2026-01-01T00:00:00.000Z"},
                            "status": {"indicator": "bad", "description": "x"}})
    with pytest.raises(AssertionError):  # no offset
        validate("status", {"page": {"id": "p", "name": "n", "url": "https://x", "time_zone": "Etc/UTC",
                                     "updated_at": "2026-01-01T00:00:00"},
                            "status": {"indicator": "none", "description": "x"}})


# --- unit data --------------------------------------------------------------------------------

def component(cid, name, status="operational", position=1, group=None, **extra):
    return PublicComponent(
        id=cid, name=name, description=extra.get("description"), status=status, position=position,
        group_id=group[0] if group else None, group_name=group[1] if group else None,
        showcase=extra.get("showcase", True), only_show_if_degraded=False,
        created_at=T0 - timedelta(days=30), updated_at=T0, start_date=extra.get("start_date"))


def make_view(base_url: str, *, changed: datetime = T0, time_zone: str = "Etc/UTC") -> PublicView:
    group = ("grp1", "Storage")
    components = (
        component("cmpapi", "API", "operational", 1, description="Public REST API",
                  start_date="2025-01-01"),
        component("cmpmail", "Mailboxes", "partial_outage", 2, group),
        component("cmpphoto", "Photos", "degraded_performance", 3, group),
    )
    open_updates = (
        PublicUpdate(id="upd3", incident_id="inc1", status="monitoring", body="A fix is rolling out.",
                     created_at=T0, updated_at=T0, display_at=T0,
                     affected_components=(("cmpmail", "Mailboxes", "partial_outage"),)),
        PublicUpdate(id="upd2", incident_id="inc1", status="identified", body="Retention job found.",
                     created_at=T0 - timedelta(hours=1), updated_at=T0 - timedelta(hours=1),
                     display_at=T0 - timedelta(hours=1)),
        PublicUpdate(id="upd1", incident_id="inc1", status="investigating", body="Mail is missing.",
                     created_at=T0 - timedelta(hours=2), updated_at=T0 - timedelta(hours=2),
                     display_at=T0 - timedelta(hours=2),
                     affected_components=(("cmpmail", "Mailboxes", "major_outage"),)),
    )
    unresolved = PublicIncident(
        id="inc1", name="Mailboxes emptied by a retention job", status="monitoring", impact="major",
        created_at=T0 - timedelta(hours=2), updated_at=T0, started_at=T0 - timedelta(hours=3),
        monitoring_at=T0, resolved_at=None, shortlink=f"{base_url}/incidents/inc1",
        updates=open_updates, component_ids=("cmpmail",))
    resolved = PublicIncident(
        id="inc0", name="Photos slow", status="resolved", impact="minor",
        created_at=T0 - timedelta(days=2), updated_at=T0 - timedelta(days=1),
        started_at=T0 - timedelta(days=2), monitoring_at=None, resolved_at=T0 - timedelta(days=1),
        shortlink=f"{base_url}/incidents/inc0", component_ids=("cmpphoto",),
        updates=(PublicUpdate(id="upd0", incident_id="inc0", status="resolved", body="Fixed.",
                              created_at=T0 - timedelta(days=1), updated_at=T0 - timedelta(days=1),
                              display_at=T0 - timedelta(days=1)),))
    page = PublicPage(id="pg1", name="Example Status", url=base_url, time_zone=time_zone, updated_at=changed)
    return PublicView(page=page, components=components, incidents=(unresolved, resolved))


class FakePublished:
    """Stands in for build_public_view/last_published_change; counts renders."""

    def __init__(self, monkeypatch, **view_options):
        self.changed = T0
        self.builds = 0
        self.view_options = view_options
        monkeypatch.setattr(public, "build_public_view", self.build)
        monkeypatch.setattr(public, "last_published_change", self.last_change)

    def build(self, *, session, base_url, **selection):  # selection: which history (ignored)
        self.builds += 1
        self.base_url = base_url
        return make_view(base_url, changed=self.changed, **self.view_options)

    def last_change(self, *, session):
        return self.changed

    def publish(self):
        self.changed += timedelta(minutes=5)


@pytest.fixture
def published(monkeypatch):
    return FakePublished(monkeypatch)


# --- shape and values -------------------------------------------------------------------------

@pytest.mark.parametrize("path", list(ENDPOINTS))
def test_every_endpoint_matches_its_schema(client, published, path):
    response = client.get(API + path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    validate(ENDPOINTS[path], response.get_json())


def test_summary_values_match_statuspage(client, published):
    data = client.get(API + "summary.json").get_json()
    assert list(data) == ["page", "components", "incidents", "scheduled_maintenances", "status"]
    assert data["page"] == {"id": "pg1", "name": "Example Status", "url": "http://localhost/status",
                            "time_zone": "Etc/UTC", "updated_at": "2026-03-01T09:30:15.123Z"}
    assert data["status"] == {"indicator": "major", "description": "Partial System Outage"}
    names = [(c["name"], c["group"], c["group_id"]) for c in data["components"]]
    assert names == [("API", False, None), ("Storage", True, None), ("Mailboxes", False, "grp1"),
                     ("Photos", False, "grp1")]
    storage = data["components"][1]
    assert storage["components"] == ["cmpmail", "cmpphoto"] and storage["status"] == "partial_outage"
    api = data["components"][0]
    assert api["description"] == "Public REST API" and api["start_date"] == "2025-01-01"
    assert api["page_id"] == "pg1" and api["position"] == 1 and api["showcase"] is True
    # Only unresolved incidents in the summary; updates newest first.
    assert [i["id"] for i in data["incidents"]] == ["inc1"]
    incident = data["incidents"][0]
    assert incident["monitoring_at"] == "2026-03-01T09:30:15.123Z" and incident["resolved_at"] is None
    assert incident["started_at"] == "2026-03-01T06:30:15.123Z"
    assert [u["id"] for u in incident["incident_updates"]] == ["upd3", "upd2", "upd1"]
    newest, middle, oldest = incident["incident_updates"]
    assert newest["affected_components"] == [{"code": "cmpmail", "name": "Mailboxes",
                                              "old_status": "major_outage", "new_status": "partial_outage"}]
    assert oldest["affected_components"][0]["old_status"] == "operational"
    assert middle["affected_components"] is None
    assert newest["incident_id"] == "inc1" and newest["custom_tweet"] is None
    assert [c["id"] for c in incident["components"]] == ["cmpmail"]
    assert data["scheduled_maintenances"] == []


def test_lists_and_status(client, published):
    assert [i["id"] for i in client.get(API + "incidents.json").get_json()["incidents"]] == ["inc1", "inc0"]
    assert [i["id"] for i in client.get(API + "incidents/unresolved.json").get_json()["incidents"]] == ["inc1"]
    status = client.get(API + "status.json").get_json()
    assert status["status"]["indicator"] == "major" and set(status) == {"page", "status"}
    for path in ("scheduled-maintenances.json", "scheduled-maintenances/upcoming.json",
                 "scheduled-maintenances/active.json"):
        assert client.get(API + path).get_json()["scheduled_maintenances"] == []


def test_times_carry_the_page_time_zone_offset(client, monkeypatch):
    FakePublished(monkeypatch, time_zone="America/Denver")
    data = client.get(API + "status.json").get_json()
    assert data["page"]["updated_at"] == "2026-03-01T02:30:15.123-07:00"
    validate("status", data)


@pytest.fixture
def prefixed_config(app_config):
    app_config["STATUS_PREFIX"] = "/public-status"
    return app_config


def test_configured_prefix_is_respected(prefixed_config, client, published):
    assert client.get(API + "summary.json").status_code != 200
    response = client.get("/public-status/api/v2/summary.json")
    assert response.status_code == 200
    assert published.base_url == "http://localhost/public-status"
    assert response.get_json()["page"]["url"] == "http://localhost/public-status"


@pytest.mark.parametrize("path", ["nope.json", "", "incidents/nope.json", "summary.xml"])
def test_unknown_api_paths_answer_json_404(client, published, path):
    response = client.get(API + path)
    assert response.status_code == 404
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    validate("error", response.get_json())


# --- HTTP behaviour ---------------------------------------------------------------------------

def test_headers(client, published):
    response = client.get(API + "summary.json")
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
    # T0 is 09:30:15.123456, long settled: the date is rounded UP, so it never precedes a change.
    assert response.headers["Last-Modified"] == "Sun, 01 Mar 2026 09:30:16 GMT"
    etag = response.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert "Set-Cookie" not in response.headers  # shared caches may keep it


def test_etag_and_last_modified_round_trip(client, published):
    first = client.get(API + "summary.json")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    again = client.get(API + "summary.json", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, max-age=60"
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    since = client.get(API + "summary.json", headers={"If-Modified-Since": modified})
    assert since.status_code == 304
    other = client.get(API + "summary.json", headers={"If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.get_json()["page"]["id"] == "pg1"
    # Each document has its own ETag.
    assert client.get(API + "status.json").headers["ETag"] != etag


def test_a_new_publish_ends_the_304s(client, published):
    first = client.get(API + "summary.json")
    etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
    published.publish()
    after = client.get(API + "summary.json", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    assert after.get_json()["page"]["updated_at"] == "2026-03-01T09:35:15.123Z"
    assert client.get(API + "summary.json", headers={"If-Modified-Since": modified}).status_code == 200
    assert client.get(API + "summary.json",
                      headers={"If-None-Match": after.headers["ETag"]}).status_code == 304


def test_two_publishes_in_one_second_reach_a_poller_that_sends_only_if_modified_since(client, published):
    now = datetime.now(UTC)
    published.changed = now.replace(microsecond=100_000)
    first = client.get(API + "summary.json")
    assert first.status_code == 200
    published.changed = now.replace(microsecond=900_000)  # the second publish, in the same second

    again = client.get(API + "summary.json", headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert again.status_code == 200  # before: 304, and the poller kept the first publish
    assert again.get_json()["page"]["updated_at"].endswith(".900Z")
    # A date from the future is invalid (RFC 9110): it must not freeze the poller either.
    future = format_datetime(now + timedelta(days=1), usegmt=True)
    assert client.get(API + "summary.json", headers={"If-Modified-Since": future}).status_code == 200


def test_a_settled_last_modified_gets_304_until_the_next_publish(client, published):
    first = client.get(API + "summary.json")  # T0 is long past: nothing more can land in its second
    since = {"If-Modified-Since": first.headers["Last-Modified"]}
    assert client.get(API + "summary.json", headers=since).status_code == 304
    published.changed = datetime.now(UTC)  # the next publish
    assert client.get(API + "summary.json", headers=since).status_code == 200


def test_renders_once_per_published_change(client, published):
    for _ in range(5):
        assert client.get(API + "summary.json").status_code == 200
    assert published.builds == 1
    client.get(API + "status.json")
    assert published.builds == 2  # another document is another body
    published.publish()
    for _ in range(3):
        client.get(API + "summary.json")
    assert published.builds == 3


def test_head(client, published):
    get = client.get(API + "summary.json")
    head = client.head(API + "summary.json")
    assert head.status_code == 200 and head.get_data() == b""
    assert head.headers["ETag"] == get.headers["ETag"]
    assert head.headers["Content-Type"] == "application/json; charset=utf-8"
    assert int(head.headers["Content-Length"]) == len(get.get_data())
    assert client.head(API + "summary.json", headers={"If-None-Match": get.headers["ETag"]}).status_code == 304


def test_nothing_published_yet(client, monkeypatch):
    """Before anything is published the validators still work (epoch Last-Modified)."""
    fake = FakePublished(monkeypatch)
    monkeypatch.setattr(public, "last_published_change", lambda *, session: None)
    response = client.get(API + "status.json")
    assert response.status_code == 200 and fake.builds == 1
    assert response.headers["Last-Modified"] == format_datetime(
        datetime(1970, 1, 1, tzinfo=UTC), usegmt=True)


# --- real data (once build_public_view is implemented) ----------------------------------------

def publish_real_data(app, make):
    """Components and a published incident with updates, through the real status services."""
    from incidents.auth.models import User
    from incidents.extensions import db
    from incidents.incident.service import get_incident
    from incidents.status import service

    owner = make.user(role="responder")
    reference = make.incident(by=owner, title="Mailboxes emptied by a retention job")
    make.entry(reference, body="Internal: customer ACME-42 lost 3 days of mail", by=owner)
    with app.app_context():
        actor = db.session.scalar(db.select(User).where(User.email == owner))
        api = service.create_component(session=db.session, name="API", position=1)
        mail = service.create_component(session=db.session, name="Mailboxes", group_name="Storage",
                                        position=2, description="IMAP and webmail")
        service.create_component(session=db.session, name="Photos", group_name="Storage", position=3)
        incident = get_incident(session=db.session, reference=reference)
        service.publish_incident(session=db.session, actor=actor, incident=incident,
                                 public_title="Some mailboxes look empty", impact="major",
                                 body="We are looking into missing mail.", components={mail: "major_outage"})
        db.session.commit()
        return {"reference": reference, "owner": owner, "api": api.public_id, "mail": mail.public_id}


def post_real_update(app, published, status: str, body: str, statuses: dict[str, str]):
    from incidents.auth.models import User
    from incidents.extensions import db
    from incidents.incident.service import get_incident
    from incidents.status import service
    from incidents.status.models import Component

    with app.app_context():
        actor = db.session.scalar(db.select(User).where(User.email == published["owner"]))
        incident = get_incident(session=db.session, reference=published["reference"])
        components = {db.session.scalar(db.select(Component).where(Component.public_id == cid)): value
                      for cid, value in statuses.items()}
        service.publish_update(session=db.session, actor=actor, incident=incident, status=status,
                               body=body, component_statuses=components)
        db.session.commit()


def test_real_published_data_matches_the_schemas(app, client, make):
    published = publish_real_data(app, make)
    post_real_update(app, published, "identified", "A retention job removed the mail.",
                     {published["mail"]: "partial_outage"})
    for path, schema in ENDPOINTS.items():
        response = client.get(API + path)
        assert response.status_code == 200, path
        validate(schema, response.get_json())
    summary = client.get(API + "summary.json").get_json()
    assert summary["status"] == {"indicator": "major", "description": "Partial System Outage"}
    assert summary["page"]["url"] == "http://localhost/status"
    [incident] = summary["incidents"]
    assert incident["name"] == "Some mailboxes look empty" and incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "investigating"]
    assert incident["incident_updates"][0]["affected_components"] == [{
        "code": published["mail"], "name": "Mailboxes", "old_status": "major_outage",
        "new_status": "partial_outage"}]
    assert incident["shortlink"].startswith("http://localhost/status/")
    assert "ACME-42" not in json.dumps(summary)  # internal notes have no field to travel in
    by_name = {c["name"]: c for c in summary["components"]}
    assert by_name["Storage"]["group"] is True and by_name["Mailboxes"]["group_id"] == by_name["Storage"]["id"]
    assert by_name["Mailboxes"]["status"] == "partial_outage" and by_name["API"]["status"] == "operational"


def test_real_publish_ends_the_304s(app, client, make):
    published = publish_real_data(app, make)
    first = client.get(API + "summary.json")
    etag = first.headers["ETag"]
    assert client.get(API + "summary.json", headers={"If-None-Match": etag}).status_code == 304
    post_real_update(app, published, "resolved", "All mail is back.", {published["mail"]: "operational"})
    after = client.get(API + "summary.json", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.headers["ETag"] != etag
    data = after.get_json()
    assert data["incidents"] == [] and data["status"]["indicator"] == "none"
    resolved = client.get(API + "incidents.json").get_json()["incidents"][0]
    assert resolved["status"] == "resolved" and resolved["resolved_at"] is not None
    validate("incidents", client.get(API + "incidents.json").get_json())


# --- a real consumer ---------------------------------------------------------------------------

@pytest.fixture
def served(app):
    """The app behind a real HTTP server on 127.0.0.1."""
    with serve_in_thread(app) as url:
        yield url


@pytest.fixture
def exporter(tmp_path, monkeypatch):
    """statuspage-prometheus-exporter (PyPI) reads services.json and writes its cache in the cwd."""
    (tmp_path / "services.json").write_text(json.dumps({}))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SERVICES_JSON_PATH", str(tmp_path / "services.json"))
    sys.modules.pop("statuspage_prometheus_exporter.service_checker", None)
    return importlib.import_module("statuspage_prometheus_exporter.service_checker")


def test_statuspage_prometheus_exporter_reads_our_summary(published, served, exporter):
    result = exporter.check_status_page_service(
        "example", {"url": f"{served}/status/api/v2/summary.json", "name": "Example"})
    assert result["success"] is True, result
    assert result["raw_status"] == "major" and result["status"] == 0
    assert [i["id"] for i in result["incident_metadata"]] == ["inc1"]
    incident = result["incident_metadata"][0]
    assert incident["name"] == "Mailboxes emptied by a retention job"
    assert incident["affected_components"] == ["Mailboxes"]
    assert incident["impact"] == "major"
    components = {c["name"]: c for c in result["component_metadata"]}
    assert {"API", "Storage", "Mailboxes", "Photos"} <= set(components)
    assert result["maintenance_metadata"] == []


def test_plain_http_client_sees_caching_headers(published, served):
    import requests

    first = requests.get(f"{served}/status/api/v2/status.json", timeout=10)
    assert first.headers["Content-Type"] == "application/json; charset=utf-8"
    assert first.json()["status"]["indicator"] == "major"
    second = requests.get(f"{served}/status/api/v2/status.json", timeout=10,
                          headers={"If-None-Match": first.headers["ETag"]})
    assert second.status_code == 304 and second.content == b""


def test_signed_in_visitors_get_the_same_public_document(client, auth, published):
    anonymous = client.get(API + "summary.json")
    auth.as_role("viewer")
    signed_in = client.get(API + "summary.json")
    assert signed_in.status_code == 200 and signed_in.get_data() == anonymous.get_data()
    assert signed_in.headers["ETag"] == anonymous.headers["ETag"]
    # A response shared caches may keep must not carry anybody's session cookie.
    assert "Set-Cookie" not in signed_in.headers
    options = client.options(API + "summary.json")
    assert options.status_code == 200 and options.get_data() == b""


def test_statuspage_prometheus_exporter_reads_our_maintenance_under_way(app, make, served, exporter):
    """The consumer lists a maintenance that opened by itself at its time as active, with its window
    and components, and its components as under maintenance."""
    from incidents.auth.models import User
    from incidents.db import clock_at
    from incidents.extensions import db
    from incidents.maintenance import service as maintenance
    from incidents.status import service

    owner = make.user(role="responder")
    start = datetime.now(UTC) - timedelta(minutes=10)
    with app.app_context(), clock_at(start - timedelta(hours=1)):
        photos = service.create_component(session=db.session, name="Photos")
        maintenance.schedule(session=db.session, actor=db.session.scalar(db.select(User).where(User.email == owner)),
                             title="Photo storage upgrade", body="Uploads pause.", scheduled_for=start,
                             scheduled_until=start + timedelta(hours=2), components={photos: "under_maintenance"})
        db.session.commit()
    result = exporter.check_status_page_service(
        "example", {"url": f"{served}/status/api/v2/summary.json", "name": "Example"})
    assert result["success"] is True, result
    [active] = result["maintenance_metadata"]
    assert active["name"] == "Photo storage upgrade" and active["status"] == "in_progress"
    assert active["affected_components"] == ["Photos"] and active["shortlink"].endswith(active["id"])
    assert {c["name"]: c["status"] for c in result["component_metadata"]} == {"Photos": "under_maintenance"}


def test_clients_that_accept_gzip_get_the_same_document_compressed(client, published):
    import gzip

    plain = client.get("/status/")
    packed = client.get("/status/", headers={"Accept-Encoding": "gzip, deflate, br"})
    assert "Content-Encoding" not in plain.headers and packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data and len(packed.data) < len(plain.data)
    assert "Accept-Encoding" in packed.headers["Vary"]
    # Each encoding is its own representation: its own validator, and its own 304.
    assert packed.headers["ETag"] != plain.headers["ETag"]
    again = client.get("/status/", headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert again.status_code == 304
    assert client.get("/status/", headers={"If-None-Match": packed.headers["ETag"]}).status_code == 200
    # A small document is not worth compressing.
    small = client.get(API + "status.json", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in small.headers and small.get_json()["status"]
