"""Job kinds and periodic work: `@job("ledger.import", retries=3)` names a function the worker may
run when asked; `@periodic("maintenance.announce_due_steps", every=60)` one the workers call on a clock.

A feature defines both in `incidents/<feature>/jobs.py`; `discover()` imports every such module
when the app is built, so the web (which checks the kind when it enqueues) and the worker (which
runs it) always know the same kinds.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
from collections.abc import Callable, Mapping
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


@dataclass(frozen=True)
class PeriodicKind:
    """A function the workers call once every `every` seconds (see scheduler.py)."""

    name: str
    func: Callable[[], Any]
    every: float | Callable[[Mapping[str, Any]], float]  # seconds, or seconds from the app's config

    def seconds(self, config: Mapping[str, Any]) -> float:
        """The period in seconds under this configuration (ValueError unless positive)."""
        seconds = float(self.every(config) if callable(self.every) else self.every)
        if not seconds > 0:
            raise ValueError(f"periodic {self.name!r}: every={seconds:g}; the period must be over 0 seconds")
        return seconds


PERIODIC: dict[str, PeriodicKind] = {}
NAME_MAX = 100  # periodic_run.name


def periodic(name: str, *, every: float | Callable[[Mapping[str, Any]], float]):
    """Register the decorated function (no arguments) to be called by the workers every `every` seconds.

    `every` is a number of seconds, or a function of the app's config giving one. Periods are
    counted from the Unix epoch, so every worker agrees when one begins; each period's run happens
    once, in whichever worker claims it first (see scheduler.py).
    """
    if len(name) > NAME_MAX:
        raise ValueError(f"periodic {name!r}: a name has at most {NAME_MAX} characters")
    if not callable(every) and not float(every) > 0:
        raise ValueError(f"periodic {name!r}: every={every}; the period must be over 0 seconds")

    def decorator(func: Callable[[], Any]) -> Callable[[], Any]:
        known = PERIODIC.get(name)
        if known is not None and _where(known.func) != _where(func):
            raise ValueError(f"periodic {name!r} is defined twice: {_where(known.func)} and {_where(func)}")
        PERIODIC[name] = PeriodicKind(name=name, func=func, every=every)
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
