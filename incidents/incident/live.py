"""Live updates of the incident page: a small token that changes whenever anything the page shows
changes, read in one SQL statement from the database (so it holds with several app servers).

The page's script (static/js/live.js) polls `/incidents/<ref>/live` with the token it holds as
`If-None-Match`; the answer is 304 until something changed, then the script fetches the page and
swaps the regions marked `data-live`.
"""
from __future__ import annotations

import functools
import hashlib

from flask import current_app
from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from incidents.actions.models import ActionItem
from incidents.audit.models import AuditEvent
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.memo import remembered
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


def _state_columns(incident_id) -> list:
    return [
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
    ]


def _token(row) -> str | None:
    if row[0] is None:
        return None
    return hashlib.sha256(repr(tuple(row)).encode()).hexdigest()[:20]


@functools.cache
def _statement(by: str, shared: bool):
    """The state statement, built once (building it costs more than running it): by incident `id`
    or by `reference`, with the newest audit event as its last column when `shared`."""
    incident_id = (bindparam("key") if by == "id" else
                   select(Incident.id).where(Incident.reference == bindparam("key")).scalar_subquery())
    columns = _state_columns(incident_id)
    if shared:
        columns.append(select(func.max(AuditEvent.id)).scalar_subquery())
    return select(*columns)


def page_version(*, session: Session, incident_id: int | None = None, reference: str | None = None) -> str | None:
    """A short token of the incident page's state, by id or by reference (then the look-up is part
    of the same statement); None when there is no such incident."""
    by, key = ("reference", reference) if reference is not None else ("id", incident_id)
    return _token(session.connection().execute(_statement(by, False), {"key": key}).one())


def page_state(*, session: Session, reference: str) -> tuple[str, int] | None:
    """The page version and the newest audit event, in one statement: every change of a row the
    page shows but the incident does not own (a person's name, a component) is audited, so the
    pair changes whenever anything on the page can. None when there is no such incident."""
    row = session.connection().execute(_statement("reference", True), {"key": reference}).one()
    token = _token(row[:-1])
    return None if token is None else (token, row[-1] or 0)


# The pollers of every open page ask for the same few incidents: each app process reads an
# incident's state at most once every LIVE_MEMO_SECONDS (1 by default), like the public site's
# change check. A change shows on open pages that much later at most.
STATE_STORE = "incident_state_memo"


def memo_page_state(*, session: Session, reference: str) -> tuple[str, int] | None:
    """`page_state`, at most LIVE_MEMO_SECONDS old."""
    return remembered(STATE_STORE, reference, current_app.config["LIVE_MEMO_SECONDS"],
                      lambda: page_state(session=session, reference=reference))
