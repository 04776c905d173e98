"""Publishing incidents to the public status page, and managing its components.

A published update is a NEW timeline entry (kind communication, visibility public, public_status
set), written in the same transaction as the change it announces; corrections are revisions.
"""
from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import utcnow
from incidents.errors import FieldError
from incidents.incident.models import Incident
from incidents.status.models import (
    AFFECTED_STATUSES,
    CLOSED_PUBLIC_STATUSES,
    COMPONENT_STATUSES,
    IMPACTS,
    OPEN_PUBLIC_STATUSES,
    PUBLIC_STATUSES,
    Component,
    IncidentComponent,
    UpdateComponent,
    new_public_id,
)
from incidents.subscribers.service import announce
from incidents.timeline.models import EntryKind, TimelineEntry, Visibility
from incidents.timeline.service import add_entry
from incidents.webhooks import events as webhooks

log = logging.getLogger(__name__)


def component_field_name(component) -> str:
    """The form field that holds how an incident affects `component` (refusals go beside it)."""
    return f"component_{component.id}"


# --- components (admins) ------------------------------------------------------------------------

def list_components(*, session: Session) -> list[Component]:
    """The components shown on the page (archived ones left out), in display order."""
    return list(session.scalars(select(Component).where(Component.archived_at.is_(None))
                                .order_by(Component.group_name.is_not(None), Component.group_name,
                                          Component.position, Component.name, Component.id)))


def get_component(*, session: Session, component_id: int) -> Component | None:
    """A live (not archived) component by its id, or None."""
    component = session.get(Component, component_id)
    return component if component is not None and component.archived_at is None else None


def _check_component_fields(name: str, status_override: str | None) -> None:
    if not name.strip():
        raise FieldError("Give the component a name.", field="name")
    if status_override is not None and status_override not in COMPONENT_STATUSES:
        raise FieldError("Choose one of the listed statuses.", field="status_override")


def create_component(*, session: Session, name: str, description: str | None = None,
                     group_name: str | None = None, position: int = 0,
                     status_override: str | None = None, showcase: bool = True,
                     only_show_if_degraded: bool = False) -> Component:
    """Add a public component (flushes; the caller commits)."""
    _check_component_fields(name, status_override)
    now = utcnow()
    component = Component(public_id=new_public_id(), name=name.strip(), description=description or None,
                          group_name=(group_name or "").strip() or None, position=position,
                          status_override=status_override, showcase=showcase,
                          only_show_if_degraded=only_show_if_degraded, created_at=now, updated_at=now)
    session.add(component)
    session.flush()
    return component


def update_component(*, session: Session, component: Component, name: str, description: str | None,
                     group_name: str | None, position: int, status_override: str | None,
                     showcase: bool, only_show_if_degraded: bool) -> Component:
    """Change a component's public fields (flushes; the caller commits)."""
    _check_component_fields(name, status_override)
    component.name, component.description = name.strip(), description or None
    component.group_name = (group_name or "").strip() or None
    component.position, component.status_override = position, status_override
    component.showcase, component.only_show_if_degraded = showcase, only_show_if_degraded
    component.updated_at = utcnow()
    session.flush()
    return component


def archive_component(*, session: Session, component: Component) -> None:
    """Take a component off the page; the row stays so the page's latest change moves (flushes)."""
    component.archived_at = component.updated_at = utcnow()
    session.flush()


# --- publishing (responders) --------------------------------------------------------------------

def linked_components(*, session: Session, incident: Incident) -> list[IncidentComponent]:
    """The components the incident names, with the status it puts each in."""
    return list(session.scalars(select(IncidentComponent).where(IncidentComponent.incident_id == incident.id)
                                .join(Component).order_by(Component.position, Component.name)))


def public_updates(*, session: Session, incident: Incident) -> list[TimelineEntry]:
    """The incident's published updates as first written, newest first (for the responder panel)."""
    return list(session.scalars(select(TimelineEntry).where(
        TimelineEntry.incident_id == incident.id, TimelineEntry.original_id.is_(None),
        TimelineEntry.public_status.is_not(None)).order_by(TimelineEntry.occurred_at.desc(),
                                                            TimelineEntry.id.desc())))


