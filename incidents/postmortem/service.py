"""Writing a postmortem and moving it through review: draft → in review → approved → published.

Every save of the text appends a version; every step of the workflow is written to the incident's
timeline in the same transaction. Services flush; the web request commits.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from incidents.auth.models import Role, User
from incidents.auth.service import get_by_email
from incidents.db import utcnow
from incidents.errors import FieldError, NotFound, check_version
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.postmortem.due import due_item
from incidents.postmortem.enums import PostmortemStatus
from incidents.postmortem.models import Postmortem, PostmortemApproval, PostmortemReviewer, PostmortemVersion
from incidents.postmortem.sections import HEADINGS, MAX_SECTION_LENGTH, SECTION_KEYS
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry
from incidents.webhooks import events as webhooks

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage


def postmortem_for(*, session: Session, incident: Incident) -> Postmortem | None:
    """The incident's postmortem, or None when nobody has started one."""
    return session.scalar(
        select(Postmortem).where(Postmortem.incident_id == incident.id)
        .options(selectinload(Postmortem.reviewers).selectinload(PostmortemReviewer.user))
    )


def start_postmortem(*, session: Session, actor: User, incident: Incident) -> Postmortem:
    """Open an empty draft for the incident, or return the one already there."""
    existing = postmortem_for(session=session, incident=incident)
    if existing is not None:
        return existing
    postmortem = Postmortem(incident_id=incident.id, status=PostmortemStatus.draft, sections={},
                            revision=0, created_by=actor, updated_by=actor)
    try:
        # Two people starting at once collide on the unique incident_id: the second gets the first's.
        with session.begin_nested():
            session.add(postmortem)
    except IntegrityError:
        return postmortem_for(session=session, incident=incident)
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
              body="Postmortem started (draft).")
    return postmortem


def _changed_meanwhile(postmortem: Postmortem) -> str:
    by = postmortem.updated_by.display if postmortem.updated_by else "Someone"
    return (f"{by} changed this postmortem while you were working on it (it is now "
            f"{postmortem.status.label.lower()}). Nothing of yours was saved: compare the text, then save again.")


def check_editable(incident: Incident) -> None:
    """Refuse changes once the incident is closed: its published postmortem is final."""
    if incident.status is Status.closed:
        raise FieldError("The incident is closed; its published postmortem is final.")


def clean_sections(sections: dict[str, str]) -> dict[str, str]:
    """The written sections, trimmed, only known keys, empty ones left out."""
    clean = {}
    for key in SECTION_KEYS:
        text = (sections.get(key) or "").replace("\r\n", "\n").strip()
        if len(text) > MAX_SECTION_LENGTH:
            raise FieldError(f"“{HEADINGS[key]}” is longer than {MAX_SECTION_LENGTH:,} characters; "
                                  "shorten it or link to the details.", field=key)
        if text:
            clean[key] = text
    return clean


def save_sections(*, session: Session, actor: User, incident: Incident, postmortem: Postmortem,
                  expected_version: int, sections: dict[str, str],
                  include_full_timeline: bool | None = None) -> PostmortemVersion | None:
    """Save the written sections as a new version (None when nothing changed).

    Editing text that was approved or published sends the postmortem back to review: an
    approval covers the text the reviewer read, not what came after.
    """
    check_editable(incident)
    check_version(stored=postmortem.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(postmortem))
    clean = clean_sections(sections)
    text_changed = clean != (postmortem.sections or {})
    if include_full_timeline is not None and include_full_timeline != postmortem.include_full_timeline:
        postmortem.include_full_timeline = include_full_timeline
        postmortem.updated_by = actor
        session.flush()
    if not text_changed:
        return None
    note = ""
    before = postmortem.status
    if before in (PostmortemStatus.approved, PostmortemStatus.published):
        postmortem.status = PostmortemStatus.in_review
        postmortem.approved_by = None
        postmortem.approved_at = None
        postmortem.published_by = None
        postmortem.published_at = None
        postmortem.submitted_at = utcnow()
        note = f"edited after it was {before.label.lower()}: back in review"
    postmortem.sections = clean
    postmortem.sections_html = {key: html_to_store(text) for key, text in clean.items()}
    postmortem.revision += 1
    postmortem.updated_by = actor
    version = PostmortemVersion(postmortem_id=postmortem.id, number=postmortem.revision, sections=clean,
                                status=postmortem.status.value, author=actor, created_at=utcnow(),
                                note=note)
    session.add(version)
    session.flush()
    if note:
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
                  body=f"Postmortem {note} (version {version.number}).")
    return version


