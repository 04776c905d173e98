"""Recording impact figures and reading them back as the latest state and as a series."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError, check_version
from incidents.impact.models import CategoryImpact, ImpactUpdate
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.models import Incident
from incidents.markdown import html_to_store
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage


@dataclass
class CustomerCounts:
    affected: int
    notified: int = 0
    restored: int = 0
    lost: int = 0


@dataclass
class CategoryCounts:
    category: str
    affected: int
    recovered: int = 0
    unrecoverable: int = 0


def check_counts(counts: CustomerCounts, categories: list[CategoryCounts]) -> None:
    """Refuse figures that cannot be true, naming the field at fault."""
    for name in ("affected", "notified", "restored", "lost"):
        if getattr(counts, name) < 0:
            raise FieldError("A count cannot be negative.", field=f"customers_{name}")
    if counts.restored > counts.affected:
        raise FieldError("More customers restored than affected.", field="customers_restored")
    if counts.restored + counts.lost > counts.affected:
        raise FieldError("Restored plus permanently lost cannot exceed the customers affected.",
                          field="customers_lost")
    if counts.notified > counts.affected:
        raise FieldError("More customers notified than affected.", field="customers_notified")
    for item in categories:
        if item.category not in DATA_CATEGORIES:
            raise FieldError(f"Unknown data category {item.category!r}.")
        for name in ("affected", "recovered", "unrecoverable"):
            if getattr(item, name) < 0:
                raise FieldError("A count cannot be negative.", field=f"{item.category}-{name}")
        if item.recovered > item.affected:
            raise FieldError("More records recovered than affected.", field=f"{item.category}-recovered")
        if item.recovered + item.unrecoverable > item.affected:
            raise FieldError("Recovered plus unrecoverable cannot exceed the records affected.",
                              field=f"{item.category}-unrecoverable")


def latest_update(*, session: Session, incident: Incident) -> ImpactUpdate | None:
    """The most recent figures (by when they were true, then by when recorded)."""
    return session.scalar(
        select(ImpactUpdate).where(ImpactUpdate.incident_id == incident.id)
        .options(selectinload(ImpactUpdate.categories), selectinload(ImpactUpdate.author))
        .order_by(ImpactUpdate.as_of.desc(), ImpactUpdate.id.desc()).limit(1)
    )


def previous_update(*, session: Session, update: ImpactUpdate) -> ImpactUpdate | None:
    """The update before `update`, to show the change since then."""
    return session.scalar(
        select(ImpactUpdate).where(
            ImpactUpdate.incident_id == update.incident_id,
            (ImpactUpdate.as_of < update.as_of)
            | ((ImpactUpdate.as_of == update.as_of) & (ImpactUpdate.id < update.id)))
        .options(selectinload(ImpactUpdate.categories))
        .order_by(ImpactUpdate.as_of.desc(), ImpactUpdate.id.desc()).limit(1)
    )


def record_impact(*, session: Session, actor: User, incident: Incident, counts: CustomerCounts,
                  categories: list[CategoryCounts], based_on_id: int | None, note: str = "",
                  as_of: datetime | None = None) -> ImpactUpdate:
    """Record a new snapshot of the figures and a timeline entry for it, in one transaction.

    `based_on_id` is the latest update the author saw; if a newer one exists, EditConflict.
    """
    check_counts(counts, categories)
    now = utcnow()
    if as_of is not None and as_of > now:
        raise FieldError("Figures cannot be as of a time in the future.", field="as_of")
    # Serialise writers per incident so two people cannot both pass the staleness check below
    # (PostgreSQL: a row lock that still lets timeline entries reference the incident; SQLite
    # ignores it and already holds the database's write lock since BEGIN IMMEDIATE).
    session.execute(select(Incident.id).where(Incident.id == incident.id).with_for_update(key_share=True))
    latest = latest_update(session=session, incident=incident)
    if latest is not None:
        check_version(stored=latest.id, expected=based_on_id, message=lambda: (
            f"{latest.author.display if latest.author else 'someone'} recorded newer figures while you were "
            "typing. Nothing of yours was saved: check the figures now shown, then record yours again."))
    if latest is None and based_on_id is not None:
        # Updates are never deleted, so this form was not drawn from this incident's figures.
        raise FieldError("This form does not match the incident's figures; reload the page.", field="based_on")
    note = note.strip()
    update = ImpactUpdate(
        incident_id=incident.id, based_on_id=based_on_id, author=actor, as_of=as_of or now,
        recorded_at=now, customers_affected=counts.affected, customers_notified=counts.notified,
        customers_restored=counts.restored, customers_lost=counts.lost, note=note,
        note_html=html_to_store(note),
        categories=[CategoryImpact(category=c.category, records_affected=c.affected,
                                   records_recovered=c.recovered, records_unrecoverable=c.unrecoverable)
                    for c in categories],
    )
    session.add(update)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.impact,
              occurred_at=update.as_of, body=describe(update, latest))
    return update


def describe(update: ImpactUpdate, before: ImpactUpdate | None) -> str:
    """The timeline text for an impact update: the figures and how they moved."""
    def moved(now: int, then: int | None) -> str:
        if then is None or now == then:
            return f"{now:,}"
        return f"{now:,} ({'+' if now > then else '−'}{abs(now - then):,})"

    prev = before
    lines = [
        f"**Impact update**: {moved(update.customers_affected, prev and prev.customers_affected)} "
        f"customers affected, {moved(update.customers_restored, prev and prev.customers_restored)} restored"
        + (f" ({update.restored_pct:.1f}%)" if update.restored_pct is not None else "")
        + f", {moved(update.customers_lost, prev and prev.customers_lost)} permanently lost, "
        f"{moved(update.customers_notified, prev and prev.customers_notified)} notified."
    ]
    for item in update.categories:
        label = DATA_CATEGORIES.get(item.category, item.category)
        lines.append(f"- {label}: {item.records_recovered:,} of {item.records_affected:,} records "
                     f"recovered, {item.records_unrecoverable:,} unrecoverable")
    if update.note:
        lines.append("")
        lines.append(update.note)
    return "\n".join(lines)


def series(*, session: Session, incident: Incident) -> list[ImpactUpdate]:
    """Every update in time order, for the chart (customer counts only; categories not loaded)."""
    return list(session.scalars(
        select(ImpactUpdate).where(ImpactUpdate.incident_id == incident.id)
        .order_by(ImpactUpdate.as_of, ImpactUpdate.id)
    ))


@dataclass(frozen=True)
class ImpactPoint:
    """The customer figures of one update: all the chart needs, without loading whole rows."""

    as_of: datetime
    customers_affected: int
    customers_notified: int
    customers_restored: int
    customers_lost: int

    @property
    def restored_pct(self) -> float | None:
        if not self.customers_affected:
            return None
        return 100.0 * self.customers_restored / self.customers_affected


def chart_points(*, session: Session, incident: Incident) -> list[ImpactPoint]:
    """Every update's customer figures in time order, read as plain columns (cheap for long series)."""
    rows = session.execute(
        select(ImpactUpdate.as_of, ImpactUpdate.customers_affected, ImpactUpdate.customers_notified,
               ImpactUpdate.customers_restored, ImpactUpdate.customers_lost)
        .where(ImpactUpdate.incident_id == incident.id)
        .order_by(ImpactUpdate.as_of, ImpactUpdate.id)
    )
    return [ImpactPoint(*row) for row in rows]


