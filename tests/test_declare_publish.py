"""Declare and publish at once: the first public update is out in at most three page loads."""
from __future__ import annotations

import feedparser
from sqlalchemy import func, select

from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.status.models import Component
from tests.helpers import field_errors, read_form


class Browser:
    """A test client that counts page loads the way a browser makes them (a redirect it follows is
    one more load)."""

    def __init__(self, client):
        self.client, self.loads = client, 0

    def get(self, url: str):
        self.loads += 1
        return self.client.get(url)

    def submit(self, url: str, data):
        response = self.client.post(url, data=data, follow_redirects=True)
        self.loads += 1 + len(response.history)
        return response


def _fill(form, values: dict) -> None:
    """Type `values` into the form read from the page (replacing what it held)."""
    for name, value in values.items():
        form[name] = value


def _component(app, client, auth) -> int:
    auth.as_role("admin")
    assert client.post("/admin/components", data={"name": "Contacts sync", "position": 1,
                                                  "status_override": "", "showcase": "y"}).status_code == 302
    auth.logout()
    with app.app_context():
        return db.session.scalar(select(Component.id))


def test_declare_with_a_public_update_reaches_the_json_and_the_feed_in_three_page_loads(app, client, auth):
    component_id = _component(app, client, auth)
    auth.as_role("responder")
    browser = Browser(client)

    form = read_form(browser.get("/incidents/new").get_data(as_text=True))
    assert form["impact"] == "minor" and form[f"component_{component_id}"] == ""
    _fill(form, {"title": "Shard 7 wiped by the retention job", "severity": "SEV1",
                 "public_title": "Contacts not syncing", "impact": "major",
                 "public_body": "We are **investigating** missing contacts.",
                 f"component_{component_id}": "major_outage"})
    page = browser.submit("/incidents/new", form)
    assert page.status_code == 200 and "put on the status page" in page.get_data(as_text=True)
    assert browser.loads <= 3

    summary = client.get("/status/api/v2/summary.json").get_json()
    (incident,) = summary["incidents"]
    assert (incident["name"], incident["status"], incident["impact"]) == ("Contacts not syncing", "investigating",
                                                                          "major")
    assert incident["incident_updates"][0]["body"] == "We are investigating missing contacts."
    assert [(c["name"], c["status"]) for c in summary["components"]] == [("Contacts sync", "major_outage")]
    (entry,) = feedparser.parse(client.get("/status/history.atom").get_data()).entries
    assert entry.title == "Contacts not syncing"
    assert "We are <strong>investigating</strong> missing contacts." in entry.content[0].value
    assert "Shard 7" not in client.get("/status/api/v2/summary.json").get_data(as_text=True)


def test_declaring_without_public_fields_publishes_nothing(app, client, auth):
    auth.as_role("responder")
    form = read_form(client.get("/incidents/new").get_data(as_text=True))
    _fill(form, {"title": "Photos missing", "severity": "SEV2"})
    assert client.post("/incidents/new", data=form).status_code == 302
    assert client.get("/status/api/v2/incidents.json").get_json()["incidents"] == []


def test_a_public_title_without_its_update_is_refused_beside_the_field_and_nothing_is_declared(app, client, auth):
    auth.as_role("responder")
    form = read_form(client.get("/incidents/new").get_data(as_text=True))
    _fill(form, {"title": "Photos missing", "severity": "SEV2", "public_title": "Photos not loading"})
    response = client.post("/incidents/new", data=form)
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Write the first update customers will read" in " ".join(field_errors(html, "public_body"))
    assert "<details class=\"more\" open>" in html  # the public part stays open with its error
    with app.app_context():
        assert db.session.scalar(select(func.count(Incident.id))) == 0
    assert client.get("/status/api/v2/incidents.json").get_json()["incidents"] == []
