"""Accounts and sign-in: creating users, checking passwords, starting and ending sessions."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from email_validator import EmailNotValidError, validate_email
from flask import current_app, has_app_context
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from incidents.auth.models import LoginSession, Role, User
from incidents.db import utcnow
from incidents.errors import DomainError, FieldError

MIN_PASSWORD_LENGTH = 10


@lru_cache(maxsize=4)
def _dummy_hash(method: str | None) -> str:
    """Checked when the e-mail is unknown, so that case costs the same hashing work as a wrong
    password (same method and cost) and the response time does not reveal which accounts exist."""
    return _generate(method, "not-a-real-password-just-timing")


def _hash_method() -> str | None:
    return current_app.config.get("PASSWORD_HASH_METHOD") if has_app_context() else None


def _generate(method: str | None, password: str) -> str:
    return generate_password_hash(password, method=method) if method else generate_password_hash(password)


def hash_password(password: str) -> str:
    """A salted hash of `password`: Werkzeug's default (scrypt), unless the app says otherwise.

    Only the test suite says otherwise (`PASSWORD_HASH_METHOD`): it creates thousands of accounts,
    and scrypt's deliberate cost would be most of its run time.
    """
    return _generate(_hash_method(), password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(*, session: Session, email: str) -> User | None:
    """The user with this e-mail address, ignoring case."""
    return session.scalar(select(User).where(User.email == normalise_email(email)))


def create_user(*, session: Session, email: str, password: str, role: Role, name: str = "") -> User:
    """Create an account; refuses malformed e-mail addresses, duplicates and weak passwords."""
    email = check_email(email)
    if get_by_email(session=session, email=email):
        raise FieldError(f"An account for {email} already exists.", field="email")
    check_password_strength(password)
    user = User(email=email, name=name.strip() or email.split("@")[0], role=role,
                password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return user


def check_email(email: str) -> str:
    """The address normalised, or FieldError when it is not a usable e-mail address."""
    try:
        validate_email(normalise_email(email), check_deliverability=False)
    except EmailNotValidError as error:
        raise FieldError(f"That is not a valid e-mail address: {error}", field="email") from None
    return normalise_email(email)


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise FieldError(f"Passwords need at least {MIN_PASSWORD_LENGTH} characters.", field="password")
    if not password.strip():
        raise FieldError("A password cannot be only spaces.", field="password")


def change_role(*, session: Session, user: User, role: Role, active: bool | None = None) -> None:
    """Set a person's role (and whether they may sign in), keeping at least one active admin."""
    active = user.active if active is None else active
    if user.role is Role.admin and user.active and (role is not Role.admin or not active):
        others = session.scalar(select(func.count()).select_from(User).where(
            User.role == Role.admin, User.active.is_(True), User.id != user.id))
        if not others:
            raise FieldError("This is the last active admin; make someone else admin first.",
                               field="role")
    user.role = role
    if user.active and not active:
        revoke_all_sessions(session=session, user=user)
    user.active = active


def set_password(*, session: Session, user: User, password: str) -> None:
    """Change a password and sign the user out everywhere."""
    check_password_strength(password)
    user.password_hash = hash_password(password)
    revoke_all_sessions(session=session, user=user)


