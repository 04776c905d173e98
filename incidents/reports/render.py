"""HTML to PDF with WeasyPrint, safely: no file system, no network, and a time limit.

User Markdown reaches the HTML we render, and WeasyPrint on its own reads `file://` URLs and makes
network requests for images, stylesheets, fonts and attachments. So:

- `SafeFetcher` (a `weasyprint.urls.URLFetcher`, as WeasyPrint 70 requires) serves only the app's
  own static assets, addressed under `ASSET_ORIGIN`, and `data:` URLs; it refuses everything else
  without opening anything. The documents' base URL is that origin, never a file system path.
- `render_pdf` runs WeasyPrint in a child process (forked from a forkserver that has WeasyPrint
  preloaded) and kills it after `timeout` seconds, so a hostile document cannot hang a worker
  thread of the gthread server (where `signal.alarm` is no use).

As with any multiprocessing start method but fork, a script that calls `render_pdf` must keep its
top-level code under `if __name__ == "__main__":` (gunicorn, the flask CLI and pytest do).
"""
from __future__ import annotations

import base64
import logging
import multiprocessing
import resource
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, unquote_to_bytes, urlsplit

# WeasyPrint reports every layout step at INFO (from its import on); only its warnings matter here.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

from weasyprint import HTML  # noqa: E402
from weasyprint.urls import URLFetcher, URLFetcherResponse  # noqa: E402

log = logging.getLogger(__name__)

# A host name that can never resolve (RFC 2606): relative links in a document resolve under it,
# and only its /static/ paths are served, from the app's static folder.
ASSET_ORIGIN = "https://assets.invalid/"
STATIC_PREFIX = "/static/"
DEFAULT_TIMEOUT = 90.0
MAX_ASSET_BYTES = 5 * 1024 * 1024
MAX_DATA_URL_BYTES = 2 * 1024 * 1024
CONTENT_TYPES = {".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png",
                 ".woff2": "font/woff2", ".woff": "font/woff", ".ttf": "font/ttf"}


class RenderError(Exception):
    """The document could not be made; the message says why, in words for the person asking."""


class RenderTimeout(RenderError):
    pass


class RefusedURL(ValueError):
    """A URL the renderer will not fetch (WeasyPrint logs it and carries on without it)."""


class SafeFetcher(URLFetcher):
    """Serves the app's static files and `data:` URLs; refuses every other URL unopened."""

    def __init__(self, static_folder: str | Path, **kwargs):
        # No handlers are used (fetch never calls the opener), but the base class sets the
        # attributes WeasyPrint reads (e.g. whether errors are fatal).
        super().__init__(timeout=1, allowed_protocols=("data", "https"), allow_redirects=False, **kwargs)
        self.static_folder = Path(static_folder).resolve()
        self.refused: list[str] = []

    def fetch(self, url, headers=None):
        if url.startswith("data:"):
            return self._data(url)
        parts = urlsplit(url)
        origin = urlsplit(ASSET_ORIGIN)
        if (parts.scheme, parts.netloc) == (origin.scheme, origin.netloc) and parts.path.startswith(STATIC_PREFIX):
            return self._static(url, unquote(parts.path[len(STATIC_PREFIX):]))
        self.refused.append(url[:200])
        raise RefusedURL(f"refused to fetch {url[:200]!r}: documents may only use the app's own assets")

    def _static(self, url: str, relative: str) -> URLFetcherResponse:
        path = (self.static_folder / relative).resolve()
        # resolve() follows symlinks and "..": whatever the path says, it must end up inside.
        if self.static_folder not in path.parents or not path.is_file():
            self.refused.append(url[:200])
            raise RefusedURL(f"no such static asset {relative!r}")
        if path.stat().st_size > MAX_ASSET_BYTES:
            raise RefusedURL(f"static asset {relative!r} is too large")
        content_type = CONTENT_TYPES.get(path.suffix.lower(), "application/octet-stream")
        headers = {"Content-Type": content_type + ("; charset=utf-8" if content_type == "text/css" else "")}
        return URLFetcherResponse(url, path.read_bytes(), headers)

    def _data(self, url: str) -> URLFetcherResponse:
        if len(url) > MAX_DATA_URL_BYTES * 4 // 3 + 200:
            raise RefusedURL("data: URL too large")
        header, _, payload = url[5:].partition(",")
        is_base64 = header.endswith(";base64")
        content_type = (header[:-7] if is_base64 else header) or "text/plain;charset=US-ASCII"
        try:
            body = base64.b64decode(payload, validate=False) if is_base64 else unquote_to_bytes(payload)
        except ValueError as error:
            raise RefusedURL(f"malformed data: URL ({error})") from None
        return URLFetcherResponse(url, body, {"Content-Type": content_type})


