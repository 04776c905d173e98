"""Postmortems: writing the sections, the review workflow, versions, due dates and the close rule."""
from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from html import unescape

import pytest
from sqlalchemy import select

from incidents.extensions import db
from incidents.incident.enums import Status
from incidents.incident.models import Incident
from incidents.postmortem.due import add_business_days, due_date
from incidents.postmortem.enums import PostmortemStatus
from incidents.postmortem.models import Postmortem, PostmortemHistoryError, PostmortemVersion
from incidents.timeline.models import TimelineEntry
from tests.helpers import flashes, move_status


def stored(app, reference: str) -> dict:
    """The postmortem's row, its versions and the incident's timeline bodies, read fresh."""
    with app.app_context():
        incident = db.session.scalar(select(Incident).where(Incident.reference == reference))
        pm = db.session.scalar(select(Postmortem).where(Postmortem.incident_id == incident.id))
        versions = db.session.scalars(select(PostmortemVersion).where(PostmortemVersion.postmortem_id == pm.id)
                                      .order_by(PostmortemVersion.number)).all() if pm else []
        entries = db.session.scalars(select(TimelineEntry.body).where(TimelineEntry.incident_id == incident.id)
                                     .order_by(TimelineEntry.id)).all()
        return {
            "status": pm.status if pm else None, "version": pm.version if pm else 0,
            "revision": pm.revision if pm else 0, "sections": dict(pm.sections) if pm else {},
            "approved_by": pm.approved_by.email if pm and pm.approved_by else None,
            "approved_at": pm.approved_at if pm else None,
            "versions": [(v.number, dict(v.sections), v.author.email) for v in versions],
            "timeline": list(entries), "incident_status": incident.status,
        }


def save(client, ref: str, version: int, **sections):
    return client.post(f"/incidents/{ref}/postmortem/edit", data={"version": version, **sections})


def signed_in(app, make, role="responder"):
    """Another browser, signed in as a new user: (client, email)."""
    email = make.user(role=role)
    other = app.test_client()
    assert other.post("/login", data={"email": email, "password": make.PASSWORD}).status_code == 302
    return other, email


# --- writing -----------------------------------------------------------------------------------

