"""Personal access tokens: a person's bearer secret for the API, with scopes and an expiry."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import Role, User
from incidents.db import UTCDateTime, db, utcnow
from incidents.enums import LabelledEnum


class Scope(LabelledEnum):
    """What a token may do, at most: each scope maps to the role whose powers it carries."""

    read = "read"
    write = "write"
    admin = "admin"

    @property
    def role(self) -> Role:
        return SCOPE_ROLES[self]


SCOPE_ROLES = {Scope.read: Role.viewer, Scope.write: Role.responder, Scope.admin: Role.admin}


class AccessToken(db.Model):
    """A personal access token. Only the SHA-256 of its secret is kept; the secret is shown once.
    What it may do is the lesser of its strongest scope and its owner's role *now*, so demoting
    or disabling a person takes effect on their tokens at once."""

    __tablename__ = "access_token"
    # The hash is a credential; the last use moves at most once a minute (not a change to audit).
    __audit_exclude__ = ("token_hash", "last_used_at")

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(16))  # the secret's first characters, to tell tokens apart
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()

    __table_args__ = (CheckConstraint("expires_at > created_at", name="expires_after_creation"),)

    @property
    def scope_set(self) -> list[Scope]:
        return [Scope(s) for s in self.scopes if s in Scope._value2member_map_]

    @property
    def strongest_scope(self) -> Scope | None:
        held = self.scope_set
        return max(held, key=lambda s: s.role.rank) if held else None

    def effective_role(self) -> Role | None:
        """The lesser of the token's strongest scope and its owner's current role (None: no power)."""
        scope = self.strongest_scope
        if scope is None or not self.user.active:
            return None
        return min(scope.role, self.user.role, key=lambda role: role.rank)

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= now:
            return "expired"
        return "active"
