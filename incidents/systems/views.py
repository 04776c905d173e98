"""The catalogue's pages: the list, adding and editing a system, its page (problems, backups,
restore tests, review, retirement) and, for admins, the report tokens its backup jobs use."""
from __future__ import annotations

from datetime import timedelta

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.routing import BuildError

from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.auth.service import assignable_users
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import rebase
from incidents.systems import audit, catalogue, heartbeats, service
from incidents.systems.audit_views import audit_clock, fix_links
from incidents.systems.blueprint import bp
from incidents.systems.forms import EditSystemForm, RestoreTestForm, SystemForm, TokenForm
from incidents.systems.models import ORIGINS, ReportToken
from incidents.versioning import save

ONE = "/systems/<int(max=2147483647):system_id>"


def load_system(system_id: int):
    try:
        return service.get_system(session=db.session, system_id=system_id)
    except NotFound:
        abort(404)


# --- the list ------------------------------------------------------------------------------------

@bp.route("/systems")
def index():
    filters = catalogue.Filters.from_args(request.args)
    listing = catalogue.list_systems(session=db.session, filters=filters, at=audit_clock())
    return render_template("systems/index.html", listing=listing, filters=filters, origins=ORIGINS,
                           audit_labels={p.code: p.label for p in audit.PROBLEMS},
                           **catalogue.filter_choices(session=db.session))


# --- adding and editing --------------------------------------------------------------------------

def _owner(form) -> tuple[bool, User | None]:
    """The owner the form names: (False, None) when the id is no account (said beside the field)."""
    owner_id = form.owner.data or 0
    owner = db.session.get(User, owner_id) if 0 < owner_id < 2**31 else None
    if owner_id and owner is None:
        form.owner.errors = [*form.owner.errors, "Choose someone from the list."]
        return False, None
    return True, owner


def _fields(form, owner: User | None) -> service.SystemFields:
    return service.SystemFields(
        name=form.name.data or "", description=form.description.data or "", owner=owner,
        team=form.team.data or "", data_categories=form.data_categories.data or [],
        personal_data=bool(form.personal_data.data), origin=form.origin.data or "",
        origin_name=form.origin_name.data or "", acquired_on=form.acquired_on.data,
        backup_method=form.backup_method.data or "", backup_destination=form.backup_destination.data or "",
        rpo_target_minutes=form.rpo_target_minutes.data, retention=form.retention.data or "")


@bp.route("/systems/new", methods=["GET", "POST"])
@role_required(Role.responder)
def new():
    posted = request.method == "POST"
    form = SystemForm() if posted else SystemForm(formdata=None)
    form.set_people(assignable_users(session=db.session))
    if not posted:
        return render_template("systems/form.html", form=form, system=None)
    if form.validate_on_submit():
        known, owner = _owner(form)
        if known:
            saved = save(lambda: service.create_system(session=db.session, actor=current_user,
                                                       fields_=_fields(form, owner)), form=form)
            if saved.ok:
                flash(f"“{saved.result.name}” added to the catalogue.", "success")
                return redirect(url_for("systems.detail", system_id=saved.result.id))
    return render_template("systems/form.html", form=form, system=None), 422


@bp.route(ONE + "/edit", methods=["GET", "POST"])
@role_required(Role.responder)
def edit(system_id: int):
    system = load_system(system_id)
    if request.method != "POST":
        form = EditSystemForm(formdata=None, obj=system)
        form.owner.data = system.owner_id or 0
        form.set_people(assignable_users(session=db.session), system.owner)
        return render_template("systems/form.html", form=form, system=system)
    form = EditSystemForm()
    form.set_people(assignable_users(session=db.session), system.owner)
    known, owner = _owner(form) if form.validate_on_submit() else (False, None)
    if not known:
        return render_template("systems/form.html", form=form, system=system), 422
    saved = save(lambda: service.update_system(session=db.session, actor=current_user, system=system,
                                               expected_version=form.version.data,
                                               fields_=_fields(form, owner)), form=form)
    if saved.ok:
        flash(f"“{system.name}” saved.", "success")
        return redirect(url_for("systems.detail", system_id=system_id))
    system = load_system(system_id)
    if saved.conflict:
        rebase(form.version, system.version)
    return render_template("systems/form.html", form=form, system=system, conflict=saved.conflict), saved.code


# --- one system's page ---------------------------------------------------------------------------

def _problems(system) -> list[tuple[audit.Problem, str]]:
    """The audit's problems with the system now, each with where to fix it (as the audit page links)."""
    if system.retired_at is not None:
        return []
    codes = audit.problems_of(audit.facts_of(system, system.state), audit_clock())
    return fix_links(system.id, codes)


