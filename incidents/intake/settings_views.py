"""The admins' pages for alert intakes (list, make, look at, change, new token, revoke) and a delivery's
page for everyone who can read incidents (the raw payload the timeline entry links to)."""
from __future__ import annotations

import json

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.auth.access import recent_sign_in_required, role_required
from incidents.auth.models import Role
from incidents.extensions import db
from incidents.forms import rebase
from incidents.intake import manage, service
from incidents.intake.forms import EditIntakeForm, IntakeForm
from incidents.intake.models import Intake
from incidents.versioning import save

bp = Blueprint("intake", __name__)
ONE = "/settings/intakes/<int(max=2147483647):intake_id>"


def _form(formdata=None) -> IntakeForm:
    form = IntakeForm(formdata=formdata) if formdata is not None else IntakeForm()
    _account_choices(form)
    if not form.is_submitted():
        form.account.data = current_user.id
    return form


def _account_choices(form: IntakeForm) -> None:
    form.account.choices = [(u.id, f"{u.display} ({u.role.value})") for u in manage.declarers(session=db.session)]


def _fields(form: IntakeForm, kind: str):
    account = next((u for u in manage.declarers(session=db.session) if u.id == form.account.data), None)
    return manage.IntakeFields(
        name=form.name.data, kind=kind, account=account, severity_label=form.severity_label.data.strip(),
        severity_map=manage.parse_severity_map(form.severity_map.data or ""),
        default_severity=form.default_severity.data, title_annotation=form.title_annotation.data.strip(),
        description_annotation=form.description_annotation.data.strip(), hmac_secret=form.hmac_secret.data or "",
        hmac_timestamp_header=form.hmac_timestamp_header.data or "")


def _page(form: IntakeForm | None = None, code: int = 200):
    return render_template("intake/index.html", intakes=manage.intakes(session=db.session),
                           form=form or _form(), urls=_urls()), code


ALERTMANAGER_RECEIVER = """receivers:
  - name: tracker
    webhook_configs:
      - url: {url}
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials: {credentials}"""
GENERIC_CURL = """curl -fsS {url} \\
  -H "Authorization: Bearer {credentials}" -H "Content-Type: application/json" \\
  -d '{{"title": "Nightly export lost rows", "status": "firing", "dedup_key": "export-nightly",
       "description": "2,000 rows missing", "link": "https://ci.example.com/job/42"}}'"""


def sender_snippet(intake: Intake, url: str, credentials: str) -> str | None:
    """What to paste into the sender (shown in a <pre>: templates may not indent literal text)."""
    template = {"alertmanager": ALERTMANAGER_RECEIVER, "generic": GENERIC_CURL}.get(intake.kind.value)
    return template.format(url=url, credentials=credentials) if template else None


def _urls() -> dict[str, str]:
    return {kind: url_for(f"intake_api.{kind}", _external=True) for kind in ("alertmanager", "grafana", "generic")}


def _intake(intake_id: int) -> Intake:
    intake = manage.get_intake(session=db.session, intake_id=intake_id)
    if intake is None:
        abort(404)
    return intake


@bp.get("/settings/intakes")
@role_required(Role.admin)
def index():
    return _page()


@bp.post("/settings/intakes")
@role_required(Role.admin)
@recent_sign_in_required  # an intake token declares incidents: a credential
def create():
    form = _form(request.form)
    if not form.validate():
        return _page(form, 422)
    fields = _fields(form, form.kind.data)
    saved = save(lambda: manage.create_intake(session=db.session, actor=current_user, fields=fields), form=form)
    if not saved.ok:
        return _page(form, saved.code)
    intake, secret = saved.result
    return _shown_once(intake, secret)


def _shown_once(intake: Intake, secret: str):
    """A page, not a redirect: the secret is in this response only (never in a URL or the database)."""
    url = _urls()[intake.kind.value]
    return render_template("intake/created.html", intake=intake, secret=secret, url=url,
                           snippet=sender_snippet(intake, url, secret)), 200, {"Cache-Control": "no-store"}


