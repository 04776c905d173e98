"""/api/v1 reads of what hangs off an incident (postmortem, action items, notices, notification
obligations, the systems it names) and of the systems catalogue and its audit.

The same conventions as the incident routes in views.py (this module adds its routes to that
blueprint, so the token wall, the rate limit and the problem details are the same): a read token
(viewer) is enough, every route is described in the OpenAPI document, an unknown incident or system
is a 404 problem. Each route reads through the features' own services in a fixed number of
statements however many rows it returns (tests/test_api_reads.py pins them). Nothing here shows a
secret (report tokens are left out) or a customer of the affected-customer ledger.
"""
from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import quote

from flask import abort, current_app, request, url_for
from spectree import Response

from incidents.actions.service import action_items_for, today
from incidents.api import auth
from incidents.api import read_schemas as rs
from incidents.api.problems import API_PREFIX, InvalidFields
from incidents.api.schemas import Person, Problem
from incidents.api.spec import api
from incidents.api.views import PROBLEMS, bp
from incidents.auth.models import Role
from incidents.db import utcnow
from incidents.errors import NotFound
from incidents.extensions import db
from incidents.forms import has_control_chars
from incidents.incident import service as incidents
from incidents.incident.models import Incident
from incidents.notices.service import notices_for
from incidents.obligations import service as obligations
from incidents.obligations.rules import rule_book
from incidents.postmortem import service as postmortems
from incidents.postmortem.due import due_date, is_overdue
from incidents.postmortem.sections import SECTIONS
from incidents.systems import audit, audit_kept, catalogue
from incidents.systems.audit_json import audit_clock, audit_document
from incidents.systems.links import systems_of

REFERENCE = {"reference": "The incident's reference, e.g. INC-2026-0007."}
NAME = {"name": "The system's name (spacing and case aside), URL-encoded."}


def _incident(reference: str) -> Incident:
    """The incident, or a 404 problem (control characters name none: PostgreSQL refuses NUL)."""
    if has_control_chars(reference):
        abort(404, "No incident with that reference.")
    try:
        return incidents.get_incident(session=db.session, reference=reference[:40])
    except NotFound:
        abort(404, f"No incident {reference[:40]}.")


def _person(user) -> Person | None:
    return Person(id=user.id, name=user.display) if user is not None else None


def _link(endpoint: str, **values) -> str:
    return url_for(endpoint, _external=True, **values)


def _known(codes) -> list[str]:
    """Problem codes the audit still knows (a kept snapshot may name one since dropped)."""
    return [code for code in codes or [] if code in audit.BY_CODE]


# --- the postmortem ------------------------------------------------------------------------------

@bp.get("/incidents/<reference>/postmortem")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.Postmortem, HTTP_404=Problem, **PROBLEMS), tags=["postmortems"],
              path_parameter_descriptions=REFERENCE)
def incident_postmortem(reference: str):
    """The incident's postmortem

    Its review state, reviewers and their approvals, when it was published, and the written
    sections as Markdown. 404 when nobody has started one."""
    incident = _incident(reference)
    postmortem = postmortems.postmortem_for(session=db.session, incident=incident)
    if postmortem is None:
        abort(404, f"{incident.reference} has no postmortem yet.")
    approvals = postmortems.approvals_for(session=db.session, postmortem=postmortem)
    approved: dict[int, int] = {}
    for approval in approvals:
        if approval.approved_by_id is not None:
            approved[approval.approved_by_id] = max(approved.get(approval.approved_by_id, 0), approval.version_number)
    due = due_date(incident.resolved_at, current_app.config["POSTMORTEM_DUE_BUSINESS_DAYS"])
    return rs.Postmortem(
        incident=incident.reference, status=postmortem.status, revision=postmortem.revision,
        version=postmortem.version, submitted_at=postmortem.submitted_at, approved_at=postmortem.approved_at,
        published_at=postmortem.published_at, published_by=_person(postmortem.published_by),
        updated_at=postmortem.updated_at, due_on=due, overdue=is_overdue(due, postmortem),
        reviewers=[rs.Reviewer(person=_person(r.user), added_at=r.added_at, approved_revision=approved.get(r.user_id))
                   for r in postmortem.reviewers],
        decisions=[rs.Decision(decision="approved", revision=a.version_number, by=_person(a.approved_by),
                               at=a.approved_at, comment=a.comment) for a in approvals],
        sections=[rs.PostmortemSection(key=key, heading=heading, markdown=postmortem.text(key))
                  for key, heading, _hint in SECTIONS],
        html_url=_link("postmortem.view", reference=incident.reference))


