"""Action items: creating them, changing them, finishing or dropping them, and the lists.

Completing or dropping an item writes who and when on the incident's timeline in the same
transaction. Services flush; the web request commits.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from sqlalchemy import select, text
from sqlalchemy.orm import Session, joinedload, selectinload

from incidents.actions.enums import OPEN_CONDITION, ActionKind, ActionPriority, ActionStatus
from incidents.actions.models import ActionItem
from incidents.auth.models import User
from incidents.db import utcnow
from incidents.display import show_value as _show
from incidents.errors import FieldError, NotFound, check_version
from incidents.forms import url_problem
from incidents.incident.models import Incident
from incidents.paging import PAGE_SIZE, Cursor
from incidents.timeline.models import EntryKind
from incidents.timeline.service import add_entry

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage


@dataclass
class ActionFields:
    title: str
    kind: ActionKind
    owner: User | None
    due_on: date | None
    priority: ActionPriority = ActionPriority.medium
    tracker_url: str | None = None


def today() -> date:
    """Today's date in UTC (due dates are calendar days in UTC)."""
    return utcnow().date()


def check_tracker_url(url: str | None) -> str | None:
    """The link as given when it is one we will show; None when empty; refused otherwise."""
    url = (url or "").strip()
    if url and (problem := url_problem(url)):
        raise FieldError(problem, field="tracker_url")
    return url or None


def _check(fields: ActionFields, *, previous_due: date | None = None) -> None:
    if not fields.title.strip():
        raise FieldError("Say what needs doing.", field="title")
    if fields.owner is None:
        raise FieldError("Every action item needs an owner.", field="owner")
    if not fields.owner.active:
        raise FieldError(f"{fields.owner.display}'s account is disabled; choose an owner who can sign in.",
                          field="owner")
    if fields.due_on is None:
        raise FieldError("Give a due date.", field="due_on")
    # A new due date cannot be in the past; an old one that has passed may stay as it is.
    if fields.due_on < today() and fields.due_on != previous_due:
        raise FieldError(f"The due date cannot be in the past (today is {today():%Y-%m-%d} UTC).",
                          field="due_on")


def action_items_for(*, session: Session, incident: Incident) -> list[ActionItem]:
    """The incident's action items: open ones first by due date, then finished ones."""
    items = list(session.scalars(
        select(ActionItem).where(ActionItem.incident_id == incident.id)
        .options(selectinload(ActionItem.owner), selectinload(ActionItem.closed_by))
        .order_by(ActionItem.due_on, ActionItem.id)
    ))
    return sorted(items, key=lambda item: not item.status.is_open)


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's action items panel."""
    return {"action_items": action_items_for(session=page.session, incident=page.incident)}


def get_action_item(*, session: Session, incident: Incident, item_id: int) -> ActionItem:
    item = session.get(ActionItem, item_id)
    if item is None or item.incident_id != incident.id:
        raise NotFound("No such action item.")
    return item


def create_action_item(*, session: Session, actor: User, incident: Incident,
                       fields: ActionFields) -> ActionItem:
    """Add a follow-up to the incident and note it on the timeline."""
    _check(fields)
    url = check_tracker_url(fields.tracker_url)
    item = ActionItem(incident_id=incident.id, title=fields.title.strip(), kind=fields.kind,
                      priority=fields.priority, owner=fields.owner, due_on=fields.due_on,
                      tracker_url=url, status=ActionStatus.open, created_by=actor, reason="")
    session.add(item)
    session.flush()
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
              body=f"Action item **{item.title}** added ({item.kind.label.lower()}, "
                   f"{item.priority.label.lower()} priority): owner {fields.owner.display}, "
                   f"due {item.due_on:%Y-%m-%d}.")
    return item


def _changed_meanwhile(item: ActionItem) -> str:
    return (f"Someone changed “{item.title}” while you were editing (it is now {item.status.label.lower()}, "
            f"owner {_show(item.owner)}, due {item.due_on:%Y-%m-%d}). Nothing of yours was saved: check, "
            "then save again.")


