"""The `leak_world` fixture: a world where every internal field holds a unique marker, so any
public output (HTML page, JSON API, feeds) can be checked to contain none of them.

Use it with `from tests.conftest_status import leak_world  # noqa: F401` in a test module.
"""
from __future__ import annotations

import itertools

import pytest

from incidents.auth.models import User
from incidents.extensions import db
from incidents.impact.service import CategoryCounts, CustomerCounts, latest_update, record_impact
from incidents.incident.service import get_incident, update_incident
from incidents.recovery.models import Workstream
from incidents.recovery.service import record_progress
from incidents.status import service as status
from incidents.timeline.models import EntryKind, Visibility
from incidents.timeline.service import add_entry, correct_entry

_serial = itertools.count(1)


class Markers(list):
    def new(self, what: str) -> str:
        marker = f"LEAK{next(_serial):04d}x{what.upper().replace(' ', '')}"
        self.append(marker)
        return marker


@pytest.fixture
def leak_world(app, make):
    """(app, markers, public_incident_id): one published incident with public updates and a
    published correction; every internal field of it and of a draft incident carries a marker."""
    m = Markers()
    commander = make.user(role="responder", email=f"{m.new('email').lower()}@example.com",
                          name=m.new("commander name"))
    comms = make.user(role="responder", email=f"{m.new('comms email').lower()}@example.com",
                      name=m.new("comms name"))
    reference = make.incident(by=commander, title=m.new("title"), summary=m.new("summary"))
    draft = make.incident(by=comms, title=m.new("draft title"), summary=m.new("draft summary"))
    make.entry(draft, body=m.new("draft note"), by=comms)
    make.entry(draft, body=m.new("draft public comm"), by=comms, kind="communication", visibility="public")
    make.entry(reference, body=m.new("internal note"), by=commander)
    make.entry(reference, body=m.new("decision"), by=commander, kind="decision")
    # Public visibility but never published as a status-page update: still not for the page.
    make.entry(reference, body=m.new("unpublished public comm"), by=comms, kind="communication",
               visibility="public")
    make.workstream(reference, by=commander, name=m.new("workstream"), target=100,
                    evidence=m.new("evidence"))
    with app.app_context():
        s = db.session
        actor = s.scalar(db.select(User).where(User.email.like("leak%comms%")))
        incident = get_incident(session=s, reference=reference)
        update_incident(session=s, actor=actor, incident=incident, expected_version=incident.version,
                        changes={"comms_lead": actor})
        record_impact(session=s, actor=actor, incident=incident, counts=CustomerCounts(
            affected=500, restored=0, lost=0, notified=0),
            categories=[CategoryCounts(category="contacts", affected=500, recovered=0, unrecoverable=0)],
            based_on_id=None, note=m.new("impact note"))
        workstream = s.scalar(db.select(Workstream).where(Workstream.incident_id == incident.id))
        record_progress(session=s, actor=actor, incident=incident, workstream=workstream,
                        expected_version=workstream.version, done=10, note=m.new("progress note"))
        contacts = status.create_component(session=s, name="Contacts sync", description="Address books")
        status.create_component(session=s, name="Photo backup")
        first = status.publish_incident(
            session=s, actor=actor, incident=incident, public_title="Contacts are not syncing",
            impact="major", body="We are investigating reports of missing contacts.",
            components={contacts: "major_outage"})
        original = status.publish_update(session=s, actor=actor, incident=incident, status="identified",
                                         body=m.new("superseded public body"))
        correct_entry(session=s, author=actor, entry=original, expected_revision=1,
                      body="We have found the cause and are restoring contacts.",
                      reason=m.new("correction reason"))
        note = add_entry(session=s, incident=incident, author=actor, kind=EntryKind.note,
                         body=m.new("note to correct"), visibility=Visibility.internal)
        correct_entry(session=s, author=actor, entry=note, expected_revision=1,
                      body=m.new("corrected note"), reason=m.new("note correction reason"))
        assert latest_update(session=s, incident=incident) is not None
        s.commit()
        public_id = incident.public_id
        assert first.public_status == "investigating"
    # References are internal too: they must not appear either.
    m.extend([reference, draft])
    return app, list(m), public_id