@bp.get(ONE)
@role_required(Role.admin)
def detail(intake_id: int):
    intake = _intake(intake_id)
    url = _urls()[intake.kind.value]
    return render_template("intake/detail.html", intake=intake, url=url,
                           snippet=sender_snippet(intake, url, f"{intake.hint}…"),
                           deliveries=service.recent_deliveries(session=db.session, intake=intake),
                           incidents=service.incident_count(session=db.session, intake=intake))


@bp.route(ONE + "/edit", methods=["GET", "POST"])
@role_required(Role.admin)
@recent_sign_in_required  # who its incidents are declared as, and Grafana's secret, are its trust
def edit(intake_id: int):
    intake = _intake(intake_id)
    if intake.revoked_at is not None:
        flash(f"“{intake.name}” is revoked: make a new intake instead.", "error")
        return redirect(url_for("intake.detail", intake_id=intake_id))
    if request.method != "POST":
        return _edit_page(intake, _edit_form_of(intake))
    form = EditIntakeForm()
    _account_choices(form)
    if not form.validate_on_submit():
        return _edit_page(intake, form, 422)
    fields = _fields(form, intake.kind.value)
    if intake.kind.value != "grafana":  # not offered on the page: only Grafana signs
        fields.hmac_secret = fields.hmac_timestamp_header = ""
    saved = save(lambda: manage.update_intake(session=db.session, intake=intake, expected_version=form.version.data,
                                              fields=fields, forget_hmac_secret=form.forget_hmac_secret.data),
                 form=form)
    if saved.ok:
        flash(f"“{intake.name}” saved: the next delivery is read with these settings.", "success")
        return redirect(url_for("intake.detail", intake_id=intake_id))
    intake = _intake(intake_id)
    if saved.conflict:
        rebase(form.version, intake.version)
    return _edit_page(intake, form, saved.code, conflict=saved.conflict)


def _edit_form_of(intake: Intake) -> EditIntakeForm:
    form = EditIntakeForm(formdata=None, obj=intake)
    _account_choices(form)
    form.account.data = intake.account_id
    form.severity_map.data = manage.map_text(intake.severity_map)
    form.default_severity.data = intake.default_severity.value
    form.hmac_secret.data = ""  # a credential: never drawn into a page
    form.hmac_timestamp_header.data = intake.hmac_timestamp_header or ""
    return form


def _edit_page(intake: Intake, form: EditIntakeForm, code: int = 200, conflict=None):
    return render_template("intake/edit.html", intake=intake, form=form, conflict=conflict), code


@bp.post(ONE + "/token")
@role_required(Role.admin)
@recent_sign_in_required
def rotate(intake_id: int):
    intake = _intake(intake_id)
    saved = save(lambda: manage.new_token(session=db.session, intake=intake))
    if not saved.ok:
        return redirect(url_for("intake.detail", intake_id=intake_id))
    return _shown_once(intake, saved.result)


@bp.post(ONE + "/revoke")
@role_required(Role.admin)
def revoke(intake_id: int):
    intake = _intake(intake_id)
    name = intake.name
    if save(lambda: manage.revoke_intake(session=db.session, intake=intake)).ok:
        flash(f"“{name}” revoked: its deliveries are refused from now on.", "success")
    return redirect(url_for("intake.detail", intake_id=intake_id))


@bp.get("/intake/deliveries/<int(max=2147483647):delivery_id>")
@role_required(Role.viewer)
def delivery(delivery_id: int):
    """One delivery as it arrived (pretty-printed), what it did, and the entry it wrote."""
    found = service.get_delivery(session=db.session, delivery_id=delivery_id)
    if found is None:
        abort(404)
    try:
        pretty = json.dumps(json.loads(found.payload), indent=2, ensure_ascii=False)
        # A lone surrogate ("\ud800" in the JSON) cannot be sent as UTF-8: show it as written.
        pretty = pretty.encode("utf-8", "backslashreplace").decode("utf-8")
    except ValueError:
        pretty = found.payload
    return render_template("intake/delivery.html", delivery=found, pretty=pretty)
