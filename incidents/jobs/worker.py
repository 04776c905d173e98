"""The worker: Huey's consumer over the app's queue, with threads that run jobs in app contexts."""
from __future__ import annotations

import threading
from urllib.parse import urlsplit

from flask import Flask
from huey.consumer import Consumer

from incidents.jobs.queue import queue_of

# An idle worker asks the SQLite queue at most this often (seconds); Redis wakes it at once.
MAX_POLL_SECONDS = 1.0


class JobConsumer(Consumer):
    """Huey's consumer, which may also be started from a thread other than the main one (tests)."""

    def _set_signal_handlers(self) -> None:
        # Only the main thread may install signal handlers; a consumer in another thread is
        # stopped by whoever started it (consumer.stop()).
        if threading.current_thread() is threading.main_thread():
            super()._set_signal_handlers()


def make_consumer(app: Flask, *, workers: int = 2, shutdown_timeout: float | None = 10.0,
                  poll_seconds: float = MAX_POLL_SECONDS) -> JobConsumer:
    """A consumer running `workers` jobs at once; on Ctrl+C it waits `shutdown_timeout` s for them."""
    queue = queue_of(app)
    if queue.huey.immediate:
        raise RuntimeError("JOBS_IMMEDIATE is set: jobs run inline when they are enqueued, "
                           "and no worker is needed (or possible)")
    # Threads, not processes: each job opens its own app context and database session, and a
    # stopped worker's interrupted jobs are put back on the queue (see queue.py).
    return JobConsumer(queue.huey, workers=workers, periodic=False, worker_type="thread",
                       initial_delay=min(0.1, poll_seconds), max_delay=poll_seconds,
                       shutdown_timeout=shutdown_timeout)


def describe(app: Flask) -> str:
    """Where the worker takes jobs from, for its start-up line (no passwords)."""
    config = app.config
    if config["REDIS_URL"]:
        where = urlsplit(config["REDIS_URL"])
        return f"Redis at {where.hostname or 'localhost'}:{where.port or 6379}, queue {config['JOBS_QUEUE_NAME']!r}"
    return f"SQLite queue {config['JOBS_SQLITE_PATH']}"
