"""/admin/webhooks: admins subscribe URLs to events, read each one's delivery log, test, disable,
enable and rotate its secret. Every change goes through service.py and is audited by the recorder."""
from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import recent_sign_in_required, role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.forms import rebase
from incidents.paging import PAGE_SIZE
from incidents.versioning import save
from incidents.webhooks import service
from incidents.webhooks.forms import ButtonForm, EditWebhookForm, WebhookForm
from incidents.webhooks.jobs import AUTO_DISABLE_AFTER
from incidents.webhooks.models import EVENT_LABELS, EVENTS, PRESETS, WebhookSubscription

bp = Blueprint("webhooks", __name__, url_prefix="/admin/webhooks")
ONE = "/<int(max=2147483647):webhook_id>"
STATE_LABELS = {"active": "Active", "disabled": "Disabled", "auto_disabled": "Disabled automatically"}
STATE_TONES = {"active": "ok", "disabled": "muted", "auto_disabled": "bad"}
# A page with a signing secret is never kept by a browser or a proxy.
NO_STORE = {"Cache-Control": "no-store"}


def _render(template: str, **context) -> str:
    """A page of this feature, with its vocabulary and the banner of subscriptions disabled automatically."""
    return render_template(template, state_labels=STATE_LABELS, state_tones=STATE_TONES, event_labels=EVENT_LABELS,
                           event_count=len(EVENTS), presets=PRESETS, stopped=service.auto_disabled(session=db.session),
                           **context)


def _fields(form: WebhookForm) -> service.Fields:
    return service.Fields(name=form.name.data or "", url=form.url.data or "", events=form.events.data or [],
                          preset=form.preset.data or "")


def _load(webhook_id: int) -> WebhookSubscription:
    subscription = db.session.get(WebhookSubscription, webhook_id)
    if subscription is None:
        abort(404)
    return subscription


def _before() -> int | None:
    """The log id to page back from (`?before=`), or None when missing or malformed."""
    raw = request.args.get("before", "")
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < 2**31:
        return int(raw)
    return None


# Admins only, everywhere here: they decide where incident data is sent.
@bp.get("")
@role_required(Role.admin)
def index():
    return _render("webhooks/index.html", subscriptions=service.subscriptions(session=db.session),
                           waiting=service.waiting_counts(session=db.session))


@bp.route("/new", methods=["GET", "POST"])
@role_required(Role.admin)
@recent_sign_in_required  # a webhook sends incident data to the URL it names
def new():
    if request.method != "POST":
        return _render("webhooks/form.html", form=WebhookForm(formdata=None), subscription=None)
    form = WebhookForm()
    if not form.validate_on_submit():
        return _render("webhooks/form.html", form=form, subscription=None), 422
    saved = save(lambda: service.create_subscription(session=db.session, actor=current_user, fields=_fields(form)),
                 form=form)
    if not saved.ok:
        return _render("webhooks/form.html", form=form, subscription=None), saved.code
    subscription, secret = saved.result
    # A page, not a redirect: the secret is in this response only (never in a URL or a flash).
    page = render_template("webhooks/secret.html", subscription=subscription, secret=secret, created=True)
    return page, 200, NO_STORE


@bp.get(ONE)
@role_required(Role.admin)
def detail(webhook_id: int):
    subscription = _load(webhook_id)
    rows = service.attempts_page(session=db.session, subscription_id=subscription.id, before_id=_before())
    older = None
    if len(rows) > PAGE_SIZE:
        rows = rows[:PAGE_SIZE]
        older = url_for("webhooks.detail", webhook_id=subscription.id, before=rows[-1][0].id)
    return _render("webhooks/detail.html", subscription=subscription, attempts=rows, older=older,
                           paged=_before() is not None, button=ButtonForm(formdata=None),
                           waiting=service.waiting_counts(session=db.session).get(subscription.id, 0),
                           auto_disable_after=AUTO_DISABLE_AFTER)


@bp.route(ONE + "/edit", methods=["GET", "POST"])
@role_required(Role.admin)
@recent_sign_in_required
def edit(webhook_id: int):
    subscription = _load(webhook_id)
    if request.method != "POST":
        form = EditWebhookForm(formdata=None, obj=subscription)
        return _render("webhooks/form.html", form=form, subscription=subscription)
    form = EditWebhookForm()
    if not form.validate_on_submit():
        return _render("webhooks/form.html", form=form, subscription=subscription), 422
    saved = save(lambda: service.update_subscription(session=db.session, subscription=subscription,
                                                     expected_version=form.version.data, fields=_fields(form)),
                 form=form)
    if saved.ok:
        flash(f"“{subscription.name}” saved.", "success")
        return redirect(url_for("webhooks.detail", webhook_id=webhook_id))
    subscription = _load(webhook_id)
    if saved.conflict:
        rebase(form.version, subscription.version)
    return _render("webhooks/form.html", form=form, subscription=subscription,
                           conflict=saved.conflict), saved.code


def _button(webhook_id: int, work, message: str):
    """A button's POST: run `work` on the subscription, commit, say what happened, back to its page."""
    subscription = _load(webhook_id)
    if ButtonForm().validate_on_submit() and save(lambda: work(subscription)).ok:
        flash(message.format(name=subscription.name), "success")
    return redirect(url_for("webhooks.detail", webhook_id=webhook_id))


@bp.post(ONE + "/disable")
@role_required(Role.admin)
def disable(webhook_id: int):
    return _button(webhook_id, lambda s: service.disable(
        session=db.session, subscription=s, actor=current_user),
        "“{name}” disabled: nothing is sent to it until it is enabled again.")


@bp.post(ONE + "/enable")
@role_required(Role.admin)
def enable(webhook_id: int):
    return _button(webhook_id, lambda s: service.enable(session=db.session, subscription=s),
                   "“{name}” enabled: the next events go to it, its count of failures starts again from zero.")


@bp.post(ONE + "/test")
@role_required(Role.admin)
def test(webhook_id: int):
    return _button(webhook_id, lambda s: service.send_test(
        session=db.session, subscription=s, actor=current_user),
        "A test event is on its way to “{name}”: its outcome shows in the delivery log below in a moment.")


@bp.post(ONE + "/rotate")
@role_required(Role.admin)
@recent_sign_in_required
def rotate(webhook_id: int):
    subscription = _load(webhook_id)
    if not ButtonForm().validate_on_submit():
        return redirect(url_for("webhooks.detail", webhook_id=webhook_id))
    saved = save(lambda: service.rotate_secret(session=db.session, subscription=subscription))
    if not saved.ok:
        return redirect(url_for("webhooks.detail", webhook_id=webhook_id))
    return render_template("webhooks/secret.html", subscription=subscription, secret=saved.result,
                           created=False, grace_hours=current_app.config["WEBHOOK_SECRET_GRACE_HOURS"]), \
        200, NO_STORE
