"""Retention: the per-customer ledger of a closed incident is deleted once it has been closed for
LEDGER_RETENTION_DAYS days, leaving the figures, the imports' counts and hashes, and a record of
the purge. Customer lists are personal data: kept while they serve the response, not for ever."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from incidents.audit import recorder as audit
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.ledger.models import (
    LedgerCustomer,
    LedgerImport,
    LedgerImportProblem,
    LedgerNotificationBatch,
    LedgerPurge,
    LedgerStagingRow,
    LedgerUploadChunk,
)


@dataclass
class Purged:
    reference: str
    customers: int


def due(*, session: Session, days: int) -> list[Incident]:
    """Closed incidents with a ledger, closed at least `days` days ago, oldest first."""
    has_ledger = exists().where(LedgerCustomer.incident_id == Incident.id)
    return list(session.scalars(
        select(Incident).where(Incident.status == Status.closed, Incident.closed_at <= utcnow() - timedelta(days=days),
                               has_ledger).order_by(Incident.closed_at)))


def purge(*, session: Session, incident: Incident, days: int, actor: User | None = None) -> Purged:
    """Delete the incident's per-customer rows (in the caller's transaction); the figures stay."""
    if incident.status != Status.closed:
        raise ValueError(f"{incident.reference} is not closed: its ledger is still in use")
    customers = session.scalar(select(func.count()).select_from(LedgerCustomer)
                               .where(LedgerCustomer.incident_id == incident.id))
    imports = select(LedgerImport.id).where(LedgerImport.incident_id == incident.id).scalar_subquery()
    for table in (LedgerImportProblem, LedgerStagingRow, LedgerUploadChunk):
        session.execute(delete(table).where(table.import_id.in_(imports)))
    session.execute(update(LedgerCustomer).where(LedgerCustomer.incident_id == incident.id).values(batch_id=None))
    session.execute(delete(LedgerNotificationBatch).where(LedgerNotificationBatch.incident_id == incident.id,
                                                          LedgerNotificationBatch.sent_at.is_(None)))
    # Items go with their customers (ON DELETE CASCADE, on SQLite too: foreign keys are on).
    session.execute(delete(LedgerCustomer).where(LedgerCustomer.incident_id == incident.id))
    session.merge(LedgerPurge(incident_id=incident.id, purged_at=utcnow(), purged_by_id=actor.id if actor else None,
                              customers=customers, retention_days=days))
    audit.record(session, action="delete", entity_type="ledger_customer", entity_id=None,
                 actor_id=actor.id if actor else None, incident_id=incident.id,
                 after={"purged_customers": customers, "retention_days": days})
    return Purged(incident.reference, customers)


def purge_due(*, session: Session, days: int) -> list[Purged]:
    """Purge every ledger whose time is up, each in the caller's transaction."""
    return [purge(session=session, incident=incident, days=days) for incident in due(session=session, days=days)]
