"""The executive postmortem report: previews, PDFs read back with pypdf, the CLI, and failures
shown as a page instead of a server error."""
from __future__ import annotations

import io
import threading
import time
from datetime import date, timedelta

import pypdf
import pytest
from sqlalchemy import select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident, update_incident
from incidents.timeline.service import get_entry, pin_entry


def read(pdf: bytes) -> tuple[pypdf.PdfReader, str]:
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    return reader, "\n".join(page.extract_text() or "" for page in reader.pages)


def flat(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture
def incident(app, make):
    """An incident with owners, figures per category, a workstream, RPO/RTO and a pinned entry."""
    commander = make.user(role="responder", name="Casey Commander")
    comms = make.user(role="responder", name="Robin Comms")
    owner = make.user(role="responder", name="Wren Workstream")
    reference = make.incident(by=commander, title="Address books emptied by a sync bug", severity="SEV1",
                              data_categories=["contacts"], summary="A sync bug emptied address books.")
    with app.app_context():
        record = get_incident(session=db.session, reference=reference)
        people = {e: db.session.scalar(select(User).where(User.email == e)) for e in (comms, commander)}
        moments = record.declared_at
        update_incident(session=db.session, actor=people[commander], incident=record,
                        expected_version=record.version, changes={
                            "comms_lead": people[comms], "loss_began_at": moments - timedelta(hours=5),
                            "detected_at": moments - timedelta(hours=2), "rpo_target_minutes": 60,
                            "rto_target_minutes": 24 * 60,
                            "last_good_backup_at": moments - timedelta(hours=6)})
        db.session.commit()
    make.impact(reference, by=commander, affected=1200, restored=300, lost=0,
                categories={"contacts": (60_000, 15_000, 0)})
    make.impact(reference, by=commander, affected=1200, restored=1020, lost=40, notified=1100,
                categories={"contacts": (60_000, 57_000, 2_000)})
    make.workstream(reference, by=commander, owner=owner, name="Replay the sync journal", target=60_000,
                    category="contacts")
    key = make.entry(reference, body="Key moment: the sync journal is intact", by=commander)
    make.entry(reference, body="Routine note that only the full timeline shows", by=commander)
    with app.app_context():
        record = get_incident(session=db.session, reference=reference)
        pin_entry(session=db.session, incident=record, entry=get_entry(session=db.session, incident=record,
                                                                       entry_id=key),
                  by=db.session.scalar(select(User).where(User.email == commander)))
        db.session.commit()
    return reference, commander, comms, owner


def test_executive_pdf_shows_the_figures_owners_and_sections_without_a_postmortem(client, auth, incident):
    reference, *_ = incident
    auth.as_role("viewer")
    response = client.get(f"/incidents/{reference}/reports/executive.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert f'filename="{reference}-executive-report.pdf"' in response.headers["Content-Disposition"]
    reader, text = read(response.data)
    page_one = flat(reader.pages[0].extract_text())
    for figure in ("1,200", "85.0%", "1,020 customers", "40", "1,100", "60,000", "57,000", "2,000", "95.0"):
        assert figure in page_one, figure
    for label in ("Time to detect", "Time to declare", "Time to notify", "Time to restore", "3 h 0 min",
                  "2 h 0 min", "RPO", "RTO", "Casey Commander", "Robin Comms", "Wren Workstream",
                  "SEV1", "Confidential"):
        assert label.lower() in page_one.lower(), label  # some labels are set in capitals
    text = flat(text)
    assert "Summary" in text and "A sync bug emptied address books." in text
    assert "no postmortem has been started" in text.lower()
    assert "Key moment: the sync journal is intact" in text
    assert "Routine note that only the full timeline shows" not in text  # key entries by default
    assert "No action items yet." in text
    assert "Page 1 of" in text and reference in flat(reader.pages[1].extract_text())  # running header
    assert 2 <= len(reader.pages) <= 8
    assert reference in reader.metadata.title and "Address books emptied" in reader.metadata.title
    assert reader.metadata.author and reader.trailer["/Root"]["/Lang"] == "en"
    assert "/StructTreeRoot" in reader.trailer["/Root"]  # tagged (PDF/UA)


def test_executive_report_prints_the_audit_head_at_generation(app, client, auth, incident):
    """#18: a copy of the audit head outside the database, to check later with `audit verify --expect`."""
    from incidents.audit.models import AuditEvent

    reference, *_ = incident
    auth.as_role("viewer")
    with app.app_context():
        head = db.session.scalar(select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1))
        db.session.remove()
    html = client.get(f"/incidents/{reference}/reports/executive").get_data(as_text=True)
    assert f'<code class="audit-head">{head}</code>' in html
    _reader, text = read(client.get(f"/incidents/{reference}/reports/executive.pdf").data)
    assert head in "".join(text.split())


def test_executive_report_carries_the_postmortem_and_action_items(app, client, auth, make, incident):
    reference, commander, _comms, owner = incident
    make.postmortem(reference, by=commander, sections={
        "summary": "Address books emptied for 1,200 customers; nearly all restored.",
        "root_cause": "A retry loop in the **sync client** sent empty snapshots.",
        "lessons": "Empty snapshots must never overwrite a full one."})
    make.action_item(reference, by=commander, owner=owner, title="Refuse empty snapshots on the server",
                     kind="prevent", due_on=date(2031, 3, 14))
    auth.as_role("viewer")
    _reader, text = read(client.get(f"/incidents/{reference}/reports/executive.pdf?timeline=all").data)
    text = flat(text)
    assert "Address books emptied for 1,200 customers; nearly all restored." in text
    assert "A retry loop in the sync client sent empty snapshots." in text
    assert "Lessons" in text and "Empty snapshots must never overwrite a full one." in text
    assert "Refuse empty snapshots on the server" in text and "2031-03-14" in text and "Wren Workstream" in text
    assert "Routine note that only the full timeline shows" in text  # the whole timeline, by option


def test_reports_area_preview_and_link_from_the_incident_page(client, auth, incident):
    reference, *_ = incident
    auth.as_role("viewer")
    assert f"/incidents/{reference}/reports" in client.get(f"/incidents/{reference}").get_data(as_text=True)
    area = client.get(f"/incidents/{reference}/reports").get_data(as_text=True)
    assert f"/incidents/{reference}/reports/executive.pdf" in area
    assert "New notice" not in area  # viewers read; responders write
    preview = client.get(f"/incidents/{reference}/reports/executive")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "script-src 'self'" in preview.headers["Content-Security-Policy"]
    assert "<svg" in html and "Key figures" in html and "/static/css/print.css" in html
    assert " style=" not in html  # the strict CSP blocks inline styles: none are needed


def test_a_render_that_fails_shows_a_page_not_a_server_error(app, client, auth, incident):
    reference, *_ = incident
    app.config["PDF_RENDER_TIMEOUT"] = "0.01"
    auth.as_role("viewer")
    response = client.get(f"/incidents/{reference}/reports/executive.pdf")
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "The PDF could not be made" in page and "longer than" in page and "Traceback" not in page


def test_more_pdfs_at_once_than_the_cap_get_503_with_retry_after_and_healthz_answers(
        app, client, auth, make, incident, monkeypatch):
    """Ten executive reports asked for at once used to hold every server thread; now at most
    PDF_MAX_CONCURRENT_RENDERS render (really, in the child process) and the rest are told to come
    back, so the threads are free for everyone else."""
    import incidents.reports.views as report_views
    reference, commander, *_ = incident
    notice_id = make.notice(reference, by=commander)
    app.config.update(PDF_MAX_CONCURRENT_RENDERS=2, PDF_RENDER_WAIT_SECONDS=0.2)
    auth.as_role("viewer")
    # The renders that got a slot wait at a gate (then render for real), so the test decides when
    # they finish instead of guessing how long a render takes.
    gate, inside, lock = threading.Event(), [], threading.Lock()
    real_render = report_views.render_pdf

    def gated_render(*args, **kwargs):
        with lock:
            inside.append(1)
        assert gate.wait(timeout=120)
        return real_render(*args, **kwargs)

    monkeypatch.setattr(report_views, "render_pdf", gated_render)
    url = f"/incidents/{reference}/reports/executive.pdf?timeline=all"
    answers: list = []

    def fetch() -> None:
        other = app.test_client()
        other.set_cookie("session", client.get_cookie("session").value)
        response = other.get(url)
        answers.append((response.status_code, response.headers.get("Retry-After"), response.mimetype,
                        response.get_data(as_text=response.mimetype != "application/pdf")))

    threads = [threading.Thread(target=fetch) for _ in range(10)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 60
    while len(answers) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        refused = list(answers)
        assert len(refused) == 8 and len(inside) == 2  # two render, eight are turned away at once
        for status, retry_after, _mimetype, page in refused:
            assert status == 503 and int(retry_after) > 0
            assert "Too many PDFs are being made right now" in page and "try the download again" in page
        # While both slots are taken: the server still answers, and notices share the same cap.
        assert client.get("/healthz").status_code == 200
        notice = client.get(f"/incidents/{reference}/notices/{notice_id}/v1.pdf")
        assert notice.status_code == 503 and notice.headers["Retry-After"]
    finally:
        gate.set()
        for thread in threads:
            thread.join(timeout=120)
    rendered = answers[8:]
    assert [(status, mimetype) for status, _r, mimetype, _p in rendered] == [(200, "application/pdf")] * 2
    assert client.get(f"/incidents/{reference}/notices/{notice_id}/v1.pdf").status_code == 200  # slots freed


def test_cli_writes_the_executive_report(runner, incident, tmp_path):
    reference, *_ = incident
    out = tmp_path / "exec.pdf"
    result = runner.invoke(args=["report", "pdf", reference, "--kind", "executive", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "Key figures" in read(out.read_bytes())[1]
    missing = runner.invoke(args=["report", "pdf", "INC-1999-0001", "--kind", "executive", "-o", str(out)])
    assert missing.exit_code != 0 and "No incident 'INC-1999-0001'" in missing.output


def test_executive_pdf_lists_every_obligation_with_due_filed_time_to_notify_and_outcome(app, client, auth,
                                                                                        incident):
    reference, commander, *_ = incident
    with app.app_context():
        record = get_incident(session=db.session, reference=reference)
        record.aware_at = (record.declared_at - timedelta(hours=100)).replace(second=0, microsecond=0)
        aware = record.aware_at
        db.session.commit()
    auth.login(commander)
    assert "No notification regime has been chosen" in flat(read(
        client.get(f"/incidents/{reference}/reports/executive.pdf").data)[1])
    client.post(f"/incidents/{reference}/obligations/regimes", data={"regimes": ["gdpr"]})
    with app.app_context():
        from incidents.obligations.models import Obligation

        authority = db.session.scalar(select(Obligation.id).where(Obligation.rule_id == "gdpr-33-authority"))
    filed = aware + timedelta(hours=80)  # 8 hours after the 72
    response = client.post(f"/incidents/{reference}/obligations/{authority}/file", data={
        "filed_at": filed.strftime("%Y-%m-%dT%H:%M"), "reference": "DPA-77", "notice_version": "0",
        "reason": "The extent was unknown until the restore test."})
    assert response.status_code == 302, response.get_data(as_text=True)

    text = flat(read(client.get(f"/incidents/{reference}/reports/executive.pdf").data)[1])
    section = text[text.index("Notification obligations"):]
    assert "Notify the lead supervisory authority" in section
    assert f"{aware + timedelta(hours=72):%Y-%m-%d %H:%M} UTC" in section  # due
    assert f"{filed:%Y-%m-%d %H:%M} UTC" in section and "3 d 8 h" in section  # filed, time to notify
    assert "MISSED" in section.upper() and "The extent was unknown until the restore test." in section
    assert "no fixed clock" in section  # Art. 34: without undue delay, still pending
    assert "PENDING" in section.upper()
