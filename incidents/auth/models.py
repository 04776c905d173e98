"""People who use the tracker, and the login sessions they hold."""
from __future__ import annotations

import secrets
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, Index, String, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum


class Role(LabelledEnum):
    """What a person may do. Each role includes everything of the roles before it."""

    viewer = "viewer"
    responder = "responder"
    admin = "admin"

    @property
    def rank(self) -> int:
        return list(Role).index(self)


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = enum_column(Role, name="user_role")
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    def can(self, role: Role) -> bool:
        """True when this person holds `role` or a stronger one."""
        return self.role.rank >= role.rank

    @property
    def display(self) -> str:
        return self.name or self.email

    def __repr__(self) -> str:
        return f"<User {self.email} {self.role.value}>"

    # Flask-Login's UserMixin compares people by get_id(), which is the *session token* here (see
    # below) and None for everyone but the signed-in person: any two other people would compare
    # equal, and "commander: A → B" would look like no change. A row is one object per session
    # (SQLAlchemy's identity map), so identity is the right equality.
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__


def new_session_token() -> str:
    return secrets.token_urlsafe(32)


class LoginSession(db.Model):
    """One signed-in browser. Logging out revokes it, so a copied cookie stops working."""

    __tablename__ = "login_session"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True, default=new_session_token)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When this browser last made a request, to within a minute (see service.SEEN_PRECISION).
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # "Keep me signed in": the session may live longer (SESSION_REMEMBER_* settings). Stored as a
    # choice, not as a deadline, so shortening a lifetime in the settings applies to live sessions.
    remember: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Wrong passwords in a row on the confirm-password page; too many revoke the session.
    failed_confirmations: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class SignInAttempt(db.Model):
    """One failed sign-in: the account typed (normalised, whether or not it exists), the address it
    came from and when. Counting rows here gives every worker and app server the same limits.
    Rows older than the longest limit window are deleted as new ones arrive."""

    __tablename__ = "sign_in_attempt"
    # Not audited: a guessing run would write one audit event per guess (plus one per pruned row);
    # the sign_in_failed event the view records already says who was tried, from where.
    __audit__ = False
    __table_args__ = (
        Index("ix_sign_in_attempt_account_at", "account", "attempted_at"),
        Index("ix_sign_in_attempt_address_at", "address", "attempted_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(String(254))
    address: Mapped[str] = mapped_column(String(64))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


# Flask-Login identifies a signed-in browser by its session token, not by the user id, so that
# revoking the token (logout) ends exactly that session even though the cookie is still signed.
def _get_id(self: User) -> str | None:
    return getattr(self, "session_token", None)


User.get_id = _get_id  # type: ignore[method-assign]
