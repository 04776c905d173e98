"""The obligation rules shipped as YAML files in `rules/`, validated when the app starts.

A file holds one regime (GDPR, a US state, ...) and its rules, one per obligation. A mistake in a
file stops the app with the file and line named: a wrong deadline is worse than no app.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
import yaml
from flask import current_app, g
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy import select

RULES_DIR = Path(__file__).parent / "rules"

# Moments a rule can count from. `aware` and `resolved` are the incident's own; the others are
# recorded by this feature (incidents/obligations/models.py), and `sent:<rule id>` is when another
# obligation of the incident was filed (NIS2's final report counts from the notification sent).
INCIDENT_ANCHORS = {"aware": "Became aware", "resolved": "Resolved"}
RECORDED_ANCHORS = {
    "discovered": "Breach discovered",
    "suspected": "Breach first suspected",
    "classified_major": "Classified as a major incident",
    "materiality_determined": "Determined to be material",
    "assessed_notifiable": "Assessed as notifiable",
}
ANCHOR_LABELS = INCIDENT_ANCHORS | RECORDED_ANCHORS
SENT_PREFIX = "sent:"

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9-]{1,59}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
OffsetKind = Literal["hours", "calendar_days", "business_days", "calendar_months", "days_after_year_end",
                     "without_undue_delay", "as_soon_as_feasible"]
FIXED_KINDS = {"hours", "calendar_days", "business_days", "calendar_months", "days_after_year_end"}
RECIPIENTS = {"authority": "Authority", "individuals": "Individuals affected", "media": "Media",
              "attorney_general": "Attorney general", "customers": "Customers under contract"}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Offset(Strict):
    kind: OffsetKind
    amount: int | None = Field(default=None, ge=1, le=3660)

    @field_validator("amount")
    @classmethod
    def _amount_fits_kind(cls, amount, info):
        kind = info.data.get("kind")
        if kind in FIXED_KINDS and amount is None:
            raise ValueError(f"an offset of kind {kind} needs an amount")
        if kind not in FIXED_KINDS and amount is not None:
            raise ValueError(f"an offset of kind {kind} has no amount")
        return amount

    @property
    def is_fixed(self) -> bool:
        return self.kind in FIXED_KINDS


class Threshold(Strict):
    # `affected`: people affected under the regime; `residents_of_one_state`: the same count, for
    # a US state's own residents (each state is a regime of its own, so the count is per state).
    measure: Literal["affected", "residents_of_one_state"]
    op: Literal[">", ">=", "<"]
    value: int = Field(ge=0)

    def met(self, count: int) -> bool:
        return {">": count > self.value, ">=": count >= self.value, "<": count < self.value}[self.op]

    @property
    def words(self) -> str:
        who = "residents of the state" if self.measure == "residents_of_one_state" else "people affected"
        return {">": f"more than {self.value} {who}", ">=": f"{self.value} or more {who}",
                "<": f"fewer than {self.value} {who}"}[self.op]


class Cap(Strict):
    """DORA: no later than `hours` after `anchor`, unless the main anchor itself comes later."""

    anchor: Literal["aware"]
    hours: int = Field(ge=1, le=720)


class Citation(Strict):
    text: Text
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=500)]


class HolidaySpec(Strict):
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
    subdiv: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{1,3}$")] | None = None

    @field_validator("subdiv")
    @classmethod
    def _known(cls, subdiv, info):
        country = info.data.get("country")
        if country is None:
            return subdiv
        try:
            holidays.country_holidays(country, subdiv=subdiv, years=2026)
        except NotImplementedError as error:
            raise ValueError(f"the holidays package does not know {country} {subdiv or ''}".strip()) from error
        return subdiv


class RuleSpec(Strict):
    id: Identifier
    title: Text
    recipient: Literal["authority", "individuals", "media", "attorney_general", "customers"]
    anchor: str
    offset: Offset
    not_later_than: Cap | None = None
    thresholds: list[Threshold] = []
    late_needs_reason: bool = False
    exemptions: list[Text] = []
    content: list[Text] = Field(min_length=1)
    note: Text | None = None
    citation: Citation
    last_checked: date

    @field_validator("anchor")
    @classmethod
    def _known_anchor(cls, anchor: str) -> str:
        if anchor in ANCHOR_LABELS or re.fullmatch(r"sent:[a-z0-9][a-z0-9-]{1,59}", anchor):
            return anchor
        raise ValueError(f"unknown anchor {anchor!r}: use one of {', '.join(ANCHOR_LABELS)} or sent:<rule id>")


class RegimeSpec(Strict):
    id: Identifier
    name: Text
    jurisdiction: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,4}(-[A-Z]{2,3})?$")]
    time_zone: str
    holidays: HolidaySpec | None = None
    suggest_when: list[Literal["personal_data"]] = []

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {name!r}") from error
        return name


class RulesFile(Strict):
    regime: RegimeSpec
    rules: list[RuleSpec] = Field(min_length=1)


class Rule:
    """One obligation rule with its regime's jurisdiction, zone and holidays."""

    def __init__(self, spec: RuleSpec, regime: RegimeSpec, source: str, *, retired: bool = False):
        self.spec, self.regime, self.source, self.retired = spec, regime, source, retired

    def __getattr__(self, name):
        return getattr(self.spec, name)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.regime.time_zone)

    @property
    def jurisdiction(self) -> str:
        return self.regime.jurisdiction

    def holiday_calendar(self, years) -> holidays.HolidayBase | dict:
        spec = self.regime.holidays
        if spec is None:
            return {}
        return holidays.country_holidays(spec.country, subdiv=spec.subdiv, years=years)

    @property
    def recipient_label(self) -> str:
        return RECIPIENTS[self.recipient]

    @property
    def law_url(self) -> str | None:
        """Where the legal text is; a contract rule has none to link to."""
        return None if self.regime.id == CONTRACTS.id else self.citation.url

    @property
    def anchor_label(self) -> str:
        return ANCHOR_LABELS.get(self.anchor) or f"{self.anchor.removeprefix(SENT_PREFIX)} sent"