@dataclass(frozen=True)
class PdfResult:
    pdf: bytes
    pages: int
    seconds: float
    refused: tuple[str, ...] = ()
    peak_rss_mib: float | None = None  # of the child process that rendered it


def _layout(html: str, static_folder: str, variant: str | None) -> tuple[bytes, int, tuple[str, ...]]:
    """The work itself (in whatever process calls it): parse, lay out, write."""
    fetcher = SafeFetcher(static_folder)
    document = HTML(string=html, base_url=ASSET_ORIGIN, url_fetcher=fetcher).render(pdf_variant=variant)
    pdf = document.write_pdf(pdf_variant=variant)
    return pdf, len(document.pages), tuple(fetcher.refused)


def render_in_process(html: str, *, static_folder: str | Path, variant: str | None = "pdf/ua-1") -> PdfResult:
    """Render here and now, without the time limit (benchmarks and the CLI's own process)."""
    start = time.perf_counter()
    pdf, pages, refused = _layout(html, str(static_folder), variant)
    return PdfResult(pdf, pages, time.perf_counter() - start, refused)


def _child(conn, html: str, static_folder: str, variant: str | None, cpu_seconds: int) -> None:
    """Runs in the child process: render and send back (b"ok", pdf, pages) or (b"error", text)."""
    try:
        # A second guard besides the parent's kill: the kernel stops a runaway loop too.
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))
        pdf, pages, refused = _layout(html, static_folder, variant)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        conn.send(("ok", pdf, pages, refused, peak))
    except BaseException as error:  # noqa: BLE001 - everything goes back to the parent as text
        conn.send(("error", f"{type(error).__name__}: {error}"[:500], 0, (), None))
    finally:
        conn.close()


_context = None


def _mp_context():
    """A forkserver with WeasyPrint preloaded: children start in milliseconds, and are forked from
    a single-threaded process (forking a threaded server process directly is unsafe)."""
    global _context
    if _context is None:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["weasyprint", "incidents.reports.render", "incidents.reports.warmup"])
        _context = ctx
    return _context


def render_pdf(html: str, *, static_folder: str | Path, timeout: float = DEFAULT_TIMEOUT,
               variant: str | None = "pdf/ua-1") -> PdfResult:
    """Render `html` to PDF in a child process; RenderTimeout after `timeout` seconds, RenderError
    when WeasyPrint fails. Resources are fetched only through `SafeFetcher`."""
    ctx = _mp_context()
    receiver, sender = ctx.Pipe(duplex=False)
    start = time.perf_counter()
    process = ctx.Process(target=_child, args=(sender, html, str(static_folder), variant,
                                               int(timeout) + 2), daemon=True)
    try:
        process.start()
    except (OSError, RuntimeError) as error:  # e.g. no processes left, or an unguarded __main__
        log.error("could not start the PDF renderer: %s", error)
        raise RenderError("The PDF renderer could not be started.") from None
    finally:
        sender.close()
    try:
        if not receiver.poll(timeout):
            raise RenderTimeout(f"Making the PDF took longer than {timeout:g} seconds and was stopped.")
        try:
            status, payload, pages, refused, peak = receiver.recv()
        except EOFError:
            raise RenderError("The PDF renderer stopped unexpectedly.") from None
    finally:
        receiver.close()
        if process.is_alive():
            process.kill()
        process.join(5)
    if status != "ok":
        log.warning("PDF rendering failed: %s", payload)
        raise RenderError("The PDF could not be made from this document.")
    if refused:
        log.info("PDF rendering refused %d URL(s), e.g. %s", len(refused), refused[0])
    return PdfResult(payload, pages, time.perf_counter() - start, tuple(refused), peak)


def static_folder_of(app) -> str:
    return str(Path(app.static_folder).resolve())

