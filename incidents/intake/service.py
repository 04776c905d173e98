"""Receiving a delivery: once, whatever the concurrency, and never changing an incident's status.

1. The delivery is stored first, inside a savepoint, under its fingerprint (unique per intake). A
   re-sent notification collides there and is answered "duplicate": nothing else happens. Two
   copies arriving together: on PostgreSQL the second INSERT waits for the first transaction and
   then fails (or succeeds, if the first rolled back); on SQLite writers take turns anyway.
2. The group's newest generation says which incident it opened. A firing group whose incident is
   open gets a timeline entry. One with none (or a resolved or closed one) declares an incident and
   stores the next generation in a savepoint: of several deliveries racing to declare, one stores
   it; the others collide, roll their savepoint back (the declared incident with it) and go round
   again, now finding the winner's open incident to add to.
3. A resolved group adds "alerts resolved" to the group's incident and leaves its status alone.

The caller commits. Everything a delivery writes is in that one transaction.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, joinedload

from incidents.incident.enums import Status
from incidents.incident.service import declare_incident
from incidents.intake import reading
from incidents.intake.models import AlertGroup, AlertStatus, Intake, IntakeDelivery, IntakeKind, Outcome
from incidents.intake.payloads import Notification
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

DUPLICATE = "duplicate"
# Rounds of "declare, or find who declared": each lost round means another delivery committed a
# generation, so a handful is plenty; running out means something else is wrong.
ATTEMPTS = 8


@dataclass(frozen=True)
class Receipt:
    """What a delivery did, for the sender's answer."""

    result: str  # an Outcome value, or "duplicate"
    delivery_id: int
    reference: str | None
    detail: str

    @property
    def duplicate(self) -> bool:
        return self.result == DUPLICATE


def default_link(delivery_id: int) -> str:
    return f"/intake/deliveries/{delivery_id}"


def receive(*, session: Session, intake: Intake, notification: Notification, raw: str,
            link_for: Callable[[int], str] = default_link) -> Receipt:
    """Store one delivery and do what it says (see the module's docstring); the caller commits."""
    fingerprint = notification.fingerprint
    if notification.kind is IntakeKind.generic:
        fingerprint = notification.content_fingerprint(_last_other_status(session, intake, notification))
    delivery = IntakeDelivery(intake_id=intake.id, fingerprint=fingerprint, group_hash=notification.group_hash,
                              status=AlertStatus(notification.status), payload=raw,
                              alerts=len(notification.alerts) + notification.truncated)
    try:
        with session.begin_nested():
            session.add(delivery)
    except IntegrityError:
        return _duplicate(session, intake, fingerprint)
    for _attempt in range(ATTEMPTS):
        group = latest_group(session=session, intake=intake, group_hash=notification.group_hash)
        incident = group.incident if group is not None else None
        if notification.status == AlertStatus.resolved.value:
            return _resolved(session, intake, notification, delivery, group, link_for)
        if incident is not None and incident.status.is_open:
            return _record(session, intake, notification, delivery, group, Outcome.updated, link_for)
        try:
            with session.begin_nested():
                group = _declare(session, intake, notification, generation=group.generation + 1 if group else 1)
        except IntegrityError:
            continue  # another delivery of this group declared its incident first: add to that one
        return _record(session, intake, notification, delivery, group, Outcome.created, link_for)
    raise RuntimeError(f"alert group {notification.group_hash[:12]} of intake {intake.id} kept changing")


def latest_group(*, session: Session, intake: Intake, group_hash: str) -> AlertGroup | None:
    """The group's newest generation with its incident, read afresh (another transaction may have
    committed one, or changed the incident's status, since this session last looked)."""
    return session.scalar(select(AlertGroup).options(joinedload(AlertGroup.incident))
                          .where(AlertGroup.intake_id == intake.id, AlertGroup.group_hash == group_hash)
                          .order_by(AlertGroup.generation.desc()).limit(1)
                          .execution_options(populate_existing=True))


