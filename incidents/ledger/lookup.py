"""The support look-up: one customer's story in every incident's ledger that names them."""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from incidents.audit import recorder as audit
from incidents.auth.models import User
from incidents.incident.enums import DATA_CATEGORIES
from incidents.ledger.models import LedgerCustomer, LedgerItem

ITEM_LABELS = {"affected": "Affected, not back yet", "restored": "Restored", "lost": "Lost for good"}


@dataclass
class Found:
    customer: LedgerCustomer

    @property
    def incident(self):
        return self.customer.incident

    def items_in(self, state: str) -> list[LedgerItem]:
        return [item for item in self.customer.items if item.state == state]

    def as_json(self) -> dict:
        c = self.customer
        return {
            "incident": {"reference": c.incident.reference, "title": c.incident.title},
            "customer_id": c.customer_ref, "country": c.country, "region": c.region,
            "jurisdiction": c.jurisdiction, "channel": c.channel, "records": c.records, "outcome": c.outcome,
            "categories": [{"category": i.category, "label": DATA_CATEGORIES.get(i.category, i.category),
                            "state": i.state, "changed_at": i.changed_at.isoformat(),
                            "workstream": i.workstream.name if i.workstream else None} for i in c.items],
            "notified": None if c.notified_at is None else {
                "at": c.notified_at.isoformat(), "channel": c.notified_channel,
                "notice_version": c.notice_version.number if c.notice_version else None,
                "bounced_at": c.bounced_at.isoformat() if c.bounced_at else None},
        }


def look_up(*, session: Session, viewer: User, customer_ref: str) -> list[Found]:
    """Every ledger entry of the customer with exactly this id (newest incident first), audited."""
    ref = customer_ref.strip()
    rows = session.scalars(
        select(LedgerCustomer).where(LedgerCustomer.customer_ref == ref)
        .options(joinedload(LedgerCustomer.incident), selectinload(LedgerCustomer.items)
                 .joinedload(LedgerItem.workstream), joinedload(LedgerCustomer.notice_version))
        .order_by(LedgerCustomer.incident_id.desc())).unique().all()
    # Who looked up whom, found or not: support staff read personal data, and a look-up that
    # finds nothing is still someone asking about a person.
    audit.record(session, action=audit.LEDGER_LOOKUP, entity_type="ledger_customer", entity_id=ref[:100],
                 actor_id=viewer.id, after={"found_in": [row.incident.reference for row in rows]})
    return [Found(row) for row in rows]
