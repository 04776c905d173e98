"""The ledger's background work: importing a customer list."""
from __future__ import annotations

from incidents.db import db
from incidents.jobs import job, progress
from incidents.ledger import importing


@job("ledger.import", retries=2, retry_delay=30)
def import_ledger(*, import_id: int) -> dict:
    """Check and apply one uploaded file (all of it in one commit, or nothing)."""
    record = importing.run(session=db.session, import_id=import_id, report=progress)
    return {"import": record.public_id, "state": record.state, "rows": record.rows_read,
            "applied": record.rows_applied, "bad": record.rows_bad, "message": record.message}