def _declare(session: Session, intake: Intake, notification: Notification, *, generation: int) -> AlertGroup:
    incident = declare_incident(session=session, actor=intake.account,
                                title=reading.title_of(intake, notification),
                                severity=reading.severity_of(intake, notification),
                                summary=reading.summary_of(intake, notification))
    # Monitoring detected it when its first alert started firing (the executive report's "time to declare").
    started = [a.starts_at for a in notification.alerts if a.status == "firing" and a.starts_at]
    if started and min(started) <= incident.declared_at:
        incident.detected_at = min(started)
    group = AlertGroup(intake_id=intake.id, group_hash=notification.group_hash, generation=generation,
                       group_key=notification.group_key, incident=incident)
    session.add(group)
    session.flush()
    return group


def _resolved(session, intake, notification, delivery, group, link_for) -> Receipt:
    """Resolved alerts are noted on the group's incident, if it has one still open to notes."""
    if group is None or group.incident.status is Status.closed:
        delivery.group_id = group.id if group else None
        delivery.incident_id = group.incident_id if group else None
        delivery.outcome = Outcome.recorded
        session.flush()
        why = "its incident is closed" if group else "no incident was declared for this alert group"
        return Receipt(Outcome.recorded.value, delivery.id, group.incident.reference if group else None,
                       f"Kept, and nothing added: {why}.")
    return _record(session, intake, notification, delivery, group, Outcome.resolved, link_for)


def _record(session, intake, notification, delivery, group: AlertGroup, outcome: Outcome, link_for) -> Receipt:
    """Add the delivery's entry to the group's incident and note where it went."""
    incident = group.incident
    entry = add_entry(session=session, incident=incident, author=intake.account, kind=EntryKind.note,
                      body=reading.entry_body(intake, notification, outcome=outcome.value,
                                              delivery_url=link_for(delivery.id)))
    delivery.group_id, delivery.incident_id, delivery.entry_id, delivery.outcome = \
        group.id, incident.id, entry.id, outcome
    session.flush()
    details = {Outcome.created: f"Declared {incident.reference}.",
               Outcome.updated: f"Added what is firing now to {incident.reference}.",
               Outcome.resolved: f"Noted the resolved alerts on {incident.reference}; its status is unchanged."}
    return Receipt(outcome.value, delivery.id, incident.reference, details[outcome])


def _duplicate(session: Session, intake: Intake, fingerprint: str) -> Receipt:
    first = session.scalar(select(IntakeDelivery).options(joinedload(IntakeDelivery.incident))
                           .where(IntakeDelivery.intake_id == intake.id, IntakeDelivery.fingerprint == fingerprint))
    reference = first.incident.reference if first.incident is not None else None
    return Receipt(DUPLICATE, first.id, reference,
                   f"Already received (delivery {first.id}); nothing was added a second time.")


def _last_other_status(session: Session, intake: Intake, notification: Notification) -> int:
    """The newest delivery of the group with the other status (0: none), which scopes the generic
    intake's duplicates to the group's current firing or resolved spell."""
    return session.scalar(select(func.max(IntakeDelivery.id)).where(
        IntakeDelivery.intake_id == intake.id, IntakeDelivery.group_hash == notification.group_hash,
        IntakeDelivery.status != AlertStatus(notification.status))) or 0


def get_delivery(*, session: Session, delivery_id: int) -> IntakeDelivery | None:
    return session.scalar(select(IntakeDelivery)
                          .options(joinedload(IntakeDelivery.intake), joinedload(IntakeDelivery.incident),
                                   joinedload(IntakeDelivery.entry))
                          .where(IntakeDelivery.id == delivery_id))


def recent_deliveries(*, session: Session, intake: Intake, limit: int = 50) -> list[IntakeDelivery]:
    """The intake's newest deliveries, without their raw bodies."""
    return list(session.scalars(select(IntakeDelivery)
                                .options(defer(IntakeDelivery.payload), joinedload(IntakeDelivery.incident))
                                .where(IntakeDelivery.intake_id == intake.id)
                                .order_by(IntakeDelivery.id.desc()).limit(limit)))


def incident_count(*, session: Session, intake: Intake) -> int:
    return session.scalar(select(func.count(AlertGroup.id)).where(AlertGroup.intake_id == intake.id)) or 0

