"""The ledger's background work: importing a list, and deleting ledgers past their retention."""
from __future__ import annotations

import logging

from flask import current_app

from incidents.db import db
from incidents.jobs import job, periodic, progress
from incidents.ledger import importing, retention

log = logging.getLogger(__name__)


@job("ledger.import", retries=2, retry_delay=30)
def import_ledger(*, import_id: int) -> dict:
    """Check and apply one uploaded file (all of it in one commit, or nothing)."""
    record = importing.run(session=db.session, import_id=import_id, report=progress)
    return {"import": record.public_id, "state": record.state, "rows": record.rows_read,
            "applied": record.rows_applied, "bad": record.rows_bad, "message": record.message}


@periodic("ledger.purge_expired", every=3600)
def purge_expired() -> None:
    """Once an hour, delete the customer rows of ledgers past LEDGER_RETENTION_DAYS (off when unset)."""
    days = current_app.config.get("LEDGER_RETENTION_DAYS")
    if days:
        for purged in retention.purge_due(session=db.session, days=days):
            log.info("ledger of %s purged after %d days: %d customers", purged.reference, days, purged.customers)


@periodic("ledger.tidy_abandoned_imports", every=300)
def tidy_abandoned_imports() -> None:
    """An import whose job gave up (failed for good, or was cancelled) before applying: mark it
    failed and delete its staged rows and stored file, which name customers."""
    for record in importing.abandoned(session=db.session):
        importing.give_up(session=db.session, record=record)
        log.info("ledger import %s abandoned by its job: staged rows and file deleted", record.public_id)
