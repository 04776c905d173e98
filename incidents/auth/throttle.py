"""Sign-in limits, counted in the database so every worker and app server sees the same numbers.

Each limit is "N failed sign-ins per window", written in the `limits` library's notation
("10 per 15 minutes") in the settings:

- per account and address (SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS): one place guessing at one account;
- per account, across addresses (SIGN_IN_LIMIT_PER_ACCOUNT): a guessing run spread over many
  addresses. It refuses only devices that have never signed in to that account, so the account's
  real owner, on a device they used before, still gets in: the limit cannot lock them out;
- per address, across accounts (SIGN_IN_LIMIT_PER_ADDRESS): one place trying many accounts.

Only failures are counted (a person signing in many times is no threat), and a refused attempt is
not counted either, so a limit ends one window after the failures that triggered it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from limits import parse as parse_limit
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from incidents.auth.models import SignInAttempt


@dataclass(frozen=True)
class Limit:
    """At most `amount` failures within `window`."""

    amount: int
    window: timedelta

    @classmethod
    def parse(cls, text: str) -> Limit:
        item = parse_limit(text)
        return cls(amount=item.amount, window=timedelta(seconds=item.get_expiry()))


@dataclass(frozen=True)
class SignInLimits:
    account_and_address: Limit
    account: Limit
    address: Limit

    @property
    def longest(self) -> timedelta:
        return max(self.account_and_address.window, self.account.window, self.address.window)


def limits_from(config: Mapping) -> SignInLimits:
    """The limits in the app's settings; ValueError names a setting that cannot be read."""
    parsed = {}
    for field, setting in (("account_and_address", "SIGN_IN_LIMIT_PER_ACCOUNT_AND_ADDRESS"),
                           ("account", "SIGN_IN_LIMIT_PER_ACCOUNT"), ("address", "SIGN_IN_LIMIT_PER_ADDRESS")):
        try:
            parsed[field] = Limit.parse(config[setting])
        except ValueError as error:
            raise ValueError(f"{setting}={config[setting]!r} is not a limit like '10 per 15 minutes'") from error
    return SignInLimits(**parsed)


def refused_until(*, session: Session, limits: SignInLimits, account: str, address: str,
                  known_device: bool, now: datetime) -> datetime | None:
    """When the next attempt may be made, or None when this attempt may go ahead."""
    checks = [(limits.account_and_address, (SignInAttempt.account == account, SignInAttempt.address == address)),
              (limits.address, (SignInAttempt.address == address,))]
    if not known_device:
        checks.append((limits.account, (SignInAttempt.account == account,)))
    ends = [_blocked_until(session, limit, where, now) for limit, where in checks]
    return max((end for end in ends if end is not None), default=None)


def _blocked_until(session: Session, limit: Limit, where: tuple, now: datetime) -> datetime | None:
    """The end of the block, when the window already holds `amount` failures: the moment the
    oldest of the newest `amount` leaves the window."""
    recent = session.scalars(
        select(SignInAttempt.attempted_at)
        .where(*where, SignInAttempt.attempted_at > now - limit.window)
        .order_by(SignInAttempt.attempted_at.desc()).limit(limit.amount)
    ).all()
    if len(recent) < limit.amount:
        return None
    return recent[-1] + limit.window


def record_failure(*, session: Session, limits: SignInLimits, account: str, address: str,
                   now: datetime) -> None:
    """Count one failed attempt, and forget those older than every window."""
    session.execute(delete(SignInAttempt).where(SignInAttempt.attempted_at < now - limits.longest))
    session.add(SignInAttempt(account=account[:254], address=address[:64], attempted_at=now))