# --- action items ----------------------------------------------------------------------------------

@bp.get("/incidents/<reference>/actions")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.ActionItemList, HTTP_404=Problem, **PROBLEMS), tags=["action items"],
              path_parameter_descriptions=REFERENCE)
def incident_actions(reference: str):
    """The incident's action items

    Open ones first, soonest due first, then finished ones; each with its owner, due date, whether
    it is overdue, its priority and its link to an issue tracker."""
    incident = _incident(reference)
    on = today()
    return rs.ActionItemList(incident=incident.reference, items=[rs.ActionItem(
        id=item.id, title=item.title, kind=item.kind, priority=item.priority, status=item.status,
        owner=_person(item.owner), due_on=item.due_on, overdue=item.is_overdue(on), reason=item.reason,
        tracker_url=item.tracker_url, created_at=item.created_at, closed_at=item.closed_at,
        closed_by=_person(item.closed_by), version=item.version,
        html_url=_link("actions.item", reference=incident.reference, item_id=item.id),
    ) for item in action_items_for(session=db.session, incident=incident)])


# --- notices ---------------------------------------------------------------------------------------

def _version_state(version) -> rs.NoticeState:
    if version.releases:
        return rs.NoticeState.released
    return rs.NoticeState.approved if version.approved_at else rs.NoticeState.draft


def _notice(reference: str, notice) -> rs.Notice:
    versions = [rs.NoticeVersion(
        id=v.id, number=v.number, state=_version_state(v), subject=v.subject, body=v.body,
        author=_person(v.author), created_at=v.created_at, approved_by=_person(v.approved_by),
        approved_at=v.approved_at,
        releases=[rs.NoticeRelease(channel=r.channel, released_at=r.released_at, released_by=_person(r.released_by))
                  for r in v.releases],
        html_url=_link("notices.preview", reference=reference, notice_id=notice.id, number=v.number),
    ) for v in notice.versions]
    released = notice.released
    return rs.Notice(id=notice.id, audience=notice.audience, state=versions[-1].state,
                     released_version=released.number if released else None, created_at=notice.created_at,
                     versions=versions, html_url=_link("notices.detail", reference=reference, notice_id=notice.id))


@bp.get("/incidents/<reference>/notices")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.NoticeList, HTTP_404=Problem, **PROBLEMS), tags=["notices"],
              path_parameter_descriptions=REFERENCE)
def incident_notices(reference: str):
    """The incident's notices

    Each notice to customers or to a regulator or partner, with every version of its text (Markdown),
    who approved it and when it went out by which channel."""
    incident = _incident(reference)
    return rs.NoticeList(incident=incident.reference,
                         items=[_notice(incident.reference, n) for n in notices_for(session=db.session,
                                                                                    incident=incident)])


# --- notification obligations ----------------------------------------------------------------------

VERDICTS = {"Met": rs.Verdict.met, "Missed": rs.Verdict.missed, "Overdue": rs.Verdict.overdue,
            "Pending": rs.Verdict.pending, "Not required": rs.Verdict.not_required}


def _regime(regime_id: str, rules) -> rs.Regime:
    spec = rules.regimes.get(regime_id)
    return rs.Regime(id=regime_id, name=spec.name if spec else regime_id,
                     jurisdiction=spec.jurisdiction if spec else "")


def _clock(obligation) -> str:
    """As the obligations page says it: a due time, no fixed clock, or waiting for its moment."""
    if obligation.due_at is not None:
        return "due"
    return "no_fixed_clock" if obligation.anchor_at is not None else "waiting"


