"""Customer notices: a notice per audience, every saved version kept, approval and releases."""
from __future__ import annotations

from datetime import datetime

from markupsafe import Markup
from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from incidents.auth.models import User
from incidents.db import UTCDateTime, db, enum_column, utcnow
from incidents.enums import LabelledEnum


class Audience(LabelledEnum):
    customers = "customers"
    regulator = "regulator"

    __labels__ = {"regulator": "Regulator / partner"}


class Channel(LabelledEnum):
    email = "email"
    website = "website"
    in_app = "in_app"
    letter = "letter"
    portal = "portal"

    __labels__ = {"email": "E-mail", "website": "Website / status page", "in_app": "In-app message",
                  "portal": "Regulator or partner portal"}


class Notice(db.Model):
    """One message to one audience about an incident; its text lives in its versions."""

    __tablename__ = "notice"

    id: Mapped[int] = mapped_column(primary_key=True)
    incident_id: Mapped[int] = mapped_column(ForeignKey("incident.id", ondelete="CASCADE"), index=True)
    audience: Mapped[Audience] = enum_column(Audience, name="notice_audience")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    # The items of the law's content checklists that responders ticked as covered by the text (keys
    # from obligations.service.notice_checklist); kept across versions, since the text mostly grows.
    covered_items: Mapped[list] = mapped_column(JSON, default=list)

    created_by: Mapped[User | None] = relationship()
    versions: Mapped[list[NoticeVersion]] = relationship(
        back_populates="notice", order_by="NoticeVersion.number", cascade="all, delete-orphan")

    @property
    def latest(self) -> NoticeVersion:
        return self.versions[-1]

    @property
    def approved(self) -> NoticeVersion | None:
        """The newest approved version (the one that may go out)."""
        return next((v for v in reversed(self.versions) if v.approved_at), None)

    @property
    def released(self) -> NoticeVersion | None:
        return next((v for v in reversed(self.versions) if v.releases), None)


class NoticeVersion(db.Model):
    """One saved text of a notice. Never edited: a change is a new version; approval is set once."""

    __tablename__ = "notice_version"

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(ForeignKey("notice.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(default=1)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    # Sanitised once, when saved (Markdown → HTML → nh3), like timeline entries.
    body_html: Mapped[str] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    approved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Who held the approving roles when this text was saved: only they may approve it, so making
    # oneself comms lead or commander afterwards does not let anyone approve their own words.
    comms_lead_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    commander_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))

    notice: Mapped[Notice] = relationship(back_populates="versions")
    author: Mapped[User | None] = relationship(foreign_keys=[author_id])
    comms_lead: Mapped[User | None] = relationship(foreign_keys=[comms_lead_id])
    commander: Mapped[User | None] = relationship(foreign_keys=[commander_id])
    approved_by: Mapped[User | None] = relationship(foreign_keys=[approved_by_id])
    releases: Mapped[list[NoticeRelease]] = relationship(
        back_populates="version", order_by="NoticeRelease.released_at", cascade="all, delete-orphan")

    __table_args__ = (
        UniqueConstraint("notice_id", "number", name="uq_notice_version_notice_number"),
    )

    @property
    def html(self) -> Markup:
        return Markup(self.body_html)


class NoticeRelease(db.Model):
    """A record that an approved version went out: who, when, to whom, by which channel."""

    __tablename__ = "notice_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("notice_version.id", ondelete="CASCADE"))
    audience: Mapped[Audience] = enum_column(Audience, name="notice_release_audience")
    channel: Mapped[Channel] = enum_column(Channel, name="notice_channel")
    released_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    released_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    version: Mapped[NoticeVersion] = relationship(back_populates="releases")
    released_by: Mapped[User | None] = relationship()

    __table_args__ = (
        UniqueConstraint("version_id", "channel", name="uq_notice_release_version_channel"),
        Index("ix_notice_release_version_id", "version_id"),
    )
