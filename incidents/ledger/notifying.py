"""Notification batches: the customers still to be sent a released notice on one channel, exported
as CSV for a mail-merge or bulk e-mail tool, then marked sent (bounces come back as a status list).

Exporting fixes the batch: its customers are marked with it in one statement, so a second export
never names them again while the first is out, and "mark sent" records exactly who was in the file.
"""
from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, joinedload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import DomainError
from incidents.incident.models import Incident
from incidents.ledger import figures
from incidents.ledger.csvformat import CHANNEL_NAMES
from incidents.ledger.models import LedgerCustomer, LedgerNotificationBatch
from incidents.notices.models import Audience, Notice, NoticeRelease, NoticeVersion


def releases_to_customers(*, session: Session, incident: Incident) -> list[NoticeRelease]:
    """Released customer notices of the incident on a per-person channel (e-mail, letter, in-app)."""
    return list(session.scalars(
        select(NoticeRelease).join(NoticeVersion).join(Notice)
        .where(Notice.incident_id == incident.id, Notice.audience == Audience.customers,
               NoticeRelease.channel.in_(CHANNEL_NAMES))
        .options(joinedload(NoticeRelease.version).joinedload(NoticeVersion.notice))
        .order_by(NoticeRelease.released_at.desc())))


def release_label(release: NoticeRelease) -> str:
    version = release.version
    return f"“{version.subject}” (version {version.number}) by {release.channel.label}"


def batches_of(*, session: Session, incident: Incident) -> list[LedgerNotificationBatch]:
    return list(session.scalars(
        select(LedgerNotificationBatch).where(LedgerNotificationBatch.incident_id == incident.id)
        .options(joinedload(LedgerNotificationBatch.notice_version), joinedload(LedgerNotificationBatch.created_by))
        .order_by(LedgerNotificationBatch.id.desc())))


def start_batch(*, session: Session, actor: User, incident: Incident,
                release: NoticeRelease) -> LedgerNotificationBatch:
    """Put every customer reached on the release's channel, not yet sent this version and in no
    open batch, into a new batch."""
    channel = release.channel.value
    batch = LedgerNotificationBatch(incident_id=incident.id, notice_version_id=release.version_id, channel=channel,
                                    created_by_id=actor.id)
    session.add(batch)
    session.flush()
    version = LedgerCustomer.notice_version_id
    not_sent_this = or_(version.is_(None), version != release.version_id)
    batch.customers = session.execute(
        update(LedgerCustomer)
        .where(LedgerCustomer.incident_id == incident.id, LedgerCustomer.channel == channel,
               LedgerCustomer.batch_id.is_(None), not_sent_this)
        .values(batch_id=batch.id).execution_options(synchronize_session=False)).rowcount
    if not batch.customers:
        raise DomainError(f"Nobody is left to send this version by {release.channel.label.lower()}: everyone "
                          "reached that way has been sent it, or is in a batch not yet marked sent.")
    return batch


def mark_sent(*, session: Session, actor: User, incident: Incident, batch: LedgerNotificationBatch) -> int:
    """Record that the batch's customers were sent its version (now); returns how many."""
    if batch.sent_at is not None:
        raise DomainError("This batch was already marked sent.")
    now = utcnow()
    sent = session.execute(
        update(LedgerCustomer).where(LedgerCustomer.batch_id == batch.id)
        .values(notified_at=now, notified_channel=batch.channel, notice_version_id=batch.notice_version_id,
                bounced_at=None, batch_id=None, updated_at=now)
        .execution_options(synchronize_session=False)).rowcount
    batch.sent_at, batch.sent_by_id, batch.customers = now, actor.id, sent
    figures.recompute(session=session, incident_id=incident.id)
    figures.snapshot_impact(session=session, incident=incident, actor=actor,
                            note=f"From the affected-customer ledger: {sent:,} customers sent notice version "
                                 f"{batch.notice_version.number} by {batch.channel.replace('_', '-')}.")
    return sent


def discard(*, session: Session, batch: LedgerNotificationBatch) -> None:
    """Give up a batch not sent: its customers are free for the next export."""
    if batch.sent_at is not None:
        raise DomainError("A batch marked sent cannot be discarded: those customers were told.")
    session.execute(update(LedgerCustomer).where(LedgerCustomer.batch_id == batch.id).values(batch_id=None)
                    .execution_options(synchronize_session=False))
    session.delete(batch)

