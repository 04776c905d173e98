"""Periodic work in the worker: each `@periodic` function runs once a period, in one worker.

Every worker runs a scheduler thread. When a period begins (periods are counted from the Unix
epoch, so all workers agree on them), each worker tries to claim that period in the function's
`periodic_run` row, with a conditional UPDATE only one of them can win: whatever the queue (Redis
or SQLite), and however many workers and machines share the database. The winner runs the function
in a thread of its own, in an app context, and commits its transaction together with the end of
its claim. So:

- a period runs at most once, and at most one run of a function goes at a time: a period that
  begins while the previous run still goes starts when that run ends (missed periods are not made
  up), and the other functions are not held up;
- a run holds a lease of JOBS_STALE_SECONDS, renewed by its worker's scheduler thread: a worker
  that dies mid-run frees the function when the lease ends. A run that outlives its lease (its
  worker froze and another took over) commits nothing: its transaction is rolled back;
- an exception is logged and kept in the row's `error`, and the next period runs as usual.

Periodic functions should take seconds: long work is a job they enqueue. Huey's own periodic
tasks are not used: they tick once a minute, and every consumer of a queue would enqueue its own.
"""
from __future__ import annotations

import logging
import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from flask import Flask
from sqlalchemy import insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from incidents.db import db, utcnow
from incidents.jobs import registry
from incidents.jobs.models import PeriodicRun
from incidents.jobs.registry import PeriodicKind

log = logging.getLogger(__name__)

# However far the next period is, the scheduler looks again this often (seconds): it also renews
# leases and retries a claim that waited for an earlier run.
MAX_WAIT = 1.0
STOP_WAIT = 15.0  # a round may wait for SQLite's write lock (busy_timeout, 10 s)


@dataclass(frozen=True)
class Claim:
    """This worker's run of `name` for the period beginning at `period_start`."""

    name: str
    period_start: datetime
    token: str


def kinds_named(names: Iterable[str] | None) -> list[PeriodicKind]:
    """The periodic functions called `names` (all of them for None); LookupError for an unknown one."""
    if names is None:
        return [registry.PERIODIC[name] for name in sorted(registry.PERIODIC)]
    unknown = sorted(set(names) - set(registry.PERIODIC))
    if unknown:
        raise LookupError(f"no periodic function {', '.join(map(repr, unknown))}: define it with @periodic in "
                          f"incidents/<feature>/jobs.py (known: {', '.join(sorted(registry.PERIODIC)) or 'none'})")
    return [registry.PERIODIC[name] for name in dict.fromkeys(names)]


def period_start(now: float, every: float) -> datetime:
    """The start of the period of `every` seconds that the Unix time `now` falls in."""
    return datetime.fromtimestamp(math.floor(now / every) * every, UTC)


