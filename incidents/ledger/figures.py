"""The ledger's figures: counted once per bulk change into `ledger_figure`, read by pages as rows.

Counting a million customers takes a second; reading the kept figures takes a query. So every
change to the ledger (an import, a restore report, a notification batch) ends by `recompute`, in
its own transaction, and the incident page, the reports and the obligations' thresholds read
`figures_of`. Each recompute also becomes an impact snapshot, so the recovery chart keeps its curve.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.impact import service as impact
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.models import Incident
from incidents.ledger.models import LedgerFigure

_COUNTS = """
    COUNT(*),
    SUM(CASE WHEN {outcome} = 'restored' THEN 1 ELSE 0 END),
    SUM(CASE WHEN {outcome} = 'lost' THEN 1 ELSE 0 END),
    SUM(CASE WHEN c.notified_at IS NOT NULL THEN 1 ELSE 0 END)
"""
_INSERT = "INSERT INTO ledger_figure (incident_id, dimension, key, affected, restored, lost, notified) "
RECOMPUTE = [
    _INSERT + "SELECT :incident, 'total', '', " + _COUNTS.format(outcome="c.outcome")
    + " FROM ledger_customer c WHERE c.incident_id = :incident",
    _INSERT + "SELECT :incident, 'jurisdiction', CASE WHEN c.region IS NULL THEN c.country "
    "ELSE c.country || '-' || c.region END, " + _COUNTS.format(outcome="c.outcome")
    + " FROM ledger_customer c WHERE c.incident_id = :incident GROUP BY c.country, c.region",
    # Per category the counts are of that category's customers: restored or lost is the item's state.
    _INSERT + "SELECT :incident, 'category', i.category, " + _COUNTS.format(outcome="i.state")
    + " FROM ledger_item i JOIN ledger_customer c ON c.id = i.customer_id WHERE c.incident_id = :incident"
    " GROUP BY i.category",
]


@dataclass(frozen=True)
class Counts:
    affected: int = 0
    restored: int = 0
    lost: int = 0
    notified: int = 0

    @property
    def waiting(self) -> int:
        return self.affected - self.restored - self.lost

    @property
    def restored_pct(self) -> float | None:
        return 100.0 * self.restored / self.affected if self.affected else None


@dataclass
class LedgerFigures:
    total: Counts = field(default_factory=Counts)
    categories: dict[str, Counts] = field(default_factory=dict)  # in DATA_CATEGORIES order
    jurisdictions: dict[str, Counts] = field(default_factory=dict)  # most customers first

    @property
    def exists(self) -> bool:
        return self.total.affected > 0


# The European Union's member states, for regimes whose jurisdiction is "EU" (GDPR, NIS2, DORA).
EU_MEMBERS = frozenset({"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "IE", "IT",
                        "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"})


def residents_in(kept: LedgerFigures, jurisdiction: str) -> int:
    """Customers of the ledger living in a regime's jurisdiction: "US-CA" (a state), "US" or "GB"
    (a country, all its regions), "EU" (its member states)."""
    def country(key: str) -> str:
        return key.split("-", 1)[0]

    if jurisdiction == "EU":
        return sum(c.affected for key, c in kept.jurisdictions.items() if country(key) in EU_MEMBERS)
    if "-" in jurisdiction:
        return kept.jurisdictions.get(jurisdiction, Counts()).affected
    return sum(c.affected for key, c in kept.jurisdictions.items() if country(key) == jurisdiction)


def recompute(*, session: Session, incident_id: int) -> None:
    """Count the incident's ledger again into its kept figures (in the caller's transaction)."""
    if session.get_bind().dialect.name == "postgresql":
        # Every caller has just written many rows in this transaction (an import, a batch, the demo).
        # Without fresh statistics PostgreSQL takes the tables for empty and joins items to customers
        # in a nested loop: 181,250 x 476,000 rows ran for over 20 minutes. ANALYZE sees this
        # transaction's own rows, and samples a fixed number of them (~0.1 s at a million).
        session.execute(text("ANALYZE ledger_customer, ledger_item"))
    session.execute(delete(LedgerFigure).where(LedgerFigure.incident_id == incident_id))
    for statement in RECOMPUTE:
        session.execute(text(statement).bindparams(incident=incident_id))


def figures_of(*, session: Session, incident_id: int) -> LedgerFigures:
    """The kept figures of an incident's ledger (one query; empty when it has no ledger)."""
    rows = session.execute(select(LedgerFigure).where(LedgerFigure.incident_id == incident_id)).scalars().all()
    found = LedgerFigures()
    order = list(DATA_CATEGORIES)
    for row in sorted(rows, key=lambda r: (r.dimension, order.index(r.key) if r.key in order else 99, -r.affected,
                                           r.key)):
        counts = Counts(row.affected, row.restored, row.lost, row.notified)
        if row.dimension == "total":
            found.total = counts
        elif row.dimension == "category":
            found.categories[row.key] = counts
        else:
            found.jurisdictions[row.key] = counts
    return found


def snapshot_impact(*, session: Session, incident: Incident, actor: User | None, note: str) -> None:
    """Record the ledger's customer figures as the incident's latest impact update (and its
    timeline entry).

    Impact counts records per data category, which the ledger does not know (a customer's records
    are one number across categories): the latest update's record counts are carried forward as they
    stand, rather than replaced by customer counts in the same columns. The ledger's own page and the
    executive report give customers per category."""
    kept = figures_of(session=session, incident_id=incident.id)
    latest = impact.latest_update(session=session, incident=incident)
    total = kept.total
    impact.record_impact(
        session=session, actor=actor, incident=incident,
        counts=impact.CustomerCounts(affected=total.affected, notified=total.notified, restored=total.restored,
                                     lost=total.lost),
        categories=[impact.CategoryCounts(category=c.category, affected=c.records_affected,
                                          recovered=c.records_recovered, unrecoverable=c.records_unrecoverable)
                    for c in (latest.categories if latest else [])],
        based_on_id=latest.id if latest else None, note=note)
    # New counts may cross a regime's threshold ("more than 500 residents of California").
    from incidents.obligations import service as obligations  # imports this module for residents_in
    from incidents.obligations.rules import rule_book

    obligations.follow_incident_changes(session=session, actor=actor, incident=incident, rules=rule_book())
