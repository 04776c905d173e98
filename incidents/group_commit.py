"""Group commit: small writes that arrive together are written together, in one transaction.

Used by backup heartbeats (incidents/systems) and the API's timeline posts (incidents/api). A
backup heartbeat is a few rows; what it costs is the statements' round trips and the commit's
disk flush (~2.5 ms on the development machine, for SQLite's `synchronous=FULL` and PostgreSQL's
WAL alike). When a large estate's cron jobs report in the same minute, an app server's requests
would each pay both, one after another (SQLite has one writer at a time). Instead, the first
request to find no write in progress becomes the leader: it writes the items of every request
waiting at that moment (its own included) in one call of `write` (a few statements for all of
them), commits once, and wakes them; requests arriving meanwhile wait for the next leader. Nobody
answers before its rows are committed, so an answer still means "stored"; when the write or the
commit fails, every request of that batch gets NotCommitted (and answers 503: retry).

Per app server process (gunicorn workers each have their own). `write` runs in the leader's
thread with the leader's session (or, for a writer with its own transaction, none), so items must
be plain values.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy.orm import Session

log = logging.getLogger(__name__)
MAX_BATCH = 200  # bounds one transaction, which on SQLite holds the write lock other writers wait for


class NotCommitted(Exception):
    """The batch this item was in could not be written and committed: nothing of it was stored."""


class _Slot:
    __slots__ = ("item", "result", "failed", "done")

    def __init__(self, item: Any):
        self.item, self.result, self.failed, self.done = item, None, False, False


class GroupCommit:
    def __init__(self, write: Callable[[Session, Sequence[Any]], Sequence[Any]] | None = None, *,
                 write_and_commit: Callable[[Sequence[Any]], Sequence[Any]] | None = None):
        """`write(session, items)` stores the items and returns one result per item, in order;
        it does not commit. Or `write_and_commit(items)`: the same in a transaction of its own,
        committed before it returns (and undone when it raises)."""
        if (write is None) == (write_and_commit is None):
            raise TypeError("give write or write_and_commit")
        self._write, self._write_and_commit = write, write_and_commit
        self._changed = threading.Condition()
        self._waiting: list[_Slot] = []
        self._writing = False

    def run(self, item: Any, *, session: Session | None = None) -> Any:
        """Store `item` with whatever is waiting beside it; its result once committed, or
        NotCommitted."""
        slot = _Slot(item)
        with self._changed:
            self._waiting.append(slot)
        while True:
            with self._changed:
                while self._writing and not slot.done:
                    self._changed.wait()
                if slot.done:
                    if slot.failed:
                        raise NotCommitted("not stored: the batch failed (see the log)")
                    return slot.result
                self._writing = True
                batch, self._waiting = self._waiting[:MAX_BATCH], self._waiting[MAX_BATCH:]
            try:
                self._commit(batch, session)
            finally:
                with self._changed:
                    self._writing = False
                    self._changed.notify_all()

    def _commit(self, batch: list[_Slot], session: Session | None) -> None:
        committed, results = False, ()
        items = [slot.item for slot in batch]
        try:
            if self._write_and_commit is not None:
                results = self._write_and_commit(items)
            else:
                results = self._write(session, items)
                session.commit()
            committed = True
        except Exception:
            log.exception("a group commit of %d items failed; none was stored", len(batch))
            if self._write is not None:  # a write_and_commit undoes its own transaction
                session.rollback()
        finally:
            for n, slot in enumerate(batch):
                slot.failed = not committed
                slot.result = results[n] if committed else None
                slot.done = True
