"""Hot queries use their indexes: the public site's and an incident's public updates cost what is
public, not the millions of internal entries beside them; a page of the incident list is an index
range however many incidents there are, and so are postmortems due and open action items (issue #19)."""
from __future__ import annotations

from incidents.actions.service import list_action_items
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import IncidentFilter, get_incident, list_incidents
from incidents.paging import Cursor
from incidents.postmortem.due import postmortems_due
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
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # PostgreSQL picks indexes by its statistics
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
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):  # PostgreSQL picks indexes by its statistics
        assert any("ix_timeline_entry_incident_public" in line for line in lines), lines


def test_a_page_of_the_incident_list_is_an_index_range(app, make):
    email = make.user(role="responder")
    make.incident(by=email)
    with app.app_context():
        for status in (None, "resolved"):
            with statements() as seen:
                list_incidents(session=db.session, filters=IncidentFilter(status=status), limit=51,
                               before=Cursor(utcnow(), 10))
            lines, scans = plan(*[s for s in seen if "FROM incident" in s[0]][-1])
            assert scans == [], lines
        db.session.remove()


def test_a_page_of_postmortems_due_is_an_index_range(app, make):
    make.incident(by=make.user(role="responder"))
    with app.app_context():
        with statements() as seen:
            postmortems_due(session=db.session, business_days=5, limit=51, after=Cursor(utcnow(), 10))
        lines, scans = plan(*seen[-1])
        db.session.remove()
    assert scans == [], lines


def test_a_page_of_open_action_items_reads_open_items_only(app, make):
    email = make.user(role="responder")
    make.action_item(make.incident(by=email), by=email)
    with app.app_context():
        for view in ("open", "overdue"):
            with statements() as seen:
                list_action_items(session=db.session, view=view, limit=51, after=Cursor(utcnow().date(), 10))
            lines, scans = plan(*[s for s in seen if "FROM action_item" in s[0]][-1])
            assert scans == [], (view, lines)
        db.session.remove()
