"""Posting public updates from the incident page: the status a responder leaves alone stays put."""
from __future__ import annotations

import re
from pathlib import Path

import feedparser
import tinycss2
import tinycss2.color3

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


# --- the admins' components page ----------------------------------------------------------------

CSS = Path(__file__).resolve().parent.parent / "static" / "css" / "app.css"


def _colours_for(classes: set[str]) -> tuple[tuple, tuple]:
    """The text and background colour app.css gives an element with these classes, from the rules
    whose selectors are made of those classes only (source order, !important wins, var() resolved).
    An element without a background of its own shows the card it sits on; `inherit` is the ink."""
    variables, chosen = {}, {}
    for rule in tinycss2.parse_stylesheet(CSS.read_text(), skip_comments=True, skip_whitespace=True):
        if rule.type != "qualified-rule":
            continue  # @media: the wide-screen rules are the ones checked
        selectors = [s.strip() for s in tinycss2.serialize(rule.prelude).split(",")]
        declarations = [d for d in tinycss2.parse_declaration_list(rule.content, skip_comments=True,
                                                                    skip_whitespace=True)
                        if d.type == "declaration"]
        if ":root" in selectors:
            variables.update({d.name: tinycss2.serialize(d.value).strip() for d in declarations
                              if d.name.startswith("--")})
        if any(re.fullmatch(r"(\.[\w-]+)+", s) and set(s[1:].split(".")) <= classes for s in selectors):
            for d in declarations:
                name = {"background": "background-color"}.get(d.lower_name, d.lower_name)
                if name in ("color", "background-color") and (d.important or not chosen.get(name, ("", 0))[1]):
                    chosen[name] = (tinycss2.serialize(d.value).strip(), d.important)

    def colour(value: str) -> tuple:
        value = re.sub(r"var\((--[\w-]+)\)", lambda m: variables[m.group(1)], value)
        parsed = tinycss2.color3.parse_color(value)
        assert parsed is not None, value
        return parsed

    text = chosen.get("color", ("inherit", False))[0]
    background = chosen.get("background-color", ("none", False))[0]
    return (colour("var(--ink)" if text == "inherit" else text),
            colour("var(--card)" if background in ("none", "transparent") else background))


def _contrast(one: tuple, other: tuple) -> float:
    """WCAG 2 contrast ratio of two opaque colours."""
    def luminance(c):
        return sum(w * (v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4)
                   for w, v in zip((0.2126, 0.7152, 0.0722), (c.red, c.green, c.blue), strict=True))
    high, low = sorted((luminance(one), luminance(other)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def test_the_remove_buttons_on_the_components_page_are_legible(client, auth):
    auth.as_role("admin")
    assert client.post("/admin/components", data={"name": "Contacts sync", "position": 1,
                                                   "status_override": "", "showcase": "y"}).status_code == 302
    page = client.get("/admin/components").get_data(as_text=True)
    buttons = re.findall(r'<button class="([^"]*)" type="submit">Remove</button>', page)
    assert len(buttons) == 1
    text, background = _colours_for(set(buttons[0].split()))
    assert _contrast(text, background) >= 4.5, f"Remove is {text} on {background}"


# --- one rule for Markdown in public updates ------------------------------------------------------

def test_public_update_markdown_is_html_on_the_page_and_in_the_feeds_and_plain_text_in_the_json(client, auth, make):
    reference, public_id = _published(client, auth, make, "identified")
    body = "We **restored** most contacts.\n\nStill missing:\n- calendars\n- photos <script>alert(1)</script>"
    assert _post_update(client, reference, body).status_code == 302

    page = client.get(f"/status/incidents/{public_id}").get_data(as_text=True)
    assert "We <strong>restored</strong> most contacts." in page and "<li>calendars</li>" in page
    assert "**" not in page and "<script>alert" not in page

    atom = feedparser.parse(client.get("/status/history.atom").get_data()).entries[0].content[0].value
    rss = feedparser.parse(client.get("/status/history.rss").get_data()).entries[0].description
    for where, html in (("atom", atom), ("rss", rss)):
        assert "<strong>Update</strong> - We <strong>restored</strong> most contacts.</p>" in html, where
        assert "<li>calendars</li>" in html and "**" not in html and "<script" not in html, where

    for url in ("/status/api/v2/incidents.json", "/status/api/v2/summary.json"):
        (incident,) = [i for i in client.get(url).get_json()["incidents"] if i["id"] == public_id]
        newest = incident["incident_updates"][0]["body"]
        assert newest == "We restored most contacts.\n\nStill missing:\n\n- calendars\n- photos", url
        assert incident["incident_updates"][1]["body"] == "We found the cause.", url
