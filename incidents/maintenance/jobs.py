"""The worker's side of scheduled maintenance: telling subscribers when a window opened or closed
by itself. Nobody posts those steps (they are worked out when read, lifecycle.py), so the worker
looks every minute for automatic steps that have come due and announces each once."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import selectinload

from incidents.db import utcnow
from incidents.extensions import db
from incidents.jobs import periodic
from incidents.maintenance import lifecycle, service
from incidents.maintenance.models import Maintenance
from incidents.subscribers.service import announce

# An automatic step older than this when first seen (the worker was down for a day) is history,
# not news: it shows on the page but is not mailed late.
LOOK_BACK = timedelta(hours=6)


@periodic("maintenance.announce_automatic_steps", every=60)
def announce_automatic_steps() -> int:
    """Announce each automatic start or completion that came due in the last hours; how many."""
    now = utcnow()
    since = now - LOOK_BACK
    due = db.session.scalars(select(Maintenance).options(selectinload(Maintenance.updates)).where(
        Maintenance.cancelled_at.is_(None),
        or_(and_(Maintenance.auto_start, Maintenance.scheduled_for.between(since, now)),
            and_(Maintenance.auto_complete, Maintenance.scheduled_until.between(since, now))))).all()
    announced = 0
    for maintenance in due:
        for step in service.steps_of(maintenance, now):
            if step.automatic and step.at >= since and announce(
                    session=db.session, about="maintenance", public_id=maintenance.public_id,
                    update_id=lifecycle.auto_update_id(maintenance.public_id, step.status)):
                announced += 1
    db.session.commit()
    return announced
