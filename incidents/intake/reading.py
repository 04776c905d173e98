"""What an intake makes of a notification: the severity (a label through the intake's mapping), the
title and description (annotations), and the Markdown of its timeline entries and summaries.

Everything here comes from outside: label and annotation text is escaped before it goes into
Markdown (it is shown, never interpreted), kept to one line and cut to a length, and links are
kept only when they are plain http(s) links.
"""
from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime

from incidents.forms import url_problem
from incidents.incident.enums import Severity
from incidents.intake.models import Intake, IntakeKind
from incidents.intake.payloads import Alert, Notification

# What a label value means when an admin maps nothing else (values are compared in lower case).
DEFAULT_SEVERITY_MAP = {"critical": "SEV1", "error": "SEV2", "warning": "SEV3", "info": "SEV4"}
LISTED = 20  # alerts listed in one entry; the raw delivery has them all
TITLE_LIMIT = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# Characters with a meaning in Markdown (or HTML) wherever they stand in a line.
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|~&!])")


def one_line(text: str | None, limit: int) -> str:
    """`text` on one line, without control or direction characters, at most `limit` characters."""
    text = " ".join(_CONTROL.sub(" ", text or "").split())
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


def md(text: str | None, limit: int = 300) -> str:
    """Outside text as literal Markdown: one line, every mark escaped."""
    return _MARKDOWN.sub(r"\\\1", one_line(text, limit))


def web_link(url: str | None) -> str | None:
    """`url` when it is a plain http(s) link we may show, else None."""
    url = (url or "").strip()
    if not url or url_problem(url) or "<" in url or ">" in url:
        return None
    return url


def _firing_first(notification: Notification) -> list[Alert]:
    return sorted(notification.alerts, key=lambda alert: alert.status != "firing")


def label_value(notification: Notification, name: str) -> str | None:
    """A label's value: the group's common one, else the first (firing) alert's, else the group's."""
    if name in notification.common_labels:
        return notification.common_labels[name]
    for alert in _firing_first(notification):
        if name in alert.labels:
            return alert.labels[name]
    return notification.group_labels.get(name)


def annotation(notification: Notification, name: str) -> str:
    if notification.common_annotations.get(name, "").strip():
        return notification.common_annotations[name]
    for alert in _firing_first(notification):
        if alert.annotations.get(name, "").strip():
            return alert.annotations[name]
    return ""


def severity_of(intake: Intake, notification: Notification) -> Severity:
    """The severity label's value through the intake's mapping; a value that names one of ours
    (SEV2, sev2) stands for itself; anything else gets the intake's default."""
    label = "severity" if notification.kind is IntakeKind.generic else intake.severity_label
    value = (label_value(notification, label) or "").strip().lower()
    mapped = (intake.severity_map or {}).get(value) or value.upper()
    return Severity(mapped) if mapped in Severity._value2member_map_ else intake.default_severity


def title_of(intake: Intake, notification: Notification) -> str:
    """The title annotation, else the generic title, the alert name, Grafana's title, the group key."""
    for candidate in (annotation(notification, intake.title_annotation),
                      notification.title if notification.kind is IntakeKind.generic else "",
                      label_value(notification, "alertname"), notification.title, notification.group_key):
        if one_line(candidate, TITLE_LIMIT):
            return one_line(candidate, TITLE_LIMIT)
    return "Alert"


def description_of(intake: Intake, notification: Notification) -> str:
    if notification.kind is IntakeKind.generic:
        return notification.message
    return annotation(notification, intake.description_annotation)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M} UTC" if moment else ""


def alert_line(title_annotation: str, alert: Alert, notification: Notification) -> str:
    """- **DiskFull** instance=db-1 · since 2026-03-10 09:12 UTC: Disk almost full · [source](…)

    What every alert of the notification shares (its common labels and annotations) is said once,
    above the list, rather than on each line."""
    name = alert.name or alert.labels.get("alertname") or alert.annotations.get(title_annotation) or alert.identity
    common = notification.common_labels
    labels = [f"{k}={v}" for k, v in sorted(alert.labels.items())
              if k not in ("alertname", "__name__") and common.get(k) != v][:6]
    line = f"- **{md(name, 120)}**"
    if labels:
        line += " " + md(", ".join(labels), 200)
    when = f"ended {_when(alert.ends_at)}" if alert.status == "resolved" and alert.ends_at else \
        (f"since {_when(alert.starts_at)}" if alert.starts_at else "")
    if when:
        line += f" · {when}"
    text = alert.note or alert.annotations.get(title_annotation, "")
    if text and text != name and notification.common_annotations.get(title_annotation) != text:
        line += f": {md(text, 200)}"
    if alert.value:
        line += f" (value {md(alert.value, 120)})"
    links = [f"[{label}](<{url}>)" for label, url in (("source", web_link(alert.link)),
                                                      ("dashboard", web_link(alert.dashboard))) if url]
    if links:
        line += " · " + " · ".join(links)
    return line


def alert_list(title_annotation: str, notification: Notification) -> str:
    """The notification's alerts, firing first, as a Markdown list of at most LISTED lines, after
    the labels they all share (the part of an entry that the view renders before taking the
    database's write lock)."""
    alerts = _firing_first(notification)
    lines = [alert_line(title_annotation, alert, notification) for alert in alerts[:LISTED]]
    left_out = len(alerts) - LISTED + notification.truncated
    if left_out > 0:
        lines.append(f"- …and {left_out:,} more (the raw delivery has every alert it received)")
    shared = [f"{k}={v}" for k, v in sorted(notification.common_labels.items()) if k not in ("alertname", "__name__")]
    if shared and notification.kind is not IntakeKind.generic:
        return f"Labels of every alert: {md(', '.join(shared), 400)}\n\n" + "\n".join(lines)
    return "\n".join(lines)


def _count(alerts: Iterable[Alert], status: str) -> int:
    return sum(1 for alert in alerts if alert.status == status)


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"


def entry_body(intake: Intake, notification: Notification, *, outcome: str, delivery_url: str) -> str:
    """The timeline entry a delivery adds: what fired or resolved, the alerts, the raw delivery."""
    source = f"{notification.kind.label} intake “{md(intake.name, 120)}”"
    firing, resolved = _count(notification.alerts, "firing"), _count(notification.alerts, "resolved")
    if outcome == "resolved":
        lead = (f"**Alerts resolved**: {source} says the alert group resolved "
                f"({_plural(resolved, 'alert')}). The incident's status is unchanged: a responder decides that.")
    elif outcome == "created":
        lead = f"**{_plural(firing, 'alert')} firing**, reported by the {source}."
    else:
        lead = f"**Firing now: {_plural(firing, 'alert')}**" + (f", {resolved:,} resolved" if resolved else "") + \
               f", reported by the {source}."
    return f"{lead} [Raw delivery]({delivery_url})\n\n{alert_list(intake.title_annotation, notification)}"


def summary_of(intake: Intake, notification: Notification) -> str:
    """The declared incident's summary: where it came from, the description, the alerts."""
    parts = [f"Declared by the alert intake “{md(intake.name, 120)}” ({notification.kind.label}) when the "
             f"alert group {md(notification.group_key, 300)} fired."]
    description = description_of(intake, notification).strip()
    if description:
        parts.append(md(description, 2_000))
    link = web_link(notification.link)
    if link:
        parts.append(f"[Open in {notification.kind.label}](<{link}>)")
    parts.append("Alerts when it was declared:\n\n" + alert_list(intake.title_annotation, notification))
    return "\n\n".join(parts)