class PeriodicScheduler:
    """The worker's thread that claims due periods and runs their functions."""

    def __init__(self, app: Flask, kinds: list[PeriodicKind]):
        self.app = app
        self.kinds = kinds
        self.every = {kind.name: kind.seconds(app.config) for kind in kinds}
        self.lease = float(app.config["JOBS_STALE_SECONDS"])
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._claimed_up_to: dict[str, datetime] = {}  # the latest period known to be taken, per name
        self._runs: dict[str, tuple[threading.Thread, Claim]] = {}
        self._next_renewal = 0.0

    def start(self) -> None:
        """Start claiming and running (nothing to do without periodic functions)."""
        if self.kinds and self._thread is None:
            log.info("periodic work: %s", ", ".join(f"{name} every {every:g} s" for name, every in self.every.items()))
            self._thread = threading.Thread(target=self._loop, name="Periodic", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Claim nothing more; runs going on are left to finish (see join)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(STOP_WAIT)

    def join(self, timeout: float | None) -> bool:
        """Wait up to `timeout` seconds for the runs going on; True when none is left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for thread, _claim in list(self._runs.values()):
            thread.join(None if deadline is None else max(deadline - time.monotonic(), 0))
        return not any(thread.is_alive() for thread, _claim in self._runs.values())

    def _loop(self) -> None:
        with self.app.app_context():
            while not self._stop.is_set():
                try:
                    self._round(time.time())
                except Exception:  # noqa: BLE001 - the database may be away: keep the thread, try again
                    log.exception("periodic work: a round of the scheduler failed; trying again")
                self._stop.wait(self._wait(time.time()))

    def _wait(self, now: float) -> float:
        """Seconds until the next period of any function begins (at most MAX_WAIT or a renewal)."""
        nexts = [(math.floor(now / every) + 1) * every - now for every in self.every.values()]
        return max(min(MAX_WAIT, self.lease / 4, *nexts), 0.005)

    def _round(self, now: float) -> None:
        for name, (thread, _claim) in list(self._runs.items()):
            if not thread.is_alive():
                del self._runs[name]
        if self._runs and time.monotonic() >= self._next_renewal:
            self._next_renewal = time.monotonic() + self.lease / 4
            for _thread, claim in self._runs.values():
                self._renew(claim)
        for kind in self.kinds:
            start = period_start(now, self.every[kind.name])
            taken = self._claimed_up_to.get(kind.name)
            if self._stop.is_set() or kind.name in self._runs or (taken is not None and taken >= start):
                continue
            try:
                claim = self._claim(kind.name, start)
            except Exception:  # noqa: BLE001 - one function's trouble holds up no other
                log.exception("periodic %s: could not claim its period; trying again", kind.name)
                continue
            if claim is not None:
                self._claimed_up_to[kind.name] = start
                thread = threading.Thread(target=self._run, args=(kind, claim), name=f"periodic {kind.name}",
                                          daemon=True)
                self._runs[kind.name] = (thread, claim)
                thread.start()

    def _claim(self, name: str, start: datetime) -> Claim | None:
        """Take the period beginning at `start` for this worker, unless another has it or still runs."""
        now, token = utcnow(), secrets.token_hex(16)
        statement = (update(PeriodicRun)
                     .where(PeriodicRun.name == name,
                            or_(PeriodicRun.period_start.is_(None), PeriodicRun.period_start < start),
                            or_(PeriodicRun.lease_until.is_(None), PeriodicRun.lease_until < now))
                     .values(period_start=start, lease_until=now + timedelta(seconds=self.lease),
                             lease_token=token, holder=_holder(), started_at=now))
        for _ in range(2):
            with db.engine.begin() as conn:
                if conn.execute(statement).rowcount == 1:
                    return Claim(name=name, period_start=start, token=token)
                row = conn.execute(select(PeriodicRun.period_start).where(PeriodicRun.name == name)).first()
            if row is None:  # a function new to this database
                _add_row(name)
                continue
            if row.period_start is not None and row.period_start >= start:
                self._claimed_up_to[name] = row.period_start  # another worker has this period
            # Otherwise an earlier period's run still holds the lease: ask again next round.
            return None
        return None

    def _renew(self, claim: Claim) -> None:
        try:
            with db.engine.begin() as conn:
                held = conn.execute(update(PeriodicRun)
                                    .where(PeriodicRun.name == claim.name, PeriodicRun.lease_token == claim.token)
                                    .values(lease_until=utcnow() + timedelta(seconds=self.lease))).rowcount == 1
        except Exception:  # noqa: BLE001 - the lease is long enough for a few misses
            log.warning("periodic %s: could not renew its lease; trying again", claim.name, exc_info=True)
            return
        if not held:
            log.warning("periodic %s: its lease ran out and another worker took it over; this run's "
                        "transaction will be rolled back", claim.name)

    def _run(self, kind: PeriodicKind, claim: Claim) -> None:
        """Call the function in an app context of its own; record how it ended with its transaction."""
        with self.app.app_context():
            try:
                kind.func()
                db.session.flush()  # its writes fail here, as its own error, not in the bookkeeping
            except Exception as error:  # noqa: BLE001 - logged and recorded; the next period runs as usual
                db.session.rollback()
                log.exception("periodic %s failed (the period from %s)", kind.name, claim.period_start.isoformat())
                _release(claim, error=f"{type(error).__name__}: {error}"[:2000])
            else:
                _release(claim, error=None)
            finally:
                db.session.remove()


def _release(claim: Claim, *, error: str | None) -> None:
    """End the claim in the session's transaction and commit it; roll back if the lease was lost."""
    try:
        held = db.session.execute(
            update(PeriodicRun).where(PeriodicRun.name == claim.name, PeriodicRun.lease_token == claim.token)
            .values(lease_until=None, lease_token=None, finished_at=utcnow(), error=error)
            .execution_options(synchronize_session=False)).rowcount == 1
        if held:
            db.session.commit()
            return
        db.session.rollback()
        log.warning("periodic %s: its lease ran out before the run ended and another worker took it over: "
                    "this run's writes were rolled back", claim.name)
    except Exception:  # noqa: BLE001 - the lease then ends by itself
        db.session.rollback()
        log.exception("periodic %s: could not record the end of its run; its lease ends by itself", claim.name)


def _add_row(name: str) -> None:
    try:
        with db.engine.begin() as conn:
            conn.execute(insert(PeriodicRun).values(name=name))
    except IntegrityError:
        pass  # another worker added it meanwhile


def _holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:200]
