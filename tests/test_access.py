"""Who may reach what, checked on the server for every route the app has.

The walk below visits every rule in `app.url_map` with every method it allows, as an anonymous
visitor and as each role, sending real ids and form data that the permitted role gets accepted.
So a 403 for a lower role means the role check refused it, not that the form was incomplete.
"""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from incidents.actions.models import ActionItem
from incidents.audit.models import AuditEvent
from incidents.audit.recorder import SIGN_IN, SIGN_IN_FAILED, SIGN_OUT
from incidents.auth.models import LoginSession, User
from incidents.extensions import db
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.incident.service import get_incident
from incidents.jobs.models import BackgroundJob
from incidents.ledger.models import LedgerCustomer, LedgerImport, LedgerItem, LedgerNotificationBatch
from incidents.maintenance.models import Maintenance, MaintenanceUpdate
from incidents.notices.models import Notice, NoticeRelease, NoticeVersion
from incidents.obligations.models import ContractRule, IncidentRegime, Obligation, ObligationAnchor
from incidents.postmortem.models import PostmortemReviewer
from incidents.recovery.models import Workstream, WorkstreamProgress
from incidents.status.models import Component
from incidents.subscribers.models import Subscriber
from incidents.timeline.models import TimelineEntry, TimelinePin
from incidents.timeline.service import get_entry, latest_revision
from tests.fixtures.world import (
    IMPORTED_TEAM,
    POSTED_BODY,
    form_data,
    postmortem_of,
    world_user_id,
)

PUBLIC, VIEWER, RESPONDER, ADMIN = "public", "viewer", "responder", "admin"
RANK = {PUBLIC: 0, VIEWER: 1, RESPONDER: 2, ADMIN: 3}

