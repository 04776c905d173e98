"""The postmortem of an incident, every saved version of its text, its reviewers and approvals.

The postmortem row holds the current text and workflow state under optimistic locking; versions
and approvals are append-only history, refused by the ORM if anything tries to change them.
"""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint, event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.markdown import stored_html
from incidents.postmortem.enums import PostmortemStatus
from incidents.postmortem.sections import SECTION_KEYS


class Postmortem(db.Model):
    __tablename__ = "postmortem"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), unique=True)
    status: Mapped[PostmortemStatus] = enum_column(PostmortemStatus, name="postmortem_status",
                                                   default=PostmortemStatus.draft)
    # The written sections as {key: Markdown}; keys are those of sections.SECTIONS.
    sections: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    # The same sections rendered and sanitised by the service that saves them, {key: HTML}, so
    # page views and reports need not re-render them (NULL before it was stored: rendered when shown).
    sections_html: Mapped[dict[str, str] | None] = mapped_column(JSON)
    # Whether the document's timeline shows every entry or only the pinned key entries.
    include_full_timeline: Mapped[bool] = mapped_column(default=False)
    # Number of the latest PostmortemVersion (0 before the first save).
    revision: Mapped[int] = mapped_column(Integer, default=0)

    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    submitted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Optimistic locking: every UPDATE checks and bumps this, so a stale write fails loudly.
    version: Mapped[int] = mapped_column(Integer, default=1)

    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    updated_by: Mapped[User | None] = relationship(foreign_keys=[updated_by_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    published_by: Mapped[User | None] = relationship(foreign_keys=[published_by_id])
    reviewers: Mapped[list[PostmortemReviewer]] = relationship(
        back_populates="postmortem", order_by="PostmortemReviewer.id", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}

    def text(self, key: str) -> str:
        """The Markdown of one written section ('' when empty)."""
        if key not in SECTION_KEYS:
            raise KeyError(key)
        return (self.sections or {}).get(key, "")

    def html(self, key: str) -> Markup:
        """One written section as sanitised HTML."""
        return stored_html((self.sections_html or {}).get(key), self.text(key))

    @property
    def is_published(self) -> bool:
        return self.status is PostmortemStatus.published


class PostmortemVersion(db.Model):
    """The text of a postmortem as saved at one moment. Never changed or deleted."""

    __tablename__ = "postmortem_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    sections: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20))  # the workflow state right after this save
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    note: Mapped[str] = mapped_column(String(300), default="")

    author: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("postmortem_id", "number", name="uq_postmortem_version_postmortem_number"),
    )

    def text(self, key: str) -> str:
        return (self.sections or {}).get(key, "")


class PostmortemReviewer(db.Model):
    """A person named to review a postmortem."""

    __tablename__ = "postmortem_reviewer"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    postmortem: Mapped[Postmortem] = relationship(back_populates="reviewers")
    user: Mapped[User] = relationship(foreign_keys=[user_id])
    added_by: Mapped[User | None] = relationship(foreign_keys=[added_by_id])

    __table_args__ = (
        UniqueConstraint("postmortem_id", "user_id", name="uq_postmortem_reviewer_postmortem_user"),
    )


class PostmortemApproval(db.Model):
    """One approval: which reviewer approved which version, and when. Never changed or deleted."""

    __tablename__ = "postmortem_approval"

    id: Mapped[int] = mapped_column(primary_key=True)
    postmortem_id: Mapped[int] = mapped_column(ForeignKey("postmortem.id", ondelete="CASCADE"), index=True)
    version_number: Mapped[int] = mapped_column(Integer)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    comment: Mapped[str] = mapped_column(String(1000), default="")

    approved_by: Mapped[User | None] = relationship()


class PostmortemHistoryError(Exception):
    """Raised when code tries to change or delete a recorded version or approval."""


def _refuse(_mapper, _connection, target):
    raise PostmortemHistoryError(f"{type(target).__name__} {target.id} is history; add a new one")


for _model in (PostmortemVersion, PostmortemApproval):
    event.listen(_model, "before_update", _refuse)
    event.listen(_model, "before_delete", _refuse)


@event.listens_for(Session, "do_orm_execute")
def _refuse_bulk_change(state):
    if (state.is_update or state.is_delete) and any(
            m.class_ in (PostmortemVersion, PostmortemApproval) for m in state.all_mappers):
        raise PostmortemHistoryError("postmortem versions and approvals are append-only")