def _page(system, *, restore_form=None, token_form=None, code: int = 200):
    people = assignable_users(session=db.session)
    if restore_form is None:
        restore_form = RestoreTestForm(formdata=None, tested_at=audit_clock().now.replace(second=0, microsecond=0),
                                       performed_by=current_user.id)
    restore_form.set_people(people)
    admin = current_user.can(Role.admin)
    return render_template(
        "systems/detail.html", system=system, state=system.state, problems=_problems(system), now=utcnow(),
        rpo_delta=timedelta(minutes=system.rpo_target_minutes or 0),
        reports=heartbeats.reports_of(session=db.session, system=system),
        tests=service.restore_tests_of(session=db.session, system=system),
        incidents=catalogue.incidents_naming(session=db.session, system=system),
        restore_form=restore_form, token_form=token_form or TokenForm(formdata=None),
        tokens=heartbeats.tokens_of(session=db.session, system=system) if admin else []), code


@bp.route(ONE)
def detail(system_id: int):
    return _page(load_system(system_id))


def _still_in_use(system) -> bool:
    """False (and said so) for a retired system: its page offers no more changes."""
    if system.retired_at is not None:
        flash(f"“{system.name}” is retired: it holds no customer data any more.", "error")
        return False
    return True


@bp.route(ONE + "/restore-tests", methods=["POST"])
@role_required(Role.responder)
def restore_test(system_id: int):
    system = load_system(system_id)
    if not _still_in_use(system):
        return redirect(url_for("systems.detail", system_id=system_id))
    form = RestoreTestForm()
    form.set_people(assignable_users(session=db.session))
    if not form.validate_on_submit():
        return _page(system, restore_form=form, code=422)
    saved = save(lambda: service.record_restore_test(
        session=db.session, actor=current_user, system=system, tested_at=form.tested_at.data,
        ok=form.result.data == "passed", performed_by=db.session.get(User, form.performed_by.data),
        evidence_url=form.evidence_url.data or "", note=form.note.data or ""), form=form)
    if not saved.ok:
        return _page(load_system(system_id), restore_form=form, code=saved.code)
    flash(f"Restore test recorded: {'passed' if saved.result.ok else 'failed'}.", "success")
    return redirect(url_for("systems.detail", system_id=system_id) + "#restore-test")


@bp.route(ONE + "/review", methods=["POST"])
@role_required(Role.responder)
def review(system_id: int):
    system = load_system(system_id)
    if _still_in_use(system) and save(lambda: service.mark_reviewed(session=db.session, actor=current_user,
                                                                    system=system)).ok:
        flash(f"“{system.name}” marked reviewed by you.", "success")
    return redirect(url_for("systems.detail", system_id=system_id))


@bp.route(ONE + "/retire", methods=["POST"])
@role_required(Role.responder)
def retire(system_id: int):
    system = load_system(system_id)
    if _still_in_use(system) and save(lambda: service.retire_system(session=db.session, actor=current_user,
                                                                    system=system)).ok:
        flash(f"“{system.name}” retired: it has left the audit; its history stays.", "success")
    return redirect(url_for("systems.detail", system_id=system_id))


# --- report tokens (admins) ----------------------------------------------------------------------

def backup_report_url() -> str:
    """The heartbeat endpoint's absolute URL, for the cron example."""
    try:
        return url_for("systems.backup_report", _external=True)
    except BuildError:  # the endpoint's module not there (yet): its documented path
        return request.host_url.rstrip("/") + "/systems/backup-report"


@bp.route(ONE + "/tokens", methods=["POST"])
@role_required(Role.admin)
def create_token(system_id: int):
    system = load_system(system_id)
    if not _still_in_use(system):
        return redirect(url_for("systems.detail", system_id=system_id))
    form = TokenForm()
    if not form.validate_on_submit():
        return _page(system, token_form=form, code=422)
    saved = save(lambda: heartbeats.create_token(session=db.session, actor=current_user, system=system,
                                                 label=form.label.data or ""), form=form)
    if not saved.ok:
        return _page(load_system(system_id), token_form=form, code=saved.code)
    token, secret = saved.result
    # A page, not a redirect: the secret is in this response only, never in a URL or the database.
    return render_template("systems/token_created.html", system=system, token=token, secret=secret,
                           report_url=backup_report_url())


@bp.route(ONE + "/tokens/<int(max=2147483647):token_id>/revoke", methods=["POST"])
@role_required(Role.admin)
def revoke_token(system_id: int, token_id: int):
    system = load_system(system_id)
    token = db.session.scalar(select(ReportToken).where(ReportToken.id == token_id,
                                                        ReportToken.system_id == system.id))
    if token is None:
        abort(404)
    if save(lambda: heartbeats.revoke_token(session=db.session, actor=current_user, token=token)).ok:
        flash(f"Token {token.hint}… revoked: backup jobs using it are refused from now on.", "success")
    return redirect(url_for("systems.detail", system_id=system_id) + "#tokens")
