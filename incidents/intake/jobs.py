"""The alert intakes' background work: forgetting deliveries that reached no incident."""
from __future__ import annotations

import logging

from incidents.extensions import db
from incidents.intake.models import IntakeDelivery
from incidents.jobs import periodic
from incidents.jobs.retention import HOURLY, purge_old_rows, retention_cutoff

log = logging.getLogger(__name__)


@periodic("intake.purge_unattached_deliveries", every=HOURLY)
def purge_unattached_deliveries() -> int:
    """Deliveries past LOG_RETENTION_DAYS that added to no incident (a group resolved before anything
    fired, or whose incident was closed). A delivery an incident's timeline links to stays with it:
    it is that incident's evidence."""
    cutoff = retention_cutoff()
    if cutoff is None:
        return 0
    table = IntakeDelivery.__table__
    deleted = purge_old_rows(session=db.session, table=table, made_at=table.c.received_at, cutoff=cutoff,
                             deletable=table.c.incident_id.is_(None))
    if deleted:
        log.info("deleted %d alert deliveries older than %s that reached no incident", deleted, cutoff.date())
    return deleted
