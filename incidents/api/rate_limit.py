"""The per-token rate limit of /api/v1, counted by Flask-Limiter's own rate limiter.

The API has one limit (API_RATE_LIMIT, Flask-Limiter's syntax: "600 per minute", or several joined
by ";") keyed by the token (by address for a request without a working token, so 401s count too).
Flask-Limiter's per-request machinery (resolving every decorated, default and blueprint limit,
exemption scopes, meta limits) cost a third of the API's most asked read to find that one limit, so
the API skips it (a request filter in incidents/extensions.py) and counts here with the strategy
and storage Flask-Limiter set up from RATELIMIT_STORAGE_URI and RATELIMIT_STRATEGY (memory://,
redis://, memcached://): the same counts, the same X-RateLimit-* headers, a 429 with Retry-After.
"""
from __future__ import annotations

import math
import time
from functools import lru_cache

from flask import current_app, g
from limits import RateLimitItem, parse_many
from werkzeug.exceptions import TooManyRequests

from incidents.extensions import limiter

SCOPE = "api"  # the namespace of the API's counters in the shared storage


class LimitReached(TooManyRequests):
    def __init__(self, retry_after: int, headers: dict[str, str]):
        super().__init__()
        self._headers = {**headers, "Retry-After": str(retry_after)}

    def get_headers(self, environ=None, scope=None):
        return [*super().get_headers(environ, scope), *self._headers.items()]


@lru_cache(maxsize=8)
def _limits(text: str) -> tuple[RateLimitItem, ...]:
    return tuple(parse_many(text))


def count_request(key: str) -> None:
    """Count this request against `key`'s limits; past one of them, 429 with Retry-After. The
    headers of the tightest limit are kept for the answer (add_headers)."""
    if not limiter.enabled:
        return
    strategy = limiter.limiter
    tightest = None
    for item in _limits(current_app.config["API_RATE_LIMIT"]):
        allowed = strategy.hit(item, SCOPE, key)
        reset_at, remaining = strategy.get_window_stats(item, SCOPE, key)
        headers = {"X-RateLimit-Limit": str(item.amount), "X-RateLimit-Remaining": str(remaining),
                   "X-RateLimit-Reset": str(int(reset_at))}
        if not allowed:
            raise LimitReached(max(1, math.ceil(reset_at - time.time())), headers)
        if tightest is None or remaining < tightest[0]:
            tightest = (remaining, headers)
    g.api_rate_limit_headers = tightest[1] if tightest else None


def add_headers(response):
    """After the view: tell the client where it stands (as Flask-Limiter's headers would)."""
    headers = g.get("api_rate_limit_headers")
    if headers:
        response.headers.update(headers)
    return response
