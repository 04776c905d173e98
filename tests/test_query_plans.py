"""Hot queries use their indexes: the public site's and an incident's public updates cost what is
public, not the millions of internal entries beside them; a page of the incident list is an index
range however many incidents there are, and so are postmortems due, open action items, the deadlines
and a page of the audit log (issue #19)."""
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
        assert "ix_timeline_entry_public_recorded" in used and "ix_incident_published" in used, lines


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
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
        # The index that leaves closed incidents out, walked in order: no sort of everything due.
        assert any("ix_incident_resolved_id" in line for line in lines), lines
        assert not any("TEMP B-TREE" in line for line in lines), lines


def test_a_page_of_open_action_items_reads_open_items_only(app, make):
    email = make.user(role="responder")
    make.action_item(make.incident(by=email), by=email)
    with app.app_context():
        for view in ("open", "overdue"):
            with statements() as seen:
                list_action_items(session=db.session, view=view, limit=51, after=Cursor(utcnow().date(), 10))
            lines, scans = plan(*[s for s in seen if "FROM action_item" in s[0]][-1])
            assert scans == [], (view, lines)
            if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
                # Walked in due order through the open items' own index, not read whole and sorted.
                assert any("ix_action_item_open_due" in line for line in lines), (view, lines)
                assert not any("TEMP B-TREE" in line for line in lines), (view, lines)
        db.session.remove()


def test_the_public_view_reads_published_rows_only(app, make):
    """Every statement of the public view (page, history page, one incident) stays in indexes: its
    unresolved incidents from the small public-status index, its history a range of publications."""
    from incidents.status.public import HistoryCursor, build_public_view

    email = make.user(role="responder")
    make.incident(by=email)
    with app.app_context():
        for selection in ({}, {"before": HistoryCursor(utcnow(), "abc")}, {"public_id": "abc"}):
            with statements() as seen:
                build_public_view(session=db.session, base_url="http://status.test/status", **selection)
            for statement in seen:
                lines, scans = plan(*statement)
                assert scans == [], (selection, statement[0], lines)
                if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite") and "public_status IN" in statement[0]:
                    assert any("ix_incident_public_status" in line for line in lines), lines
        db.session.remove()


def test_a_page_of_deadlines_walks_the_pending_obligations_index(app, make):
    from incidents.obligations.service import Undated, open_deadlines

    make.incident(by=make.user(role="responder"))
    with app.app_context():
        for after in (None, Cursor(utcnow(), 10), Undated(10)):
            with statements() as seen:
                open_deadlines(session=db.session, limit=51, after=after)
            for statement in [s for s in seen if "FROM obligation" in s[0]]:
                lines, scans = plan(*statement)
                assert scans == [], (after, lines)
                if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite"):
                    assert any("ix_obligation_pending_due" in line for line in lines), (after, lines)
                    assert not any("TEMP B-TREE" in line for line in lines), (after, lines)
        db.session.remove()


def test_browsing_the_audit_log_reads_a_page_not_the_log(app, make):
    """The newest page, a page further back, and the filters people use."""
    from incidents.audit import service

    email = make.user(role="responder")
    make.incident(by=email)
    with app.app_context():
        for filters in (service.AuditFilter(), service.AuditFilter(actor=email),
                        service.AuditFilter(incident_id=1), service.AuditFilter(entity_type="incident", entity_id="1")):
            for before_id in (None, 10):
                with statements() as seen:
                    service.events(session=db.session, filters=filters, before_id=before_id, limit=51)
                lines, scans = plan(*[s for s in seen if "FROM audit_event" in s[0]][0])
                # Unfiltered, SQLite walks the table itself newest id first (its rows are stored in id
                # order) and stops at the LIMIT: "SCAN" alone, no sort. Anything else is an index.
                ordered_walk = lines == ["SCAN audit_event"] and filters == service.AuditFilter()
                assert scans == [] or ordered_walk, (filters, before_id, lines)
        db.session.remove()
