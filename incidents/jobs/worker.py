"""The worker: Huey's consumer over the app's queue, with threads that run jobs in app contexts,
and a thread that runs the periodic functions (scheduler.py)."""
from __future__ import annotations

import threading
from collections.abc import Iterable
from urllib.parse import urlsplit

from flask import Flask
from huey.consumer import Consumer

from incidents.jobs.queue import queue_of
from incidents.jobs.scheduler import PeriodicScheduler, kinds_named

# An idle worker asks the SQLite queue at most this often (seconds); Redis wakes it at once.
MAX_POLL_SECONDS = 1.0


class JobConsumer(Consumer):
    """Huey's consumer, with our periodic scheduler; it may also be started from a thread other
    than the main one (tests)."""

    periodic_work: PeriodicScheduler | None = None

    def start(self) -> None:
        super().start()
        if self.periodic_work is not None:
            self.periodic_work.start()

    def stop(self, graceful: bool = False) -> None:
        # Claim no new period, let the jobs finish (or be put back), then give periodic runs
        # what is left of the shutdown timeout; a run cut short is rolled back and its lease expires.
        if self.periodic_work is not None:
            self.periodic_work.stop()
        super().stop(graceful=graceful)
        if self.periodic_work is not None:
            self.periodic_work.join(self.shutdown_timeout if graceful else 0)

    def _set_signal_handlers(self) -> None:
        # Only the main thread may install signal handlers; a consumer in another thread is
        # stopped by whoever started it (consumer.stop()).
        if threading.current_thread() is threading.main_thread():
            super()._set_signal_handlers()


def make_consumer(app: Flask, *, workers: int = 2, shutdown_timeout: float | None = 10.0,
                  poll_seconds: float = MAX_POLL_SECONDS, periodic: Iterable[str] | None = None) -> JobConsumer:
    """A consumer running `workers` jobs at once; on Ctrl+C it waits `shutdown_timeout` s for them.

    It also runs the periodic functions named in `periodic` (all of them for None).
    """
    queue = queue_of(app)
    if queue.huey.immediate:
        raise RuntimeError("JOBS_IMMEDIATE is set: jobs run inline when they are enqueued, "
                           "and no worker is needed (or possible)")
    if not float(app.config["JOBS_STALE_SECONDS"]) > 0:
        raise ValueError(f"JOBS_STALE_SECONDS={app.config['JOBS_STALE_SECONDS']}: it must be over 0 seconds")
    # Threads, not processes: each job opens its own app context and database session, and a
    # stopped worker's interrupted jobs are put back on the queue (see queue.py). Huey's periodic
    # tasks stay off: scheduler.py runs ours, once per period among all workers.
    consumer = JobConsumer(queue.huey, workers=workers, periodic=False, worker_type="thread",
                           initial_delay=min(0.1, poll_seconds), max_delay=poll_seconds,
                           shutdown_timeout=shutdown_timeout)
    consumer.periodic_work = PeriodicScheduler(app, kinds_named(periodic))
    return consumer


def describe(app: Flask) -> str:
    """Where the worker takes jobs from, for its start-up line (no passwords)."""
    config = app.config
    if config["REDIS_URL"]:
        where = urlsplit(config["REDIS_URL"])
        return f"Redis at {where.hostname or 'localhost'}:{where.port or 6379}, queue {config['JOBS_QUEUE_NAME']!r}"
    return f"SQLite queue {config['JOBS_SQLITE_PATH']}"
