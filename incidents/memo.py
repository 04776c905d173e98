"""What each app process keeps in memory for the requests asked again and again. Kept per app (an
app per database: tests make many in one process) and bounded.

- `remembered`: answers kept for a moment (the public site's latest change, an incident's state, a
  sign-in check), so the database is asked at most once every few seconds per process, however
  many pages or pollers ask.
- `RenderCache`: rendered bodies by a key that holds everything they depend on (the public site's
  responses, the incident page), so a change makes a new key and nothing needs invalidating.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app

T = TypeVar("T")
KEPT_AT_MOST = 10_000  # answers per store; a full store starts again empty
_lock = threading.Lock()


def _store(name: str) -> dict:
    return current_app.extensions.setdefault(name, {})


def remembered(store: str, key: Hashable, seconds: float, compute: Callable[[], T]) -> T:
    """`compute()`'s answer for `key`, asked again once it is `seconds` old (0: every time)."""
    answers = _store(store)
    now = time.monotonic()
    hit = answers.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    answer = compute()
    with _lock:
        if len(answers) >= KEPT_AT_MOST:
            answers.clear()
        answers[key] = (now + seconds, answer)
    return answer


def forget(store: str, key: Hashable) -> None:
    """Ask again next time (an answer known to be stale)."""
    with _lock:
        _store(store).pop(key, None)


class RenderCache:
    """A small thread-safe LRU of rendered bodies. When several requests miss the same key at once
    (a change lands, every open page asks), the first renders and the others wait for its body
    instead of rendering the same thing beside it."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[Hashable, T] = OrderedDict()
        self._lock = threading.Lock()
        self._rendering = [threading.Lock() for _ in range(64)]  # one render per key at a time

    def get_or_render(self, key: Hashable, render: Callable[[], T]) -> T:
        body = self._get(key)
        if body is None:
            with self._rendering[hash(key) % len(self._rendering)]:
                body = self._get(key)  # rendered by the request this one waited for
                if body is None:
                    body = render()
                    self._keep(key, body)
        return body

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _get(self, key: Hashable):
        with self._lock:
            body = self._items.get(key)
            if body is not None:
                self._items.move_to_end(key)
            return body

    def _keep(self, key: Hashable, body) -> None:
        with self._lock:
            self._items[key] = body
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def render_cache(name: str, size: int) -> RenderCache:
    """This app's render cache called `name` (made once: every public request asks for it)."""
    cache = current_app.extensions.get(name)
    if cache is None:
        with _lock:
            cache = current_app.extensions.setdefault(name, RenderCache(size))
    return cache
