"""Drafting, versioning, approving and releasing notices. Every change writes a timeline entry
in the same transaction; versions are never edited, a change is a new version."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import DomainError, EditConflict, FieldError, NotFound, check_version
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.notices.drafts import default_draft
from incidents.notices.facts import public_facts
from incidents.notices.models import Audience, Channel, Notice, NoticeRelease, NoticeVersion
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

SUBJECT_MAX = 200
BODY_MAX = 20_000


class ApprovalRefused(DomainError):
    """The actor holds an approving role but may not approve this version (two-person rule)."""


def may_approve(user: User, incident: Incident) -> bool:
    """Only the incident's communications lead or incident commander approve notices."""
    return user.id is not None and user.id in (incident.comms_lead_id, incident.commander_id)


def _new_version(*, incident: Incident, actor: User, number: int, subject: str, body: str,
                 **where) -> NoticeVersion:
    """A version that remembers who could approve it when it was written (see `approval_refusal`)."""
    return NoticeVersion(number=number, subject=subject, body=body, body_html=html_to_store(body),
                         author=actor, created_at=utcnow(), comms_lead_id=incident.comms_lead_id,
                         commander_id=incident.commander_id, **where)


def approval_refusal(*, user: User, version: NoticeVersion) -> str | None:
    """Why `user` may not approve `version` (None when they may): a second person approves, and
    only someone who was comms lead or commander when the text was saved."""
    holders = {version.comms_lead_id: version.comms_lead, version.commander_id: version.commander}
    others = [u.display for uid, u in holders.items()
              if uid is not None and u is not None and uid not in (user.id, version.author_id)]
    ask = (f"ask {' or '.join(others)} to approve it" if others else
           "nobody else held the comms lead or commander role then: once the roles are settled, have "
           "one of them save a new version for the other to approve")
    if version.author_id == user.id:
        return f"You wrote version {version.number}, so someone else must approve it: {ask}."
    if user.id not in holders:
        return (f"You were not the communications lead or incident commander when version "
                f"{version.number} was saved, so you cannot approve it: {ask}.")
    return None


def draft_for(*, session: Session, incident: Incident, audience: Audience) -> tuple[str, str]:
    """A first (subject, body) built from the incident's public facts only."""
    return default_draft(public_facts(session=session, incident_id=incident.id), audience)


def notices_for(*, session: Session, incident: Incident) -> list[Notice]:
    """The incident's notices, oldest first, with their versions and releases."""
    return list(session.scalars(
        select(Notice).where(Notice.incident_id == incident.id)
        .options(selectinload(Notice.versions).selectinload(NoticeVersion.releases)
                 .selectinload(NoticeRelease.released_by),
                 selectinload(Notice.versions).selectinload(NoticeVersion.author),
                 selectinload(Notice.versions).selectinload(NoticeVersion.approved_by))
        .order_by(Notice.created_at, Notice.id)))


def get_notice(*, session: Session, incident: Incident, notice_id: int) -> Notice:
    notice = session.get(Notice, notice_id)
    if notice is None or notice.incident_id != incident.id:
        raise NotFound("No such notice.")
    return notice


def get_version(*, notice: Notice, number: int) -> NoticeVersion:
    version = next((v for v in notice.versions if v.number == number), None)
    if version is None:
        raise NotFound("No such version of this notice.")
    return version


def latest_sendable(*, session: Session, incident: Incident, audience: Audience = Audience.customers,
                    released_only: bool = False) -> NoticeVersion | None:
    """The newest released (or, unless `released_only`, approved) version for `audience`."""
    stmt = (select(NoticeVersion).join(Notice).where(Notice.incident_id == incident.id,
                                                     Notice.audience == audience,
                                                     NoticeVersion.approved_at.is_not(None)))
    if released_only:
        stmt = stmt.where(NoticeVersion.releases.any())
    return session.scalar(stmt.order_by(NoticeVersion.approved_at.desc(), NoticeVersion.id.desc()).limit(1))


def _check_text(subject: str, body: str) -> tuple[str, str]:
    subject, body = subject.strip(), body.strip()
    if not subject:
        raise FieldError("Give the notice a subject line.", field="subject")
    if len(subject) > SUBJECT_MAX:
        raise FieldError(f"Keep the subject within {SUBJECT_MAX} characters.", field="subject")
    if not body:
        raise FieldError("Write the notice.", field="body")
    if len(body) > BODY_MAX:
        raise FieldError(f"Keep the notice within {BODY_MAX:,} characters.", field="body")
    return subject, body


