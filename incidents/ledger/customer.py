"""Changing one customer's ledger entry by hand: support or a responder marks a category restored
or lost for good. The kept figures move by the difference, so no million-row count runs."""
from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from incidents.audit import recorder as audit
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import DomainError, FieldError
from incidents.incident.models import Incident
from incidents.ledger.models import ITEM_STATES, LedgerCustomer, LedgerFigure

COUNTED = ("restored", "lost")  # what ledger_figure counts besides affected


def outcome_of(states: list[str]) -> str:
    """A customer's outcome from their items' states (see models.OUTCOMES)."""
    if "lost" in states:
        return "lost"
    return "waiting" if "affected" in states else "restored"


def set_states(*, session: Session, actor: User, incident: Incident, customer_ref: str,
               states: dict[str, str], workstream_id: int | None) -> LedgerCustomer:
    """Give the customer's categories these states (others unchanged); audited as one change."""
    customer = session.scalar(
        select(LedgerCustomer).where(LedgerCustomer.incident_id == incident.id,
                                     LedgerCustomer.customer_ref == customer_ref)
        .options(selectinload(LedgerCustomer.items)).with_for_update())
    if customer is None:
        raise DomainError(f"Customer {customer_ref} is not in {incident.reference}'s ledger.")
    items = {item.category: item for item in customer.items}
    for category, state in states.items():
        if category not in items:
            raise FieldError(f"{customer_ref} has no {category} in this ledger.", field=category)
        if state not in ITEM_STATES:
            raise FieldError(f"Unknown state {state!r}.", field=category)
    before = {category: item.state for category, item in items.items()}
    after = {**before, **states}
    if after == before:
        return customer
    now = utcnow()
    old_outcome, new_outcome = customer.outcome, outcome_of(list(after.values()))
    for category, state in states.items():
        if before[category] != state:
            item = items[category]
            item.state, item.changed_at = state, now
            item.workstream_id = workstream_id if state == "restored" else None
    customer.outcome, customer.updated_at = new_outcome, now
    _shift_customer(session, incident.id, customer, old_outcome, new_outcome)
    for category in states:
        if before[category] != after[category]:
            _shift(session, incident.id, "category", category, before[category], after[category])
    audit.record(session, action="update", entity_type="ledger_customer", entity_id=customer_ref,
                 actor_id=actor.id, incident_id=incident.id,
                 before={c: s for c, s in before.items() if after[c] != s},
                 after={c: s for c, s in after.items() if before[c] != s})
    return customer


def _shift_customer(session: Session, incident_id: int, customer: LedgerCustomer, old: str, new: str) -> None:
    if old == new:
        return
    for dimension, key in (("total", ""), ("jurisdiction", customer.jurisdiction)):
        _shift(session, incident_id, dimension, key, old, new)


def _shift(session: Session, incident_id: int, dimension: str, key: str, old: str, new: str) -> None:
    """Move one count of a kept figure from state `old` to `new` (affected stays: it counts everyone)."""
    changes = {}
    for state in COUNTED:
        column = getattr(LedgerFigure, state)
        step = (state == new) - (state == old)
        if step:
            changes[state] = column + step
    if changes:
        session.execute(update(LedgerFigure).where(
            LedgerFigure.incident_id == incident_id, LedgerFigure.dimension == dimension, LedgerFigure.key == key)
            .values(**changes).execution_options(synchronize_session=False))