def test_writing_a_section_saves_a_version_and_shows_it_sanitised(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    page = client.get(f"/incidents/{ref}/postmortem/edit").get_data(as_text=True)
    # Every written section is offered with its blameless-writing hint.
    assert "Root cause and trigger" in page and "not “who did it?”" in unescape(page)

    response = save(client, ref, 0, summary="Contacts **vanished** <script>alert(1)</script>",
                    lessons="Own your servers.")
    assert response.status_code == 302
    now = stored(app, ref)
    assert now["status"] is PostmortemStatus.draft and now["revision"] == 1
    assert now["versions"] == [(1, {"summary": "Contacts **vanished** <script>alert(1)</script>",
                                    "lessons": "Own your servers."}, email)]
    shown = client.get(f"/incidents/{ref}/postmortem").get_data(as_text=True)
    assert "<strong>vanished</strong>" in shown and "<script>alert(1)" not in shown
    assert "Saved as version 1." in flashes(shown)


def test_preview_renders_sanitised_markdown_without_saving(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    response = client.post(f"/incidents/{ref}/postmortem/preview",
                           data={"text": "**Backups** [x](javascript:alert(1)) <img src=x onerror=alert(1)>"})
    assert response.status_code == 200
    html = response.get_json()["html"]
    assert "<strong>Backups</strong>" in html
    assert "javascript:" not in html and "<img" not in html and "onerror" not in html
    assert client.post(f"/incidents/{ref}/postmortem/preview", data={"text": "x" * 20_001}).status_code == 400

    # Without JavaScript the form's Preview button shows the same, and saves nothing.
    page = client.post(f"/incidents/{ref}/postmortem/edit",
                       data={"version": 0, "summary": "*Draft* only", "preview": "1"})
    assert page.status_code == 200
    assert "<em>Draft</em>" in page.get_data(as_text=True)
    assert stored(app, ref)["status"] is None


def test_stale_edit_is_refused_and_keeps_both_texts(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    make.postmortem(ref, by=email, sections={"summary": "First words."})
    loaded = stored(app, ref)["version"]
    other, _ = signed_in(app, make)
    assert save(other, ref, loaded, summary="Their words.").status_code == 302

    response = save(client, ref, loaded, summary="My words.")
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Their words." in page and "My words." in page  # what is saved now, and mine kept
    assert stored(app, ref)["sections"] == {"summary": "Their words."}
    # Saving again from the refreshed form is a deliberate overwrite.
    version = int(re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1))
    assert save(client, ref, version, summary="My words.").status_code == 302
    assert [v[1]["summary"] for v in stored(app, ref)["versions"]] == ["First words.", "Their words.", "My words."]


def test_starting_twice_at_once_does_not_lose_the_second_text(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    other, _ = signed_in(app, make)
    assert save(other, ref, 0, summary="Theirs.").status_code == 302
    response = save(client, ref, 0, summary="Mine.")
    assert response.status_code == 409
    assert stored(app, ref)["sections"] == {"summary": "Theirs."}


# --- review workflow ---------------------------------------------------------------------------

def test_review_workflow_end_to_end(app, client, auth, make):
    author = auth.as_role("responder")
    ref = make.incident(by=author)
    reviewer_client, reviewer = signed_in(app, make)
    assert save(client, ref, 0, summary="Storage upgrade without a fresh backup.").status_code == 302

    # Sending to review needs a named reviewer.
    version = stored(app, ref)["version"]
    page = client.get(client.post(f"/incidents/{ref}/postmortem/submit", data={"version": version})
                      .headers["Location"]).get_data(as_text=True)
    assert "Name at least one reviewer first." in flashes(page)
    assert stored(app, ref)["status"] is PostmortemStatus.draft

    assert client.post(f"/incidents/{ref}/postmortem/reviewers", data={"email": reviewer}).status_code == 302
    version = stored(app, ref)["version"]
    assert client.post(f"/incidents/{ref}/postmortem/submit", data={"version": version}).status_code == 302
    assert stored(app, ref)["status"] is PostmortemStatus.in_review

    # Only a named reviewer decides; the author is not one.
    version = stored(app, ref)["version"]
    client.post(f"/incidents/{ref}/postmortem/review", data={"version": version, "decision": "approve"})
    assert stored(app, ref)["status"] is PostmortemStatus.in_review
    # Nor may a reviewer approve a version they wrote themselves.
    assert reviewer_client.post(f"/incidents/{ref}/postmortem/edit",
                                data={"version": version, "summary": "Storage upgrade without a tested backup."}
                                ).status_code == 302
    version = stored(app, ref)["version"]
    page = reviewer_client.get(reviewer_client.post(f"/incidents/{ref}/postmortem/review", data={
        "version": version, "decision": "approve"}).headers["Location"]).get_data(as_text=True)
    assert "You wrote this version; another reviewer needs to approve it." in flashes(page)
    assert save(client, ref, version, summary="Storage upgrade without a fresh, tested backup.").status_code == 302
    version = stored(app, ref)["version"]
    before = datetime.now(UTC)
    assert reviewer_client.post(f"/incidents/{ref}/postmortem/review",
                                data={"version": version, "decision": "approve",
                                      "comment": "Blameless and clear."}).status_code == 302
    now = stored(app, ref)
    assert now["status"] is PostmortemStatus.approved
    assert now["approved_by"] == reviewer and before <= now["approved_at"] <= datetime.now(UTC)
    assert any("approved by" in body and "Blameless and clear." in body for body in now["timeline"])

    assert client.post(f"/incidents/{ref}/postmortem/publish", data={"version": now["version"]}).status_code == 302
    assert stored(app, ref)["status"] is PostmortemStatus.published
    page = client.get(f"/incidents/{ref}/postmortem").get_data(as_text=True)
    assert "Published by" in page and "Approved by" in page


def test_a_writer_who_names_themselves_reviewer_cannot_approve_their_text(app, client, auth, make):
    """#18: the two-person rule holds for postmortems too."""
    author = auth.as_role("responder")
    ref = make.incident(by=author)
    _reviewer_client, reviewer = signed_in(app, make)
    assert save(client, ref, 0, summary="Storage upgrade without a fresh backup.").status_code == 302
    for email in (author, reviewer):
        assert client.post(f"/incidents/{ref}/postmortem/reviewers", data={"email": email}).status_code == 302
    assert client.post(f"/incidents/{ref}/postmortem/submit",
                       data={"version": stored(app, ref)["version"]}).status_code == 302
    page = client.get(client.post(f"/incidents/{ref}/postmortem/review", data={
        "version": stored(app, ref)["version"], "decision": "approve"}).headers["Location"]).get_data(as_text=True)
    assert "You wrote this version; another reviewer needs to approve it." in flashes(page)
    assert stored(app, ref)["status"] is PostmortemStatus.in_review


def test_reviewer_can_send_it_back_with_a_reason(app, client, auth, make):
    author = auth.as_role("responder")
    reviewer_client, reviewer = signed_in(app, make)
    ref = make.incident(by=author)
    make.postmortem(ref, by=author, reviewers=[reviewer], state="in_review")
    version = stored(app, ref)["version"]
    response = reviewer_client.post(f"/incidents/{ref}/postmortem/review",
                                    data={"version": version, "decision": "changes", "comment": ""})
    assert response.status_code == 422
    assert "Say what should change." in response.get_data(as_text=True)
    assert reviewer_client.post(f"/incidents/{ref}/postmortem/review",
                                data={"version": version, "decision": "changes",
                                      "comment": "Name the missing backup check."}).status_code == 302
    now = stored(app, ref)
    assert now["status"] is PostmortemStatus.draft
    assert any("Name the missing backup check." in body for body in now["timeline"])


def test_unknown_or_unsuitable_reviewer_is_refused_beside_the_field(app, client, auth, make):
    from incidents.auth.models import User

    email = auth.as_role("responder")
    ref = make.incident(by=email)
    make.postmortem(ref, by=email)
    disabled = make.user(role="responder")
    with app.app_context():
        db.session.scalar(select(User).where(User.email == disabled)).active = False
        db.session.commit()
    for who, message in [
        ("nobody@example.com", "No one with the address nobody@example.com uses the tracker."),
        (make.user(role="viewer"), "can only read (viewer); reviewers need the responder role to approve."),
        (disabled, "account is disabled; choose someone who can sign in."),
    ]:
        response = client.post(f"/incidents/{ref}/postmortem/reviewers", data={"email": who})
        assert response.status_code == 422
        page = unescape(response.get_data(as_text=True))
        block = re.search(r'<div class="field [^"]*has-error[^"]*">\s*<label for="email".*?</div>', page, re.S)
        assert block and message in block.group(0), who
    assert stored(app, ref)["status"] is PostmortemStatus.draft


def test_editing_approved_text_returns_it_to_review_and_keeps_every_version(app, client, auth, make):
    author = auth.as_role("responder")
    reviewer = make.user()
    ref = make.incident(by=author)
    make.postmortem(ref, by=author, reviewers=[reviewer], state="published",
                    sections={"summary": "Line one.\nLine two.", "lessons": "Own it."})
    assert stored(app, ref)["approved_by"] == reviewer

    response = save(client, ref, stored(app, ref)["version"],
                    summary="Line one.\nLine <b>2</b>.", lessons="Own it.")
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert any("back in review" in f for f in flashes(page))
    now = stored(app, ref)
    assert now["status"] is PostmortemStatus.in_review and now["approved_by"] is None
    assert [v[0] for v in now["versions"]] == [1, 2]
    assert any("edited after it was published: back in review" in body for body in now["timeline"])

    # The comparison with the version before shows the changed line, escaped.
    diff = client.get(f"/incidents/{ref}/postmortem/versions/2").get_data(as_text=True)
    assert '<span class="diff-line diff-del">- Line two.' in diff
    assert '<span class="diff-line diff-add">+ Line &lt;b&gt;2&lt;/b&gt;.' in diff
    assert "<b>2</b>" not in diff
    listing = client.get(f"/incidents/{ref}/postmortem/versions").get_data(as_text=True)
    assert "Compare with version 1" in listing
    assert client.get(f"/incidents/{ref}/postmortem/versions/3").status_code == 404


def test_versions_and_approvals_are_append_only(app, make):
    email = make.user()
    ref = make.incident(by=email)
    make.postmortem(ref, by=email)
    with app.app_context():
        version = db.session.scalar(select(PostmortemVersion))
        version.sections = {"summary": "rewritten history"}
        with pytest.raises(PostmortemHistoryError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(PostmortemHistoryError):
            db.session.execute(db.delete(PostmortemVersion))
        db.session.rollback()


# --- the close rule ----------------------------------------------------------------------------

def test_incident_closes_only_once_the_postmortem_is_published(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    move_status(app, ref, email, Status.resolved)
    detail = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert 'value="closed"' not in detail
    assert "Closing becomes possible once the" in detail

    version = stored(app, ref)
    with app.app_context():
        incident_version = db.session.scalar(select(Incident.version).where(Incident.reference == ref))
    response = client.post(f"/incidents/{ref}/status", data={"status": "closed", "version": incident_version})
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "An incident closes only once its postmortem is published" in flashes(page)[0]
    assert stored(app, ref)["incident_status"] is Status.resolved and version["status"] is None

    make.postmortem(ref, by=email, reviewers=[make.user()], state="approved")
    with app.app_context():
        incident_version = db.session.scalar(select(Incident.version).where(Incident.reference == ref))
    client.post(f"/incidents/{ref}/status", data={"status": "closed", "version": incident_version})
    assert stored(app, ref)["incident_status"] is Status.resolved  # approved is not published

    version = stored(app, ref)["version"]
    client.post(f"/incidents/{ref}/postmortem/publish", data={"version": version})
    assert 'value="closed"' in client.get(f"/incidents/{ref}").get_data(as_text=True)
    with app.app_context():
        incident_version = db.session.scalar(select(Incident.version).where(Incident.reference == ref))
    assert client.post(f"/incidents/{ref}/status",
                       data={"status": "closed", "version": incident_version}).status_code == 302
    assert stored(app, ref)["incident_status"] is Status.closed
    # A closed incident's published postmortem is final.
    response = save(client, ref, stored(app, ref)["version"], summary="Afterthought.")
    assert response.status_code == 422 and stored(app, ref)["status"] is PostmortemStatus.published


# --- due dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize("start, days, due", [
    (date(2009, 10, 22), 5, date(2009, 10, 29)),  # Thursday → next Thursday
    (date(2009, 10, 23), 5, date(2009, 10, 30)),  # Friday → next Friday
    (date(2009, 10, 24), 5, date(2009, 10, 30)),  # Saturday counts from Monday
    (date(2009, 10, 23), 1, date(2009, 10, 26)),  # Friday + 1 → Monday
    (date(2009, 10, 23), 0, date(2009, 10, 23)),
])
def test_business_days_skip_weekends(start, days, due):
    assert add_business_days(start, days) == due


def test_overdue_postmortems_are_flagged_on_the_list_and_the_due_view(app_config, backend, request):
    app_config["POSTMORTEM_DUE_BUSINESS_DAYS"] = 2
    app = request.getfixturevalue("app")
    make, client = request.getfixturevalue("make"), app.test_client()
    email = make.user()
    client.post("/login", data={"email": email, "password": make.PASSWORD})
    now = datetime.now(UTC)
    late, fresh, done = (make.incident(by=email, title=t) for t in ("Late one", "Fresh one", "Done one"))
    make.resolve(late, by=email, at=now - timedelta(days=10))
    make.resolve(fresh, by=email)
    make.resolve(done, by=email, at=now - timedelta(days=10))
    make.postmortem(done, by=email, reviewers=[make.user()], state="published")
    make.postmortem(late, by=email)  # started, still a draft

    listing = client.get("/?status=resolved").get_data(as_text=True)
    row = {ref: re.search(rf"{ref}</a></td>.*?</tr>", listing, re.S).group(0) for ref in (late, fresh, done)}
    assert "postmortem overdue" in row[late]
    assert f"postmortem due {due_date(now, 2).isoformat()}" in row[fresh]
    assert "postmortem" not in row[done]

    due = client.get("/postmortems/due").get_data(as_text=True)
    assert late in due and fresh in due and done not in due
    assert due.index(late) < due.index(fresh)  # soonest due first
    assert "each is due 2 business days" in due.lower()
    assert "Draft" in due and "Not started" in due
    for page in (f"/incidents/{late}/postmortem", f"/incidents/{late}"):
        assert "overdue: was due" in client.get(page).get_data(as_text=True)


# --- the document ------------------------------------------------------------------------------

def test_document_fills_impact_key_entries_and_recovery_from_the_incident(app, client, auth, make):
    from incidents.auth.models import User
    from incidents.incident.service import get_incident
    from incidents.timeline.service import get_entry, pin_entry

    email = auth.as_role("responder")
    ref = make.incident(by=email, data_categories=["contacts"])
    make.impact(ref, by=email, affected=1200, restored=900, lost=40, categories={"contacts": (50_000, 48_000, 700)})
    make.workstream(ref, by=email, name="Rebuild contacts from the corrupt volumes", category="contacts")
    key = make.entry(ref, body="Backups were 19 days old", by=email)
    make.entry(ref, body="Routine note nobody pinned", by=email)
    with app.app_context():
        incident = get_incident(session=db.session, reference=ref)
        pin_entry(session=db.session, incident=incident, entry=get_entry(session=db.session, incident=incident,
                                                                         entry_id=key),
                  by=db.session.scalar(select(User).where(User.email == email)))
        db.session.commit()

    page = client.get(f"/incidents/{ref}/postmortem").get_data(as_text=True)
    assert "1,200" in page and "900" in page and "50,000" in page and "48,000" in page
    assert "Rebuild contacts from the corrupt volumes" in page
    assert "RPO · data-loss window" in page
    assert "Backups were 19 days old" in page and "Routine note nobody pinned" not in page
    full = client.get(f"/incidents/{ref}/postmortem?timeline=all").get_data(as_text=True)
    assert "Routine note nobody pinned" in full
    assert full.index("Key entries") < full.index("Full timeline")

