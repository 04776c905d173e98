"""For tests/test_api_reads.py: a realistic incident with everything the API's reads show hanging
off it, built through the features' own services (as people would through the pages)."""
from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa
from flask import current_app

from incidents.actions.enums import ActionStatus
from incidents.actions.service import change_action_status, get_action_item
from incidents.auth.models import User
from incidents.db import clock_at, utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident, update_incident
from incidents.notices import service as notices
from incidents.notices.models import Channel, Notice
from incidents.obligations import service as obligations
from incidents.systems import heartbeats, links
from incidents.systems import service as systems
from incidents.systems.models import System
from tests.factories import Factory

# --- the scene -------------------------------------------------------------------------------------

def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def scene(app, make: Factory, *, size: int = 1, tag: str = "A") -> SimpleNamespace:
    """An incident of lost contacts, resolved, with `size` (and one more where it tells) of each thing
    the API reads: systems named (one unowned), reviewers who approved a published postmortem,
    action items (one done, one overdue), notices (released, then edited), and GDPR and California
    obligations (one filed with a notice version, one counting down, one without a fixed clock, one
    waiting)."""
    owner = make.user(role="responder", name=f"Dana Commander {tag}")
    lead = make.user(role="responder", name=f"Lee Comms {tag}")
    reviewers = [make.user(role="responder", name=f"Rui Reviewer {tag}{n}") for n in range(size)]
    names = _catalogue(app, owner, size=size, tag=tag)
    reference = make.incident(by=owner, title=f"Contacts lost in a storage upgrade {tag}", severity="SEV1",
                              personal_data=True, data_categories=["contacts"])
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        links.link_systems(session=db.session, actor=_user(owner), incident=incident,
                           systems=list(db.session.scalars(sa.select(System).where(System.name.in_(names)))))
        update_incident(session=db.session, actor=_user(owner), incident=incident, expected_version=incident.version,
                        changes={"comms_lead": _user(lead), "aware_at": utcnow() - timedelta(days=1)})
        db.session.commit()
    make.resolve(reference, by=owner)
    make.postmortem(reference, by=owner, reviewers=reviewers, state="published", sections={
        "summary": f"Contacts of 4,000 customers vanished during a storage upgrade ({tag}).",
        "root_cause": "The upgrade script **dropped** the old volume before the copy was checked."})
    items = _action_items(app, make, reference, owner, size=size)
    versions = _notices(app, make, reference, owner, lead, size=size)
    _obligations(app, reference, owner, notice_version_id=versions[0])
    return SimpleNamespace(reference=reference, owner=owner, lead=lead, reviewers=reviewers, systems=names,
                           items=items, notice_versions=versions)


def _catalogue(app, owner: str, *, size: int, tag: str) -> list[str]:
    """`size` owned systems whose last backup failed, and an acquired one nobody owns, never backed
    up: added before the incident, so its snapshot shows them so."""
    with app.app_context():
        actor = _user(owner)
        made = [systems.create_system(session=db.session, actor=actor, fields_=systems.SystemFields(
            name=f"Contacts store {tag}{n}", owner=actor, team="Storage", personal_data=True,
            data_categories=["contacts"], backup_method="Nightly snapshot", rpo_target_minutes=1440))
            for n in range(size)]
        orphan = systems.create_system(session=db.session, actor=actor, fields_=systems.SystemFields(
            name=f"Halcyon/legacy {tag}", origin="acquired", origin_name="Initech", personal_data=True))
        db.session.flush()
        for system in made:
            heartbeats.record_report(session=db.session, system_id=system.id, rpo_target_minutes=1440, ok=False,
                                     at=utcnow() - timedelta(hours=2), note="disk full")
            heartbeats.create_token(session=db.session, actor=actor, system=system, label="nightly")
        db.session.commit()
        return [s.name for s in made] + [orphan.name]


def _action_items(app, make: Factory, reference: str, owner: str, *, size: int) -> list[int]:
    """`size` open items (the first linked to a tracker), one done, and one made a month ago, now overdue."""
    items = [make.action_item(reference, by=owner, title=f"Check copies before dropping volumes {n}",
                              priority="high", tracker_url="https://tracker.example.com/OPS-12" if n == 0 else None)
             for n in range(size)]
    done = make.action_item(reference, by=owner, title="Restore the contacts from the snapshot", kind="mitigate")
    with clock_at(utcnow() - timedelta(days=30)):
        overdue = make.action_item(reference, by=owner, title="Alert on failed backups", kind="detect")
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        item = get_action_item(session=db.session, incident=incident, item_id=done)
        change_action_status(session=db.session, actor=_user(owner), incident=incident, item=item,
                             expected_version=item.version, status=ActionStatus.done)
        db.session.commit()
    return [*items, done, overdue]


def _notices(app, make: Factory, reference: str, owner: str, lead: str, *, size: int) -> list[int]:
    """`size` notices to customers: version 1 approved by the comms lead and released by e-mail,
    then version 2 saved (a draft). Returns the ids of the versions 1."""
    ids = [make.notice(reference, by=owner, subject=f"Your contacts: what happened ({n})",
                       body="## What happened\n\nAn upgrade **deleted** your contacts.") for n in range(size)]
    firsts = []
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        for notice_id in ids:
            notice = db.session.get(Notice, notice_id)
            first = notices.approve(session=db.session, actor=_user(lead), incident=incident, notice=notice, number=1)
            notices.release(session=db.session, actor=_user(owner), incident=incident, notice=notice, number=1,
                            channel=Channel.email)
            notices.save_version(session=db.session, actor=_user(owner), incident=incident, notice=notice,
                                 based_on=1, subject="Your contacts are back", body="We restored them.")
            firsts.append(first.id)
        db.session.commit()
    return firsts


def _obligations(app, reference: str, owner: str, *, notice_version_id: int) -> None:
    """GDPR and California chosen; the breach discovered a day ago; the authority told now."""
    with app.app_context():
        rules = current_app.extensions["obligation_rules"]
        actor, incident = _user(owner), get_incident(session=db.session, reference=reference)
        obligations.choose_regimes(session=db.session, actor=actor, incident=incident, rules=rules,
                                   regimes=["gdpr", "us-ca"])
        obligations.set_anchor(session=db.session, actor=actor, incident=incident, rules=rules, kind="discovered",
                               at=utcnow() - timedelta(days=1))
        authority = next(o for o in obligations.obligations_of(session=db.session, incident=incident)
                         if o.rule_id == "gdpr-33-authority")
        obligations.file_obligation(session=db.session, actor=actor, incident=incident, rules=rules,
                                    obligation=authority, filing=obligations.Filing(
                                        filed_at=utcnow(), reference="DPA-2026-17",
                                        notice_version_id=notice_version_id))
        db.session.commit()