# Every endpoint and the least a visitor must be to use it. A new route must be added here,
# or test_every_route_is_classified fails.
MINIMUM_ROLE = {
    "static": PUBLIC,
    "health": PUBLIC,
    "auth.login": PUBLIC,
    "auth.logout": VIEWER,
    "auth.reauth": VIEWER,
    "incident.index": VIEWER,
    "incident.detail": VIEWER,
    "incident.declare": RESPONDER,
    "incident.edit": RESPONDER,
    "incident.change_status": RESPONDER,
    "timeline.post": RESPONDER,
    "timeline.correct": RESPONDER,
    "timeline.pin": RESPONDER,
    "timeline.unpin": RESPONDER,
    "impact.record": RESPONDER,
    "impact.history": VIEWER,
    "recovery.new": RESPONDER,
    "recovery.workstream": VIEWER,
    "recovery.edit": RESPONDER,
    "recovery.progress": RESPONDER,
    "admin.users": ADMIN,
    "admin.edit_user": ADMIN,
    "status.page": PUBLIC,
    "status.incident": PUBLIC,
    "status.history": PUBLIC,
    "status_publish.publish": RESPONDER,
    "status_publish.update": RESPONDER,
    "status_admin.index": ADMIN,
    "status_admin.edit": ADMIN,
    "status_admin.remove": ADMIN,
    "status.history_atom": PUBLIC,
    "status.history_rss": PUBLIC,
    "status.api_summary": PUBLIC,
    "status.api_status": PUBLIC,
    "status.api_components": PUBLIC,
    "status.api_incidents": PUBLIC,
    "status.api_incidents_unresolved": PUBLIC,
    "status.api_scheduled_maintenances": PUBLIC,
    "status.api_scheduled_maintenances_upcoming": PUBLIC,
    "status.api_scheduled_maintenances_active": PUBLIC,
    "status.api_not_found": PUBLIC,  # unknown /api/v2 paths: a JSON 404 for everyone
    "audit.index": ADMIN,
    "postmortem.view": VIEWER,
    "postmortem.edit": RESPONDER,
    "postmortem.preview": RESPONDER,
    "postmortem.add_reviewer": RESPONDER,
    "postmortem.remove_reviewer": RESPONDER,
    "postmortem.submit": RESPONDER,
    "postmortem.review": RESPONDER,
    "postmortem.publish": RESPONDER,
    "postmortem.versions": VIEWER,
    "postmortem.version": VIEWER,
    "postmortem.due": VIEWER,
    "actions.index": VIEWER,
    "actions.mine": VIEWER,
    "actions.overdue": VIEWER,
    "actions.new": RESPONDER,
    "actions.item": VIEWER,
    "actions.edit": RESPONDER,
    "actions.status": RESPONDER,
    "reports.index": VIEWER,
    "reports.executive": VIEWER,
    "reports.executive_pdf": VIEWER,
    "notices.new": RESPONDER,
    "notices.detail": VIEWER,
    "notices.edit": RESPONDER,
    "notices.approve": RESPONDER,  # and only the incident's comms lead or commander (test_notices.py)
    "notices.release": RESPONDER,
    "notices.checklist": RESPONDER,
    "incident.live_version": VIEWER,
    "jobs.status": VIEWER,  # and only for the job's creator or an admin (test_jobs.py)
    "obligations.attachment": VIEWER,
    "obligations.contract_rules": ADMIN,
    "obligations.contract_rule": ADMIN,
    "obligations.retire_contract_rule": ADMIN,
    "notices.preview": VIEWER,
    "notices.text": VIEWER,
    "notices.pdf": VIEWER,
    "obligations.incident_obligations": VIEWER,
    "obligations.deadlines": VIEWER,
    "obligations.obligation": VIEWER,
    "obligations.regimes": RESPONDER,
    "obligations.anchor": RESPONDER,
    "obligations.recompute": RESPONDER,
    "obligations.file": RESPONDER,
    "obligations.not_required": RESPONDER,
    "maintenance.index": VIEWER,
    "maintenance.detail": VIEWER,
    "maintenance.schedule": RESPONDER,
    "maintenance.edit": RESPONDER,
    "maintenance.post_update": RESPONDER,
    "maintenance.cancel": RESPONDER,
    "status.maintenance": PUBLIC,
    "status.subscribe": PUBLIC,
    "status.subscribe_sent": PUBLIC,
    "status.confirm_subscription": PUBLIC,  # and only with the link's signed token (test_subscriber_pages.py)
    "status.unsubscribe": PUBLIC,  # likewise
    "subscribers_admin.index": ADMIN,
    "subscribers_admin.detail": ADMIN,
    "subscribers_admin.reactivate": ADMIN,
    "ledger.overview": VIEWER,
    "ledger.start_import": RESPONDER,
    "ledger.import_page": VIEWER,
    "ledger.import_progress": VIEWER,
    "ledger.import_problems": RESPONDER,  # names customers: for those who work on the list
    "ledger.customer_lookup": VIEWER,  # support staff; each look-up is audited (test_ledger.py)
    "ledger.change_customer": RESPONDER,
    "ledger.snapshot": RESPONDER,
    "ledger.start_batch": RESPONDER,
    "ledger.export_batch": RESPONDER,  # names customers
    "ledger.export_ledger": RESPONDER,  # likewise; audited
    "ledger.batch_sent": RESPONDER,
    "ledger.discard_batch": RESPONDER,
    "systems.audit": VIEWER,
    "systems.audit_json": VIEWER,
    "systems.index": VIEWER,
    "systems.detail": VIEWER,
    "systems.new": RESPONDER,
    "systems.edit": RESPONDER,
    "systems.restore_test": RESPONDER,
    "systems.review": RESPONDER,
    "systems.retire": RESPONDER,
    "systems.create_token": ADMIN,  # report tokens are credentials: admins make and revoke them
    "systems.revoke_token": ADMIN,
    "systems.backup_report": PUBLIC,  # but only with a system's report token: see TOKEN_ENDPOINTS
    "systems.link": RESPONDER,  # GET: the catalogue to pick from; POST: name systems on the incident
    "systems.unlink": RESPONDER,
    "systems.export_csv": VIEWER,
    "systems.import_csv": ADMIN,  # changes many systems at once
    "systems.acquisitions": VIEWER,
    "systems.acquisition": VIEWER,
    # Personal access tokens: everyone signed in manages their own (a token never exceeds its owner's role).
    "tokens.index": VIEWER,
    "tokens.create": VIEWER,
    "tokens.revoke": VIEWER,
    # The API: a read token (viewer) suffices, but only a bearer token: see API_ENDPOINTS.
    "api.incidents_list": VIEWER,
    "api.incident_detail": VIEWER,
    "api.timeline_page": VIEWER,
    "api.latest_impact": VIEWER,
    "api.workstreams": VIEWER,
    # ... and a write token (responder) to change anything.
    "api.declare_incident": RESPONDER,
    "api.change_status": RESPONDER,
    "api.edit_incident": RESPONDER,
    "api.post_entry": RESPONDER,
    "api.record_impact": RESPONDER,
    "api.report_progress": RESPONDER,
    # What hangs off an incident, and the systems catalogue and its audit (test_api_reads.py).
    "api.incident_postmortem": VIEWER,
    "api.incident_actions": VIEWER,
    "api.incident_notices": VIEWER,
    "api.incident_obligations": VIEWER,
    "api.incident_systems": VIEWER,
    "api.systems_list": VIEWER,
    "api.systems_audit": VIEWER,
    "api.system_detail": VIEWER,
    "api.openapi": PUBLIC,  # the document describes, it holds no data
    "api.docs": PUBLIC,
    "api.docs_asset": PUBLIC,
    # Outbound webhooks: admins decide where incident data is sent.
    **{f"webhooks.{name}": ADMIN for name in ("index", "new", "detail", "edit", "disable", "enable", "test",
                                              "rotate")},
    # Alert intakes: admins set them up (their tokens are credentials); a delivery as it arrived is
    # for everyone who reads incidents (the timeline entry it wrote links to it).
    "intake.index": ADMIN,
    "intake.create": ADMIN,
    "intake.detail": ADMIN,
    "intake.edit": ADMIN,
    "intake.rotate": ADMIN,
    "intake.revoke": ADMIN,
    "intake.delivery": VIEWER,
    # Alert deliveries: an intake's token only, never a session: see TOKEN_ENDPOINTS.
    "intake_api.alertmanager": PUBLIC,
    "intake_api.grafana": PUBLIC,
    "intake_api.generic": PUBLIC,
}

