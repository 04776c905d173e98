"""Live updates of the incident page: a small token that changes whenever anything the page shows
changes, read in one SQL statement from the database (so it holds with several app servers).

The page's script (static/js/live.js) polls `/incidents/<ref>/live` with the token it holds as
`If-None-Match`; the answer is 304 until something changed, then the script fetches the page and
swaps the regions marked `data-live`.
"""
from __future__ import annotations

import hashlib

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from incidents.actions.models import ActionItem
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.obligations.models import Obligation
from incidents.postmortem.models import Postmortem
from incidents.recovery.models import Workstream
from incidents.timeline.models import TimelineEntry, TimelinePin


def _newest(column, owner, incident_id):
    return select(func.max(column)).where(owner == incident_id).scalar_subquery()


def _sum_and_count(model, incident_id):
    # Versions rise on every change and rows only come (never go, but for pins): sum and count move.
    return (select(func.coalesce(func.sum(model.version), 0) * 100_000 + func.count())
            .where(model.incident_id == incident_id).scalar_subquery())


def page_version(*, session: Session, incident_id: int | None = None, reference: str | None = None) -> str | None:
    """A short token of the incident page's state, by id or by reference (then the look-up is part
    of the same statement); None when there is no such incident."""
    if reference is not None:
        incident_id = select(Incident.id).where(Incident.reference == reference).scalar_subquery()
    row = session.execute(select(
        select(Incident.version).where(Incident.id == incident_id).scalar_subquery(),
        select(Incident.published_at).where(Incident.id == incident_id).scalar_subquery(),
        # Entries are append-only (a correction is a new row), so the newest id tells every new one.
        _newest(TimelineEntry.id, TimelineEntry.incident_id, incident_id),
        select(func.count()).select_from(TimelinePin).where(TimelinePin.incident_id == incident_id)
        .scalar_subquery(),
        _newest(TimelinePin.id, TimelinePin.incident_id, incident_id),
        _newest(ImpactUpdate.id, ImpactUpdate.incident_id, incident_id),
        _sum_and_count(Workstream, incident_id),
        _sum_and_count(ActionItem, incident_id),
        _sum_and_count(Obligation, incident_id),
        select(Postmortem.version).where(Postmortem.incident_id == incident_id).scalar_subquery(),
    )).one()
    if row[0] is None:
        return None
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:20]
