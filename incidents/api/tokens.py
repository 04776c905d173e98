"""Personal access tokens: made (the secret shown once), listed, revoked, and checked on each API
request. Services in the project's shape: keyword-only, the caller commits."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import Session, joinedload

from incidents.api.models import AccessToken, Scope
from incidents.auth.models import Role, User
from incidents.credentials import hash_secret, hint_of, new_secret, plausible
from incidents.db import UTCDateTime, utcnow
from incidents.errors import FieldError

TOKEN_PREFIX = "dlt_"  # "data-loss tracker": recognisable in a leaked script or a secret scanner's rules
MAX_DAYS = 366  # a token is renewed at least once a year
DEFAULT_DAYS = 90
NAME_LIMIT = 120
# last_used_at is written at most this often per token: a busy script costs one UPDATE a minute.
LAST_USED_PRECISION = timedelta(minutes=1)


def check_token_fields(*, name: str, scopes: list[str], days: int | None) -> tuple[str, list[Scope], int]:
    """The token's name, scopes and lifetime in days, or a FieldError saying what is wrong."""
    name = (name or "").strip()
    if not name:
        raise FieldError("Name the token after what uses it (e.g. “restore script on backup-01”).", field="name")
    if len(name) > NAME_LIMIT or any(ord(ch) < 32 for ch in name):
        raise FieldError(f"Keep the name under {NAME_LIMIT} characters, on one line.", field="name")
    known = [s for s in Scope if s.value in set(scopes or [])]
    if not known or len(known) != len(set(scopes)):
        raise FieldError("Choose at least one scope: read, write or admin.", field="scopes")
    if days is None or not 1 <= days <= MAX_DAYS:
        raise FieldError(f"A token lives from 1 to {MAX_DAYS} days; make a new one when it expires.", field="days")
    return name, known, days


def create_token(*, session: Session, owner: User, name: str, scopes: list[str],
                 days: int | None = DEFAULT_DAYS) -> tuple[AccessToken, str]:
    """A new token of `owner`: the row, and the secret to show once (never stored)."""
    name, known, days = check_token_fields(name=name, scopes=scopes, days=days)
    if not owner.active:
        raise FieldError(f"{owner.email} is disabled: a disabled account's tokens never work.")
    secret = new_secret(TOKEN_PREFIX)
    now = utcnow()
    token = AccessToken(user=owner, name=name, scopes=[s.value for s in known], token_hash=hash_secret(secret),
                        hint=hint_of(secret, TOKEN_PREFIX), created_at=now, expires_at=now + timedelta(days=days))
    session.add(token)
    session.flush()
    return token, secret


def revoke_token(*, session: Session, token: AccessToken) -> AccessToken:
    """Stop the token working from now on (revoking twice keeps the first time)."""
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return token


def tokens_of(*, session: Session, owner: User | None = None) -> list[AccessToken]:
    """Tokens, newest first (one person's when `owner` is given), revoked ones last."""
    stmt = select(AccessToken).options(joinedload(AccessToken.user))
    if owner is not None:
        stmt = stmt.where(AccessToken.user_id == owner.id)
    return list(session.scalars(stmt.order_by(AccessToken.revoked_at.is_not(None), AccessToken.id.desc())))


def token_of(*, session: Session, owner: User, token_id: int) -> AccessToken | None:
    """One of `owner`'s tokens, or None (someone else's token is as absent as a missing one)."""
    return session.scalar(select(AccessToken).where(AccessToken.id == token_id, AccessToken.user_id == owner.id))


@dataclass(frozen=True)
class Caller:
    """Who an API request acts as: the token's owner, with no more than the token allows."""

    token_id: int
    user_id: int
    role: Role
    note_use: bool  # last_used_at is over a minute old: note_use() should write it
    # The owner as loaded with the token (None in a remembered check: no ORM object outlives its
    # request). Holding it keeps it in the session's identity map, which holds objects weakly.
    user: User | None = field(default=None, compare=False, repr=False)


def without_objects(caller: Caller | None) -> Caller | None:
    """The caller as it may be remembered beyond its request: without the loaded owner."""
    return replace(caller, user=None) if caller is not None else None


def plausible_secret(secret: str | None) -> bool:
    """Whether `secret` could be one of our tokens at all (no look-up needed to refuse it)."""
    return plausible(secret) and secret.startswith(TOKEN_PREFIX)


def authenticate(*, session: Session, secret: str | None, now: datetime | None = None) -> Caller | None:
    """The caller a bearer secret stands for; None for a wrong, expired or revoked token, one whose
    owner is disabled, or one with no power left (one answer for all: the caller learns nothing
    about which tokens exist). One query, the token and its owner together."""
    if not plausible_secret(secret):
        return None
    now = now or utcnow()
    token = session.scalar(select(AccessToken).options(joinedload(AccessToken.user))
                           .where(AccessToken.token_hash == hash_secret(secret), AccessToken.revoked_at.is_(None),
                                  AccessToken.expires_at > now))
    role = token.effective_role() if token is not None else None
    if role is None:
        return None
    stale = token.last_used_at is None or now - token.last_used_at >= LAST_USED_PRECISION
    return Caller(token_id=token.id, user_id=token.user_id, role=role, note_use=stale, user=token.user)


def note_use(*, session: Session, token_id: int, now: datetime | None = None) -> None:
    """Write the token's last use; the caller commits. The WHERE keeps it to once a minute even
    when a script's requests arrive together."""
    now = now or utcnow()
    session.execute(_NOTE_USE, {"token_id": token_id, "now": now, "stale": now - LAST_USED_PRECISION})


_token = AccessToken.__table__.c
# Typed binds: the UTC column type turns times into what each database stores (see UTCDateTime).
_NOTE_USE = (update(AccessToken.__table__)
             .where(_token.id == bindparam("token_id"),
                    or_(_token.last_used_at.is_(None), _token.last_used_at <= bindparam("stale", type_=UTCDateTime())))
             .values(last_used_at=bindparam("now", type_=UTCDateTime())))