# POST endpoints that store nothing (the postmortem's Markdown preview): answered 200, no probe.
NON_CHANGING_POSTS = {"postmortem.preview"}
# POST endpoints that answer with a page rather than a redirect: confirming a subscription shows a
# webhook's signing secret once, and one-click unsubscribing (RFC 8058) wants a 200; likewise a new
# report token of a system's backup job is shown once, never in a URL.
POSTS_ANSWERED_WITH_A_PAGE = {"status.confirm_subscription", "status.unsubscribe", "systems.create_token",
                              "tokens.create"}
# A webhook's signing secret is shown once too, when it is added and when it is rotated.
POSTS_ANSWERED_WITH_A_PAGE |= {"webhooks.new", "webhooks.rotate"}
# An alert intake's bearer token likewise, when it is made and when it is replaced.
POSTS_ANSWERED_WITH_A_PAGE |= {"intake.create", "intake.rotate"}
# What anyone may write through the public site (subscribing, confirming, leaving): the probes
# check those endpoints, and "refused visitors changed nothing" leaves these rows out.
PUBLIC_TABLES = {"subscriber", "subscriber_component"}
# What every signed-in person may write for themselves (their API tokens): a viewer's walk changes
# these, so "refused visitors changed nothing" leaves them out too.
OWN_SETTINGS_TABLES = {"access_token"}
# Worked out from the catalogue by whoever reads the audit first after the clock moved on (or on a
# new database): kept state, not a change anyone makes (incidents/systems/audit_kept.py).
DERIVED_TABLES = {"system_audit", "system_audit_setting"}
PUBLIC_JOB_KINDS = {"subscribers.confirm"}

SAFE_METHODS = {"GET", "HEAD"}


def name_walker_as_reviewer(app, world, email: str) -> None:
    """Setup: the walker is a named reviewer of the postmortem waiting for review, so a permitted
    role's decision is accepted (the role check, not the reviewer rule, is what the walk tests)."""
    from incidents.postmortem.models import Postmortem, PostmortemReviewer

    with app.app_context():
        incident = get_incident(session=db.session, reference=world.pm.steps["postmortem.review"])
        postmortem = db.session.scalar(sa.select(Postmortem).where(Postmortem.incident_id == incident.id))
        db.session.add(PostmortemReviewer(postmortem_id=postmortem.id, user_id=world_user_id(email)))
        db.session.commit()


def give_walker_a_token(app, world, email: str) -> None:
    """Setup: the walker has a personal access token of their own to revoke (one only revokes one's own)."""
    from incidents.api import tokens

    with app.app_context():
        owner = db.session.get(User, world_user_id(email))
        token, _secret = tokens.create_token(session=db.session, owner=owner, name="walker's", scopes=["read"])
        db.session.commit()
        world.url_overrides["tokens.revoke"] = {"token_id": token.id}


