"""Job kinds: `@job("ledger.import", retries=3)` names a function the worker may run.

A feature defines its kinds in `incidents/<feature>/jobs.py`; `discover()` imports every such
module when the app is built, so the web (which checks the kind when it enqueues) and the worker
(which runs it) always know the same kinds.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# However many failures came before, a retry waits at most this long (seconds).
MAX_RETRY_DELAY = 3600.0


@dataclass(frozen=True)
class JobKind:
    """A kind of job and how it is retried."""

    name: str
    func: Callable[..., Any]
    retries: int  # runs after the first that a transient failure may use up
    retry_delay: float  # seconds before the first retry
    backoff: float  # each later retry waits this many times longer
    permanent: tuple[type[BaseException], ...]  # errors that fail the job at once, besides DomainError
    priority: int  # higher runs first when jobs wait

    def delay_after(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1 for the first run)."""
        return min(self.retry_delay * self.backoff ** (attempt - 1), MAX_RETRY_DELAY)


KINDS: dict[str, JobKind] = {}


def job(name: str, *, retries: int = 0, retry_delay: float = 10.0, backoff: float = 2.0,
        permanent: tuple[type[BaseException], ...] = (), priority: int = 0):
    """Register the decorated function as the job kind `name`; it is called with the enqueued params."""

    def decorator(func: Callable[..., Any]) -> Callable[..., Any]:
        known = KINDS.get(name)
        if known is not None and _where(known.func) != _where(func):
            raise ValueError(f"job kind {name!r} is defined twice: {_where(known.func)} and {_where(func)}")
        KINDS[name] = JobKind(name=name, func=func, retries=retries, retry_delay=retry_delay,
                              backoff=backoff, permanent=tuple(permanent), priority=priority)
        return func

    return decorator


def _where(func: Callable[..., Any]) -> str:
    return f"{func.__module__}.{func.__qualname__}"


def kind(name: str) -> JobKind:
    """The job kind called `name`, or LookupError naming the kinds there are."""
    try:
        return KINDS[name]
    except KeyError:
        raise LookupError(f"no job kind {name!r}: define it with @job in incidents/<feature>/jobs.py "
                          f"(known: {', '.join(sorted(KINDS)) or 'none'})") from None


def discover(package: str = "incidents") -> None:
    """Import `<package>.<feature>.jobs` for every feature that has one."""
    root = importlib.import_module(package)
    for module in pkgutil.iter_modules(root.__path__):
        name = f"{package}.{module.name}.jobs"
        if module.ispkg and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
