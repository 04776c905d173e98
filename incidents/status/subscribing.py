"""Subscribing on the public status site: the form, the confirmation link and leaving.

These pages live on the status blueprint (under STATUS_PREFIX, no login) but, unlike the rest of
the site, are never cached: they carry a CSRF token, and what they say depends on the link.
Nothing on them tells whether an address is subscribed: the form answers "check your inbox"
whatever happened, and the link pages show only what the link's owner may know.

A link's signed token is its authority: whoever holds the confirmation link may confirm, and
whoever holds the unsubscribe link may leave. So leaving works as RFC 8058 asks, by one POST with
no cookie and no CSRF token (mail clients' "Unsubscribe" button); a GET never changes anything,
because mail scanners open every link they see.
"""
from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import IntegrityError

from incidents.extensions import csrf, db, limiter
from incidents.jobs import enqueue
from incidents.status import service as status_service
from incidents.status.blueprint import bp
from incidents.subscribers import service
from incidents.subscribers.forms import SubscribeForm
from incidents.subscribers.models import Subscriber
from incidents.versioning import save

# Far longer than any token the service signs; anything longer is not read at all.
MAX_TOKEN = 400
SUBSCRIBE_LIMIT = "10 per hour"  # per client address; SUBSCRIBE_RATE_LIMIT overrides it


def _page(template: str, code: int = 200, **context):
    """A page of the status site (its base template wants the site's name and prefix)."""
    return render_template(template, page_name=current_app.config.get("STATUS_PAGE_NAME", "Status"),
                           status_prefix=current_app.config["STATUS_PREFIX"], **context), code


def _subscribe_limit() -> str:
    return current_app.config.get("SUBSCRIBE_RATE_LIMIT") or SUBSCRIBE_LIMIT


def _component_groups(form: SubscribeForm, components) -> list[tuple[str | None, list]]:
    """The form's component boxes grouped as on the status page: ungrouped ones first, then each group."""
    group_of = {c.public_id: c.group_name for c in components}
    groups: list[tuple[str | None, list]] = []
    for box in form.components:
        name = group_of.get(box.data)
        if groups and groups[-1][0] == name:
            groups[-1][1].append(box)
        else:
            groups.append((name, [box]))
    return groups


@bp.route("/subscribe", methods=["GET", "POST"])
@limiter.limit(_subscribe_limit, methods=["POST"])
def subscribe():
    """The subscribe form; a valid post starts the confirmation e-mail and shows "check your inbox"."""
    components = status_service.list_components(session=db.session)
    form = SubscribeForm.for_components(components)
    if form.validate_on_submit():
        chosen = None
        if form.scope.data == "some":
            by_public_id = {c.public_id: c.id for c in components}
            chosen = [by_public_id[public_id] for public_id in form.components.data]

        def work():
            if form.kind.data == "webhook":
                subscriber = service.subscribe_webhook(session=db.session, url=form.url.data, email=form.email.data,
                                                       component_ids=chosen)
            else:
                subscriber = service.subscribe_email(session=db.session, email=form.email.data, component_ids=chosen)
            if subscriber is not None:  # None: confirmed already, so nothing is sent (and nothing said)
                enqueue("subscribers.confirm", session=db.session, subscriber_id=subscriber.id)

        try:
            saved = save(work, form=form)
        except IntegrityError:
            # The same address subscribed by another request at this moment: that one sends the e-mail.
            db.session.rollback()
            return _sent()
        if saved.ok:
            return _sent()
    return _page("status/subscribe.html", 422 if form.errors else 200, form=form,
                 groups=_component_groups(form, components))


def _sent():
    return redirect(url_for("status.subscribe_sent"))


@bp.route("/subscribe/sent")
def subscribe_sent():
    """What every accepted subscription is told, whether the address was new, known or confirmed."""
    return _page("status/subscribe_sent.html")


def _subscriber(token: str, action: str) -> Subscriber | None:
    if len(token) > MAX_TOKEN:
        return None
    return service.subscriber_for(session=db.session, token=token, action=action)


def _invalid_link(action: str):
    return _page("status/subscribe_problem.html", 404, title="This link is not valid or has expired",
                 problem="invalid_link", action=action)


@bp.route("/subscribe/confirm/<token>", methods=["GET", "POST"])
def confirm_subscription(token: str):
    """GET shows a Confirm button (mail scanners follow links); POST confirms, and a webhook's
    signing secret is shown this once."""
    subscriber = _subscriber(token, "confirm")
    if subscriber is None:
        return _invalid_link("confirm")
    confirmed_before = subscriber.confirmed_at is not None and subscriber.unsubscribed_at is None
    if request.method != "POST":
        return _page("status/subscribe_confirm.html", kind=subscriber.kind, confirmed=confirmed_before)
    service.confirm(session=db.session, subscriber=subscriber)
    # Read before the commit expires the row; shown only by the POST that made it.
    secret = subscriber.signing_secret if subscriber.kind == "webhook" and not confirmed_before else None
    kind = subscriber.kind
    db.session.commit()
    return _page("status/subscribe_confirmed.html", kind=kind, secret=secret, confirmed_before=confirmed_before)


@bp.route("/unsubscribe/<token>", methods=["GET", "POST"])
@csrf.exempt  # RFC 8058 one-click: the mail client posts with no cookie; the signed token decides
def unsubscribe(token: str):
    """GET shows an Unsubscribe button; POST (a browser's, or a mail client's one-click
    `List-Unsubscribe=One-Click`) unsubscribes and answers 200. Doing it twice is harmless."""
    subscriber = _subscriber(token, "unsubscribe")
    if subscriber is None:
        return _invalid_link("unsubscribe")
    if request.method != "POST":
        return _page("status/unsubscribe.html", kind=subscriber.kind, gone=subscriber.unsubscribed_at is not None)
    kind = subscriber.kind
    service.unsubscribe(session=db.session, subscriber=subscriber)
    db.session.commit()
    return _page("status/unsubscribe.html", kind=kind, gone=True)


@bp.errorhandler(429)
def too_many(error):
    """The subscribe form's limit: the status site's own page, saying when to come back."""
    limit = limiter.current_limit
    return _page("status/subscribe_problem.html", 429, title="Too many requests from your network",
                 problem="too_many", retry_at=datetime.fromtimestamp(limit.reset_at, UTC) if limit else None)


@bp.errorhandler(CSRFError)
def form_expired(error):
    return _page("status/subscribe_problem.html", 400, title="This form has expired", problem="expired")
