"""The admins' view of status-page subscribers: how many are in each state, who they are (50 a
page, newest first), each one's delivery log, and bringing back a quarantined webhook or a
bounced address. Reactivating is audited by the recorder, like every change."""
from __future__ import annotations

import re
from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.maintenance.models import Maintenance
from incidents.paging import PAGE_SIZE
from incidents.status.models import Component
from incidents.subscribers import service
from incidents.subscribers.forms import SubscriberFilterForm
from incidents.subscribers.models import MAX_BOUNCES, Announcement, Delivery, Subscriber, SubscriberComponent

bp = Blueprint("subscribers_admin", __name__, url_prefix="/admin/subscribers")

STATE_LABELS = {"active": "Active", "unconfirmed": "Awaiting confirmation", "bounced": "Bounced",
                "quarantined": "Quarantined", "unsubscribed": "Unsubscribed"}
STATE_TONES = {"active": "ok", "unconfirmed": "muted", "bounced": "bad", "quarantined": "bad",
               "unsubscribed": "faded"}
REACTIVATABLE = {"bounced", "quarantined"}

# The states as one SQL expression, for counting by state; the order is Subscriber.state's.
STATE_SQL = case(*((and_(*Subscriber.in_state(state)), state) for state in
                   ("unsubscribed", "quarantined", "bounced", "unconfirmed")), else_="active")


# --- reading ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Counts:
    active_email: int
    active_webhooks: int
    unconfirmed: int
    unsubscribed: int
    bounced: int
    quarantined: int
    total: int


def counts(*, session: Session) -> Counts:
    """How many subscribers are in each state (one query)."""
    found = {(kind, state): n for kind, state, n in session.execute(
        select(Subscriber.kind, STATE_SQL, func.count()).group_by(Subscriber.kind, STATE_SQL))}

    def of(state: str, kind: str | None = None) -> int:
        return sum(n for (k, s), n in found.items() if s == state and kind in (None, k))

    return Counts(active_email=of("active", "email"), active_webhooks=of("active", "webhook"),
                  unconfirmed=of("unconfirmed"), unsubscribed=of("unsubscribed"), bounced=of("bounced"),
                  quarantined=of("quarantined"), total=sum(found.values()))


def subscribers_page(*, session: Session, kind: str | None, state: str | None, before_id: int | None,
                     limit: int = PAGE_SIZE + 1) -> list[Subscriber]:
    """Subscribers newest first, of this kind and state, with ids below `before_id`."""
    query = select(Subscriber).order_by(Subscriber.id.desc()).limit(limit)
    if kind:
        query = query.where(Subscriber.kind == kind)
    if state:
        query = query.where(*Subscriber.in_state(state))
    if before_id is not None:
        query = query.where(Subscriber.id < before_id)
    return list(session.scalars(query))


def component_names(*, session: Session, subscriber_ids: list[int]) -> dict[int, list[str]]:
    """The names of the components each of these subscribers chose (one query)."""
    names: dict[int, list[str]] = {}
    for subscriber_id, name in session.execute(
            select(SubscriberComponent.subscriber_id, Component.name).join(Component)
            .where(SubscriberComponent.subscriber_id.in_(subscriber_ids)).order_by(Component.name)):
        names.setdefault(subscriber_id, []).append(name)
    return names


def deliveries_page(*, session: Session, subscriber_id: int, before_id: int | None,
                    limit: int = PAGE_SIZE + 1) -> list:
    """One subscriber's deliveries newest first, as (delivery, announcement) rows."""
    query = (select(Delivery, Announcement).join(Announcement, Announcement.id == Delivery.announcement_id)
             .where(Delivery.subscriber_id == subscriber_id).order_by(Delivery.id.desc()).limit(limit))
    if before_id is not None:
        query = query.where(Delivery.id < before_id)
    return list(session.execute(query))


