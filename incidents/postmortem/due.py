"""When a postmortem is due: business days after the incident was resolved, and which are late."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import exists, select, text
from sqlalchemy.orm import Session, aliased, load_only

from incidents.db import utcnow
from incidents.incident.enums import Status
from incidents.incident.models import NOT_CLOSED, Incident
from incidents.paging import PAGE_SIZE, Cursor
from incidents.postmortem.enums import PostmortemStatus
from incidents.postmortem.models import Postmortem


def add_business_days(start: date, days: int) -> date:
    """`days` working days (Monday to Friday) after `start`."""
    current, left = start, max(0, days)
    while left:
        current += timedelta(days=1)
        if current.weekday() < 5:
            left -= 1
    return current


def due_date(resolved_at: datetime | None, business_days: int) -> date | None:
    """When the postmortem is due: business days after the incident was resolved (None before)."""
    if resolved_at is None:
        return None
    return add_business_days(resolved_at.date(), business_days)


def is_overdue(due: date | None, postmortem: Postmortem | None, *, on: date | None = None) -> bool:
    """Past its due date and still not published."""
    on = on or utcnow().date()
    published = postmortem is not None and postmortem.status is PostmortemStatus.published
    return due is not None and not published and on > due


@dataclass
class DueItem:
    incident: Incident
    postmortem: Postmortem | None
    due_on: date
    overdue: bool

    @property
    def state(self) -> str:
        return self.postmortem.status.label if self.postmortem else "Not started"


def due_item(incident: Incident, postmortem: Postmortem | None, *, business_days: int,
             on: date | None = None) -> DueItem | None:
    """The incident's postmortem as a due item: None while the incident is open or closed, or once
    the postmortem is published."""
    if incident.resolved_at is None or incident.status is Status.closed:
        return None
    if postmortem is not None and postmortem.status is PostmortemStatus.published:
        return None
    due = due_date(incident.resolved_at, business_days)
    return DueItem(incident, postmortem, due, is_overdue(due, postmortem, on=on))


def postmortems_due(*, session: Session, business_days: int, on: date | None = None,
                    limit: int = PAGE_SIZE, after: Cursor | None = None) -> list[DueItem]:
    """One page of the resolved incidents whose postmortem is not yet published, soonest due
    first. A due date is the resolution plus business days, so it rises with (resolved_at, id):
    the page is a range of that index, after the cursor, however many are due."""
    published = aliased(Postmortem)
    stmt = (select(Incident, Postmortem).outerjoin(Postmortem, Postmortem.incident_id == Incident.id)
            # What a row shows: not the incident's summary or the postmortem's sections.
            .options(load_only(Incident.id, Incident.reference, Incident.title, Incident.severity,
                               Incident.status, Incident.resolved_at),
                     load_only(Postmortem.id, Postmortem.incident_id, Postmortem.status))
            .where(Incident.resolved_at.is_not(None), text(f"incident.{NOT_CLOSED}"))
            # "No published postmortem" as an anti-join: PostgreSQL then walks the index in order and
            # stops at the page; an OR over the outer join's columns read all and sorted (issue #19).
            .where(~exists().where(published.incident_id == Incident.id,
                                   published.status == PostmortemStatus.published)))
    if after is not None:
        stmt = stmt.where(after.above(Incident.resolved_at, Incident.id))
    rows = session.execute(stmt.order_by(Incident.resolved_at, Incident.id).limit(limit)).all()
    return [due_item(incident, postmortem, business_days=business_days, on=on) for incident, postmortem in rows]


def due_flags(*, session: Session, incidents: list[Incident], business_days: int,
              on: date | None = None) -> dict[int, DueItem]:
    """For an incident list: the due postmortems among these incidents, by incident id (one query)."""
    resolved = [i for i in incidents if i.resolved_at is not None and i.status is not Status.closed]
    if not resolved:
        return {}
    found = {pm.incident_id: pm for pm in session.scalars(
        select(Postmortem).where(Postmortem.incident_id.in_([i.id for i in resolved])))}
    items = (due_item(incident, found.get(incident.id), business_days=business_days, on=on)
             for incident in resolved)
    return {item.incident.id: item for item in items if item is not None}
