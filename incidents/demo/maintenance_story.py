"""The demo's scheduled maintenance: one done three weeks ago (its window opened and closed by itself,
with a check posted in between) and one announced for next week, so the status page shows both, and
the uptime bars show the maintenance day. Dated from the moment the demo loads, through the real
services (`clock_at`)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from incidents.auth.service import get_by_email
from incidents.db import clock_at
from incidents.maintenance import service as maintenance
from incidents.status.service import list_components


def play(*, session: Session) -> None:
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    components = {c.name: c for c in list_components(session=session)}
    morgan = get_by_email(session=session, email="morgan.reyes@example.com")
    dana = get_by_email(session=session, email="dana.okafor@example.com")

    done_at = today - timedelta(days=21) + timedelta(hours=2)
    with clock_at(done_at - timedelta(days=4)):
        disks = maintenance.schedule(
            session=session, actor=dana, title="Photo storage disk replacement",
            body="We are replacing ageing disks in the photo storage. New photo backups will wait on your "
                 "phone and upload once the work is done; photos already backed up stay viewable.",
            scheduled_for=done_at, scheduled_until=done_at + timedelta(hours=2),
            components={components["Photo backup"]: "under_maintenance"})
    with clock_at(done_at + timedelta(minutes=80)):
        maintenance.post_update(session=session, actor=dana, maintenance=disks, status="verifying",
                                body="The new disks are in. We are checking every stored photo against "
                                     "its checksum before backups resume.")

    upcoming = today + timedelta(days=6, hours=2)
    with clock_at(today - timedelta(hours=15)):  # announced yesterday morning
        maintenance.schedule(
            session=session, actor=morgan, title="Contacts and calendar database upgrade",
            body="We are upgrading the database behind contacts and calendar sync. Changes made on your "
                 "phones during the window sync **after** it ends; nothing is lost.",
            scheduled_for=upcoming, scheduled_until=upcoming + timedelta(hours=2),
            components={components["Contacts sync"]: "under_maintenance",
                        components["Calendar sync"]: "under_maintenance"})
