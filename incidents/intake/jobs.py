"""The alert intakes' background work: forgetting deliveries that reached no incident."""
from __future__ import annotations

from incidents.intake.models import IntakeDelivery
from incidents.jobs import periodic
from incidents.jobs.retention import HOURLY, purge_log


@periodic("intake.purge_unattached_deliveries", every=HOURLY)
def purge_unattached_deliveries() -> int:
    """Deliveries past LOG_RETENTION_DAYS that added to no incident (a group resolved before anything
    fired, or whose incident was closed). A delivery an incident's timeline links to stays with it:
    it is that incident's evidence."""
    table = IntakeDelivery.__table__
    return purge_log("alert deliveries that reached no incident", table, table.c.received_at,
                     lambda _cutoff: table.c.incident_id.is_(None))
