"""Test data, built through the same services the app uses (never raw SQL)."""
from __future__ import annotations

import itertools

from incidents.auth.models import Role, User
from incidents.auth.service import create_user
from incidents.extensions import db
from incidents.incident.enums import Severity
from incidents.incident.service import declare_incident
from incidents.timeline.models import EntryKind, Visibility
from incidents.timeline.service import add_entry

_counter = itertools.count(1)


class Factory:
    PASSWORD = "correct horse battery staple"

    def __init__(self, app):
        self.app = app

    def user(self, *, role: str = "responder", email: str | None = None, name: str = "") -> str:
        """Create an account and return its e-mail."""
        email = email or f"{role}{next(_counter)}@example.com"
        with self.app.app_context():
            create_user(session=db.session, email=email, password=self.PASSWORD, role=Role(role),
                        name=name or f"{role.capitalize()} {next(_counter)}")
            db.session.commit()
        return email

    def user_id(self, email: str) -> int:
        with self.app.app_context():
            return db.session.scalar(db.select(User.id).where(User.email == email))

    def incident(self, *, by: str | None = None, title: str = "Photos missing after upgrade",
                 severity: str = "SEV2", **fields) -> str:
        """Declare an incident (as `by`, or a new responder) and return its reference."""
        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = declare_incident(session=db.session, actor=actor, title=title,
                                        severity=Severity(severity), **fields)
            db.session.commit()
            return incident.reference

    def entry(self, reference: str, *, body: str = "Something happened", by: str | None = None,
              kind: str = "note", visibility: str = "internal") -> int:
        """Post a timeline entry and return its id."""
        from incidents.incident.service import get_incident

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = get_incident(session=db.session, reference=reference)
            entry = add_entry(session=db.session, incident=incident, author=actor, kind=EntryKind(kind),
                              body=body, visibility=Visibility(visibility))
            db.session.commit()
            return entry.id

    def impact(self, reference: str, *, by: str | None = None, affected: int, restored: int = 0,
               lost: int = 0, notified: int = 0, categories: dict[str, tuple[int, int, int]] | None = None,
               as_of=None) -> int:
        """Record impact figures on top of the latest ones and return the update's id."""
        from incidents.impact.service import CategoryCounts, CustomerCounts, latest_update, record_impact
        from incidents.incident.service import get_incident

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = get_incident(session=db.session, reference=reference)
            latest = latest_update(session=db.session, incident=incident)
            update = record_impact(
                session=db.session, actor=actor, incident=incident, as_of=as_of,
                counts=CustomerCounts(affected=affected, restored=restored, lost=lost, notified=notified),
                categories=[CategoryCounts(category=name, affected=a, recovered=r, unrecoverable=u)
                            for name, (a, r, u) in (categories or {}).items()],
                based_on_id=latest.id if latest else None)
            db.session.commit()
            return update.id

    def workstream(self, reference: str, *, by: str | None = None, owner: str | None = None,
                   name: str = "Restore contacts from the nightly tape", target: int = 1000, **fields) -> int:
        """Start a recovery workstream (owned by `owner`, else by `by`) and return its id."""
        from incidents.incident.service import get_incident
        from incidents.recovery.service import WorkstreamFields, create_workstream

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            owner_user = db.session.scalar(db.select(User).where(User.email == (owner or by)))
            incident = get_incident(session=db.session, reference=reference)
            workstream = create_workstream(session=db.session, actor=actor, incident=incident,
                                           fields=WorkstreamFields(name=name, owner=owner_user, target=target,
                                                                   **fields))
            db.session.commit()
            return workstream.id

    # --- postmortems and action items -------------------------------------------------------------

    def postmortem(self, reference: str, *, by: str | None = None, sections: dict[str, str] | None = None,
                   reviewers: list[str] = (), state: str = "draft") -> None:
        """Write a postmortem (as `by`) with `reviewers` named, and move it on to `state`
        (draft, in_review, approved or published); the first reviewer approves."""
        from incidents.incident.service import get_incident
        from incidents.postmortem import service as pm

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = get_incident(session=db.session, reference=reference)
            postmortem = pm.start_postmortem(session=db.session, actor=actor, incident=incident)
            pm.save_sections(session=db.session, actor=actor, incident=incident, postmortem=postmortem,
                             expected_version=postmortem.version,
                             sections=sections or {"summary": "Contacts vanished during a storage upgrade."})
            for email in reviewers:
                pm.add_reviewer(session=db.session, actor=actor, postmortem=postmortem, email=email)
            steps = ["draft", "in_review", "approved", "published"]
            if steps.index(state) >= 1:
                pm.submit_for_review(session=db.session, actor=actor, incident=incident, postmortem=postmortem,
                                     expected_version=postmortem.version)
            if steps.index(state) >= 2:
                reviewer = db.session.scalar(db.select(User).where(User.email == reviewers[0]))
                pm.approve(session=db.session, actor=reviewer, incident=incident, postmortem=postmortem,
                           expected_version=postmortem.version)
            if steps.index(state) >= 3:
                pm.publish(session=db.session, actor=actor, incident=incident, postmortem=postmortem,
                           expected_version=postmortem.version)
            db.session.commit()

    def resolve(self, reference: str, *, by: str | None = None, at=None) -> None:
        """Move the incident to resolved (at `at`, default now)."""
        from incidents.incident.enums import Status
        from incidents.incident.service import change_status, get_incident

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = get_incident(session=db.session, reference=reference)
            change_status(session=db.session, actor=actor, incident=incident, new_status=Status.resolved,
                          expected_version=incident.version, occurred_at=at)
            db.session.commit()

    def action_item(self, reference: str, *, by: str | None = None, owner: str | None = None,
                    title: str = "Test restores from backup every week", kind: str = "prevent",
                    due_on=None, priority: str = "medium", tracker_url: str | None = None) -> int:
        """Add an action item (owned by `owner`, else by `by`) and return its id."""
        from datetime import timedelta

        from incidents.actions.enums import ActionKind, ActionPriority
        from incidents.actions.service import ActionFields, create_action_item, today
        from incidents.incident.service import get_incident

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            owner_user = db.session.scalar(db.select(User).where(User.email == (owner or by)))
            incident = get_incident(session=db.session, reference=reference)
            item = create_action_item(session=db.session, actor=actor, incident=incident, fields=ActionFields(
                title=title, kind=ActionKind(kind), owner=owner_user,
                due_on=due_on or today() + timedelta(days=14), priority=ActionPriority(priority),
                tracker_url=tracker_url))
            db.session.commit()
            return item.id

    def notice(self, reference: str, *, by: str | None = None, audience: str = "customers",
               subject: str = "Your contacts: what happened", body: str = "## What happened\n\nWe lost data.") -> int:
        """Draft a notice (version 1) and return its id."""
        from incidents.incident.service import get_incident
        from incidents.notices.models import Audience
        from incidents.notices.service import create_notice

        by = by or self.user(role="responder")
        with self.app.app_context():
            actor = db.session.scalar(db.select(User).where(User.email == by))
            incident = get_incident(session=db.session, reference=reference)
            notice = create_notice(session=db.session, actor=actor, incident=incident, audience=Audience(audience),
                                   subject=subject, body=body)
            db.session.commit()
            return notice.id