def authenticate(*, session: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None; takes the same time either way."""
    user = get_by_email(session=session, email=email)
    if user is None:
        check_password_hash(_dummy_hash(_hash_method()), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


def start_session(*, session: Session, user: User, remember: bool = False) -> LoginSession:
    """Record a new signed-in browser for `user` and attach its token to the user object."""
    login = LoginSession(user=user, remember=remember)
    session.add(login)
    session.flush()
    user.session_token = login.token
    return login


@dataclass(frozen=True)
class SessionLifetimes:
    """How long a session lives without requests (idle) and at most since sign-in (max_age);
    "keep me signed in" sessions have their own, longer pair."""

    idle: timedelta
    max_age: timedelta
    remember_idle: timedelta
    remember_max_age: timedelta


class SessionExpired(DomainError):
    """A session that timed out; the message says why, for the login page."""


# last_seen_at is written at most this often per session: idle timeouts are hours long, and a
# write per page view would cost every GET a write transaction.
SEEN_PRECISION = timedelta(minutes=1)


def load_session_user(*, session: Session, token: str, lifetimes: SessionLifetimes, now: datetime,
                      writing: bool) -> User | None:
    """The user of a live session token, or None when it is unknown, revoked or disabled.
    Raises SessionExpired when it timed out. Notes the request in last_seen_at: in this transaction
    when the request writes anyway (`writing`), else in a short transaction of its own."""
    login = session.scalar(
        select(LoginSession).where(LoginSession.token == token, LoginSession.revoked_at.is_(None))
    )
    if login is None or not login.user.active:
        return None
    check_lifetime(login=login, lifetimes=lifetimes, now=now)
    if now - login.last_seen_at >= SEEN_PRECISION:
        _touch(session=session, login=login, now=now, writing=writing)
    login.user.session_token = token
    return login.user


def check_lifetime(*, login: LoginSession, lifetimes: SessionLifetimes, now: datetime) -> None:
    """Raise SessionExpired when `login` has been idle or alive for longer than allowed."""
    idle = lifetimes.remember_idle if login.remember else lifetimes.idle
    max_age = lifetimes.remember_max_age if login.remember else lifetimes.max_age
    if now - login.created_at > max_age:
        raise SessionExpired(f"Your sign-in ended {_span(max_age)} after you signed in. "
                             "Sign in again to continue.")
    if now - login.last_seen_at > idle:
        raise SessionExpired(f"You were signed out after {_span(idle)} without activity. "
                             "Sign in again to continue.")


def _span(length: timedelta) -> str:
    """'12 hours', '30 days', '90 minutes': a setting as people say it."""
    minutes = int(length.total_seconds() // 60)
    for unit, size in (("day", 24 * 60), ("hour", 60), ("minute", 1)):
        if minutes >= size and minutes % size == 0:
            count = minutes // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{int(length.total_seconds())} seconds"


def _touch(*, session: Session, login: LoginSession, now: datetime, writing: bool) -> None:
    if writing:
        login.last_seen_at = now
        return
    # A read request's transaction must stay read-only (on SQLite it cannot take the write lock
    # safely once it has read), so the touch commits on its own connection. The UPDATE is the
    # first statement there, so SQLite waits for the write lock instead of failing.
    with session.get_bind().begin() as connection:
        connection.execute(update(LoginSession).where(LoginSession.id == login.id,
                                                      LoginSession.last_seen_at < now - SEEN_PRECISION)
                           .values(last_seen_at=now))


def confirmation_failed(*, session: Session, token: str, max_failures: int) -> bool:
    """Count a wrong password on the confirm-password page; after `max_failures` in a row the
    session is revoked and True is returned."""
    login = session.scalar(select(LoginSession).where(LoginSession.token == token))
    if login is None:
        return True
    login.failed_confirmations += 1
    if login.failed_confirmations >= max_failures:
        login.revoked_at = login.revoked_at or utcnow()
        return True
    return False


def confirmation_succeeded(*, session: Session, token: str) -> None:
    """Start counting wrong confirmations from zero again."""
    login = session.scalar(select(LoginSession).where(LoginSession.token == token))
    if login is not None:
        login.failed_confirmations = 0


def end_session(*, session: Session, token: str | None) -> None:
    """Revoke one session token so a copy of its cookie no longer signs anyone in."""
    if not token:
        return
    login = session.scalar(select(LoginSession).where(LoginSession.token == token))
    if login is not None and login.revoked_at is None:
        login.revoked_at = utcnow()


def revoke_all_sessions(*, session: Session, user: User) -> None:
    for login in session.scalars(
        select(LoginSession).where(LoginSession.user_id == user.id, LoginSession.revoked_at.is_(None))
    ):
        login.revoked_at = utcnow()


def update_account(*, session: Session, actor: User, user: User, name: str, role: Role,
                   active: bool, password: str | None = None) -> None:
    """An admin's edit of an account: name, role, sign-in rights and optionally a new password."""
    if actor.id == user.id and (role is not Role.admin or not active):
        raise FieldError("You cannot remove your own admin rights or disable yourself; "
                           "ask another admin.", field="role")
    if password:
        set_password(session=session, user=user, password=password)
    change_role(session=session, user=user, role=role, active=active)
    user.name = name.strip()


def list_users(*, session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.name, User.email)))


def assignable_users(*, session: Session) -> list[User]:
    """People who can own parts of an incident: active responders and admins, and viewers too
    (an executive owner usually only reads)."""
    return list(session.scalars(select(User).where(User.active.is_(True)).order_by(User.name)))