def make_walker_commander(app, world, email: str, walker: str) -> None:
    """Setup: a responder or admin walker is the incident's commander, so approving a notice is
    accepted (the role check, not the comms-lead-or-commander rule, is what the walk tests). Not the
    comms lead: the walk's own incident edit clears that field before it reaches the notices."""
    if walker == VIEWER:
        return
    with app.app_context():
        incident = get_incident(session=db.session, reference=world.reference)
        incident.commander_id = world_user_id(email)
        # ...and was commander when the notice's versions were saved (approval needs the role held then).
        for version in db.session.scalars(sa.select(NoticeVersion).join(Notice).where(
                Notice.id == world.url_values["notice_id"])):
            version.commander_id = incident.commander_id
        db.session.commit()


def probe(app, world) -> dict[str, object]:
    """For each state-changing endpoint, the stored thing it changes when it is allowed to."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=world.reference)
        entry = get_entry(session=db.session, incident=incident, entry_id=world.entry_id)
        target = db.session.get(User, world.target_id)

        def pinned(entry_id: int) -> bool:
            return db.session.scalar(sa.select(TimelinePin.id).where(TimelinePin.entry_id == entry_id)) is not None

        return {
            "incident.declare": db.session.scalar(sa.select(sa.func.count(Incident.id))),
            "incident.edit": incident.title,
            "incident.change_status": incident.status,
            "timeline.post": db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
                TimelineEntry.body == POSTED_BODY)),
            "timeline.correct": latest_revision(session=db.session, entry=entry).revision,
            "timeline.pin": pinned(world.entry_id),
            "timeline.unpin": pinned(world.pinned_id),
            "admin.users": db.session.scalar(sa.select(sa.func.count(User.id))),
            "admin.edit_user": (target.name, target.role.value, target.active),
            "impact.record": db.session.scalar(sa.select(sa.func.count(ImpactUpdate.id))),
            "recovery.new": db.session.scalar(sa.select(sa.func.count(Workstream.id))),
            "recovery.edit": db.session.get(Workstream, world.workstream_id).name,
            "recovery.progress": db.session.scalar(sa.select(sa.func.count(WorkstreamProgress.id))),
            "status_publish.publish": incident.published_at,
            "status_publish.update": db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
                TimelineEntry.incident_id == incident.id, TimelineEntry.public_status.is_not(None))),
            "status_admin.index": db.session.scalar(sa.select(sa.func.count(Component.id))),
            "status_admin.edit": db.session.get(Component, world.component_id).name,
            "status_admin.remove": db.session.get(Component, world.component_id).archived_at,
            "postmortem.edit": postmortem_of(world.reference).revision,
            "postmortem.add_reviewer": sorted(r.user.email for r in postmortem_of(world.reference).reviewers
                                              if r.user.email == world.pm.add_email),
            "postmortem.remove_reviewer": db.session.get(PostmortemReviewer, world.pm.reviewer_id) is None,
            **{endpoint: postmortem_of(ref).status for endpoint, ref in world.pm.steps.items()},
            "actions.new": db.session.scalar(sa.select(sa.func.count(ActionItem.id))),
            "actions.edit": db.session.get(ActionItem, world.pm.item_id).title,
            "actions.status": db.session.get(ActionItem, world.pm.item_id).status,
            "notices.new": db.session.scalar(sa.select(sa.func.count(Notice.id))),
            "notices.edit": db.session.scalar(sa.select(sa.func.count(NoticeVersion.id))),
            "notices.approve": db.session.scalar(sa.select(sa.func.count(NoticeVersion.id))
                                                 .where(NoticeVersion.approved_at.is_not(None))),
            "notices.release": db.session.scalar(sa.select(sa.func.count(NoticeRelease.id))),
            "notices.checklist": db.session.get(Notice, world.url_values["notice_id"]).covered_items,
            "obligations.regimes": sorted(db.session.scalars(sa.select(IncidentRegime.regime).where(
                IncidentRegime.incident_id == incident.id))),
            "obligations.anchor": db.session.scalar(sa.select(ObligationAnchor.at).where(
                ObligationAnchor.incident_id == incident.id, ObligationAnchor.kind == "discovered")),
            "obligations.recompute": db.session.scalar(sa.select(sa.func.count(TimelineEntry.id)).where(
                TimelineEntry.body.startswith("Notification obligations rechecked"))),
            "obligations.file": db.session.get(Obligation, world.obligations["gdpr-33-authority"]).status,
            "obligations.contract_rules": db.session.scalar(sa.select(sa.func.count(ContractRule.id))),
            "obligations.contract_rule": db.session.get(ContractRule, world.contract_rule_id).title,
            "obligations.retire_contract_rule": db.session.get(ContractRule, world.contract_rule_id).retired_at,
            "obligations.not_required": db.session.get(Obligation, world.obligations["gdpr-34-individuals"]).status,
            "maintenance.schedule": db.session.scalar(sa.select(sa.func.count(Maintenance.id))),
            "maintenance.edit": db.session.get(Maintenance, world.url_values["maintenance_id"]).title,
            "maintenance.post_update": db.session.scalar(sa.select(sa.func.count(MaintenanceUpdate.id))),
            "maintenance.cancel": db.session.get(Maintenance, world.url_overrides["maintenance.cancel"]
                                                 ["maintenance_id"]).cancelled_at,
            "status.subscribe": db.session.scalar(sa.select(sa.func.count(Subscriber.id))),
            "status.confirm_subscription": db.session.get(Subscriber, world.subscribers.waiting).confirmed_at,
            "status.unsubscribe": db.session.get(Subscriber, world.subscribers.staying).unsubscribed_at,
            "subscribers_admin.reactivate": db.session.get(Subscriber, world.subscribers.quarantined).quarantined_at,
            "ledger.start_import": db.session.scalar(sa.select(sa.func.count(LedgerImport.id))),
            "ledger.change_customer": db.session.scalar(sa.select(LedgerItem.state).join(LedgerCustomer).where(
                LedgerCustomer.customer_ref == "C-1", LedgerItem.category == "photos")),
            "ledger.snapshot": db.session.scalar(sa.select(sa.func.count(ImpactUpdate.id))),
            "ledger.start_batch": db.session.scalar(sa.select(LedgerCustomer.batch_id).where(
                LedgerCustomer.customer_ref == "C-1")),
            "ledger.batch_sent": db.session.scalar(sa.select(LedgerNotificationBatch.sent_at).where(
                LedgerNotificationBatch.public_id == world.ledger.batch_to_send)),
            "ledger.discard_batch": db.session.scalar(sa.select(sa.func.count(LedgerNotificationBatch.id)).where(
                LedgerNotificationBatch.public_id == world.ledger.batch_to_discard)),
            **systems_catalogue_probes(world),
            **access_token_probes(world),
            **intake_probes(world),
            **systems_incident_probes(world),
            **systems_transfer_probes(),
            **webhook_probes(world),
        }


def access_token_probes(world) -> dict[str, object]:
    """How many personal access tokens there are; whether the one the walk revokes is revoked."""
    from incidents.api.models import AccessToken

    return {"tokens.create": db.session.scalar(sa.select(sa.func.count(AccessToken.id))),
            "tokens.revoke": db.session.get(AccessToken, world.url_overrides["tokens.revoke"]["token_id"]).revoked_at}


def webhook_probes(world) -> dict[str, object]:
    """How many webhooks and test events there are; the walked webhook's name, state and secret's
    rotation; whether the parked one is still disabled."""
    from incidents.webhooks.models import WebhookMessage, WebhookSubscription

    walked = db.session.get(WebhookSubscription, world.webhooks.active_id)
    return {"webhooks.new": db.session.scalar(sa.select(sa.func.count(WebhookSubscription.id))),
            "webhooks.edit": walked.name, "webhooks.disable": walked.disabled_at,
            "webhooks.rotate": walked.secret_rotated_at,
            "webhooks.enable": db.session.get(WebhookSubscription, world.webhooks.parked_id).disabled_at,
            "webhooks.test": db.session.scalar(sa.select(sa.func.count(WebhookMessage.id)).where(
                WebhookMessage.event == "webhook.test"))}


def intake_probes(world) -> dict[str, object]:
    """How many alert intakes there are; whether the walk's one is revoked; the other one's token."""
    from incidents.intake.models import Intake

    return {"intake.create": db.session.scalar(sa.select(sa.func.count(Intake.id))),
            "intake.revoke": db.session.get(Intake, world.intake.intake_id).revoked_at,
            "intake.rotate": db.session.get(Intake, world.intake.rotate_id).token_hash,
            "intake.edit": db.session.get(Intake, world.intake.rotate_id).name}


def systems_incident_probes(world) -> dict[str, object]:
    """Whether the waiting system is named on the walk's incident; whether the named one still is."""
    from incidents.systems.models import IncidentSystem

    def named(system_id: int) -> bool:
        return db.session.scalar(sa.select(IncidentSystem.id).where(IncidentSystem.system_id == system_id)) is not None

    return {"systems.link": named(world.named.waiting_id), "systems.unlink": named(world.named.system_id)}