def announced_titles(*, session: Session, announcements: list[Announcement]) -> dict[tuple[str, str], str]:
    """The public title of each announced incident or maintenance, by (about, public id) (two queries)."""
    wanted = {about: {a.public_id for a in announcements if a.about == about} for about in ("incident", "maintenance")}
    titles: dict[tuple[str, str], str] = {}
    if wanted["incident"]:
        titles.update((("incident", pid), title) for pid, title in session.execute(
            select(Incident.public_id, Incident.public_title).where(Incident.public_id.in_(wanted["incident"]))))
    if wanted["maintenance"]:
        titles.update((("maintenance", pid), title) for pid, title in session.execute(
            select(Maintenance.public_id, Maintenance.title).where(Maintenance.public_id.in_(wanted["maintenance"]))))
    return titles


# --- pages -----------------------------------------------------------------------------------------

@bp.app_template_filter("breakable")
def breakable(text: str) -> Markup:
    """An address or URL that may wrap after its slashes, dots, @ and ? on a narrow screen: it has
    no spaces to wrap at, and would otherwise widen its table column to its whole length."""
    return Markup("<wbr>").join(escape(part) for part in re.split(r"(?<=[/.@?&])", text))


def _before() -> int | None:
    """The id to page back from (`?before=`), or None when missing or malformed."""
    raw = request.args.get("before", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < 2**31:
        return int(raw)
    return None


def _subscriber_or_404(subscriber_id: int) -> Subscriber:
    subscriber = db.session.get(Subscriber, subscriber_id)
    if subscriber is None:
        abort(404)
    return subscriber


@bp.route("")
@role_required(Role.admin)
def index():
    form = SubscriberFilterForm(formdata=request.args)
    filtering = any(request.args.get(name) for name in ("kind", "state"))
    valid = not filtering or form.validate()
    shown, older = [], None
    if valid:
        kind, state = form.kind.data or None, form.state.data or None
        shown = subscribers_page(session=db.session, kind=kind, state=state, before_id=_before())
        if len(shown) > PAGE_SIZE:
            shown = shown[:PAGE_SIZE]
            kept = {name: value for name, value in (("kind", kind), ("state", state)) if value}
            older = url_for("subscribers_admin.index", **kept, before=shown[-1].id)
    return render_template(
        "subscribers/index.html", form=form, counts=counts(session=db.session), subscribers=shown, older=older,
        paged=_before() is not None, filtering=filtering, labels=STATE_LABELS, tones=STATE_TONES,
        components=component_names(session=db.session, subscriber_ids=[s.id for s in shown]),
    ), 200 if valid else 422


@bp.route("/<int(max=2147483647):subscriber_id>")
@role_required(Role.admin)
def detail(subscriber_id: int):
    subscriber = _subscriber_or_404(subscriber_id)
    rows = deliveries_page(session=db.session, subscriber_id=subscriber.id, before_id=_before())
    older = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        older = url_for("subscribers_admin.detail", subscriber_id=subscriber.id, before=rows[-1][0].id)
    state = subscriber.state
    titles = announced_titles(session=db.session, announcements=[announcement for _delivery, announcement in rows])
    return render_template(
        "subscribers/detail.html", subscriber=subscriber, state=state, label=STATE_LABELS[state],
        tone=STATE_TONES[state], reactivatable=state in REACTIVATABLE, deliveries=rows, older=older, titles=titles,
        paged=_before() is not None,
        components=component_names(session=db.session, subscriber_ids=[subscriber.id]).get(subscriber.id, []),
        max_bounces=MAX_BOUNCES)


@bp.route("/<int(max=2147483647):subscriber_id>/reactivate", methods=["POST"])
@role_required(Role.admin)
def reactivate(subscriber_id: int):
    subscriber = _subscriber_or_404(subscriber_id)
    target = url_for("subscribers_admin.detail", subscriber_id=subscriber.id)
    if subscriber.state not in REACTIVATABLE:
        flash("This subscriber is neither quarantined nor bounced: there is nothing to reactivate.", "info")
        return redirect(target)
    service.reactivate(session=db.session, subscriber=subscriber)
    waiting = subscriber.confirmed_at is None
    db.session.commit()
    flash("Reactivated: its counts of bounces and failures start again from zero. "
          + ("It is still waiting for confirmation." if waiting else "The next announcements go to it."), "success")
    return redirect(target)