def _shown_change(value) -> str:
    """A changed value as the timeline line shows it: dates as YYYY-MM-DD, the rest as elsewhere."""
    return f"{value:%Y-%m-%d}" if isinstance(value, date) else _show(value)


def update_action_item(*, session: Session, actor: User, incident: Incident, item: ActionItem,
                       expected_version: int, fields: ActionFields) -> ActionItem:
    """Change an item's title, kind, owner, due date, priority or link; refuses stale forms."""
    check_version(stored=item.version, expected=expected_version, message=lambda: _changed_meanwhile(item))
    _check(fields, previous_due=item.due_on)
    url = check_tracker_url(fields.tracker_url)
    changes = []
    for name, new in (("title", fields.title.strip()), ("kind", fields.kind), ("owner", fields.owner),
                      ("due_on", fields.due_on), ("priority", fields.priority), ("tracker_url", url)):
        old = getattr(item, name)
        if old != new:
            label = {"due_on": "due", "tracker_url": "link"}.get(name, name)
            changes.append(f"{label}: {_shown_change(old)} → **{_shown_change(new)}**")
            setattr(item, name, new)
    if changes:
        session.flush()
        add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action,
                  body=f"Action item **{item.title}** changed: " + "; ".join(changes) + ".")
    return item


def change_action_status(*, session: Session, actor: User, incident: Incident, item: ActionItem,
                         expected_version: int, status: ActionStatus, reason: str = "") -> ActionItem:
    """Move an item to open / in progress / done / won't do. Done and won't do record who and when
    (won't do needs a reason); the timeline says so in the same transaction."""
    check_version(stored=item.version, expected=expected_version, message=lambda: _changed_meanwhile(item))
    reason = (reason or "").strip()
    if status == item.status:
        raise FieldError(f"It is already {status.label.lower()}.", field="status")
    if status is ActionStatus.wont_do and not reason:
        raise FieldError("Say why this will not be done.", field="reason")
    old = item.status
    now = utcnow()
    item.status = status
    if status.is_open:
        item.closed_by, item.closed_at = None, None
        if status is ActionStatus.open and not old.is_open:
            item.reason = ""
    else:
        item.closed_by, item.closed_at = actor, now
        item.reason = reason if status is ActionStatus.wont_do else item.reason
    session.flush()
    if status is ActionStatus.done:
        body = f"Action item **{item.title}** completed by {actor.display}."
    elif status is ActionStatus.wont_do:
        # The reason in a block of its own: rendered from the request's memo, not under the write lock.
        body = f"Action item **{item.title}** dropped (won't do) by {actor.display}. Reason:\n\n{reason}"
    else:
        body = f"Action item **{item.title}**: {old.label.lower()} → **{status.label.lower()}**."
        if reason:
            body += f"\n\n{reason}"
    add_entry(session=session, incident=incident, author=actor, kind=EntryKind.action, body=body,
              occurred_at=now)
    return item


LIST_VIEWS = {"open": "All open action items", "mine": "My open action items",
              "overdue": "Overdue action items"}


def list_action_items(*, session: Session, view: str, user: User | None = None, on: date | None = None,
                      limit: int = PAGE_SIZE, after: Cursor | None = None) -> list[ActionItem]:
    """A page of the open items across incidents ("open"), the user's open items ("mine"), or the
    overdue ones, soonest due first, after the cursor (due date, id)."""
    on = on or today()
    stmt = (select(ActionItem).where(text(f"action_item.{OPEN_CONDITION}"))  # the partial index's words
            # A row names its incident by reference: not the incident's summary, categories and the rest.
            .options(joinedload(ActionItem.owner),
                     joinedload(ActionItem.incident).load_only(Incident.id, Incident.reference)))
    if view == "mine":
        stmt = stmt.where(ActionItem.owner_id == (user.id if user else -1))
    elif view == "overdue":
        stmt = stmt.where(ActionItem.due_on < on)
    if after is not None:
        stmt = stmt.where(after.above(ActionItem.due_on, ActionItem.id))
    stmt = stmt.order_by(ActionItem.due_on, ActionItem.id).limit(limit)
    return list(session.scalars(stmt).unique())