def _obligation(reference: str, obligation, rules, now) -> rs.Obligation:
    rule = rules.rules.get(obligation.rule_id)
    pending = obligation.status.is_open and obligation.due_at is not None
    return rs.Obligation(
        id=obligation.id, rule_id=obligation.rule_id, title=rule.title if rule else obligation.rule_id,
        regime=_regime(rule.regime.id if rule else obligation.regime, rules),
        recipient=rule.recipient if rule else "", recipient_label=rule.recipient_label if rule else "",
        citation=rule.citation.text if rule else None, law_url=rule.law_url if rule else None,
        counts_from=rule.anchor_label if rule else "", anchor_at=obligation.anchor_at,
        triggered_at=obligation.triggered_at, clock=_clock(obligation), due_at=obligation.due_at,
        time_zone=rule.regime.time_zone if rule else None,
        seconds_left=int((obligation.due_at - now).total_seconds()) if pending else None,
        status=obligation.status, verdict=VERDICTS[obligations.outcome_of(obligation, rule, now=now).verdict],
        filed_at=obligation.filed_at, filed_by=_person(obligation.filed_by), filing_reference=obligation.reference,
        notice_version_id=obligation.notice_version_id, reason=obligation.reason,
        attachment_name=obligation.attachment_name,
        html_url=_link("obligations.obligation", reference=reference, obligation_id=obligation.id))


@bp.get("/incidents/<reference>/obligations")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.ObligationList, HTTP_404=Problem, **PROBLEMS), tags=["obligations"],
              path_parameter_descriptions=REFERENCE)
def incident_obligations(reference: str):
    """The incident's notification obligations

    For each rule of the regimes chosen (GDPR, a US state, a contract...): who must be told by
    when, how much time is left, and whether it was met, missed or is still due."""
    incident = _incident(reference)
    rules, now = rule_book(), utcnow()
    chosen = obligations.chosen_regimes(session=db.session, incident=incident)
    return rs.ObligationList(
        incident=incident.reference, regimes=[_regime(regime_id, rules) for regime_id in sorted(chosen)],
        items=[_obligation(incident.reference, o, rules, now)
               for o in obligations.obligations_of(session=db.session, incident=incident)])


# --- the systems an incident names -----------------------------------------------------------------

def _system_url(name: str) -> str:
    """A system's URL in the API, by its name (built without url_for: the audit lists up to 500)."""
    return f"{request.host_url.rstrip('/')}{API_PREFIX}/systems/{quote(name, safe='')}"


@bp.get("/incidents/<reference>/systems")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.LinkedSystemList, HTTP_404=Problem, **PROBLEMS), tags=["systems"],
              path_parameter_descriptions=REFERENCE)
def incident_systems(reference: str):
    """The systems the incident names

    Each as it stood when the incident was declared: owner, backup policy, last successful
    backup, last restore test and the audit's problems then (kept, never recomputed)."""
    incident = _incident(reference)
    links = systems_of(session=db.session, incident=incident)
    names_now = catalogue.names_now(session=db.session, system_ids=[link.system_id for link in links])
    return rs.LinkedSystemList(incident=incident.reference, items=[rs.LinkedSystem(
        name=link.system_name, url=_system_url(names_now.get(link.system_id, link.system_name)), as_of=link.as_of,
        linked_at=link.linked_at, owner=link.owner_name, owner_active=link.owner_active, team=link.team,
        personal_data=link.personal_data, backup_method=link.backup_method,
        rpo_target_minutes=link.rpo_target_minutes, last_backup_ok_at=link.last_backup_ok_at,
        last_backup_report_at=link.last_backup_report_at, last_backup_report_ok=link.last_backup_report_ok,
        last_restore_test_at=link.last_restore_test_at, last_restore_test_ok=link.last_restore_test_ok,
        problems=_known(link.problems)) for link in links])


# --- the catalogue -------------------------------------------------------------------------------

def _origin(system) -> rs.Origin:
    return rs.Origin(origin=system.origin, label=system.origin_label, name=system.origin_name)


