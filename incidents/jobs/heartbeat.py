"""A running job's heartbeat: proof, written to its row, that its worker is still alive.

A thread beside each running job writes `heartbeat_at` every quarter of JOBS_STALE_SECONDS,
whatever the job's own code is doing (progress() writes it too). A worker killed with SIGKILL, or
a machine that lost power, stops beating; sweeper.py then puts the job back on the queue.

Each beat is fenced like every other write of the run (the job running, as this attempt), so a beat
from a run that lost its job changes nothing, and the thread stops at the first such refusal.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flask import Flask
from sqlalchemy import update
from sqlalchemy.exc import DBAPIError

from incidents.db import db, utcnow
from incidents.jobs.models import BackgroundJob

if TYPE_CHECKING:
    from incidents.jobs.runner import Run

log = logging.getLogger(__name__)


def interval(config: Mapping[str, Any]) -> float:
    """Seconds between beats: four chances to beat before a job counts as lost."""
    return float(config["JOBS_STALE_SECONDS"]) / 4


@contextmanager
def beating(app: Flask, run: Run) -> Iterator[None]:
    """Beat for `run` in a thread of its own while the block runs."""
    stop = threading.Event()
    thread = threading.Thread(target=_beat, args=(app, run, stop), name=f"heartbeat {run.public_id}",
                              daemon=True)
    thread.start()
    try:
        yield
    finally:
        # Not joined: a beat may be waiting for SQLite's write lock, and a late one is refused anyway.
        stop.set()


def _beat(app: Flask, run: Run, stop: threading.Event) -> None:
    with app.app_context():
        every = interval(app.config)
        while not stop.wait(every):
            try:
                with db.engine.begin() as conn:
                    alive = conn.execute(update(BackgroundJob).where(*run.fence())
                                         .values(heartbeat_at=utcnow())).rowcount == 1
            except DBAPIError as error:
                # The database is away, or (SQLite) the job's own transaction holds the write lock;
                # the sweeper cannot write either until it is free. Try again at the next beat.
                log.info("job %s: heartbeat not written (%s); trying again in %g s", run.public_id,
                         type(error.orig).__name__, every)
                continue
            except Exception:  # noqa: BLE001 - a thread that died would let a live job look lost
                log.exception("job %s: heartbeat not written; trying again in %g s", run.public_id, every)
                continue
            if not alive:  # cancelled, finished, or handed to a newer attempt: nothing to keep alive
                return
