"""Customer notices: drafted from public facts only, versioned, approved by the comms lead or
incident commander, released; shown as HTML, plain text and PDF without any internal content."""
from __future__ import annotations

import io
import re

import pypdf
import pytest
from sqlalchemy import select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.models import Incident
from incidents.incident.service import get_incident, update_incident
from incidents.notices.models import Audience, Notice, NoticeRelease, NoticeVersion
from incidents.notices.service import draft_for
from incidents.status import service as status
from incidents.timeline.models import TimelineEntry
from tests.factories import Factory


def pdf_text(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() or "" for page in reader.pages)


def set_people(app, reference: str, **people: str) -> None:
    """Make the given e-mails the incident's comms_lead / commander."""
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        changes = {role: db.session.scalar(select(User).where(User.email == email)) for role, email in people.items()}
        actor = next(iter(changes.values()))
        update_incident(session=db.session, actor=actor, incident=incident, expected_version=incident.version,
                        changes=changes)
        db.session.commit()


def publish(app, reference: str, email: str, *, title: str, body: str) -> None:
    with app.app_context():
        actor = db.session.scalar(select(User).where(User.email == email))
        incident = get_incident(session=db.session, reference=reference)
        status.publish_incident(session=db.session, actor=actor, incident=incident, public_title=title,
                                impact="major", body=body, components={})
        db.session.commit()


def notice_url(reference: str, notice_id: int) -> str:
    return f"/incidents/{reference}/notices/{notice_id}"


