"""User Markdown is rendered once, when it is written: page views show the stored HTML.

Every test counts calls of `incidents.markdown.render_uncached`, the one function that renders.
"""
from __future__ import annotations

import pytest
from sqlalchemy import text

import incidents.markdown as markdown
from incidents.audit.models import AuditEvent
from incidents.auth.models import User
from incidents.demo import scenario
from incidents.extensions import db
from incidents.impact.service import CustomerCounts, record_impact
from incidents.incident.service import get_incident, update_incident
from incidents.postmortem import service as postmortems
from incidents.recovery.models import Workstream
from incidents.recovery.service import WorkstreamFields, record_progress, update_workstream
from tests.helpers import read_form


@pytest.fixture
def renders(monkeypatch) -> list[str]:
    """The texts rendered while the test runs (the real renderer still answers)."""
    seen: list[str] = []
    real = markdown.render_uncached

    def counting(source: str) -> str:
        seen.append(source)
        return real(source)

    monkeypatch.setattr(markdown, "render_uncached", counting)
    return seen


def _actor(email: str) -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


def populated_incident(app, make, email: str) -> tuple[str, int]:
    """An incident with Markdown in every field pages show: summary, impact note, workstream
    evidence, a progress note and postmortem sections. Returns its reference and workstream id."""
    reference = make.incident(by=email, summary="The **summary** of the loss")
    workstream_id = make.workstream(reference, by=email, evidence="Checked *evidence* by hash")
    with app.app_context():
        actor, incident = _actor(email), get_incident(session=db.session, reference=reference)
        record_impact(session=db.session, actor=actor, incident=incident, categories=[], based_on_id=None,
                      counts=CustomerCounts(affected=800, restored=100, lost=0, notified=0),
                      note="Impact _note_ from support")
        workstream = db.session.get(Workstream, workstream_id)
        record_progress(session=db.session, actor=actor, incident=incident, workstream=workstream,
                        expected_version=workstream.version, done=250, note="Progress `note` at 25%")
        postmortem = postmortems.start_postmortem(session=db.session, actor=actor, incident=incident)
        # No postmortem summary: the executive report then shows the incident's own summary.
        postmortems.save_sections(session=db.session, actor=actor, incident=incident, postmortem=postmortem,
                                  expected_version=postmortem.version,
                                  sections={"root_cause": "A ~~tape~~ **storage** upgrade",
                                            "lessons": "- test restores weekly"})
        db.session.commit()
    return reference, workstream_id


def pages(reference: str, workstream_id: int) -> dict[str, str]:
    return {
        "incident": f"/incidents/{reference}",
        "impact history": f"/incidents/{reference}/impact/history",
        "workstream": f"/incidents/{reference}/workstreams/{workstream_id}",
        "postmortem": f"/incidents/{reference}/postmortem",
        "executive report": f"/incidents/{reference}/reports/executive",
    }


# What each page shows of the populated incident, as HTML only a rendering produces.
SHOWN = {
    "incident": ["The <strong>summary</strong> of the loss", "Impact <em>note</em> from support"],
    "impact history": ["Impact <em>note</em> from support"],
    "workstream": ["Checked <em>evidence</em> by hash", "Progress <code>note</code> at 25%"],
    "postmortem": ["A <s>tape</s> <strong>storage</strong> upgrade", "<li>test restores weekly</li>"],
    "executive report": ["The <strong>summary</strong> of the loss",
                         "A <s>tape</s> <strong>storage</strong> upgrade"],
}


def test_pages_show_stored_html_without_rendering(app, client, auth, make, renders):
    email = auth.as_role("responder")
    reference, workstream_id = populated_incident(app, make, email)
    renders.clear()
    for name, url in pages(reference, workstream_id).items():
        response = client.get(url)
        assert response.status_code == 200, name
        page = response.get_data(as_text=True)
        for html in SHOWN[name]:
            assert html in page, (name, html)
        assert renders == [], f"the {name} page rendered Markdown: {renders}"


