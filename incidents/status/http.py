"""HTTP for the public status site: validators, conditional requests, caching and CORS.

Every public response is a pure function of what has been published, so its validators come from
`last_published_change` (one cheap query) and its body is rendered at most once per published
change per process. Polling clients get 304s; everyone else gets the cached bytes.

Changes are stamped to the microsecond but HTTP dates have whole seconds, so Last-Modified cannot
name a change exactly; see `http_last_modified` for how two publishes within one second still
reach a poller that sends only If-Modified-Since.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Response, current_app, request
from werkzeug.http import http_date, parse_accept_header, quote_etag
from werkzeug.utils import get_content_type
from werkzeug.wsgi import get_current_url

from incidents.extensions import db
from incidents.memo import RenderCache, remembered
from incidents.memo import render_cache as shared_render_cache
from incidents.status import public

MAX_AGE = 60
CACHE_SIZE = 256  # rendered bodies kept per process; stale keys fall out as changes are published
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# A change is stamped when its transaction starts its work and becomes visible when it commits; a
# second after its stamp's second plus this much, every change of that second is assumed committed.
SETTLE = timedelta(seconds=2)


def render_cache() -> RenderCache:
    """This app's cache (one per app object, so tests and multiple apps never share bodies)."""
    return shared_render_cache("status_render_cache", CACHE_SIZE)


def last_change() -> datetime:
    """The latest published change as an aware UTC time (the epoch when nothing is published)."""
    return checked_change()[0]


def checked_change() -> tuple[datetime, datetime]:
    """The latest published change, and the wall-clock time at which the database said so.

    Polling clients hit this on every request, so the answer is reused for up to
    STATUS_CHANGE_CHECK_SECONDS (default 1 s; well inside the 60 s clients may cache anyway): a
    publish shows on the public site within a second, and the database sees one query a second
    per app server however hard the site is polled.
    """
    return remembered("status_last_change", None, current_app.config.get("STATUS_CHANGE_CHECK_SECONDS", 1.0),
                      lambda: (_query_last_change(), datetime.now(UTC)))


def _query_last_change() -> datetime:
    moment = public.last_published_change(session=db.session)
    if moment is None:
        return EPOCH
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def base_url() -> str:
    """The absolute URL of the public site's root, honouring the configured prefix."""
    environ = request.environ
    return _base_url(environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST"), environ.get("SERVER_NAME"),
                     environ.get("SERVER_PORT"), environ.get("SCRIPT_NAME", ""), current_app.config["STATUS_PREFIX"])


@functools.lru_cache(maxsize=64)
def _base_url(scheme: str, http_host: str | None, server_name: str | None, server_port: str | None,
              script_name: str, prefix: str) -> str:
    # Remembered per (scheme, host, mount point): werkzeug builds it from the environ in the same
    # way on every request, and every public request asks for it.
    environ = {"wsgi.url_scheme": scheme, "SERVER_NAME": server_name or "", "SERVER_PORT": server_port or "",
               "SCRIPT_NAME": script_name}
    if http_host is not None:
        environ["HTTP_HOST"] = http_host
    return get_current_url(environ, root_only=True).rstrip("/") + prefix.rstrip("/")


def etag_for(key: str, moment: datetime, *, site: str | None = None) -> str:
    """The strong validator of `key` as published up to `moment`, served at `site` (the public
    site's base URL; this request's when not given)."""
    return _etag(key, moment, current_app.config["STATUS_PREFIX"], site or base_url())


@functools.lru_cache(maxsize=1024)
def _etag(key: str, moment: datetime, prefix: str, site: str) -> str:
    # Remembered: every poll of an unchanged document asks for the same tag.
    material = "\x1f".join([key, moment.isoformat(), prefix, site])
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]


def http_last_modified(moment: datetime, *, checked_at: datetime) -> datetime:
    """The Last-Modified date (whole seconds) for what was published up to `moment`, as known at
    `checked_at`.

    Rounded down, a second publish in the same second would keep the date, and a poller sending it
    back in If-Modified-Since would get 304 until the next change. Rounded up, the date promises
    "nothing changed before it" — true only once that second is over and settled, so until then the
    date stays rounded down, which `unchanged_since` never answers with 304 (the change is after it).
    """
    floor = moment.replace(microsecond=0)
    if floor == moment:
        return moment
    ceiling = floor + timedelta(seconds=1)
    return ceiling if checked_at >= ceiling + SETTLE else floor