def create_via_form(client, reference: str, audience: str) -> tuple[int, str, str]:
    """Open the new-notice page (prefilled with the draft), post the draft as it is."""
    page = client.get(f"/incidents/{reference}/notices/new?audience={audience}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    subject = re.search(r'name="subject"[^>]*value="([^"]*)"', html)
    body = re.search(r'<textarea[^>]*name="body"[^>]*>\n?(.*?)</textarea>', html, re.S)
    import html as html_lib
    subject_text, body_text = html_lib.unescape(subject.group(1)), html_lib.unescape(body.group(1))
    response = client.post(f"/incidents/{reference}/notices/new",
                           data={"audience": audience, "subject": subject_text, "body": body_text})
    assert response.status_code == 302, response.get_data(as_text=True)
    notice_id = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    return notice_id, subject_text, body_text


def test_notices_contain_no_internal_content_in_html_text_or_pdf(leak_world, client):
    app, markers, public_id = leak_world
    with app.app_context():
        comms = db.session.scalar(select(User).where(User.email.like("leak%comms%")))
        incident = db.session.scalar(select(Incident).where(Incident.public_id == public_id))
        reference, comms_email, commander_email = incident.reference, comms.email, incident.commander.email
    assert client.post("/login", data={"email": comms_email, "password": Factory.PASSWORD}).status_code == 302

    outputs = {}
    for audience in ("customers", "regulator"):
        notice_id, subject, body = create_via_form(client, reference, audience)
        # The draft is written from public facts: the public title, the published (corrected)
        # update and the figures.
        if audience == "customers":
            assert subject == "Contacts are not syncing"
        assert "We have found the cause and are restoring contacts." in body
        assert "500" in body and "Contacts" in body
        # A second person approves: the commander, not the comms lead who wrote it.
        approver = app.test_client()
        assert approver.post("/login", data={"email": commander_email,
                                             "password": Factory.PASSWORD}).status_code == 302
        assert approver.post(notice_url(reference, notice_id) + "/approve",
                             data={"version": "1"}).status_code == 302
        assert client.post(notice_url(reference, notice_id) + "/release",
                           data={"version": "1", "channel": "email"}).status_code == 302
        base = notice_url(reference, notice_id) + "/v1"
        preview, text, pdf = client.get(base), client.get(base + ".txt"), client.get(base + ".pdf")
        assert (preview.status_code, text.status_code, pdf.status_code) == (200, 200, 200)
        assert pdf.mimetype == "application/pdf"
        # The preview page's toolbar links back into the app (its URLs hold the incident reference);
        # everything else on the page is the document itself, exactly as the PDF renders it.
        outputs[f"{audience} html"] = re.sub(r'<nav class="toolbar".*?</nav>', "", preview.get_data(as_text=True),
                                             flags=re.S)
        assert "Plain text" in preview.get_data(as_text=True) and "Plain text" not in outputs[f"{audience} html"]
        outputs[f"{audience} text"] = text.get_data(as_text=True)
        outputs[f"{audience} pdf"] = pdf_text(pdf.data)[1]
        outputs[f"{audience} pdf metadata"] = str(pdf_text(pdf.data)[0].metadata)
    assert "Contacts are not syncing" in outputs["customers pdf"]
    for name, output in outputs.items():
        leaked = [m for m in markers if m in output or m.lower() in output.lower()]
        assert leaked == [], f"{name} contains internal markers {leaked}"


@pytest.fixture
def story(app, make):
    """An incident with a comms lead, a commander, figures and a published update."""
    commander = make.user(role="responder", name="Casey Commander")
    comms = make.user(role="responder", name="Robin Comms")
    reference = make.incident(by=commander, title="Internal: shard 7 wiped by the retention job",
                              data_categories=["contacts", "photos"], personal_data=True)
    set_people(app, reference, comms_lead=comms)
    make.impact(reference, by=commander, affected=1200, restored=900, lost=12, notified=1200,
                categories={"contacts": (50_000, 48_000, 300)})
    publish(app, reference, comms, title="Some contacts missing", body="We are restoring missing contacts.")
    return reference, commander, comms


def test_versions_are_kept_and_a_stale_edit_is_refused(app, client, auth, make, story):
    reference, _commander, comms = story
    auth.login(comms)
    notice_id, subject, body = create_via_form(client, reference, "customers")
    url = notice_url(reference, notice_id)
    edited = body + "\n\nWe will write again when every account is restored."
    assert client.post(url + "/edit", data={"version": "1", "subject": subject, "body": edited}).status_code == 302
    # Someone else's form, drawn from version 1, is refused and nothing is saved.
    stale = client.post(url + "/edit", data={"version": "1", "subject": "Stale", "body": "Stale text"})
    assert stale.status_code == 409
    assert "Someone saved version 2" in stale.get_data(as_text=True)
    with app.app_context():
        versions = db.session.scalars(select(NoticeVersion).where(NoticeVersion.notice_id == notice_id)
                                      .order_by(NoticeVersion.number)).all()
        assert [(v.number, v.body) for v in versions] == [(1, body.strip()), (2, edited.strip())]
    page = client.get(url).get_data(as_text=True)
    assert "v1" in page and "v2" in page
    # The first version still shows as it was.
    assert "We will write again" not in client.get(url + "/v1.txt").get_data(as_text=True)
    assert "We will write again" in client.get(url + "/v2.txt").get_data(as_text=True)


def test_only_comms_lead_or_commander_approve_and_only_approved_versions_go_out(app, client, auth, make, story):
    reference, commander, comms = story
    notice_id = make.notice(reference, by=comms)
    url = notice_url(reference, notice_id)

    auth.as_role("responder")  # a responder who is neither comms lead nor commander
    assert client.post(url + "/release", data={"version": "1", "channel": "email"}).status_code == 422
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 403
    auth.logout()
    auth.as_role("admin")  # an admin is not the incident's comms lead either
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 403
    with app.app_context():
        assert db.session.scalar(select(NoticeVersion.approved_at).where(NoticeVersion.notice_id == notice_id)) is None

    auth.logout()
    auth.login(commander)
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 302
    auth.logout()
    auth.login(comms)
    assert client.post(url + "/release", data={"version": "1", "channel": "email"}).status_code == 302
    again = client.post(url + "/release", data={"version": "1", "channel": "email"})
    assert again.status_code == 422 and "already released by e-mail" in again.get_data(as_text=True)
    assert client.post(url + "/release", data={"version": "1", "channel": "website"}).status_code == 302
    with app.app_context():
        releases = db.session.scalars(select(NoticeRelease).order_by(NoticeRelease.id)).all()
        assert [(r.channel.value, r.audience.value, r.released_by.email) for r in releases] == [
            ("email", "customers", comms), ("website", "customers", comms)]
        version = db.session.scalar(select(NoticeVersion).where(NoticeVersion.notice_id == notice_id))
        assert version.approved_by.email == commander
        # Each step is on the timeline, in the same transaction as the change.
        bodies = db.session.scalars(select(TimelineEntry.body).join(Incident)
                                    .where(Incident.reference == reference)).all()
        assert any(b.startswith("Approved version 1 of the notice") for b in bodies)
        assert any(b.startswith("Released version 1 of the notice to customers by e-mail") for b in bodies)
    detail = client.get(url).get_data(as_text=True)
    assert "E-mail" in detail and "Website / status page" in detail

    # Editing after approval makes a new draft that needs approval again.
    client.post(url + "/edit", data={"version": "1", "subject": "Updated", "body": "New text"})
    assert client.post(url + "/release", data={"version": "2", "channel": "letter"}).status_code == 422
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 409  # not the latest


def make_myself_comms_lead(client, reference: str, user_id: int, commander_id: int) -> None:
    """Take the comms lead role on the incident's edit page (the commander stays)."""
    page = client.get(f"/incidents/{reference}/edit").get_data(as_text=True)
    form = {name: re.search(rf'name="{name}"[^>]*value="([^"]*)"', page).group(1)
            for name in ("version", "title", "declared_at")}
    form.update(severity="SEV2", summary="", commander=str(commander_id), comms_lead=str(user_id), executive="0")
    response = client.post(f"/incidents/{reference}/edit", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)


def test_making_yourself_comms_lead_does_not_let_you_approve(app, client, auth, make, story):
    """#18: a responder who is neither comms lead nor commander is refused, makes themselves comms
    lead, and is still refused: the roles that count are those held when the version was saved."""
    reference, commander, comms = story
    notice_id = make.notice(reference, by=comms)
    url = notice_url(reference, notice_id)
    sneaky = auth.as_role("responder")
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 403
    make_myself_comms_lead(client, reference, make.user_id(sneaky), make.user_id(commander))
    with app.app_context():
        assert get_incident(session=db.session, reference=reference).comms_lead.email == sneaky

    refused = client.post(url + "/approve", data={"version": "1"})
    assert refused.status_code == 403
    assert "not the communications lead or incident commander when version 1 was saved" in \
        refused.get_data(as_text=True)
    assert "ask Casey Commander to approve it" in refused.get_data(as_text=True)
    # Nor by writing a version of their own: its author never approves it.
    assert client.post(url + "/edit", data={"version": "1", "subject": "Sneaky", "body": "All is well."}
                       ).status_code == 302
    own = client.post(url + "/approve", data={"version": "2"})
    assert own.status_code == 403
    assert "You wrote version 2, so someone else must approve it: ask Casey Commander" in own.get_data(as_text=True)
    assert "You wrote version 2" in client.get(url).get_data(as_text=True)  # said before anyone tries
    assert client.post(url + "/release", data={"version": "2", "channel": "email"}).status_code == 422
    with app.app_context():
        assert db.session.scalars(select(NoticeVersion.approved_at)
                                  .where(NoticeVersion.notice_id == notice_id)).all() == [None, None]


def test_the_comms_lead_cannot_approve_their_own_version_and_the_commander_can(app, client, auth, make, story):
    reference, commander, comms = story
    notice_id = make.notice(reference, by=comms)
    url = notice_url(reference, notice_id)
    auth.login(comms)
    refused = client.post(url + "/approve", data={"version": "1"})
    assert refused.status_code == 403
    assert "You wrote version 1, so someone else must approve it: ask Casey Commander" in \
        refused.get_data(as_text=True)
    auth.logout()
    auth.login(commander)
    assert client.post(url + "/approve", data={"version": "1"}).status_code == 302
    with app.app_context():
        version = db.session.scalar(select(NoticeVersion).where(NoticeVersion.notice_id == notice_id))
        assert (version.approved_by.email, version.author.email) == (commander, comms)


def test_plain_text_and_pdf_read_well(app, client, auth, make, story):
    reference, commander, comms = story
    auth.login(comms)
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        subject, body = draft_for(session=db.session, incident=incident, audience=Audience.customers)
    notice_id = make.notice(reference, by=comms, subject=subject,
                            body=body + "\n\n| Category | Records |\n| --- | ---: |\n| Contacts | 48,000 |")
    base = notice_url(reference, notice_id) + "/v1"

    text = client.get(base + ".txt")
    assert text.mimetype == "text/plain"
    plain = text.get_data(as_text=True)
    assert plain.startswith("Some contacts missing\n=====")
    assert "What happened\n=============" in plain
    assert "- Contacts\n- Photos" in plain
    assert "900 of the 1,200 affected customers (75%)" in plain.replace("\n", " ").replace("**", "")
    assert "Contacts | 48,000" in plain
    assert "<" not in plain and "**" not in plain and "&amp;" not in plain
    assert all(len(line) <= 72 for line in plain.splitlines())

    pdf = client.get(base + ".pdf")
    reader, pdf_plain = pdf_text(pdf.data)
    assert 1 <= len(reader.pages) <= 3
    assert "Some contacts missing" in pdf_plain and "Draft: not approved for release" in pdf_plain
    assert "What you can do" in pdf_plain and "support@example.com" in pdf_plain
    assert reader.metadata.title == "Some contacts missing"
    assert reader.metadata.author
    root = reader.trailer["/Root"]
    assert root["/Lang"] == "en"
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]  # tagged PDF (PDF/UA)


def test_cli_renders_the_latest_approved_customer_notice_or_explains_why_not(app, runner, make, story, tmp_path):
    reference, commander, comms = story
    out = tmp_path / "notice.pdf"
    result = runner.invoke(args=["report", "pdf", reference, "--kind", "notice", "-o", str(out)])
    assert result.exit_code != 0 and "no approved or released notice to customers" in result.output
    assert not out.exists()

    notice_id = make.notice(reference, by=comms, subject="Approved subject line")
    with app.app_context():
        from incidents.notices import service

        incident = get_incident(session=db.session, reference=reference)
        notice = db.session.get(Notice, notice_id)
        service.approve(session=db.session, actor=db.session.scalar(select(User).where(User.email == commander)),
                        incident=incident, notice=notice, number=1)
        db.session.commit()
    result = runner.invoke(args=["report", "pdf", reference, "--kind", "notice", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Approved subject line" in pdf_text(out.read_bytes())[1]
    released_only = runner.invoke(args=["report", "pdf", reference, "--kind", "notice", "--released-only",
                                        "-o", str(tmp_path / "r.pdf")])
    assert released_only.exit_code != 0 and "no released notice" in released_only.output