def test_edited_text_shows_its_new_html(app, client, auth, make, renders):
    email = auth.as_role("responder")
    reference, workstream_id = populated_incident(app, make, email)
    with app.app_context():
        actor, incident = _actor(email), get_incident(session=db.session, reference=reference)
        update_incident(session=db.session, actor=actor, incident=incident, expected_version=incident.version,
                        changes={"summary": "A *new* summary"})
        workstream = db.session.get(Workstream, workstream_id)
        update_workstream(session=db.session, actor=actor, incident=incident, workstream=workstream,
                          expected_version=workstream.version,
                          fields=WorkstreamFields(name=workstream.name, owner=workstream.owner,
                                                  target=workstream.target, status=workstream.status,
                                                  evidence="Row counts **match**"))
        postmortem = postmortems.postmortem_for(session=db.session, incident=incident)
        postmortems.save_sections(session=db.session, actor=actor, incident=incident, postmortem=postmortem,
                                  expected_version=postmortem.version,
                                  sections={"root_cause": "A *firmware* bug", "lessons": "- test restores weekly"})
        db.session.commit()
    renders.clear()
    urls = pages(reference, workstream_id)
    expected = {"incident": "A <em>new</em> summary", "executive report": "A <em>new</em> summary",
                "workstream": "Row counts <strong>match</strong>", "postmortem": "A <em>firmware</em> bug"}
    stale = ["The <strong>summary</strong>", "Checked <em>evidence</em>", "<strong>storage</strong> upgrade"]
    for name, html in expected.items():
        page = client.get(urls[name]).get_data(as_text=True)
        assert html in page, (name, html)
        assert not any(old in page for old in stale), name
    assert renders == []


def test_a_post_renders_its_text_once_before_the_transaction(app, client, auth, make, renders):
    email = auth.as_role("responder")
    reference = make.incident(by=email)
    form = read_form(client.get(f"/incidents/{reference}/impact").get_data(as_text=True)).to_dict()
    form.update({"customers_affected": "500", "customers_restored": "0", "customers_lost": "0",
                 "customers_notified": "0", "note": "Counted *by hand*"})
    renders.clear()
    response = client.post(f"/incidents/{reference}/impact", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    # Rendered once, by the hook before the transaction: the service storing the HTML and the
    # timeline entry quoting the note both answer from the memo.
    assert renders.count("Counted *by hand*") == 1
    renders.clear()
    page = client.get(f"/incidents/{reference}/impact/history").get_data(as_text=True)
    assert "Counted <em>by hand</em>" in page and renders == []


def test_rows_written_before_html_was_stored_still_show_their_markdown(app, client, auth, make, renders):
    email = auth.as_role("responder")
    reference, workstream_id = populated_incident(app, make, email)
    with app.app_context():
        # As the migration leaves rows written before it: text, and no stored HTML.
        for table, column in (("incident", "summary_html"), ("workstream", "evidence_html"),
                              ("impact_update", "note_html"), ("workstream_progress", "note_html"),
                              ("postmortem", "sections_html")):
            db.session.execute(text(f"UPDATE {table} SET {column} = NULL"))
        db.session.commit()
    for name, url in pages(reference, workstream_id).items():
        page = client.get(url).get_data(as_text=True)
        for html in SHOWN[name]:
            assert html in page, (name, html)
    assert "The **summary** of the loss" in renders


def test_the_demo_stores_html_everywhere_and_its_pages_render_nothing(app, runner, client, renders):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        for table, _source, html in (("incident", "summary", "summary_html"),
                                    ("workstream", "evidence", "evidence_html"),
                                    ("impact_update", "note", "note_html"),
                                    ("workstream_progress", "note", "note_html"),
                                    ("postmortem", "sections", "sections_html"),
                                    ("timeline_entry", "body", "body_html")):
            missing = db.session.scalar(text(f"SELECT count(*) FROM {table} WHERE {html} IS NULL"))
            assert missing == 0, f"{table}: {missing} rows without stored HTML"
        reference = db.session.scalar(text("SELECT reference FROM incident JOIN postmortem "
                                           "ON postmortem.incident_id = incident.id LIMIT 1"))
        password = app.config["DEMO_PASSWORD"]
    assert client.post("/login", data={"email": scenario.ADMIN_EMAIL, "password": password}).status_code == 302
    renders.clear()
    for url in (f"/incidents/{reference}", f"/incidents/{reference}/postmortem",
                f"/incidents/{reference}/reports/executive"):
        assert client.get(url).status_code == 200, url
    assert renders == []


def test_the_audit_log_records_the_text_not_its_html(app, auth, make):
    email = auth.as_role("responder")
    populated_incident(app, make, email)
    with app.app_context():
        logged = db.session.scalars(db.select(AuditEvent.after).where(AuditEvent.after.is_not(None))).all()
    assert any("The **summary** of the loss" in after for after in logged)
    assert not any("<strong>summary</strong>" in after or "_html" in after for after in logged)
