"""What a message's body looks like for its subscription's preset.

- standard: the versioned envelope itself (events.py), for receivers of our own;
- slack: a Slack incoming-webhook message, `{"text": ..., "blocks": [...]}` (Block Kit: a header,
  a section with the summary and facts as fields, a context line with the link); `text` is the
  fallback shown in notifications;
- teams: a Microsoft Teams incoming-webhook message carrying one Adaptive Card,
  `{"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
  "content": {"type": "AdaptiveCard", ...}}]}`.

Every preset is signed the same way (Standard Webhooks headers): chat services ignore the headers.
The body is rendered from the stored envelope at each attempt, the same bytes every time.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from incidents.webhooks.models import EVENT_LABELS, OWNER_ROLES

# Block Kit's limits (characters): a header's text, a section's text, a field's text; fields per section.
SLACK_HEADER_MAX, SLACK_TEXT_MAX, SLACK_FIELD_MAX, SLACK_FIELDS_MAX = 150, 3000, 2000, 10
ADAPTIVE_CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
ADAPTIVE_CARD_VERSION = "1.4"  # what Teams renders from incoming webhooks
PRODUCT = "Data-loss tracker"


@dataclass
class Summary:
    """A message in words: a title, a sentence or two, facts, and where to look."""

    title: str
    text: str = ""
    facts: list[tuple[str, str]] = field(default_factory=list)
    url: str | None = None
    url_label: str = "Open in the tracker"


def render(preset: str, envelope: dict[str, Any]) -> bytes:
    """The body to POST for this preset, as UTF-8 JSON."""
    if preset == "slack":
        body = slack_message(summarize(envelope))
    elif preset == "teams":
        body = teams_message(summarize(envelope))
    else:
        body = envelope
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --- the words --------------------------------------------------------------------------------------

def _name(who: dict | None) -> str:
    return who["name"] if who else "nobody"


def _incident_facts(incident: dict) -> list[tuple[str, str]]:
    return [("Severity", incident["severity"]), ("Status", incident["status_label"])]


def summarize(envelope: dict[str, Any]) -> Summary:
    """The message an event makes, for people reading a chat channel."""
    event, data = envelope["type"], envelope.get("data") or {}
    incident = data.get("incident")
    if incident is None:  # the test event, or an event without an incident
        return Summary(title=f"{EVENT_LABELS.get(event, event)} from the {PRODUCT.lower()}",
                       text=data.get("message", ""), facts=[("Webhook", data.get("subscription", ""))])
    ref = f"{incident['reference']}: {incident['title']}"
    summary = Summary(title=ref, facts=_incident_facts(incident), url=incident["url"])
    if event == "incident.declared":
        summary.title = f"Incident declared: {ref}"
        summary.text = f"Declared by {_name(data.get('declared_by'))}."
        summary.facts.append(("Commander", _name(data.get("commander"))))
    elif event == "incident.status_changed":
        change = data["changes"]["status"]
        summary.title = f"{incident['reference']} is now {incident['status_label'].lower()}: {incident['title']}"
        summary.text = f"Status changed from {change['from']} to {change['to']} by {_name(data.get('changed_by'))}."
    elif event == "incident.owner_changed":
        summary.title = f"New owners for {ref}"
        summary.text = " ".join(f"{OWNER_ROLES[role]}: {_name(c['from'])} → {_name(c['to'])}."
                                for role, c in data["changes"].items() if role in OWNER_ROLES)
    elif event == "status.update_posted":
        update = data["update"]
        summary.title = f"Public update on {ref}"
        summary.text = update["body"]
        summary.facts.append(("Public status", update["status"]))
        summary.url, summary.url_label = update["url"], "Open on the status page"
    elif event == "postmortem.published":
        summary.title = f"Postmortem published: {ref}"
        summary.text = f"Version {data['postmortem']['version']} published by {_name(data.get('published_by'))}."
        summary.url, summary.url_label = data["postmortem"]["url"], "Read the postmortem"
    elif event == "action_item.overdue":
        item = data["action_item"]
        summary.title = f"Action item overdue: {item['title']}"
        summary.text = f"Due {item['due_on']} on {ref}."
        summary.facts = [("Owner", _name(item.get("owner"))), ("Priority", item["priority"]),
                         ("Due", item["due_on"])]
        summary.url = item["url"]
    elif event == "obligation.deadline_near":
        obligation = data["obligation"]
        summary.title = f"Deadline near: {obligation['title']}"
        summary.text = f"Due {obligation['due_at'].replace('T', ' ').replace('Z', ' UTC')} on {ref}."
        summary.facts = [("Regime", obligation["regime"]), ("Due", obligation["due_at"])]
        summary.url = obligation["url"]
    return summary


# --- Slack ------------------------------------------------------------------------------------------

def _slack_escape(text: str) -> str:
    """Text for Slack's mrkdwn: &, < and > are its control characters (links, mentions)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def slack_message(summary: Summary) -> dict[str, Any]:
    """A Slack incoming-webhook message: fallback text and Block Kit blocks."""
    section: dict[str, Any] = {"type": "section", "text": {
        "type": "mrkdwn", "text": _cut(_slack_escape(summary.text or summary.title), SLACK_TEXT_MAX)}}
    if summary.facts:
        section["fields"] = [{"type": "mrkdwn", "text": _cut(f"*{_slack_escape(label)}*\n{_slack_escape(value)}",
                                                             SLACK_FIELD_MAX)}
                             for label, value in summary.facts[:SLACK_FIELDS_MAX]]
    blocks = [{"type": "header", "text": {"type": "plain_text", "text": _cut(summary.title, SLACK_HEADER_MAX),
                                          "emoji": False}}, section]
    if summary.url:
        # Inside <url|label> only | and > would end the link early; our URLs hold neither.
        blocks.append({"type": "context", "elements": [
            {"type": "mrkdwn", "text": f"<{summary.url}|{_slack_escape(summary.url_label)}>"}]})
    fallback = summary.title + (f": {summary.text}" if summary.text else "")
    return {"text": _cut(_slack_escape(fallback), SLACK_TEXT_MAX), "blocks": blocks}


# --- Microsoft Teams --------------------------------------------------------------------------------

def teams_message(summary: Summary) -> dict[str, Any]:
    """A Teams incoming-webhook message with one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": summary.title, "size": "Medium", "weight": "Bolder", "wrap": True}]
    if summary.text:
        body.append({"type": "TextBlock", "text": summary.text, "wrap": True})
    if summary.facts:
        body.append({"type": "FactSet", "facts": [{"title": label, "value": value} for label, value in summary.facts]})
    card: dict[str, Any] = {"$schema": ADAPTIVE_CARD_SCHEMA, "type": "AdaptiveCard",
                            "version": ADAPTIVE_CARD_VERSION, "body": body}
    if summary.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": summary.url_label, "url": summary.url}]
    return {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}
