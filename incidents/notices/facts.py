"""The facts a notice may be built from, copied field by field from public sources only.

Like `incidents/status/public.py`, nothing here is a model: `public_facts` reads named columns
(never a whole incident row) into a frozen record. Internal titles and summaries, internal timeline
entries, impact and progress notes, workstream names, people and the incident reference have no
field to travel in. What customers were told already (updates published to the status page, at
their latest revision) is the only incident text that reaches a notice.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, aliased

from incidents.impact.models import CategoryImpact, ImpactUpdate
from incidents.incident.enums import DATA_CATEGORIES, Status
from incidents.incident.models import Incident
from incidents.timeline.models import TimelineEntry, Visibility


@dataclass(frozen=True)
class PublicUpdateFact:
    at: datetime
    status: str  # investigating … resolved, as on the status page
    body: str  # plain text written for the public


@dataclass(frozen=True)
class CategoryFact:
    label: str
    affected: int
    recovered: int
    unrecoverable: int

    @property
    def recovered_pct(self) -> float | None:
        return 100.0 * self.recovered / self.affected if self.affected else None


@dataclass(frozen=True)
class PublicFacts:
    headline: str | None  # the public title, when the incident is on the status page
    status: Status
    personal_data: bool
    data_categories: tuple[str, ...]  # labels
    loss_began_at: datetime | None
    detected_at: datetime | None
    declared_at: datetime
    aware_at: datetime | None
    resolved_at: datetime | None
    figures_as_of: datetime | None
    customers_affected: int | None
    customers_restored: int | None
    customers_lost: int | None
    customers_notified: int | None
    categories: tuple[CategoryFact, ...]
    updates: tuple[PublicUpdateFact, ...]  # oldest first

    @property
    def restored_pct(self) -> float | None:
        if not self.customers_affected:
            return None
        return 100.0 * (self.customers_restored or 0) / self.customers_affected

    @property
    def first_update(self) -> PublicUpdateFact | None:
        return self.updates[0] if self.updates else None

    @property
    def latest_update(self) -> PublicUpdateFact | None:
        return self.updates[-1] if self.updates else None


def public_facts(*, session: Session, incident_id: int) -> PublicFacts:
    """The incident's public facts, read column by column."""
    row = session.execute(
        select(Incident.public_title, Incident.published_at, Incident.status, Incident.personal_data,
               Incident.data_categories, Incident.loss_began_at, Incident.detected_at,
               Incident.declared_at, Incident.aware_at, Incident.resolved_at)
        .where(Incident.id == incident_id)).one()

    figures = session.execute(
        select(ImpactUpdate.id, ImpactUpdate.as_of, ImpactUpdate.customers_affected,
               ImpactUpdate.customers_restored, ImpactUpdate.customers_lost, ImpactUpdate.customers_notified)
        .where(ImpactUpdate.incident_id == incident_id)
        .order_by(ImpactUpdate.as_of.desc(), ImpactUpdate.id.desc()).limit(1)).one_or_none()
    categories: tuple[CategoryFact, ...] = ()
    if figures is not None:
        categories = tuple(
            CategoryFact(label=DATA_CATEGORIES.get(c.category, c.category), affected=int(c.records_affected),
                         recovered=int(c.records_recovered), unrecoverable=int(c.records_unrecoverable))
            for c in session.execute(
                select(CategoryImpact.category, CategoryImpact.records_affected,
                       CategoryImpact.records_recovered, CategoryImpact.records_unrecoverable)
                .where(CategoryImpact.update_id == figures.id).order_by(CategoryImpact.id)))

    return PublicFacts(
        headline=str(row.public_title) if row.published_at and row.public_title else None,
        status=row.status, personal_data=bool(row.personal_data),
        data_categories=_category_labels(row.data_categories, categories),
        loss_began_at=row.loss_began_at, detected_at=row.detected_at, declared_at=row.declared_at,
        aware_at=row.aware_at, resolved_at=row.resolved_at,
        figures_as_of=figures.as_of if figures else None,
        customers_affected=int(figures.customers_affected) if figures else None,
        customers_restored=int(figures.customers_restored) if figures else None,
        customers_lost=int(figures.customers_lost) if figures else None,
        customers_notified=int(figures.customers_notified) if figures else None,
        categories=categories,
        updates=_published_updates(session, incident_id) if row.published_at else (),
    )


def _category_labels(declared: list[str] | None, figures: tuple[CategoryFact, ...]) -> tuple[str, ...]:
    """The categories the incident names, then any others its figures count, without repeats."""
    labels = [DATA_CATEGORIES[c] for c in (declared or []) if c in DATA_CATEGORIES]
    labels += [c.label for c in figures if c.label not in labels]
    return tuple(labels)


def _published_updates(session: Session, incident_id: int) -> tuple[PublicUpdateFact, ...]:
    """Updates published to the status page, each at its latest revision and still public."""
    entry, later = TimelineEntry, aliased(TimelineEntry)
    root = func.coalesce(entry.original_id, entry.id)
    is_latest = ~exists().where(later.original_id == root, later.revision > entry.revision)
    rows = session.execute(
        select(entry.occurred_at, entry.public_status, entry.body)
        .where(entry.incident_id == incident_id, is_latest, entry.visibility == Visibility.public,
               entry.public_status.is_not(None))
        .order_by(entry.occurred_at, root))
    return tuple(PublicUpdateFact(at=r.occurred_at, status=str(r.public_status), body=str(r.body)) for r in rows)