def systems_transfer_probes() -> dict[str, object]:
    """How many systems the walk's inventory import added."""
    from incidents.systems.models import System

    return {"systems.import_csv": db.session.scalar(sa.select(sa.func.count(System.id)).where(
        System.team == IMPORTED_TEAM))}


def systems_catalogue_probes(world) -> dict[str, object]:
    from incidents.systems.models import ReportToken, RestoreTest, System

    system = db.session.get(System, world.catalogue.system_id)
    return {
        "systems.new": db.session.scalar(sa.select(sa.func.count(System.id))),
        "systems.edit": system.name,
        "systems.restore_test": db.session.scalar(sa.select(sa.func.count(RestoreTest.id))),
        "systems.review": system.last_reviewed_at,
        "systems.retire": db.session.get(System, world.catalogue.retire_id).retired_at,
        "systems.create_token": db.session.scalar(sa.select(sa.func.count(ReportToken.id))),
        "systems.revoke_token": db.session.get(ReportToken, world.catalogue.token_id).revoked_at,
    }


# Endpoints whose POST changes only the visitor's own sign-in, checked in test_auth.py instead.
SIGN_IN_ENDPOINTS = {"auth.login", "auth.logout", "auth.reauth"}
# Endpoints reached without a login but answering only to a bearer token (backup jobs' heartbeats):
# a walker's session gives nothing there, so every walker's POST gets 401 and changes nothing.
# Their tokens are tested in test_systems_heartbeats.py.
TOKEN_ENDPOINTS = {"systems.backup_report"}
# Alert deliveries answer only to an intake's token (tested in test_intake.py).
TOKEN_ENDPOINTS |= {"intake_api.alertmanager", "intake_api.grafana", "intake_api.generic"}
# The API's data: a personal access token only (tested in test_api.py). A walker's session cookie
# gives nothing there, so every method, reads and OPTIONS included, gets 401 for everyone.
API_ENDPOINTS = {endpoint for endpoint in MINIMUM_ROLE if endpoint.startswith("api.")} - {
    "api.openapi", "api.docs", "api.docs_asset"}