def add_reviewer(*, session: Session, actor: User, postmortem: Postmortem, email: str) -> PostmortemReviewer:
    """Name a reviewer by e-mail: an existing, active account that may approve (responder or admin)."""
    email = (email or "").strip()
    if not email:
        raise FieldError("Enter the reviewer's e-mail address.", field="email")
    user = get_by_email(session=session, email=email)
    if user is None:
        raise FieldError(f"No one with the address {email} uses the tracker. Check the spelling, "
                              "or ask an admin to add them first.", field="email")
    if not user.active:
        raise FieldError(f"{user.display}'s account is disabled; choose someone who can sign in.",
                              field="email")
    if not user.can(Role.responder):
        raise FieldError(f"{user.display} can only read (viewer); reviewers need the responder "
                              "role to approve.", field="email")
    if any(r.user_id == user.id for r in postmortem.reviewers):
        raise FieldError(f"{user.display} is already a reviewer.", field="email")
    reviewer = PostmortemReviewer(user=user, added_by=actor, added_at=utcnow())
    postmortem.reviewers.append(reviewer)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise FieldError(f"{user.display} is already a reviewer.", field="email") from None
    return reviewer


def remove_reviewer(*, session: Session, postmortem: Postmortem, reviewer_id: int) -> None:
    """Take a reviewer off the list (their past approvals stay in the history)."""
    reviewer = next((r for r in postmortem.reviewers if r.id == reviewer_id), None)
    if reviewer is None:
        raise NotFound("No such reviewer.")
    postmortem.reviewers.remove(reviewer)
    session.flush()


def submit_for_review(*, session: Session, actor: User, incident: Incident, postmortem: Postmortem,
                      expected_version: int) -> Postmortem:
    """Send a draft to its named reviewers."""
    check_editable(incident)
    check_version(stored=postmortem.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(postmortem))
    if postmortem.status is not PostmortemStatus.draft:
        raise FieldError(f"Only a draft can be sent to review; this one is "
                              f"{postmortem.status.label.lower()}.")
    if not postmortem.reviewers:
        raise FieldError("Name at least one reviewer first.", field="email")
    if not postmortem.text("summary"):
        raise FieldError("Write the summary before sending the postmortem to review.")
    postmortem.status = PostmortemStatus.in_review
    postmortem.submitted_at = utcnow()
    postmortem.updated_by = actor
    session.flush()
    names = ", ".join(r.user.display for r in postmortem.reviewers)
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
              body=f"Postmortem sent to review (version {postmortem.revision}); reviewers: {names}.")
    return postmortem


def approve(*, session: Session, actor: User, incident: Incident, postmortem: Postmortem,
            expected_version: int, comment: str = "") -> PostmortemApproval:
    """A named reviewer approves the version in review; who and when are recorded."""
    check_editable(incident)
    check_version(stored=postmortem.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(postmortem))
    if postmortem.status is not PostmortemStatus.in_review:
        raise FieldError(f"Only a postmortem in review can be approved; this one is "
                              f"{postmortem.status.label.lower()}.")
    if not any(r.user_id == actor.id for r in postmortem.reviewers):
        raise FieldError("Only a named reviewer can approve this postmortem.")
    latest = session.scalar(select(PostmortemVersion.author_id).where(
        PostmortemVersion.postmortem_id == postmortem.id, PostmortemVersion.number == postmortem.revision))
    if latest == actor.id:
        raise FieldError("You wrote this version; another reviewer needs to approve it.")
    now = utcnow()
    approval = PostmortemApproval(postmortem_id=postmortem.id, version_number=postmortem.revision,
                                  approved_by=actor, approved_at=now, comment=(comment or "").strip())
    session.add(approval)
    postmortem.status = PostmortemStatus.approved
    postmortem.approved_by = actor
    postmortem.approved_at = now
    postmortem.updated_by = actor
    session.flush()
    body = f"Postmortem version {postmortem.revision} approved by {actor.display}."
    if approval.comment:
        body += "\n\n" + approval.comment
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision, body=body)
    return approval


