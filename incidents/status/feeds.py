"""Public status site: the incident history as Atom (`/history.atom`) and RSS 2.0 (`/history.rss`).

Laid out the way Atlassian Statuspage lays out its own `history.atom` / `history.rss`, so readers and
tools written against Statuspage feeds (GitHub's, for instance) read ours unchanged:

* one entry per incident, titled with the incident's name and linked to its public page;
* Atom ids are tag: URIs, `tag:<host>,2005:Incident/<id>`; the RSS guid is the incident's URL;
* published = when the incident was created, updated = its last published change;
* the content is the incident's whole update trail, newest first, each update as
  `<p><small>Oct  2, 07:30 UTC</small><br><strong>Investigating</strong> - body</p>`
  (month abbreviation, day padded with a space to two characters, 24-hour UTC time).

Labels: Statuspage prints the update's status title-cased (Investigating, Identified, Monitoring,
Resolved, Postmortem), except that an update which leaves the status where the previous (older)
update had it is labelled "Update" (the oldest update always shows its status). Published feeds from
Statuspage pages show exactly that: "Update" entries between two updates of the same status.

Scheduled maintenance is an entry like an incident (as on Statuspage), its steps its updates.

The feeds carry recent history only: the 25 newest incidents and maintenances, like Statuspage's. No time window is
applied, so a feed's bytes depend on the published data alone and can be cached on its change time.

Everything comes from `PublicView` (public.py): no model is read here. The XML is written by
xml.etree.ElementTree, never by string concatenation; update bodies are HTML-escaped and stripped
of the characters XML 1.0 cannot carry.
"""
from __future__ import annotations

import html
import re
from datetime import UTC, datetime
from email.utils import format_datetime
from urllib.parse import urlsplit
from xml.etree import ElementTree as ET

from incidents.extensions import db
from incidents.status import public
from incidents.status.blueprint import bp
from incidents.status.http import base_url, public_response

MAX_INCIDENTS = 25
ATOM_NS = "http://www.w3.org/2005/Atom"
ATOM_TYPE = "application/atom+xml"
RSS_TYPE = "application/rss+xml"

# C0 controls other than tab, newline and carriage return, lone surrogates and U+FFFE/U+FFFF are not
# allowed anywhere in an XML 1.0 document, escaped or not.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


# --- Building the documents (pure functions of a PublicView) --------------------------------------

def _utc(moment: datetime) -> datetime:
    """Stored times are UTC; SQLite hands them back without a zone."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _clean(text: str) -> str:
    return _NOT_XML.sub("", text)


def feed_title(page: public.PublicPage) -> str:
    """'<page name> status - Incident history' (without saying 'status' twice when the page's name
    already ends with it, as the default 'Skylark Sync status' does)."""
    name = page.name.strip()
    base = name if name.lower().endswith("status") else f"{name} status"
    return _clean(f"{base} - Incident history")


def update_time(moment: datetime) -> str:
    """Statuspage's 'Oct  2, 07:30 UTC': day space-padded to two characters."""
    moment = _utc(moment)
    return f"{moment:%b} {moment.day:>2}, {moment:%H:%M} UTC"


def update_labels(updates) -> list[str]:
    """Labels for `updates` (newest first): the status title-cased, or "Update" when the status is
    the same as the previous (older) update's."""
    labels = []
    for index, update in enumerate(updates):
        older = updates[index + 1] if index + 1 < len(updates) else None
        same = older is not None and older.status == update.status
        labels.append("Update" if same else update.status.replace("_", " ").title())
    return labels


