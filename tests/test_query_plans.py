"""The hot queries of the public site and of an incident's public updates use their indexes: their
cost follows what is public, not the millions of internal entries beside it (issue #19)."""
from __future__ import annotations

from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.status.public import last_published_change
from incidents.status.service import public_updates
from tests.fixtures.plans import plan, statements


def test_the_public_change_check_probes_indexes(app, make):
    email = make.user(role="responder")
    make.incident(by=email)
    with app.app_context():
        with statements() as seen:
            last_published_change(session=db.session)
        lines, scans = plan(*seen[-1])
        db.session.remove()
    assert scans == [], lines
    used = " ".join(lines)
    assert "ix_timeline_entry_public_recorded" in used and "ix_incident_published_at" in used, lines


def test_an_incidents_public_updates_are_read_through_their_partial_index(app, make):
    email = make.user(role="responder")
    ref = make.incident(by=email)
    make.entry(ref, by=email, body="internal chatter")
    with app.app_context():
        incident = get_incident(session=db.session, reference=ref)
        with statements() as seen:
            public_updates(session=db.session, incident=incident)
        lines, scans = plan(*seen[-1])
        db.session.remove()
    assert scans == [], lines
    assert any("ix_timeline_entry_incident_public" in line for line in lines), lines
