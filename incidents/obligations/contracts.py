"""Contract rules: notification obligations taken on by contract, which admins add in the app.

They join the shipped rules as the "Customer contracts" regime (`rules.RuleBook.with_contracts`).
A change moves the open deadlines of every incident that chose that regime, in the same transaction.
"""
from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, NotFound, check_version
from incidents.incident.models import Incident
from incidents.obligations.models import ContractRule, IncidentRegime
from incidents.obligations.rules import CONTRACTS, contract_spec, forget_rule_book, rule_book

# pydantic's location of a problem → the form field it belongs beside.
FIELD_OF = {"title": "title", "recipient": "recipient", "anchor": "anchor", "offset": "offset_kind",
            "amount": "offset_amount", "kind": "offset_kind", "content": "content", "note": "note"}


@dataclass
class ContractFields:
    title: str
    recipient: str
    anchor: str
    offset_kind: str
    offset_amount: int | None
    content: str
    note: str = ""


def list_contract_rules(*, session: Session) -> list[ContractRule]:
    """Every contract rule, those in force first."""
    return list(session.scalars(select(ContractRule).order_by(ContractRule.retired_at.is_not(None),
                                                              ContractRule.id)))


def get_contract_rule(*, session: Session, rule_id: int) -> ContractRule:
    rule = session.get(ContractRule, rule_id)
    if rule is None:
        raise NotFound("No such contract rule.")
    return rule


def _assign(rule: ContractRule, fields: ContractFields) -> None:
    rule.title, rule.recipient, rule.anchor = fields.title.strip(), fields.recipient, fields.anchor
    rule.offset_kind, rule.offset_amount = fields.offset_kind, fields.offset_amount
    rule.content, rule.note = fields.content.strip(), fields.note.strip()


def _check(rule: ContractRule) -> None:
    """Refuse what the deadline engine could not read, beside the field at fault (the caller's
    transaction is rolled back, so nothing half-made stays)."""
    try:
        contract_spec(rule)
    except ValidationError as error:
        first = error.errors()[0]
        field = next((FIELD_OF[part] for part in reversed(first["loc"]) if part in FIELD_OF), "title")
        raise FieldError(first["msg"].removeprefix("Value error, ").capitalize() + ".", field=field) from None


def create_contract_rule(*, session: Session, actor: User, fields: ContractFields) -> ContractRule:
    """Add a contract rule; incidents that chose the contracts regime get its obligation at once."""
    rule = ContractRule(created_by=actor, created_at=utcnow(), updated_at=utcnow())
    _assign(rule, fields)
    session.add(rule)
    session.flush()  # the id names the rule (contract-<id>)
    _check(rule)
    _resync(session, actor)
    return rule


def update_contract_rule(*, session: Session, actor: User, rule: ContractRule, expected_version: int,
                         fields: ContractFields) -> ContractRule:
    """Change a contract rule; open deadlines made from it move."""
    check_version(stored=rule.version, expected=expected_version,
                  message=lambda: "Someone changed this rule while you were editing. Nothing of yours was saved: "
                                  "check the rule as it is now, then save again.")
    _assign(rule, fields)
    _check(rule)
    session.flush()
    _resync(session, actor)
    return rule


def retire_contract_rule(*, session: Session, actor: User, rule: ContractRule) -> ContractRule:
    """Stop a contract rule making new obligations (those already made stay, with their history)."""
    if rule.retired_at is None:
        rule.retired_at = utcnow()
        session.flush()
        forget_rule_book()
    return rule


def _resync(session: Session, actor: User) -> None:
    from incidents.obligations.service import sync_obligations

    forget_rule_book()
    rules = rule_book()
    for incident in session.scalars(select(Incident).join(IncidentRegime, IncidentRegime.incident_id == Incident.id)
                                    .where(IncidentRegime.regime == CONTRACTS.id)):
        sync_obligations(session=session, actor=actor, incident=incident, rules=rules)