def everything_stored(app) -> dict[str, list]:
    """Every row of every table, except the sign-in records that logging out itself updates (and
    the audit events of signing in and out), what anyone may write on the public site, and the
    audit's kept rows (derived: any reader of the audit may bring them up to date)."""
    with app.app_context():
        return {
            table.name: [tuple(row) for row in db.session.execute(
                _without_public_writes(table, sa.select(table).order_by(*table.primary_key.columns)))]
            for table in db.metadata.sorted_tables
            if table.name != LoginSession.__tablename__
            and table.name not in PUBLIC_TABLES | OWN_SETTINGS_TABLES | DERIVED_TABLES
        }


def _without_public_writes(table, stmt):
    if table.name == BackgroundJob.__tablename__:
        return stmt.where(table.c.kind.not_in(PUBLIC_JOB_KINDS))
    if table.name != AuditEvent.__tablename__:
        return stmt
    return stmt.where(table.c.action.not_in([SIGN_IN, SIGN_IN_FAILED, SIGN_OUT]),
                      table.c.entity_type.not_in(PUBLIC_TABLES | OWN_SETTINGS_TABLES))


def build_url(rule, world) -> str:
    values = {**world.url_values, **world.url_overrides.get(rule.endpoint, {})}
    missing = set(rule.arguments) - set(values)
    assert not missing, f"{rule.rule}: give the walk a real value for {missing}"
    return rule.build({name: values[name] for name in rule.arguments}, append_unknown=False)[1]


def walk_order(app):
    """All rules, with logging out last so the walker stays signed in until the end."""
    return sorted(app.url_map.iter_rules(), key=lambda r: (r.endpoint == "auth.logout", r.rule))