def _opaque(position: tuple[str, int]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _position(opaque: str | None) -> tuple[str, int] | None:
    """The (name key, id) an opaque cursor stands for; a cursor we did not make is a 422."""
    if opaque is None:
        return None
    try:
        key, row_id = json.loads(base64.urlsafe_b64decode(opaque + "=" * (-len(opaque) % 4)).decode())
        if isinstance(key, str) and len(key) <= 120 and type(row_id) is int and 0 < row_id < 2**31:
            return key, row_id
    except (binascii.Error, UnicodeDecodeError, ValueError, TypeError, RecursionError):
        pass
    raise InvalidFields({"cursor": ["Not a cursor of this list: pass next_cursor from the previous page."]})


@bp.get("/systems")
@auth.needs(Role.viewer)
@api.validate(query=rs.SystemListQuery, resp=Response(HTTP_200=rs.SystemPage, **PROBLEMS), tags=["systems"])
def systems_list():
    """List the systems catalogue

    By name, a page at a time (follow `next` until it is null), with each system's owner and the
    audit's problems now; only the flagged ones, the ones nobody owns, those holding personal data."""
    query: rs.SystemListQuery = request.context.query
    filters = catalogue.Filters(q=query.q or "", owner=int(query.owner) if query.owner not in (None, "none") else None,
                                unowned=query.owner == "none", personal=query.personal_data,
                                flagged=query.flagged, retired=query.retired)
    rows = catalogue.systems_after(session=db.session, filters=filters, at=audit_clock(), limit=query.limit + 1,
                                   after=_position(query.cursor))
    page, more = rows[:query.limit], len(rows) > query.limit
    opaque = _opaque((page[-1].system.name_key, page[-1].system.id)) if more else None
    next_url = None
    if opaque:
        args = {k: v for k, v in request.args.items() if k != "cursor"}
        next_url = url_for("api.systems_list", _external=True, **args, cursor=opaque)
    return rs.SystemPage(items=[rs.SystemSummary(
        name=row.system.name, url=_system_url(row.system.name), owner=_person(row.system.owner),
        owner_active=bool(row.system.owner and row.system.owner.active), team=row.system.team,
        personal_data=row.system.personal_data, origin=_origin(row.system), retired_at=row.system.retired_at,
        problems=row.problems) for row in page], next_cursor=opaque, next=next_url)


@bp.get("/systems/audit")
@auth.needs(Role.viewer)
@api.validate(query=rs.AuditQuery, resp=Response(HTTP_200=rs.Audit, **PROBLEMS), tags=["systems"])
def systems_audit():
    """The ownership audit

    What could lose data next: how many systems have each problem, then the flagged systems,
    worst first, a page at a time (`page`, `per_page` up to 500; `problem` lists those with one)."""
    query: rs.AuditQuery = request.context.query
    problem = query.problem.value if query.problem else None
    taken = audit_kept.take_audit(session=db.session, clock=audit_clock(), page=query.page, per_page=query.per_page,
                             problem=problem)
    next_url = None
    if taken.page < taken.pages:
        next_url = url_for("api.systems_audit", page=taken.page + 1, per_page=query.per_page,
                           **({"problem": problem} if problem else {}), _external=True)
    return rs.Audit.model_validate(audit_document(taken, next_url=next_url, url_of=lambda row: _system_url(row.name)))


@bp.get("/systems/<path:name>")
@auth.needs(Role.viewer)
@api.validate(resp=Response(HTTP_200=rs.SystemDetail, HTTP_404=Problem, **PROBLEMS), tags=["systems"],
              path_parameter_descriptions=NAME)
def system_detail(name: str):
    """One system

    Its owner, backup policy and state, the audit's problems now, and the incidents that named it.
    (A system named "audit" is listed by the catalogue; this path is the audit's.)"""
    system = None if has_control_chars(name) else catalogue.system_named(session=db.session, name=name[:200])
    if system is None:
        abort(404, f"No system named {name[:120]}.")
    state = system.state
    codes = [] if system.retired_at else audit.problems_of(audit.facts_of(system, state), audit_clock())
    return rs.SystemDetail(
        name=system.name, url=_system_url(system.name), html_url=_link("systems.detail", system_id=system.id),
        description=system.description, owner=_person(system.owner),
        owner_active=bool(system.owner and system.owner.active), team=system.team,
        data_categories=system.data_categories or [], personal_data=system.personal_data, origin=_origin(system),
        acquired_on=system.acquired_on, backup_method=system.backup_method,
        backup_destination=system.backup_destination, rpo_target_minutes=system.rpo_target_minutes,
        retention=system.retention, last_reviewed_at=system.last_reviewed_at, retired_at=system.retired_at,
        backup=rs.BackupState.model_validate(state, from_attributes=True) if state else rs.BackupState(),
        problems=[rs.AuditProblem(code=p.code, label=p.label, why=p.why, weight=p.weight)
                  for p in (audit.BY_CODE[c] for c in codes)],
        incidents=[rs.NamingIncident(reference=incident.reference, title=incident.title,
                                     declared_at=incident.declared_at,
                                     url=_link("api.incident_detail", reference=incident.reference),
                                     problems_then=_known(link.problems))
                   for link, incident in catalogue.incidents_naming(session=db.session, system=system)],
        version=system.version)
