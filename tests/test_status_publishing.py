"""Posting public updates from the incident page: the status a responder leaves alone stays put."""
from __future__ import annotations

import feedparser

from tests.helpers import field_errors, read_form

UPDATE_FORM = "/incidents/{}/publish/update"


def _post_update(client, reference: str, body: str, **changes):
    """Post the incident page's public update form as a browser would, with `changes` typed in."""
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    data = read_form(page, UPDATE_FORM.format(reference))
    data["public_body"] = body
    for name, value in changes.items():
        data[name] = value
    return client.post(UPDATE_FORM.format(reference), data=data)


def _published(client, auth, make, status: str) -> tuple[str, str]:
    responder = auth.as_role("responder")
    reference = make.incident(by=responder)
    response = client.post(f"/incidents/{reference}/publish", data={
        "public_title": "Contacts not syncing", "impact": "major", "public_status": status,
        "public_body": "We found the cause."})
    assert response.status_code == 302
    incidents = client.get("/status/api/v2/incidents.json").get_json()["incidents"]
    return reference, incidents[0]["id"]


def test_an_update_with_the_status_left_alone_keeps_the_public_status(client, auth, make):
    reference, public_id = _published(client, auth, make, "identified")
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    assert read_form(page, UPDATE_FORM.format(reference))["public_status"] == "identified"

    assert _post_update(client, reference, "Restores are running.").status_code == 302

    incidents = client.get("/status/api/v2/incidents.json").get_json()["incidents"]
    incident = next(i for i in incidents if i["id"] == public_id)
    assert incident["status"] == "identified"
    assert [u["status"] for u in incident["incident_updates"]] == ["identified", "identified"]
    public_page = client.get(f"/status/incidents/{public_id}").get_data(as_text=True)
    assert "Investigating" not in public_page and "Identified" in public_page
    feed = feedparser.parse(client.get("/status/history.atom").get_data())
    content = feed.entries[0].content[0].value
    # Statuspage labels an update that keeps the status "Update"; the first shows its status.
    assert "Investigating" not in content
    assert content.index("<strong>Update</strong>") < content.index("<strong>Identified</strong>")


def test_reopening_a_publicly_resolved_incident_must_be_ticked(client, auth, make):
    reference, public_id = _published(client, auth, make, "identified")
    assert _post_update(client, reference, "All contacts are back.", public_status="resolved").status_code == 302
    page = client.get(f"/incidents/{reference}").get_data(as_text=True)
    form = read_form(page, UPDATE_FORM.format(reference))
    assert form["public_status"] == "resolved" and "reopen" not in form  # offered, not ticked

    # Left as it is, a follow-up keeps the incident resolved.
    assert _post_update(client, reference, "A last note on the restore.").status_code == 302
    assert client.get("/status/api/v2/incidents/unresolved.json").get_json()["incidents"] == []

    # Choosing an open status without ticking "reopen" is refused beside the box; nothing is posted.
    response = _post_update(client, reference, "Some contacts are missing again.", public_status="investigating")
    assert response.status_code == 422
    assert "told this incident is resolved" in " ".join(field_errors(response.get_data(as_text=True), "reopen"))
    assert client.get("/status/api/v2/incidents/unresolved.json").get_json()["incidents"] == []
    assert "missing again" not in client.get("/status/history.atom").get_data(as_text=True)

    response = _post_update(client, reference, "Some contacts are missing again.",
                            public_status="investigating", reopen="y")
    assert response.status_code == 302
    unresolved = client.get("/status/api/v2/incidents/unresolved.json").get_json()["incidents"]
    assert [(i["id"], i["status"]) for i in unresolved] == [(public_id, "investigating")]
    assert "missing again" in client.get(f"/status/incidents/{public_id}").get_data(as_text=True)
    feed = feedparser.parse(client.get("/status/history.atom").get_data())
    assert "<strong>Investigating</strong> - Some contacts are missing again." in feed.entries[0].content[0].value