def request_changes(*, session: Session, actor: User, incident: Incident, postmortem: Postmortem,
                    expected_version: int, comment: str) -> Postmortem:
    """A named reviewer sends the postmortem back to draft, saying what to change."""
    check_editable(incident)
    check_version(stored=postmortem.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(postmortem))
    if postmortem.status is not PostmortemStatus.in_review:
        raise FieldError("Changes can only be requested while the postmortem is in review.")
    if not any(r.user_id == actor.id for r in postmortem.reviewers):
        raise FieldError("Only a named reviewer can request changes.")
    if not (comment or "").strip():
        raise FieldError("Say what should change.", field="comment")
    postmortem.status = PostmortemStatus.draft
    postmortem.updated_by = actor
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
              body=f"Changes requested on postmortem version {postmortem.revision} by {actor.display}."
                   f"\n\n{comment.strip()}")
    return postmortem


def publish(*, session: Session, actor: User, incident: Incident, postmortem: Postmortem,
            expected_version: int) -> Postmortem:
    """Publish an approved postmortem; the incident may then be closed."""
    check_editable(incident)
    check_version(stored=postmortem.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(postmortem))
    if postmortem.status is not PostmortemStatus.approved:
        raise FieldError("Only an approved postmortem can be published; send it to review and "
                              "get a reviewer's approval first.")
    postmortem.status = PostmortemStatus.published
    postmortem.published_by = actor
    postmortem.published_at = utcnow()
    postmortem.updated_by = actor
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
              body=f"Postmortem version {postmortem.revision} published by {actor.display}.")
    webhooks.emit_postmortem_published(session, incident, postmortem, actor)
    return postmortem


def versions_for(*, session: Session, postmortem: Postmortem) -> list[PostmortemVersion]:
    """Every saved version, newest first, with authors."""
    return list(session.scalars(
        select(PostmortemVersion).where(PostmortemVersion.postmortem_id == postmortem.id)
        .options(selectinload(PostmortemVersion.author))
        .order_by(PostmortemVersion.number.desc())
    ))


def get_version(*, session: Session, postmortem: Postmortem, number: int) -> PostmortemVersion:
    version = session.scalar(select(PostmortemVersion).where(
        PostmortemVersion.postmortem_id == postmortem.id, PostmortemVersion.number == number))
    if version is None:
        raise NotFound("No such version.")
    return version


def approvals_for(*, session: Session, postmortem: Postmortem) -> list[PostmortemApproval]:
    """Every approval ever given, newest first."""
    return list(session.scalars(
        select(PostmortemApproval).where(PostmortemApproval.postmortem_id == postmortem.id)
        .options(selectinload(PostmortemApproval.approved_by))
        .order_by(PostmortemApproval.id.desc())
    ))


def is_reviewer(postmortem: Postmortem, user: User) -> bool:
    return any(r.user_id == user.id for r in postmortem.reviewers)


def has_published_postmortem(*, session: Session, incident: Incident) -> bool:
    return session.scalar(select(Postmortem.id).where(
        Postmortem.incident_id == incident.id, Postmortem.status == PostmortemStatus.published)) is not None


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's postmortem card: the postmortem and when it is due."""
    postmortem = page.once(postmortem_for)
    return {"postmortem": postmortem, "postmortem_due": due_item(
        page.incident, postmortem, business_days=page.settings["POSTMORTEM_DUE_BUSINESS_DAYS"])}