# Obligations taken on by contract: customers' contracts, in UTC, no public holidays.
CONTRACTS = RegimeSpec(id="contracts", name="Customer contracts", jurisdiction="CTR", time_zone="UTC")
CONTRACT_CITATION = "Customer contracts (rule added in the app)"


def contract_spec(contract) -> RuleSpec:
    """A contract rule as the deadline engine reads rules; ValidationError names what is wrong."""
    return RuleSpec.model_validate({
        "id": contract.rule_id, "title": contract.title, "recipient": contract.recipient, "anchor": contract.anchor,
        "offset": {"kind": contract.offset_kind, "amount": contract.offset_amount},
        "content": contract.content_items or [], "note": contract.note or None,
        "citation": {"text": CONTRACT_CITATION, "url": "https://contracts.invalid/"},
        "last_checked": (contract.updated_at or contract.created_at).date()})


class RuleBook:
    """Every regime and rule, by id."""

    def __init__(self, regimes: dict[str, RegimeSpec], rules: dict[str, Rule]):
        self.regimes = regimes
        self.rules = rules

    def rules_of(self, regime_id: str) -> list[Rule]:
        """The regime's rules that still make new obligations (a retired contract rule does not)."""
        return [rule for rule in self.rules.values() if rule.regime.id == regime_id and not rule.retired]

    def with_contracts(self, contracts: list) -> RuleBook:
        """This book plus the admins' contract rules (obligations.models.ContractRule) as one regime."""
        if not contracts:
            return self
        rules = dict(self.rules)
        for contract in contracts:
            rules[contract.rule_id] = Rule(contract_spec(contract), CONTRACTS, "the Contract rules admin page",
                                           retired=contract.retired_at is not None)
        return RuleBook({**self.regimes, CONTRACTS.id: CONTRACTS}, rules)


class RulesFileError(Exception):
    """A rules file that cannot be used; the message names the file and line."""

    def __init__(self, path: Path, line: int | None, problem: str):
        self.path, self.line, self.problem = path, line, problem
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {problem}")


def _node_at(node: yaml.Node, loc: tuple) -> yaml.Node:
    """The YAML node at pydantic's error location, as deep as it exists (a missing key: its parent)."""
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            found = next((v for k, v in node.value if k.value == key), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            found = node.value[key]
        else:
            found = None
        if found is None:
            break
        node = found
    return node


def load_file(path: Path) -> RulesFile:
    """One rules file, validated; RulesFileError names the line at fault."""
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        raise RulesFileError(path, mark.line + 1 if mark else None, f"not valid YAML: {error.problem}") from error
    if root is None:
        raise RulesFileError(path, 1, "the file is empty")
    try:
        return RulesFile.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        line = _node_at(root, first["loc"]).start_mark.line + 1
        raise RulesFileError(path, line, f"{where}: {first['msg']}") from error


def _rule_line(path: Path, rule_id: str) -> int | None:
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if re.match(rf"\s*-?\s*id:\s*{re.escape(rule_id)}\s*$", line):
            return number
    return None


def load_rules(folder: Path = RULES_DIR) -> RuleBook:
    """Every `*.yaml` file of `folder`, checked one by one and then together (unique ids, chains)."""
    regimes: dict[str, RegimeSpec] = {}
    rules: dict[str, Rule] = {}
    files = sorted(folder.glob("*.yaml"))
    if not files:
        raise RulesFileError(folder, None, "no rules files (*.yaml) found")
    for path in files:
        parsed = load_file(path)
        if parsed.regime.id in regimes:
            raise RulesFileError(path, _rule_line(path, parsed.regime.id),
                                 f"regime {parsed.regime.id} is defined twice")
        regimes[parsed.regime.id] = parsed.regime
        for spec in parsed.rules:
            if spec.id in rules or spec.id in regimes and spec.id != parsed.regime.id:
                raise RulesFileError(path, _rule_line(path, spec.id), f"rule id {spec.id} is used twice")
            rules[spec.id] = Rule(spec, parsed.regime, path.name)
    for rule in rules.values():
        if rule.anchor.startswith(SENT_PREFIX):
            target = rule.anchor.removeprefix(SENT_PREFIX)
            path = folder / rule.source
            if target not in rules or rules[target].regime.id != rule.regime.id:
                raise RulesFileError(path, _rule_line(path, rule.id),
                                     f"rule {rule.id} counts from {target} being sent, but {rule.regime.id} "
                                     f"has no rule {target}")
    return RuleBook(regimes, rules)


def rule_book() -> RuleBook:
    """The rules the running app loaded at start (see `load_obligation_rules` in incidents/__init__.py),
    with the admins' contract rules as they stand in the database, read once per request."""
    if "obligation_rule_book" not in g:
        from incidents.extensions import db
        from incidents.obligations.models import ContractRule

        contracts = list(db.session.scalars(select(ContractRule).order_by(ContractRule.id)))
        g.obligation_rule_book = current_app.extensions["obligation_rules"].with_contracts(contracts)
    return g.obligation_rule_book


def forget_rule_book() -> None:
    """After a contract rule changes: the next `rule_book()` reads them again."""
    g.pop("obligation_rule_book", None)
