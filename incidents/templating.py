"""Filters and globals the templates share."""
from __future__ import annotations

import functools
import re
from datetime import UTC, datetime

from flask import Flask, current_app, request, url_for
from jinja2.ext import Extension
from markupsafe import Markup, escape

from incidents.actions.enums import ActionStatus
from incidents.auth.models import Role
from incidents.incident.enums import Status
from incidents.markdown import render_markdown
from incidents.postmortem.enums import PostmortemStatus
from incidents.recovery.enums import WorkstreamStatus


def format_utc(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A timestamp in UTC, always with its zone shown."""
    if value is None:
        return "—"
    return value.astimezone(UTC).strftime(fmt) + " UTC"


def iso(value: datetime | None) -> str:
    return value.astimezone(UTC).isoformat() if value else ""


def duration(start: datetime | None, end: datetime | None) -> str:
    """A span like '3 d 4 h' or '45 min'; empty when either end is missing."""
    if not start or not end:
        return ""
    minutes = int((end - start).total_seconds() // 60)
    sign = "−" if minutes < 0 else ""
    minutes = abs(minutes)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{sign}{days} d {hours} h"
    if hours:
        return f"{sign}{hours} h {mins} min"
    return f"{sign}{mins} min"


# The one place that says how each status looks: a tone class of static/css/app.css.
TONES = {
    Status.investigating: "bad", Status.identified: "warn", Status.recovering: "info",
    Status.monitoring: "accent", Status.resolved: "ok", Status.closed: "muted",
    WorkstreamStatus.planned: "muted", WorkstreamStatus.in_progress: "info", WorkstreamStatus.blocked: "bad",
    WorkstreamStatus.done: "ok", WorkstreamStatus.abandoned: "gone",
    ActionStatus.open: "muted", ActionStatus.in_progress: "info", ActionStatus.done: "ok",
    ActionStatus.wont_do: "gone",
    PostmortemStatus.draft: "muted", PostmortemStatus.in_review: "warn", PostmortemStatus.approved: "info",
    PostmortemStatus.published: "ok",
}


def tone(status) -> str:
    """The tone class a status badge wears (`tone-muted` for anything without one)."""
    return f"tone-{TONES.get(status, 'muted')}"


class DropIndentation(Extension):
    """Drops the indentation of template source lines as templates load. Markup is indented for the
    people who read the templates; sent to browsers it was a tenth of every page (a timeline entry is
    drawn 25 times). Only the template's own text changes: values, Markdown and <pre> content that
    come from variables keep every space, and no template indents literal text inside a <pre>."""

    _indent = re.compile(r"\n[ \t]+")

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        return self._indent.sub("\n", source)


# The small pieces every incident row shows, as filters rather than template macros: a list page
# draws fifty rows of them, and a macro call (or a global function, which goes through the template
# context) costs several times a filter call (issue #19).
def severity_badge(severity) -> Markup:
    value = escape(severity.value)
    return Markup(f'<span class="badge sev sev-{value.lower()}" title="{escape(severity.label)}">{value}</span>')


def status_badge(status, kind: str = "status") -> Markup:
    """An incident's (or, with kind "ai-status" / "ws-status", an action item's or workstream's) status."""
    return Markup(f'<span class="badge {kind} {tone(status)}">{escape(status.label)}</span>')


def when(moment: datetime | None) -> Markup:
    if not moment:
        return Markup('<span class="muted">—</span>')
    return Markup(f'<time datetime="{iso(moment)}">{format_utc(moment)}</time>')


def day(moment: datetime | None) -> Markup:
    """A moment shown as its UTC day, the full time on hover: for dense tables."""
    if not moment:
        return Markup('<span class="muted">—</span>')
    return Markup(f'<time datetime="{iso(moment)}" title="{format_utc(moment)}">{moment.date().isoformat()}</time>')


def person(user) -> Markup:
    if not user:
        return Markup('<span class="unassigned">unassigned</span>')
    return escape(user.display)


@functools.lru_cache(maxsize=8192)
def _built_url(app_id: int, script_root: str, endpoint: str, values: tuple) -> str:
    return url_for(endpoint, **dict(values))


def row_url(endpoint: str, **values) -> str:
    """url_for for the links of list rows, remembered: building a URL costs about as much as drawing
    the rest of a row, and a list of fifty draws a hundred of them (issue #19). A URL depends only on
    the app's routes, the path the app is mounted at and the values, which are the key."""
    return _built_url(id(current_app._get_current_object()), request.script_root, endpoint,
                      tuple(sorted(values.items())))


def register(app: Flask) -> None:
    app.jinja_env.add_extension(DropIndentation)
    app.jinja_env.filters["markdown"] = render_markdown
    app.jinja_env.filters["utc"] = format_utc
    app.jinja_env.filters["iso"] = iso
    app.jinja_env.filters["tone"] = tone
    app.jinja_env.globals["duration"] = duration
    app.jinja_env.globals["row_url"] = row_url
    app.jinja_env.filters.update(severity_badge=severity_badge, status_badge=status_badge, when=when,
                                 day=day, person=person)
    app.jinja_env.globals["Role"] = Role
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
