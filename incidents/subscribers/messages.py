"""What subscribers receive: e-mails and Statuspage-format webhook payloads.

Everything comes from the public records (status/public.py, maintenance/public.py), the same ones
the status page is drawn from: an announcement can say no more than the page says. Each e-mail has
a personal unsubscribe link and the RFC 8058 one-click headers.
"""
from __future__ import annotations

import html
import json
from dataclasses import dataclass
from datetime import UTC
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import urlsplit

from incidents.status.api import component_json, incident_json, iso, maintenance_json, zone
from incidents.status.public import PublicUpdate, PublicView

LABELS = {"investigating": "Investigating", "identified": "Identified", "monitoring": "Monitoring",
          "resolved": "Resolved", "postmortem": "Postmortem", "scheduled": "Scheduled maintenance",
          "in_progress": "Maintenance in progress", "verifying": "Maintenance verifying",
          "completed": "Maintenance completed"}
STATUS_WORDS = {"operational": "operational", "degraded_performance": "degraded performance",
                "partial_outage": "partial outage", "major_outage": "major outage",
                "under_maintenance": "under maintenance"}
DOCUMENTATION = "https://support.atlassian.com/statuspage/docs/enable-webhook-notifications/"


@dataclass(frozen=True)
class Story:
    """One announcement as the public sees it: the incident or maintenance, and the update."""

    view: PublicView
    record: object  # PublicIncident or PublicMaintenance
    update: PublicUpdate

    @property
    def is_maintenance(self) -> bool:
        return getattr(self.record, "impact", None) == "maintenance"


def _domain(url: str) -> str:
    return urlsplit(url).hostname or "localhost"


def _base(message: EmailMessage, *, page, to: str, subject: str, unsubscribe_url: str | None) -> None:
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=_domain(page.url))
    message["Auto-Submitted"] = "auto-generated"
    message["List-Id"] = f"{page.name} <status.{_domain(page.url)}>"
    if unsubscribe_url:
        # RFC 2369 and RFC 8058: mail clients offer "Unsubscribe", and one POST of
        # "List-Unsubscribe=One-Click" to the link ends the subscription.
        message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"


def confirmation_email(*, page, to: str, confirm_url: str, webhook_url: str | None = None) -> EmailMessage:
    """The double opt-in e-mail: nothing is sent to this address or URL until its link is followed."""
    what = f"webhook deliveries to {webhook_url}" if webhook_url else "e-mail updates"
    message = EmailMessage()
    _base(message, page=page, to=to, subject=f"Confirm your subscription to {page.name}", unsubscribe_url=None)
    message.set_content(
        f"Someone (we hope you) asked for {what} from {page.name}.\n\n"
        f"To confirm, open this link and press Confirm:\n{confirm_url}\n\n"
        "If it was not you, ignore this e-mail: nothing will be sent, and the link stops working in 7 days.\n")
    message.add_alternative(
        f"<p>Someone (we hope you) asked for {html.escape(what)} from {html.escape(page.name)}.</p>"
        f'<p><a href="{html.escape(confirm_url)}">Confirm the subscription</a></p>'
        "<p>If it was not you, ignore this e-mail: nothing will be sent, and the link stops working in "
        "7 days.</p>", subtype="html")
    return message


def _affected(update: PublicUpdate) -> list[str]:
    return [f"{name} ({STATUS_WORDS.get(status, status)})" for _cid, name, status in update.affected_components]


def _utc(moment) -> str:
    return f"{moment.astimezone(UTC):%b %-d, %Y %H:%M} UTC"


def subject_of(story: Story) -> str:
    return f"[{story.view.page.name}] {LABELS.get(story.update.status, story.update.status)}: {story.record.name}"


def announcement_email(story: Story, *, to: str, unsubscribe_url: str) -> EmailMessage:
    """One public update (or maintenance step) as an e-mail, in text and HTML."""
    update, record = story.update, story.record
    when, label = _utc(update.display_at), LABELS.get(update.status, update.status)
    facts = []  # what the text and the HTML both state after the update itself
    if story.is_maintenance:
        facts.append(f"Window: {_utc(record.scheduled_for)} to {_utc(record.scheduled_until)}")
    if _affected(update):
        facts.append(f"Affected: {', '.join(_affected(update))}")
    lines = [record.name, f"{label} · {when}", "", update.body, "", *facts, f"Details: {record.shortlink}", "",
             "--", f"You get this because you subscribed to {story.view.page.name}.", f"Unsubscribe: {unsubscribe_url}"]
    message = EmailMessage()
    _base(message, page=story.view.page, to=to, subject=subject_of(story), unsubscribe_url=unsubscribe_url)
    message.set_content("\n".join(lines) + "\n")
    extra = "".join(f"<p>{html.escape(fact)}</p>" for fact in facts)
    message.add_alternative(
        f"<h1>{html.escape(record.name)}</h1><p><strong>{html.escape(label)}"
        f"</strong> · {html.escape(when)}</p>"
        # The update's HTML is the sanitised Markdown stored when it was written (incidents/markdown.py).
        f"{update.body_html or '<p>' + html.escape(update.body) + '</p>'}{extra}"
        f'<p><a href="{html.escape(record.shortlink)}">Details on the status page</a></p>'
        f'<hr><p>You get this because you subscribed to {html.escape(story.view.page.name)}. '
        f'<a href="{html.escape(unsubscribe_url)}">Unsubscribe</a></p>', subtype="html")
    return message


# --- webhooks (Statuspage's format) ----------------------------------------------------------------

def _meta(story: Story, unsubscribe_url: str, generated_at) -> dict:
    return {"unsubscribe": unsubscribe_url, "documentation": DOCUMENTATION,
            "generated_at": iso(generated_at, zone(story.view))}


def _page(view: PublicView) -> dict:
    return {"id": view.page.id, "status_indicator": view.indicator, "status_description": view.description}


def incident_payload(story: Story, *, unsubscribe_url: str, generated_at) -> bytes:
    """Statuspage's incident webhook: meta, page, and the incident with every update."""
    record = (maintenance_json(story.view, story.record) if story.is_maintenance
              else incident_json(story.view, story.record))
    return _dumps({"meta": _meta(story, unsubscribe_url, generated_at), "page": _page(story.view),
                   "incident": record})


def component_payloads(story: Story, *, unsubscribe_url: str, generated_at,
                       only: set[str] | None = None) -> list[tuple[str, bytes]]:
    """Statuspage's component_update webhooks, one per component the update moved (of `only`, the
    public ids a subscriber follows; None: all): (component public id, payload)."""
    by_id = {c.id: c for c in story.view.components}
    ids = [u.id for u in story.record.updates]
    older = story.record.updates[ids.index(story.update.id) + 1:] if story.update.id in ids else ()
    out = []
    for cid, _name, new_status in story.update.affected_components:
        component = by_id.get(cid)
        if component is None or (only is not None and cid not in only):
            continue
        old_status = next((status for u in older for code, _n, status in u.affected_components if code == cid),
                          "operational")
        change = {"created_at": iso(story.update.display_at, zone(story.view)), "new_status": new_status,
                  "old_status": old_status, "id": f"{story.update.id}-{cid}"[:40], "component_id": cid}
        out.append((cid, _dumps({"meta": _meta(story, unsubscribe_url, generated_at), "page": _page(story.view),
                                 "component_update": change, "component": component_json(story.view, component)})))
    return out


def _dumps(document: dict) -> bytes:
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