def incident_html(incident: public.PublicIncident) -> str:
    """The whole update trail, newest first, as the HTML that goes (escaped by the XML writer) into
    the entry's content. Bodies are the updates' sanitised Markdown HTML (an update without it is
    escaped here), so `<script>` never arrives as markup."""
    paragraphs = []
    for update, label in zip(incident.updates, update_labels(incident.updates), strict=True):
        head = f"<p><small>{update_time(update.display_at)}</small><br><strong>{label}</strong> - "
        body = _clean(update.body_html.strip()) or f"<p>{html.escape(_clean(update.body), quote=False)}</p>"
        # Statuspage's layout puts the text in the paragraph of its label: the first paragraph
        # joins it; anything else (a list, a heading, more paragraphs) follows it.
        paragraphs.append(head + body[3:] if body.startswith("<p>") else head.removesuffix(" - ") + "</p>" + body)
    return "".join(paragraphs)


def feed_incidents(view: public.PublicView) -> list:
    """The newest incidents and scheduled maintenances (Statuspage's feeds carry both alike)."""
    ordered = sorted([*view.incidents, *view.scheduled_maintenances], key=lambda i: _utc(i.created_at), reverse=True)
    return ordered[:MAX_INCIDENTS]


def tag_host(view: public.PublicView) -> str:
    return urlsplit(view.page.url).hostname or "localhost"


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs) -> ET.Element:
    element = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _clean(text)
    return element


def _serialize(root: ET.Element) -> bytes:
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def render_atom(view: public.PublicView, *, self_url: str) -> bytes:
    page, host = view.page, tag_host(view)
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xml:lang": "en-US"})
    _sub(feed, "id", f"tag:{host},2005:/history")
    _sub(feed, "link", rel="alternate", type="text/html", href=page.url)
    _sub(feed, "link", rel="self", type=ATOM_TYPE, href=self_url)
    _sub(feed, "title", feed_title(page))
    _sub(feed, "updated", _utc(page.updated_at).isoformat())
    author = _sub(feed, "author")
    _sub(author, "name", page.name)
    for incident in feed_incidents(view):
        entry = _sub(feed, "entry")
        _sub(entry, "id", f"tag:{host},2005:Incident/{incident.id}")
        _sub(entry, "published", _utc(incident.created_at).isoformat())
        _sub(entry, "updated", _utc(incident.updated_at).isoformat())
        _sub(entry, "link", rel="alternate", type="text/html", href=incident.shortlink)
        _sub(entry, "title", incident.name)
        _sub(entry, "content", incident_html(incident), type="html")
    return _serialize(feed)


def render_rss(view: public.PublicView, *, self_url: str) -> bytes:
    page = view.page
    rss = ET.Element("rss", {"version": "2.0", "xmlns:atom": ATOM_NS})
    channel = _sub(rss, "channel")
    _sub(channel, "title", feed_title(page))
    _sub(channel, "link", page.url)
    _sub(channel, "description", feed_title(page))
    _sub(channel, "pubDate", format_datetime(_utc(page.updated_at), usegmt=True))
    _sub(channel, "atom:link", href=self_url, rel="self", type=RSS_TYPE)
    for incident in feed_incidents(view):
        item = _sub(channel, "item")
        _sub(item, "title", incident.name)
        _sub(item, "description", incident_html(incident))
        _sub(item, "pubDate", format_datetime(_utc(incident.created_at), usegmt=True))
        _sub(item, "link", incident.shortlink)
        _sub(item, "guid", incident.shortlink, isPermaLink="true")
    return _serialize(rss)


# --- HTTP ------------------------------------------------------------------------------------------

def _feed(name: str, mimetype: str, renderer):
    """Validators, 304s, Cache-Control, CORS and the per-process render cache all come from
    http.public_response; the key carries the feed's own absolute URL because the body does."""
    base = base_url()
    self_url = f"{base}/{name}"

    def render() -> bytes:
        view = public.build_public_view(session=db.session, base_url=base, listed=MAX_INCIDENTS,
                                        maintenances=MAX_INCIDENTS)
        return renderer(view, self_url=self_url)

    return public_response(key=f"feeds/{self_url}", mimetype=mimetype, render=render)


@bp.get("/history.atom")
def history_atom():
    return _feed("history.atom", ATOM_TYPE, render_atom)


@bp.get("/history.rss")
def history_rss():
    return _feed("history.rss", RSS_TYPE, render_rss)
