"""The ledger as CSV, streamed: every customer of an incident (for counsel, a regulator's request
or the customer system), or one notification batch (for the mail-merge). Rows are read in chunks
of a few thousand by id, so a million customers never sit in memory."""
from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.ledger.models import LedgerCustomer, LedgerItem
from incidents.notices.models import NoticeVersion

CHUNK = 5_000
FULL_COLUMNS = ["customer_id", "country", "region", "channel", "records", "outcome", "affected", "restored",
                "lost", "notified_at", "notified_channel", "notice_version", "bounced_at"]
BATCH_COLUMNS = ["customer_id", "country", "region", "channel", "data_categories", "outcome", "records"]


def _chunks(session: Session, condition) -> Iterator[tuple[list, dict[int, list[tuple[str, str]]]]]:
    """The customers matching `condition` in id order, a chunk at a time, with their items."""
    after = 0
    while True:
        customers = session.execute(
            select(LedgerCustomer.id, LedgerCustomer.customer_ref, LedgerCustomer.country, LedgerCustomer.region,
                   LedgerCustomer.channel, LedgerCustomer.records, LedgerCustomer.outcome,
                   LedgerCustomer.notified_at, LedgerCustomer.notified_channel, NoticeVersion.number,
                   LedgerCustomer.bounced_at)
            .outerjoin(NoticeVersion, NoticeVersion.id == LedgerCustomer.notice_version_id)
            .where(condition, LedgerCustomer.id > after).order_by(LedgerCustomer.id).limit(CHUNK)).all()
        if not customers:
            return
        items: dict[int, list[tuple[str, str]]] = {}
        for customer_id, category, state in session.execute(
                select(LedgerItem.customer_id, LedgerItem.category, LedgerItem.state)
                .where(LedgerItem.customer_id.in_([c.id for c in customers])).order_by(LedgerItem.category)):
            items.setdefault(customer_id, []).append((category, state))
        yield customers, items
        after = customers[-1].id


def _when(moment) -> str:
    return moment.isoformat() if moment is not None else ""


def full_rows(*, session: Session, incident_id: int) -> Iterator[list]:
    """Every customer of the incident's ledger, header first."""
    yield FULL_COLUMNS
    for customers, items in _chunks(session, LedgerCustomer.incident_id == incident_id):
        for c in customers:
            mine = items.get(c.id, [])
            by_state = {state: ";".join(cat for cat, s in mine if s == state) for state in ("affected", "restored",
                                                                                           "lost")}
            yield [c.customer_ref, c.country, c.region or "", c.channel, "" if c.records is None else c.records,
                   c.outcome, by_state["affected"], by_state["restored"], by_state["lost"], _when(c.notified_at),
                   c.notified_channel or "", c.number or "", _when(c.bounced_at)]


def batch_rows(*, session: Session, batch_id: int) -> Iterator[list]:
    """The customers of one notification batch, header first."""
    yield BATCH_COLUMNS
    for customers, items in _chunks(session, LedgerCustomer.batch_id == batch_id):
        for c in customers:
            yield [c.customer_ref, c.country, c.region or "", c.channel,
                   ";".join(cat for cat, _ in items.get(c.id, [])), c.outcome,
                   "" if c.records is None else c.records]