def _write_update(session: Session, incident: Incident, actor: User, status: str, body: str,
                  component_statuses: dict[Component, str], occurred_at: datetime | None) -> TimelineEntry:
    if status not in PUBLIC_STATUSES:
        raise FieldError("Choose one of the listed statuses.", field="public_status")
    if not body.strip():
        raise FieldError("Write the update the public will read.", field="public_body")
    for component, value in component_statuses.items():
        if value not in COMPONENT_STATUSES:
            raise FieldError(f"Choose a status for {component.name}.", field=component_field_name(component))
    entry = add_entry(session=session, incident=incident, author=actor, kind=EntryKind.communication,
                      body=body, visibility=Visibility.public, occurred_at=occurred_at,
                      public_status=status)
    _apply_components(session, incident, entry, component_statuses)
    return entry


def _apply_components(session: Session, incident: Incident, entry: TimelineEntry,
                      component_statuses: dict[Component, str]) -> None:
    links = {link.component_id: link for link in linked_components(session=session, incident=incident)}
    for component, value in component_statuses.items():
        session.add(UpdateComponent(entry_id=entry.id, component_id=component.id, status=value))
        link = links.get(component.id)
        if value == "operational":
            if link is not None:
                session.delete(link)
        elif link is None:
            session.add(IncidentComponent(incident_id=incident.id, component_id=component.id, status=value))
        elif link.status != value:
            link.status = value
    session.flush()


def publish_incident(*, session: Session, actor: User, incident: Incident, public_title: str,
                     impact: str, body: str, status: str = "investigating",
                     components: dict[Component, str] | None = None,
                     occurred_at: datetime | None = None) -> TimelineEntry:
    """Put the incident on the status page with its first public update (flushes)."""
    if incident.published_at is not None:
        raise FieldError("This incident is already on the status page; post an update instead.",
                          field="public_title")
    if not public_title.strip():
        raise FieldError("Give the incident a title written for the public.", field="public_title")
    if impact not in IMPACTS:
        raise FieldError("Choose one of the listed impacts.", field="impact")
    components = components or {}
    for component, value in components.items():
        if value not in AFFECTED_STATUSES:
            raise FieldError(f"Choose how {component.name} is affected.", field=component_field_name(component))
    incident.public_id = incident.public_id or new_public_id()
    incident.public_title = public_title.strip()
    incident.public_impact = impact
    incident.published_at = occurred_at or utcnow()
    incident.updated_by = actor
    session.flush()
    entry = _write_update(session, incident, actor, status, body, components, occurred_at)
    announce(session=session, about="incident", public_id=incident.public_id, update_id=str(entry.id))
    webhooks.emit_update_posted(session, incident, entry, actor)
    log.info("%s published %s to the status page as %s", actor.email, incident.reference, incident.public_id)
    return entry


def current_public_status(*, session: Session, incident: Incident) -> str | None:
    """The status the public sees for the incident now (its newest update's), or None if unpublished."""
    return session.scalar(select(TimelineEntry.public_status).where(
        TimelineEntry.incident_id == incident.id, TimelineEntry.original_id.is_(None),
        TimelineEntry.public_status.is_not(None)).order_by(TimelineEntry.occurred_at.desc(),
                                                            TimelineEntry.id.desc()).limit(1))


def publish_update(*, session: Session, actor: User, incident: Incident, status: str, body: str,
                   component_statuses: dict[Component, str] | None = None,
                   occurred_at: datetime | None = None, reopen: bool = False) -> TimelineEntry:
    """Post a new public update on a published incident (flushes; the caller commits)."""
    if incident.published_at is None:
        raise FieldError("Publish the incident to the status page first.", field="public_body")
    # Customers were told it is over: telling them it is not must be a choice, never a default.
    if (not reopen and status in OPEN_PUBLIC_STATUSES
            and current_public_status(session=session, incident=incident) in CLOSED_PUBLIC_STATUSES):
        raise FieldError("The public was told this incident is resolved. Tick \"Reopen on the status "
                          "page\" to move it back, or keep the status Resolved.", field="reopen")
    entry = _write_update(session, incident, actor, status, body, component_statuses or {}, occurred_at)
    announce(session=session, about="incident", public_id=incident.public_id, update_id=str(entry.id))
    webhooks.emit_update_posted(session, incident, entry, actor)
    log.info("%s posted %s %s update on %s", actor.email, "an" if status[0] in "aeiou" else "a", status,
             incident.reference)
    return entry