def create_notice(*, session: Session, actor: User, incident: Incident, audience: Audience,
                  subject: str, body: str) -> Notice:
    """Start a notice to `audience` with its first version (a draft)."""
    subject, body = _check_text(subject, body)
    first = _new_version(incident=incident, actor=actor, number=1, subject=subject, body=body)
    notice = Notice(incident_id=incident.id, audience=audience, created_at=first.created_at, created_by=actor)
    notice.versions.append(first)
    session.add(notice)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication,
              body=f"Drafted a notice to {audience.label.lower()} (version 1).")
    return notice


def save_version(*, session: Session, actor: User, incident: Incident, notice: Notice, based_on: int,
                 subject: str, body: str) -> NoticeVersion:
    """Save edited text as a new version; refuses edits made on top of an older version."""
    subject, body = _check_text(subject, body)
    latest = notice.latest
    check_version(stored=latest.number, expected=based_on, message=lambda: (
        f"Someone saved version {latest.number} while you were editing. Nothing of yours was saved: "
        "compare with the text now shown, then save again."))
    if (subject, body) == (latest.subject, latest.body):
        raise FieldError("Nothing changed since the last version.", field="body")
    # Built by id, not through `notice.versions`, so it reaches the database inside the savepoint.
    version = _new_version(incident=incident, actor=actor, number=latest.number + 1, subject=subject,
                           body=body, notice_id=notice.id)
    try:
        # Two saves on top of the same version collide on (notice, number): the second is a conflict.
        with session.begin_nested():
            session.add(version)
    except IntegrityError:
        raise EditConflict("Someone saved a version at the same moment. Nothing of yours was saved: "
                           "compare with the text now shown, then save again.") from None
    session.expire(notice, ["versions"])
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication,
              body=f"Saved version {version.number} of the notice to {notice.audience.label.lower()}.")
    return version


def approve(*, session: Session, actor: User, incident: Incident, notice: Notice, number: int) -> NoticeVersion:
    """Approve the latest version: the comms lead or incident commander, who held that role when
    the version was saved and did not write it."""
    if not may_approve(actor, incident):
        raise ApprovalRefused("Only the incident's communications lead or incident commander can approve "
                              "notices.")
    version = get_version(notice=notice, number=number)
    check_version(stored=notice.latest.number, expected=version.number, message=lambda: (
        f"Version {notice.latest.number} was saved after the one you approved; read it, then approve that one."))
    if version.approved_at is not None:
        raise FieldError(f"Version {version.number} is already approved.")
    refusal = approval_refusal(user=actor, version=version)
    if refusal:
        raise ApprovalRefused(refusal)
    version.approved_by, version.approved_at = actor, utcnow()
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication,
              body=f"Approved version {version.number} of the notice to {notice.audience.label.lower()}.")
    return version


def release(*, session: Session, actor: User, incident: Incident, notice: Notice, number: int,
            channel: Channel) -> NoticeRelease:
    """Record that an approved version went out by `channel`."""
    version = get_version(notice=notice, number=number)
    if version.approved_at is None:
        raise FieldError(f"Version {version.number} is not approved yet; it cannot be released.", field="version")
    if any(r.channel is channel for r in version.releases):
        raise FieldError(f"Version {version.number} was already released by {channel.label.lower()}.",
                          field="channel")
    record = NoticeRelease(version_id=version.id, audience=notice.audience, channel=channel,
                           released_by=actor, released_at=utcnow())
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError:
        raise FieldError(f"Version {version.number} was just released by {channel.label.lower()}.",
                          field="channel") from None
    session.expire(version, ["releases"])
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication,
              body=f"Released version {version.number} of the notice to {notice.audience.label.lower()} "
                   f"by {channel.label.lower()}: “{version.subject}”.")
    return record


def set_covered_items(*, session: Session, actor: User, incident: Incident, notice: Notice,
                      covered: list[str]) -> list[str]:
    """Record which checklist items the notice's text covers (the keys the page offered); the audit
    log records who changed it."""
    notice.covered_items = sorted(set(covered))
    session.flush()
    return notice.covered_items
