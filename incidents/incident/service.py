"""Declaring, editing and moving incidents through their lifecycle.

Every change is written to the timeline in the same transaction, so the record of who did
what can never drift from the incident itself. Services flush; the web request commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload, load_only

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.display import show_value as _show
from incidents.errors import InvalidTransition, NotFound, check_version
from incidents.incident.enums import DATA_CATEGORIES, TRANSITIONS, Severity, Status
from incidents.incident.fields import BY_NAME, Field
from incidents.incident.models import Incident, ReferenceCounter
from incidents.markdown import html_to_store
from incidents.paging import PAGE_SIZE, Cursor
from incidents.postmortem.service import has_published_postmortem
from incidents.search.service import Hit, search, with_snippets
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry
from incidents.webhooks import events as webhooks

# Moments the status lifecycle sets when they are still empty.
STATUS_MOMENTS = {Status.monitoring: "mitigated_at", Status.resolved: "resolved_at",
                  Status.closed: "closed_at"}


def next_reference(*, session: Session, year: int) -> str:
    """Hand out the next reference for `year`, e.g. INC-2026-0007, safely under concurrency."""
    for _attempt in range(5):
        number = session.execute(
            update(ReferenceCounter)
            .where(ReferenceCounter.year == year)
            .values(last_number=ReferenceCounter.last_number + 1)
            .returning(ReferenceCounter.last_number)
        ).scalar()
        if number is not None:
            return f"INC-{year}-{number:04d}"
        try:
            with session.begin_nested():
                session.add(ReferenceCounter(year=year, last_number=1))
            return f"INC-{year}-0001"
        except IntegrityError:
            continue  # another request created the year's counter first; bump it instead
    raise RuntimeError("could not allocate an incident reference")


def declare_incident(*, session: Session, actor: User, title: str, severity: Severity,
                     summary: str = "", data_categories: list[str] | None = None,
                     personal_data: bool = False, declared_at: datetime | None = None) -> Incident:
    """Open a new incident with the declarer as incident commander until someone else takes over."""
    declared_at = declared_at or utcnow()
    summary = (summary or "").strip()
    incident = Incident(
        reference=next_reference(session=session, year=declared_at.year),
        title=title.strip(), severity=severity, summary=summary, summary_html=html_to_store(summary),
        status=Status.investigating, data_categories=_known_categories(data_categories),
        personal_data=personal_data, declared_at=declared_at, aware_at=None,
        commander=actor, created_by=actor, updated_by=actor,
    )
    session.add(incident)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.status_change,
              occurred_at=declared_at,
              body=f"Declared **{severity.value}** incident, status *investigating*. "
                   f"{actor.display} is incident commander.")
    webhooks.emit_declared(session, incident, actor)
    return incident


def _known_categories(categories: list[str] | None) -> list[str]:
    return [c for c in DATA_CATEGORIES if c in set(categories or [])]


def get_incident(*, session: Session, reference: str) -> Incident:
    """The incident with this reference, or NotFound."""
    incident = session.scalar(
        select(Incident).where(Incident.reference == reference.upper())
        .options(joinedload(Incident.commander), joinedload(Incident.comms_lead),
                 joinedload(Incident.executive))
    )
    if incident is None:
        raise NotFound(f"No incident {reference}.")
    return incident


@dataclass
class IncidentFilter:
    status: str | None = None  # a Status value, or "open"
    severity: Severity | None = None
    owner_id: int | None = None
    query: str | None = None


def list_incidents(*, session: Session, filters: IncidentFilter, limit: int = PAGE_SIZE,
                   before: Cursor | None = None) -> list[Incident]:
    """One page of the incidents matching the filters, newest declared first, after `before`
    (a query in the filters is for `search_incidents`)."""
    stmt = _filtered(filters)
    if before is not None:
        stmt = stmt.where(before.below(Incident.declared_at, Incident.id))
    stmt = stmt.order_by(Incident.declared_at.desc(), Incident.id.desc()).limit(limit)
    return list(session.scalars(stmt).unique())


# Search results show each incident with the text that matched: a page of the best twenty, like a
# search engine's, rather than a list's fifty (the page asks for more words when there are more).
SEARCH_SHOWN = 20


def search_incidents(*, session: Session, filters: IncidentFilter,
                     limit: int = SEARCH_SHOWN) -> tuple[list[Incident], dict[int, Hit], bool]:
    """The incidents matching the filters whose reference, title, summary or timeline text
    matches the query (full-text, see incidents/search), best first, with the best hit of each by
    incident id, and whether every match was ranked (else the newest come first)."""
    found = search(session=session, query=filters.query or "")
    hits = {hit.incident_id: hit for hit in found}
    rank = {incident_id: n for n, incident_id in enumerate(hits)}
    # The filters pick among the hits by id; only the incidents shown are loaded whole.
    passing = session.scalars(_filtered(filters, select(Incident.id)).where(Incident.id.in_(list(rank)))).all()
    chosen = sorted(passing, key=rank.__getitem__)[:limit]
    shown = sorted(session.scalars(_filtered(filters).where(Incident.id.in_(chosen))).unique(),
                   key=lambda incident: rank[incident.id])
    # The text around the matching words, for the incidents shown only.
    snippets = with_snippets(session=session, query=filters.query or "", hits=[hits[i.id] for i in shown])
    return shown, {hit.incident_id: hit for hit in snippets}, found.ranked


# What a row of the incident list shows (and its postmortem flag needs): a page of fifty loads these
# and not the summaries, data categories and the rest (issue #19).
LIST_COLUMNS = (Incident.id, Incident.reference, Incident.title, Incident.severity, Incident.status,
                Incident.personal_data, Incident.declared_at, Incident.resolved_at, Incident.commander_id)


def _filtered(filters: IncidentFilter, stmt=None):
    """`stmt` (by default: incidents with their commander) narrowed by the filters."""
    stmt = stmt if stmt is not None else select(Incident).options(joinedload(Incident.commander),
                                                                  load_only(*LIST_COLUMNS))
    if filters.status == "open":
        stmt = stmt.where(Incident.status.in_([s for s in Status if s.is_open]))
    elif filters.status:
        stmt = stmt.where(Incident.status == Status(filters.status))
    if filters.severity:
        stmt = stmt.where(Incident.severity == filters.severity)
    if filters.owner_id:
        stmt = stmt.where(or_(Incident.commander_id == filters.owner_id,
                              Incident.comms_lead_id == filters.owner_id,
                              Incident.executive_id == filters.owner_id))
    return stmt


def change_status(*, session: Session, actor: User, incident: Incident, new_status: Status,
                  expected_version: int, note: str = "",
                  occurred_at: datetime | None = None) -> Incident:
    """Move the incident along its lifecycle, stamp the key moment, and record it on the timeline."""
    # The status form sits on the detail page with no table of differences, so say what it is now.
    check_version(stored=incident.version, expected=expected_version, message=lambda: _changed_meanwhile(
        incident, f"the status is now {incident.status.label.lower()}; check the timeline, then change it "
                  "again if you still need to."),
        differences=lambda: [("Status", incident.status.label, new_status.label)])
    if new_status == incident.status:
        raise InvalidTransition(f"The incident is already {new_status.label.lower()}.")
    if new_status not in TRANSITIONS[incident.status]:
        raise InvalidTransition(
            f"{_a(incident.status.label.lower())} incident cannot move to {new_status.label.lower()}."
        )
    if new_status is Status.closed and not has_published_postmortem(session=session, incident=incident):
        raise InvalidTransition("An incident closes only once its postmortem is published: write it, "
                                "get it approved and publish it first.")
    when = occurred_at or utcnow()
    old = incident.status
    incident.status = new_status
    moment = STATUS_MOMENTS.get(new_status)
    if moment and getattr(incident, moment) is None:
        setattr(incident, moment, when)
    if new_status.is_open and old in (Status.resolved,):
        incident.resolved_at = None  # reopened: it is no longer resolved
    incident.updated_by = actor
    body = f"Status changed from *{old.label.lower()}* to **{new_status.label.lower()}**."
    if note.strip():
        body += "\n\n" + note.strip()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.status_change,
              body=body, occurred_at=when)
    session.flush()
    webhooks.emit_status_changed(session, incident, old, actor, when)
    return incident


def update_incident(*, session: Session, actor: User, incident: Incident, expected_version: int,
                    changes: dict[str, Any]) -> Incident:
    """Apply edited details and owners; refuses to overwrite a newer version someone else saved."""
    check_version(stored=incident.version, expected=expected_version,
                  message=lambda: _changed_meanwhile(incident, "compare the values below, then save again."),
                  differences=lambda: _differences(incident, changes))
    if "data_categories" in changes:
        changes["data_categories"] = _known_categories(changes["data_categories"])
    owner_lines, detail_lines = [], []
    owners_before = {role: getattr(incident, role) for role in webhooks.OWNER_ROLES if role in changes}
    for name, value in changes.items():
        if name not in BY_NAME:
            raise ValueError(f"{name} cannot be edited here")
        spec = BY_NAME[name]
        if _same(getattr(incident, name), value):
            continue
        # Owners are decisions, so they get their own entry; the rest is one list of details.
        (owner_lines if spec.kind == "person" else detail_lines).append(
            _describe_change(spec, getattr(incident, name), value))
        setattr(incident, name, value)
        if spec.kind == "markdown":  # stored rendered too, so page views need not render it
            setattr(incident, f"{name}_html", html_to_store(value))
    if not owner_lines and not detail_lines:
        return incident
    incident.updated_by = actor
    if owner_lines:
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.decision,
                  body="\n".join(f"- {line}" for line in owner_lines))
        webhooks.emit_owners_changed(session, incident, owners_before, actor)
    if detail_lines:
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.note,
                  body="Details changed:\n\n" + "\n".join(f"- {line}" for line in detail_lines))
    session.flush()
    return incident


def _a(word: str) -> str:
    """The word with its indefinite article, capitalised: "An identified", "A closed"."""
    return f"{'An' if word[:1] in 'aeiou' else 'A'} {word}"


def _changed_meanwhile(incident: Incident, next_step: str) -> str:
    by = incident.updated_by.display if incident.updated_by else "someone"
    return (f"{by} saved a newer version of {incident.reference} while you were editing. "
            f"Nothing of yours was saved: {next_step}")


def _differences(incident: Incident, changes: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(label, stored value, submitted value) for each submitted field that differs."""
    diffs = []
    for name, value in changes.items():
        current = getattr(incident, name, None)
        if name == "data_categories":
            value = _known_categories(value)
        if not _same(current, value):
            diffs.append((BY_NAME[name].label if name in BY_NAME else name, _show(current), _show(value)))
    return diffs


def _same(stored: Any, submitted: Any) -> bool:
    """Whether a submitted value is the stored one as the edit form showed it.

    The form shows and sends times to the minute, so a stored 10:44:31 comes back as 10:44:
    that is the same moment, not an edit to report on the timeline or to flag as a conflict.
    """
    if isinstance(stored, datetime) and isinstance(submitted, datetime):
        return stored.replace(second=0, microsecond=0) == submitted or stored == submitted
    return stored == submitted


def _describe_change(spec: Field, old: Any, new: Any) -> str:
    if spec.kind == "markdown":
        return f"{spec.label} rewritten"
    return f"{spec.label}: {_show(old)} → **{_show(new)}**"
