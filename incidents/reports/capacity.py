"""At most PDF_MAX_CONCURRENT_RENDERS PDFs made at once per app-server process.

Each PDF holds a server thread and a child process for up to PDF_RENDER_TIMEOUT seconds. Without a
cap, a handful of whole-timeline reports requested together took every thread of a gthread worker,
and `/healthz` and every other page waited behind them. A request that finds every slot taken waits
up to PDF_RENDER_WAIT_SECONDS for one, then gets a 503 page with Retry-After, which frees its thread
at once. The CLI renders are not capped: they run in their own process.
"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app

from incidents.reports.render import RenderError

# A small report takes a few seconds: by then a slot has likely come free.
RETRY_AFTER_SECONDS = 10


class RendersBusy(RenderError):
    """Every render slot of this process stayed taken for the whole wait."""

    retry_after = RETRY_AFTER_SECONDS


def _slots() -> threading.BoundedSemaphore:
    """This app's slots (one set per app object, so tests and several apps never share them)."""
    size = max(1, int(current_app.config["PDF_MAX_CONCURRENT_RENDERS"]))
    return current_app.extensions.setdefault("pdf_render_slots", threading.BoundedSemaphore(size))


@contextmanager
def render_slot() -> Iterator[None]:
    """Hold one of the process's render slots for the duration of the block; RendersBusy when
    none comes free within PDF_RENDER_WAIT_SECONDS."""
    slots = _slots()
    if not slots.acquire(timeout=max(0.0, float(current_app.config["PDF_RENDER_WAIT_SECONDS"]))):
        raise RendersBusy(f"Other PDFs are being made right now (at most "
                          f"{current_app.config['PDF_MAX_CONCURRENT_RENDERS']} at once).")
    try:
        yield
    finally:
        slots.release()
