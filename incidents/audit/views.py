"""Admins browse the audit log: filter by who, record, incident, action and time, a page at a time."""
from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from incidents.audit import service
from incidents.audit.forms import AuditFilterForm
from incidents.audit.recorder import EXCLUDED_TABLES
from incidents.auth.access import role_required
from incidents.auth.models import Role
from incidents.extensions import db

bp = Blueprint("audit", __name__, url_prefix="/admin/audit")
PAGE = 50
FILTER_ARGS = ("actor", "action", "entity_type", "incident", "entity_id", "since", "until")


def _cursor(raw: str | None) -> int | None:
    """The id to page back from, or None when missing or malformed."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) < 2**31:
        return int(raw)
    return None


def _filters(form: AuditFilterForm) -> service.AuditFilter | None:
    """The filters the form asks for, or None (with errors beside the fields) when it cannot be used."""
    if not any(request.args.get(name) for name in FILTER_ARGS):
        return service.AuditFilter()
    if not form.validate():
        return None
    incident_id = None
    if form.incident.data and form.incident.data.strip():
        incident_id = service.incident_id_for(session=db.session, reference=form.incident.data)
        if incident_id is None:
            form.incident.errors = list(form.incident.errors) + [
                f"No incident {form.incident.data.strip().upper()}; check the reference."]
            return None
    return service.AuditFilter(
        actor=(form.actor.data or "").strip() or None, action=form.action.data or None,
        entity_type=form.entity_type.data or None, entity_id=(form.entity_id.data or "").strip() or None,
        incident_id=incident_id, since=form.since.data, until=form.until.data)


@bp.route("")
@role_required(Role.admin)
def index():
    form = AuditFilterForm(formdata=request.args)
    form.set_entity_types(sorted(t.name for t in db.metadata.sorted_tables if t.name not in EXCLUDED_TABLES))
    filters = _filters(form)
    shown, older = [], None
    if filters is not None:
        shown = service.events(session=db.session, filters=filters, before_id=_cursor(request.args.get("before")),
                               limit=PAGE + 1)
        if len(shown) > PAGE:
            shown = shown[:PAGE]
            kept = {name: request.args.get(name) for name in FILTER_ARGS if request.args.get(name)}
            older = url_for("audit.index", **kept, before=shown[-1].event.id)
    return render_template("audit/list.html", form=form, events=shown, older=older,
                           paged=_cursor(request.args.get("before")) is not None,
                           total=service.count(session=db.session),
                           count_at_most=service.COUNT_AT_MOST), 200 if filters is not None else 422