def history(*, session: Session, incident: Incident) -> list[ImpactUpdate]:
    """Every update, newest first (the order `latest_update` uses), with categories and authors."""
    return list(session.scalars(
        select(ImpactUpdate).where(ImpactUpdate.incident_id == incident.id)
        .options(selectinload(ImpactUpdate.categories), selectinload(ImpactUpdate.author))
        .order_by(ImpactUpdate.as_of.desc(), ImpactUpdate.id.desc())
    ))


@dataclass
class ImpactSummary:
    """What the incident page shows: the latest figures and the change since the update before."""

    latest: ImpactUpdate | None
    previous: ImpactUpdate | None

    def change(self, name: str) -> int | None:
        if self.latest is None or self.previous is None:
            return None
        return getattr(self.latest, name) - getattr(self.previous, name)

    def category_change(self, category: str, name: str) -> int | None:
        if self.latest is None or self.previous is None:
            return None
        now = {c.category: c for c in self.latest.categories}.get(category)
        then = {c.category: c for c in self.previous.categories}.get(category)
        if now is None or then is None:
            return None
        return getattr(now, name) - getattr(then, name)


def summary_for(*, session: Session, incident: Incident) -> ImpactSummary:
    latest = latest_update(session=session, incident=incident)
    previous = previous_update(session=session, update=latest) if latest else None
    return ImpactSummary(latest=latest, previous=previous)


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's impact panel: the latest counts and the change since the update before."""
    return {"impact": summary_for(session=page.session, incident=page.incident)}
