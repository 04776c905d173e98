"""The incident page, rendered once per state and viewer and then served from memory.

During a data-loss event dozens of people keep the incident page open and reload it all day, while
what it shows changes a few times a minute at most. Rendering it (nine panels, a timeline page, a
chart) costs tens of milliseconds; so each app server keeps the pages it rendered, by a key that
holds everything a page depends on:

- the incident's page version (live.page_version: every row of the incident the page shows) and
  the newest audit event (every change of a shared row through the ORM is audited: a person's name,
  a component, a contract rule), both read fresh from the database for every full answer;
- the viewer (id and role: what they may do decides which forms are drawn) and the address (query
  string: timeline filters and paging);
- the current minute, since the page says "open for 3 h 12 min" and counts deadlines down.

What differs per response is never cached: the CSRF token and the forms' idempotency keys are drawn
as placeholders and filled in for each answer, every form with a key of its own (two tabs must
never share one). Pages with a message to show (after a post) and pages with a refused form are
rendered as before, never stored. The cache is per process, bounded, and needs no invalidation:
a change makes a new key.

Reading the page's state costs a database round trip, more than answering from memory; so, like
the live check, the page reads it from a memo at most LIVE_MEMO_SECONDS old (1 s): someone else's
change shows a second later at most, as it would had the page been loaded a second earlier. Your
own changes show at once: a browser session that wrote in the last few seconds (`note_writes`) has
the state read fresh. A conditional GET (If-None-Match) of an unchanged page answers 304 before any
rendering, the same way.
"""
from __future__ import annotations

import hashlib
import re
import secrets
import time
from contextlib import contextmanager

from flask import g, request, session
from flask_wtf.csrf import generate_csrf

from incidents.idempotency import new_key
from incidents.memo import RenderCache, render_cache

# Unguessable, alphanumeric (escaping leaves them alone): user text cannot contain them by chance.
CSRF_PLACEHOLDER = "csrf" + secrets.token_hex(16)
KEY_PLACEHOLDER = "idem" + secrets.token_hex(16)
_KEY_RE = re.compile(KEY_PLACEHOLDER)

EXTENSION = "incident_page_cache"  # where in app.extensions
PAGES_KEPT = 200  # about 10 MB at the demo incident's 50 kB


def pages() -> RenderCache:
    """This app's rendered incident pages."""
    return render_cache(EXTENSION, PAGES_KEPT)


def page_key(reference: str, version: str, shared: int, user_id: int, role: str, minute: int) -> tuple:
    return (reference, version, shared, user_id, role, request.query_string, minute)


def etag_of(key: tuple) -> str:
    """The page's entity tag: the key, plus this browser session's CSRF secret (a page is only ever
    revalidated by the session that holds it)."""
    raw = repr((key, session.get("csrf_token")))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


WROTE_AT = "wrote_at"  # in the session: when this browser last changed something
READ_YOUR_WRITES_SECONDS = 5


def note_writes(response):
    """After a successful change by a signed-in browser: remember when, so its next page views
    read the state fresh (after_request hook)."""
    if request.method == "POST" and response.status_code < 400 and session.get("_user_id"):
        session[WROTE_AT] = int(time.time())
    return response


def wrote_lately() -> bool:
    return time.time() - session.get(WROTE_AT, 0) < READ_YOUR_WRITES_SECONDS


def cacheable() -> bool:
    """A plain view of the page: a GET without a message waiting to be shown."""
    return request.method in ("GET", "HEAD") and not session.get("_flashes")


@contextmanager
def drawing_placeholders():
    """Render with placeholders for the per-response values (see `filled`)."""
    g.csrf_token = CSRF_PLACEHOLDER  # what Flask-WTF's generate_csrf() returns for this request
    g.idempotency_placeholder = KEY_PLACEHOLDER
    try:
        yield
    finally:
        g.pop("csrf_token", None)
        g.pop("idempotency_placeholder", None)


def filled(html: str) -> str:
    """The stored page with this response's CSRF token and a fresh idempotency key per form."""
    return _KEY_RE.sub(lambda _match: new_key(), html.replace(CSRF_PLACEHOLDER, generate_csrf()))