def expected_status(endpoint: str, method: str, walker: str | None) -> int:
    need = MINIMUM_ROLE[endpoint]
    if endpoint in TOKEN_ENDPOINTS and method not in SAFE_METHODS or endpoint in API_ENDPOINTS:
        return 401
    if walker is None and need != PUBLIC:
        return 302 if method in SAFE_METHODS else 401
    if walker is not None and RANK[walker] < RANK[need]:
        return 403
    if endpoint in (NON_CHANGING_POSTS | POSTS_ANSWERED_WITH_A_PAGE) and method not in SAFE_METHODS:
        return 200
    if endpoint == "status.api_not_found":
        return 404 if method in SAFE_METHODS else 405
    if endpoint == "jobs.status":
        # The walk's id names no job of the walker's: told, as for any id, that there is none.
        return 404
    if endpoint == "auth.login":
        # A signed-in visitor is sent on; an anonymous one gets the form (empty: shown again).
        return 302 if walker else 200
    # Pages are shown; accepted forms redirect to the result.
    return 200 if method in SAFE_METHODS else 302


def test_every_route_is_classified(app, world):
    """A route added without a line in MINIMUM_ROLE fails here instead of going unchecked."""
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints - set(MINIMUM_ROLE) == set(), "classify these endpoints in MINIMUM_ROLE"
    assert set(MINIMUM_ROLE) - endpoints == set(), "these endpoints no longer exist"
    # Every state-changing endpoint needs form data and a probe, so the walk can tell that a
    # refused request really changed nothing and an allowed one really did something.
    changing = {rule.endpoint for rule in app.url_map.iter_rules()
                if rule.methods - SAFE_METHODS - {"OPTIONS"}}
    assert changing - SIGN_IN_ENDPOINTS - NON_CHANGING_POSTS - TOKEN_ENDPOINTS - API_ENDPOINTS == set(probe(app, world))
    for endpoint in changing:
        form_data(app, world, endpoint, "admin")  # raises KeyError when missing


@pytest.mark.parametrize("walker", [None, VIEWER, RESPONDER, ADMIN],
                         ids=["anonymous", VIEWER, RESPONDER, ADMIN])
def test_walk_every_route_with_every_method(app, client, auth, world, walker):
    if walker:
        email = auth.as_role(walker)
        name_walker_as_reviewer(app, world, email)
        make_walker_commander(app, world, email, walker)
        give_walker_a_token(app, world, email)
    stored_before, probed_before = everything_stored(app), probe(app, world)
    wrong = []
    for rule in walk_order(app):
        url = build_url(rule, world)
        for method in sorted(rule.methods):
            data = None if method in SAFE_METHODS | {"OPTIONS"} else form_data(app, world, rule.endpoint, walker)
            response = client.open(url, method=method, data=data)
            body = response.get_data()
            response.close()  # static files are streamed from an open file
            seen = f"{method} {url} as {walker or 'anonymous'}: {response.status_code}"
            if method == "OPTIONS":
                # Flask answers OPTIONS itself with the allowed methods; no view runs, nothing is shown.
                expected = 401 if (walker is None and MINIMUM_ROLE[rule.endpoint] != PUBLIC
                                   or rule.endpoint in API_ENDPOINTS) else 200
                if response.status_code != expected or (expected == 200 and body):
                    wrong.append(f"{seen}, expected an empty {expected}")
                continue
            expected = expected_status(rule.endpoint, method, walker)
            if response.status_code != expected:
                wrong.append(f"{seen}, expected {expected}")
            elif expected == 302 and walker is None and MINIMUM_ROLE[rule.endpoint] != PUBLIC:
                location = urlsplit(response.headers["Location"])
                if location.path != "/login" or parse_qs(location.query).get("next") != [url]:
                    wrong.append(f"{seen} to {response.headers['Location']}, expected /login?next={url}")
    assert wrong == []

    probed_after = probe(app, world)
    rank = RANK[walker] if walker else RANK[PUBLIC]
    for endpoint in probed_before:
        allowed = rank >= RANK[MINIMUM_ROLE[endpoint]]
        changed = probed_after[endpoint] != probed_before[endpoint]
        assert changed == allowed, (f"{endpoint} as {walker or 'anonymous'}: "
                                    f"{probed_before[endpoint]!r} -> {probed_after[endpoint]!r}")
    if rank < RANK[RESPONDER]:
        # Refused visitors changed nothing at all, in any table.
        assert everything_stored(app) == stored_before

    if walker:
        # The walk ended with logging out.
        assert client.get("/").status_code == 302