def unchanged_since(*, tag: str, moment: datetime) -> bool:
    """Whether a conditional GET/HEAD may get a 304 (RFC 9110 section 13.2.2).

    If-None-Match, when sent, decides alone. Otherwise If-Modified-Since counts when no change
    happened after it, compared with the exact moment (not the rounded date); a date later than
    the server's clock is invalid and ignored.
    """
    if request.if_none_match:
        return request.if_none_match.contains_weak(tag)
    since = request.if_modified_since
    return since is not None and since <= datetime.now(UTC) and moment <= since


def content_type(mimetype: str) -> str:
    """The full Content-Type: JSON and XML feeds always say they are UTF-8."""
    if ";" in mimetype:
        return mimetype
    if mimetype == "application/json":
        return "application/json; charset=utf-8"
    return get_content_type(mimetype, "utf-8")


@functools.lru_cache(maxsize=32)
def _public_header_pairs(mimetype: str) -> tuple[tuple[str, str], ...]:
    pairs = [("Cache-Control", f"public, max-age={MAX_AGE}"), ("Access-Control-Allow-Origin", "*"),
             ("X-Content-Type-Options", "nosniff"), ("Vary", "Accept-Encoding")]
    if mimetype != "text/html":
        pairs.append(("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"))
    return tuple(pairs)


def _encoded(body: str | bytes) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


# Bodies at least this long are also kept gzipped for clients that accept it: the page with 50
# components is ~240 kB of HTML (~25 kB gzipped), and writing it was most of what serving it cost.
GZIP_AT_LEAST = 1400


def wants_gzip() -> bool:
    return _accepts_gzip(request.headers.get("Accept-Encoding", ""))


@functools.lru_cache(maxsize=64)
def _accepts_gzip(accept_encoding: str) -> bool:
    # Remembered per header value: clients send one of a handful, and parsing it is not free.
    return "gzip" in parse_accept_header(accept_encoding)


def public_response(*, key: str, mimetype: str, render: Callable[[], str | bytes],
                    status: int = 200) -> Response:
    """A cacheable public response for `key` (e.g. "api/summary.json").

    `render` runs only when this process has no body for (key, latest published change);
    conditional GET/HEAD requests that match the ETag or Last-Modified get a bodiless 304. A client
    that accepts gzip gets the body gzipped (compressed once per change, then cached), under its own
    ETag, as each encoding is its own representation (RFC 9110 section 8.8.3).
    """
    moment, checked_at = checked_change()
    site = base_url()
    accepts_gzip = wants_gzip()
    # The tag names the representation a gzip-accepting client gets (compressed when long enough).
    tag = etag_for(key, moment, site=site) + ("-gz" if accepts_gzip else "")
    last_modified = http_last_modified(moment, checked_at=checked_at)
    if status == 200 and unchanged_since(tag=tag, moment=moment):
        response = current_app.response_class(
            status=304, headers=_validator_pairs(tag, last_modified) + _public_header_pairs(mimetype))
        response.headers.pop("Content-Type", None)  # the response class adds one; a 304 has no body
        return response
    # The body holds absolute URLs, so the host it is served on is part of its identity.
    cache_key = (key, moment, site)
    cache = render_cache()
    body = cache.get_or_render(cache_key, lambda: _encoded(render()))
    headers = [("Content-Type", content_type(mimetype)), *_validator_pairs(tag, last_modified),
               *_public_header_pairs(mimetype)]
    if accepts_gzip and len(body) >= GZIP_AT_LEAST:
        # The same bytes for every request of this change: mtime 0 keeps the encoding deterministic.
        body = cache.get_or_render((*cache_key, "gzip"), lambda: gzip.compress(body, 6, mtime=0))
        headers.append(("Content-Encoding", "gzip"))
    return current_app.response_class(body, status=status, headers=headers)


@functools.lru_cache(maxsize=256)
def _validator_pairs(tag: str, last_modified: datetime) -> tuple[tuple[str, str], ...]:
    return (("ETag", quote_etag(tag)), ("Last-Modified", http_date(last_modified)))
