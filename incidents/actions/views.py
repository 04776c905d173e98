"""Action-item pages: the lists across incidents, adding, changing and finishing an item."""
from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from incidents.actions import service
from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.actions.forms import ActionForm, ActionStatusForm, EditActionForm
from incidents.actions.models import ActionItem
from incidents.auth.access import role_required
from incidents.auth.models import Role, User
from incidents.auth.service import assignable_users
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import rebase
from incidents.idempotency import idempotent, remember
from incidents.incident.page import load_incident
from incidents.paging import PAGE_SIZE, Cursor, split_page
from incidents.versioning import save

bp = Blueprint("actions", __name__)

ITEM = "/incidents/<reference>/actions/<int(max=2147483647):item_id>"


def _list(view: str):
    after = Cursor.decode(request.args.get("after"), dates=True)
    items, later = split_page(service.list_action_items(session=db.session, view=view, user=current_user,
                                                        limit=PAGE_SIZE + 1, after=after),
                              lambda item: Cursor(item.due_on, item.id))
    return render_template("actions/list.html", items=items, view=view, views=service.LIST_VIEWS,
                           today=service.today(), later=later, paged=after is not None)


@bp.route("/actions")
def index():
    return _list("open")


@bp.route("/actions/mine")
def mine():
    return _list("mine")


@bp.route("/actions/overdue")
def overdue():
    return _list("overdue")


def load_item(incident, item_id: int) -> ActionItem:
    try:
        return service.get_action_item(session=db.session, incident=incident, item_id=item_id)
    except NotFound:
        abort(404)


def _fields(form: ActionForm) -> service.ActionFields:
    return service.ActionFields(
        title=form.title.data or "", kind=ActionKind(form.kind.data),
        owner=db.session.get(User, form.owner.data) if form.owner.data else None,
        due_on=form.due_on.data, priority=ActionPriority(form.priority.data),
        tracker_url=form.tracker_url.data or None)


def _back_to(reference: str, origin: str | None) -> str:
    """Where to go after adding an item: the postmortem when it was added from there."""
    if origin == "postmortem":
        return url_for("postmortem.view", reference=reference) + "#actions"
    return url_for("incident.detail", reference=reference) + "#actions"


@bp.route("/incidents/<reference>/actions/new", methods=["GET", "POST"])
@role_required(Role.responder)
@idempotent
def new(reference: str):
    incident = load_incident(reference)
    origin = "postmortem" if request.values.get("from") == "postmortem" else "incident"
    form = ActionForm() if request.method == "POST" else ActionForm(formdata=None)
    form.set_people(assignable_users(session=db.session))
    if request.method != "POST":
        return render_template("actions/form.html", incident=incident, form=form, item=None, origin=origin)
    if form.validate_on_submit():
        target = _back_to(reference, origin)

        def work():
            item = service.create_action_item(session=db.session, actor=current_user, incident=incident,
                                              fields=_fields(form))
            remember(target)
            return item

        if (saved := save(work, form=form)).ok:
            flash(f"Action item “{saved.result.title}” added, owned by {saved.result.owner.display}.", "success")
            return redirect(target)
    return render_template("actions/form.html", incident=incident, form=form, item=None, origin=origin), 422


def _render_item(incident, item: ActionItem, *, form=None, conflict=None, code: int = 200):
    form = form or ActionStatusForm(formdata=None, version=item.version)
    form.status.choices = [(s.value, s.label) for s in ActionStatus if s is not item.status]
    return render_template("actions/item.html", incident=incident, item=item, form=form,
                           conflict=conflict, today=service.today()), code


@bp.route(ITEM)
def item(reference: str, item_id: int):
    incident = load_incident(reference)
    return _render_item(incident, load_item(incident, item_id))


@bp.route(ITEM + "/edit", methods=["GET", "POST"])
@role_required(Role.responder)
def edit(reference: str, item_id: int):
    incident = load_incident(reference)
    action = load_item(incident, item_id)
    if request.method != "POST":
        form = EditActionForm(formdata=None, obj=action)
        form.kind.data, form.priority.data = action.kind.value, action.priority.value
        form.owner.data = action.owner_id or 0
        form.set_people(assignable_users(session=db.session))
        return render_template("actions/form.html", incident=incident, form=form, item=action)
    form = EditActionForm()
    form.set_people(assignable_users(session=db.session))
    if not form.validate_on_submit():
        return render_template("actions/form.html", incident=incident, form=form, item=action), 422
    saved = save(lambda: service.update_action_item(
        session=db.session, actor=current_user, incident=incident, item=action,
        expected_version=form.version.data, fields=_fields(form)), form=form)
    if saved.ok:
        flash(f"Action item “{action.title}” updated.", "success")
        return redirect(url_for("actions.item", reference=reference, item_id=action.id))
    if saved.conflict:
        action = load_item(incident, item_id)
        rebase(form.version, action.version)
    return render_template("actions/form.html", incident=incident, form=form, item=action,
                           conflict=saved.conflict), saved.code


@bp.route(ITEM + "/status", methods=["POST"])
@role_required(Role.responder)
def status(reference: str, item_id: int):
    incident = load_incident(reference)
    action = load_item(incident, item_id)
    form = ActionStatusForm()
    if not form.validate_on_submit():
        return _render_item(incident, action, form=form, code=422)
    saved = save(lambda: service.change_action_status(
        session=db.session, actor=current_user, incident=incident, item=action,
        expected_version=form.version.data, status=ActionStatus(form.status.data),
        reason=form.reason.data or ""), form=form)
    if not saved.ok:
        action = load_item(incident, item_id)
        if saved.conflict:
            rebase(form.version, action.version)
        return _render_item(incident, action, form=form, conflict=saved.conflict, code=saved.code)
    flash(f"“{action.title}” is now {action.status.label.lower()}.", "success")
    return redirect(url_for("actions.item", reference=reference, item_id=action.id))
