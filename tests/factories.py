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
