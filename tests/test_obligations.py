"""Obligations of an incident: regimes, anchor moments, recomputing, filing, and the Deadlines view."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from incidents.audit.models import AuditEvent
from incidents.db import utcnow
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.obligations.models import Obligation, ObligationStatus
from incidents.timeline.models import TimelineEntry
from tests.form_matrix import errors_beside
from tests.helpers import read_form

FORM_TIME = "%Y-%m-%dT%H:%M"


def set_aware(app, reference: str, at: datetime) -> None:
    with app.app_context():
        get_incident(session=db.session, reference=reference).aware_at = at
        db.session.commit()


def obligations(app, reference: str) -> dict[str, dict]:
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        rows = db.session.scalars(select(Obligation).where(Obligation.incident_id == incident.id))
        found = {o.rule_id: {"id": o.id, "status": o.status, "due_at": o.due_at, "triggered_at": o.triggered_at,
                             "reason": o.reason, "filed_at": o.filed_at} for o in rows}
        db.session.remove()
        return found


def timeline_text(app, reference: str) -> str:
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        text = "\n".join(db.session.scalars(select(TimelineEntry.body).where(TimelineEntry.incident_id == incident.id)))
        db.session.remove()
        return text


def url(reference: str, tail: str = "") -> str:
    return f"/incidents/{reference}/obligations{tail}"


def test_choosing_gdpr_gives_the_72_hour_deadline_on_the_page_timeline_and_audit_log(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, personal_data=True)
    aware = (utcnow() - timedelta(hours=5)).replace(second=0, microsecond=0)
    set_aware(app, ref, aware)
    page = client.get(url(ref)).get_data(as_text=True)
    assert "Suggested (personal data is involved): GDPR (EU)" in page

    response = client.post(url(ref, "/regimes"), data={"regimes": ["gdpr"]})
    assert response.status_code == 302, response.get_data(as_text=True)
    found = obligations(app, ref)
    assert set(found) == {"gdpr-33-authority", "gdpr-34-individuals"}
    assert found["gdpr-33-authority"]["due_at"] == aware + timedelta(hours=72)
    assert found["gdpr-34-individuals"]["due_at"] is None  # without undue delay: no fixed clock

    page = client.get(url(ref)).get_data(as_text=True)
    assert (aware + timedelta(hours=72)).strftime("%Y-%m-%d %H:%M UTC") in page
    assert "(Europe/Brussels)" in page and "No fixed clock" in page
    assert "Notify the lead supervisory authority** (GDPR (EU)) added" in timeline_text(app, ref)
    with app.app_context():
        assert db.session.scalar(select(AuditEvent.id).where(AuditEvent.entity_type == "obligation").limit(1))


def test_changing_an_anchor_recomputes_the_open_deadline_and_says_what_moved(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    client.post(url(ref, "/regimes"), data={"regimes": ["sec"]})
    assert obligations(app, ref)["sec-8k-105"]["due_at"] is None  # waits for the determination
    # Monday 5 January 2026, 15:00 UTC: 4 business days → Friday 9 January, end of day in New York.
    first = datetime(2026, 1, 5, 15, 0, tzinfo=UTC)
    client.post(url(ref, "/anchors"), data={"kind": "materiality_determined", "at": first.strftime(FORM_TIME)})
    assert obligations(app, ref)["sec-8k-105"]["due_at"] == datetime(2026, 1, 10, 4, 59, 59, tzinfo=UTC)
    # Corrected to Thursday the 8th: Fri 9, Mon 12, Tue 13, Wed 14.
    response = client.post(url(ref, "/anchors"), data={"kind": "materiality_determined", "at": "2026-01-08T15:00"},
                           follow_redirects=True)
    assert obligations(app, ref)["sec-8k-105"]["due_at"] == datetime(2026, 1, 15, 4, 59, 59, tzinfo=UTC)
    assert "moved: 2026-01-10 04:59 UTC → 2026-01-15 04:59 UTC" in response.get_data(as_text=True)
    text = timeline_text(app, ref)
    assert "Determined to be material: 2026-01-05 15:00 UTC → **2026-01-08 15:00 UTC**" in text
    assert "moved: 2026-01-10 04:59 UTC → **2026-01-15 04:59 UTC**" in text


def test_bad_input_is_refused_beside_the_field(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    response = client.post(url(ref, "/regimes"), data={"regimes": ["gdpr", "mars-law"]})
    assert response.status_code == 422
    assert errors_beside(response.get_data(as_text=True), "regimes")
    future = (utcnow() + timedelta(days=2)).strftime(FORM_TIME)
    response = client.post(url(ref, "/anchors"), data={"kind": "discovered", "at": future})
    assert response.status_code == 422
    assert any("cannot be in the future" in e for e in errors_beside(response.get_data(as_text=True), "at"))
    response = client.post(url(ref, "/anchors"), data={"kind": "lunchtime", "at": "2026-01-01T00:00"})
    assert response.status_code == 422 and errors_beside(response.get_data(as_text=True), "kind")
    assert obligations(app, ref) == {}

    set_aware(app, ref, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    client.post(url(ref, "/regimes"), data={"regimes": ["uk-gdpr"]})
    ico = obligations(app, ref)["uk-gdpr-33-ico"]
    prefix = ""
    response = client.post(url(ref, f"/{ico['id']}/file"), data={prefix + "filed_at": "2026-01-05T11:00",
                                                                 prefix + "notice_version": "0"})
    assert response.status_code == 422
    assert any("before the moment it counts from" in e
               for e in errors_beside(response.get_data(as_text=True), prefix + "filed_at"))
    # Sent after the 72 hours without saying why: the reason is required.
    response = client.post(url(ref, f"/{ico['id']}/file"), data={prefix + "filed_at": "2026-01-09T12:00",
                                                                 prefix + "notice_version": "0"})
    assert response.status_code == 422
    assert any("say why it was late" in e for e in errors_beside(response.get_data(as_text=True), prefix + "reason"))
    assert obligations(app, ref)["uk-gdpr-33-ico"]["status"] is ObligationStatus.pending


def test_filing_late_with_a_reason_and_the_chained_final_report(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    client.post(url(ref, "/regimes"), data={"regimes": ["nis2"]})
    found = obligations(app, ref)
    assert found["nis2-23-final-report"]["due_at"] is None  # counts from the notification being sent
    notification = found["nis2-23-notification"]
    prefix = ""
    response = client.post(url(ref, f"/{notification['id']}/file"),
                           data={prefix + "filed_at": "2026-01-08T13:00", prefix + "reference": "CSIRT-2026-17",
                                 prefix + "notice_version": "0", prefix + "reason": "The CSIRT portal was down."})
    assert response.status_code == 302, response.get_data(as_text=True)
    found = obligations(app, ref)
    assert found["nis2-23-notification"]["status"] is ObligationStatus.late  # due 8 January 12:00
    # One month after it was sent: 8 February 2026, end of day in Brussels (23:59:59 CET).
    assert found["nis2-23-final-report"]["due_at"] == datetime(2026, 2, 8, 22, 59, 59, tzinfo=UTC)
    text = timeline_text(app, ref)
    assert "reference CSIRT-2026-17 (late: due 2026-01-08 12:00 UTC)" in text and "The CSIRT portal was down." in text


def test_a_threshold_crossed_as_the_affected_count_grows_adds_the_obligation(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    client.post(url(ref, "/regimes"), data={"regimes": ["hipaa"]})
    client.post(url(ref, "/anchors"), data={"kind": "discovered", "at": "2026-01-05T12:00"})
    make.impact(ref, by=email, affected=300)
    client.post(url(ref, "/recompute"))
    assert set(obligations(app, ref)) == {"hipaa-individuals", "hipaa-hhs-log"}

    make.impact(ref, by=email, affected=620)
    with app.app_context():
        from incidents.impact.models import ImpactUpdate

        crossed_at = db.session.scalar(select(ImpactUpdate.as_of).where(ImpactUpdate.customers_affected == 620))
        db.session.remove()
    client.post(url(ref, "/recompute"))
    found = obligations(app, ref)
    assert found["hipaa-media"]["triggered_at"] == crossed_at
    assert found["hipaa-hhs-500"]["status"] is ObligationStatus.pending
    assert found["hipaa-hhs-log"]["status"] is ObligationStatus.not_required
    page = client.get(url(ref)).get_data(as_text=True)
    assert f"Applies since {crossed_at:%Y-%m-%d %H:%M} UTC (threshold: more than 500 residents of the state)" in page


def test_not_required_with_a_gdpr_exemption(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr"]})
    art34 = obligations(app, ref)["gdpr-34-individuals"]
    prefix = ""
    response = client.post(url(ref, f"/{art34['id']}/not-required"),
                           data={prefix + "exemption": "", prefix + "explanation": ""})
    assert response.status_code == 422
    assert errors_beside(response.get_data(as_text=True), prefix + "explanation")
    exemption = "Data was protected (e.g. encrypted) so it is unintelligible to anyone not authorised (Art. 34(3)(a))"
    response = client.post(url(ref, f"/{art34['id']}/not-required"), data={prefix + "exemption": exemption})
    assert response.status_code == 302
    found = obligations(app, ref)["gdpr-34-individuals"]
    assert (found["status"], found["reason"]) == (ObligationStatus.not_required, exemption)


def test_deadlines_view_lists_pending_obligations_soonest_first_and_flags_overdue(app, client, auth, make):
    email = auth.as_role("responder")
    late_ref = make.incident(by=email, title="Old contacts loss")
    soon_ref = make.incident(by=email, title="Fresh photos loss")
    set_aware(app, late_ref, utcnow() - timedelta(days=5))
    set_aware(app, soon_ref, utcnow() - timedelta(hours=66))
    for ref in (late_ref, soon_ref):
        client.post(url(ref, "/regimes"), data={"regimes": ["uk-gdpr"]})
    auth.logout()
    auth.as_role("viewer")
    page = client.get("/deadlines").get_data(as_text=True)
    assert page.index("Old contacts loss") < page.index("Fresh photos loss")
    assert "⚠ overdue by 2 d" in page
    assert "5 h " in page and "flag-warning" in page  # under 12 hours left: flagged
    # Viewers read but do not change.
    assert client.post(url(soon_ref, "/regimes"), data={"regimes": ["gdpr"]}).status_code == 403


def test_new_impact_figures_that_cross_a_threshold_add_the_obligation_without_a_recheck(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    client.post(url(ref, "/regimes"), data={"regimes": ["hipaa"]})
    client.post(url(ref, "/anchors"), data={"kind": "discovered", "at": "2026-01-05T12:00"})
    make.impact(ref, by=email, affected=300)
    assert "hipaa-media" not in obligations(app, ref)

    form = read_form(client.get(f"/incidents/{ref}/impact").get_data(as_text=True))
    for name, value in {"customers_affected": "620", "customers_restored": "0", "customers_lost": "0",
                        "customers_notified": "0"}.items():
        form[name] = value
    response = client.post(f"/incidents/{ref}/impact", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    found = obligations(app, ref)
    assert found["hipaa-media"]["status"] is ObligationStatus.pending
    assert found["hipaa-media"]["triggered_at"] is not None
    assert found["hipaa-hhs-500"]["status"] is ObligationStatus.pending
    assert "Notification obligations recomputed" in timeline_text(app, ref)


def test_editing_the_moment_of_awareness_moves_the_deadline(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, datetime(2026, 1, 5, 12, 0, tzinfo=UTC))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr"]})
    form = read_form(client.get(f"/incidents/{ref}/edit").get_data(as_text=True))
    form["aware_at"] = "2026-01-06T09:30"
    response = client.post(f"/incidents/{ref}/edit", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    assert obligations(app, ref)["gdpr-33-authority"]["due_at"] == datetime(2026, 1, 9, 9, 30, tzinfo=UTC)
    assert "moved: 2026-01-08 12:00 UTC → **2026-01-09 09:30 UTC**" in timeline_text(app, ref)


def test_the_incident_page_counts_down_to_the_next_deadlines(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, personal_data=True)
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Personal data is involved and no notification regime is chosen yet." in page

    set_aware(app, ref, utcnow() - timedelta(hours=80))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr", "uk-gdpr"]})
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    card = page[page.index('id="deadlines"'):]
    card = card[:card.index("</section>")]
    assert "⚠ 2 overdue" in card  # both 72-hour clocks ran out 8 hours ago
    assert card.count("overdue by 8 h") == 2
    assert "Notify the lead supervisory authority" in card
    assert "no regime is chosen" not in page

    other = make.incident(by=email)  # no personal data, no regimes: no card at all
    assert 'id="deadlines"' not in client.get(f"/incidents/{other}").get_data(as_text=True)


def approved_notice(app, make, ref: str, author: str, audience: str = "customers") -> int:
    """A notice whose version 1 the incident's comms lead (a second person) approved."""
    from incidents.auth.models import User
    from incidents.notices import service as notices
    from incidents.notices.models import Notice

    approver = make.user(role="responder", name="Second Person")
    with app.app_context():
        get_incident(session=db.session, reference=ref).comms_lead_id = make.user_id(approver)
        db.session.commit()
    notice_id = make.notice(ref, by=author, audience=audience)
    with app.app_context():
        notices.approve(session=db.session, actor=db.session.scalar(select(User).where(User.email == approver)),
                        incident=get_incident(session=db.session, reference=ref),
                        notice=db.session.get(Notice, notice_id), number=1)
        db.session.commit()
    return notice_id


def test_releasing_a_customer_notice_files_the_ticked_obligations_with_that_version(app, client, auth, make):
    from incidents.notices.models import NoticeRelease

    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, (utcnow() - timedelta(hours=2)).replace(second=0, microsecond=0))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr", "us-ca"]})
    notice_id = approved_notice(app, make, ref, email)
    found = obligations(app, ref)
    page = client.get(f"/incidents/{ref}/notices/{notice_id}").get_data(as_text=True)
    # A customer notice can meet the obligations to tell people, not the authority's.
    offered = set(re.findall(r'name="file_obligations" type="checkbox" value="(\d+)"', page))
    assert offered == {str(found["gdpr-34-individuals"]["id"]), str(found["us-ca-residents"]["id"])}
    client.post(url(ref, "/anchors"), data={"kind": "discovered", "at": (utcnow() - timedelta(hours=1))
                                            .strftime(FORM_TIME)})
    found = obligations(app, ref)
    wanted = [found["gdpr-34-individuals"]["id"], found["us-ca-residents"]["id"]]

    response = client.post(f"/incidents/{ref}/notices/{notice_id}/release",
                           data={"version": "1", "channel": "email", "file_obligations": wanted, "reason": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    found = obligations(app, ref)
    with app.app_context():
        release = db.session.scalar(select(NoticeRelease))
        versions = {o.notice_version_id
                    for o in db.session.scalars(select(Obligation).where(Obligation.id.in_(wanted)))}
        db.session.remove()
    assert found["gdpr-34-individuals"]["status"] is ObligationStatus.filed
    assert found["us-ca-residents"]["status"] is ObligationStatus.filed
    assert found["us-ca-residents"]["filed_at"] == release.released_at and versions == {release.version_id}
    assert found["gdpr-33-authority"]["status"] is ObligationStatus.pending
    assert "Obligation **Notify California residents** filed" in timeline_text(app, ref)


def test_a_late_obligation_ticked_at_release_needs_the_reason_and_nothing_is_released_without_it(
        app, client, auth, make):
    from incidents.notices.models import NoticeRelease

    email = auth.as_role("responder")
    ref = make.incident(by=email)
    client.post(url(ref, "/regimes"), data={"regimes": ["us-ca"]})
    client.post(url(ref, "/anchors"), data={"kind": "discovered", "at": (utcnow() - timedelta(days=40))
                                            .strftime(FORM_TIME)})
    notice_id = approved_notice(app, make, ref, email)
    late = obligations(app, ref)["us-ca-residents"]["id"]
    release = f"/incidents/{ref}/notices/{notice_id}/release"
    response = client.post(release, data={"version": "1", "channel": "email", "file_obligations": [late]})
    assert response.status_code == 422
    assert "say why it was late" in " ".join(errors_beside(response.get_data(as_text=True), "reason"))
    with app.app_context():
        assert db.session.scalar(select(NoticeRelease.id)) is None  # the release was not recorded either
        db.session.remove()
    assert obligations(app, ref)["us-ca-residents"]["status"] is ObligationStatus.pending

    response = client.post(release, data={"version": "1", "channel": "email", "file_obligations": [late],
                                          "reason": "The address list came from the acquired company late."})
    assert response.status_code == 302
    found = obligations(app, ref)["us-ca-residents"]
    assert (found["status"], found["reason"]) == (ObligationStatus.late,
                                                  "The address list came from the acquired company late.")


def test_a_notice_lists_what_the_law_asks_it_to_carry_and_what_is_still_missing(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, (utcnow() - timedelta(hours=2)).replace(second=0, microsecond=0))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr"]})
    customers = make.notice(ref, by=email)
    regulator = make.notice(ref, by=email, audience="regulator")
    page = client.get(f"/incidents/{ref}/notices/{customers}").get_data(as_text=True)
    # Art. 34's four items for the people affected; Art. 33's (for the authority) are not asked here.
    assert "Likely consequences of the breach" in page and "4 of 4 not yet ticked as covered</strong>" in page
    assert "⚠ 4 items the law asks for are not ticked as covered" in page
    assert "approximate number of data subjects" not in page
    boxes = dict(re.findall(r'name="covered" type="checkbox" value="([^"]+)"> <label for="[^"]+">([^<(]+)', page))
    assert len(boxes) == 4

    ticked = [key for key, text in boxes.items() if not text.startswith("Likely consequences")]
    response = client.post(f"/incidents/{ref}/notices/{customers}/checklist", data={"covered": ticked})
    assert response.status_code == 302
    page = client.get(f"/incidents/{ref}/notices/{customers}").get_data(as_text=True)
    assert "1 of 4 not yet ticked as covered</strong>" in page and "⚠ 1 item the law asks for is not ticked" in page

    # A key the page did not offer is refused beside the boxes, and nothing changes.
    response = client.post(f"/incidents/{ref}/notices/{customers}/checklist", data={"covered": ["gdpr-33:bogus"]})
    assert response.status_code == 422 and errors_beside(response.get_data(as_text=True), "covered")

    page = client.get(f"/incidents/{ref}/notices/{regulator}").get_data(as_text=True)
    assert "Nature of the breach, categories and approximate number of data subjects and records" in page
    assert "Nature of the breach in clear and plain language" not in page


def test_an_admin_adds_a_contract_rule_and_incidents_that_chose_contracts_get_its_deadline(app, client, auth, make):
    responder = make.user(role="responder")
    ref = make.incident(by=responder)
    aware = (utcnow() - timedelta(hours=2)).replace(second=0, microsecond=0)
    set_aware(app, ref, aware)
    rule = {"title": "Tell enterprise customers' security contacts", "recipient": "customers", "anchor": "aware",
            "offset_kind": "hours", "offset_amount": "24", "content": "What happened\nWhich of their data",
            "note": "Enterprise plan, clause 9.2"}
    auth.as_role("admin")
    # An amount the kind needs, and none where it has no clock: refused beside the amount.
    response = client.post("/admin/obligation-rules", data={**rule, "offset_amount": ""})
    assert response.status_code == 422
    assert "needs an amount" in " ".join(errors_beside(response.get_data(as_text=True), "offset_amount"))
    response = client.post("/admin/obligation-rules", data={**rule, "offset_kind": "without_undue_delay"})
    assert "has no amount" in " ".join(errors_beside(response.get_data(as_text=True), "offset_amount"))
    assert client.post("/admin/obligation-rules", data=rule).status_code == 302
    from incidents.obligations.models import ContractRule

    with app.app_context():
        rule_id = db.session.scalar(select(ContractRule.id))
        db.session.remove()

    auth.login(responder)
    page = client.get(url(ref)).get_data(as_text=True)
    assert "Customer contracts" in page
    assert client.post(url(ref, "/regimes"), data={"regimes": ["contracts"]}).status_code == 302
    found = obligations(app, ref)[f"contract-{rule_id}"]
    assert found["due_at"] == aware + timedelta(hours=24)
    page = client.get(url(ref)).get_data(as_text=True)
    assert "Tell enterprise customers&#39; security contacts" in page and "contracts.invalid" not in page

    auth.as_role("admin")
    version = read_form(client.get(f"/admin/obligation-rules/{rule_id}").get_data(as_text=True),
                        f"/admin/obligation-rules/{rule_id}")["version"]
    response = client.post(f"/admin/obligation-rules/{rule_id}",
                           data={**rule, "offset_amount": "12", "version": version})
    assert response.status_code == 302
    assert obligations(app, ref)[f"contract-{rule_id}"]["due_at"] == aware + timedelta(hours=12)
    # A second save from the page as it was is a conflict, not a silent overwrite.
    response = client.post(f"/admin/obligation-rules/{rule_id}", data={**rule, "version": version})
    assert response.status_code == 409
    assert obligations(app, ref)[f"contract-{rule_id}"]["due_at"] == aware + timedelta(hours=12)

    assert client.post(f"/admin/obligation-rules/{rule_id}/retire").status_code == 302
    other = make.incident(by=responder)
    auth.login(responder)
    client.post(url(other, "/regimes"), data={"regimes": ["contracts"]})
    assert f"contract-{rule_id}" not in obligations(app, other)  # retired: no new obligations
    assert f"contract-{rule_id}" in obligations(app, ref)  # the one already made stays


def test_a_filing_keeps_its_proof_of_sending_as_a_download(app, client, auth, make):
    import io

    email = auth.as_role("responder")
    ref = make.incident(by=email)
    set_aware(app, ref, (utcnow() - timedelta(hours=5)).replace(second=0, microsecond=0))
    client.post(url(ref, "/regimes"), data={"regimes": ["gdpr"]})
    authority = obligations(app, ref)["gdpr-33-authority"]["id"]
    download = url(ref, f"/{authority}/attachment")
    assert client.get(download).status_code == 404  # nothing kept yet
    receipt = b"%PDF-1.7 receipt of notification DPA-2026-77"
    response = client.post(url(ref, f"/{authority}/file"), data={
        "filed_at": (utcnow() - timedelta(hours=1)).strftime(FORM_TIME), "reference": "DPA-2026-77",
        "notice_version": "0", "attachment": (io.BytesIO(receipt), "../DPA receipt.pdf")},
        content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get(url(ref, f"/{authority}")).get_data(as_text=True)
    assert "DPA_receipt.pdf" in page and f"({len(receipt)} bytes)" in page

    auth.logout()
    auth.as_role("viewer")
    response = client.get(download)
    assert response.status_code == 200 and response.data == receipt
    assert response.mimetype == "application/octet-stream"
    assert response.headers["Content-Disposition"] == "attachment; filename=DPA_receipt.pdf"


def test_deadlines_page_fifty_at_a_time_dated_first_then_those_without_a_clock(app, client, auth, make, monkeypatch):
    """Keyset pages (shrunk to 3 rows here) walk every pending obligation once, in the order of the
    whole list: dated soonest first, then the ones with no fixed time."""
    from incidents.obligations import service, views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    email = auth.as_role("responder")
    for n in range(3):
        ref = make.incident(by=email, title=f"Loss number {n}")
        set_aware(app, ref, utcnow() - timedelta(hours=10 * n))
        client.post(url(ref, "/regimes"), data={"regimes": ["gdpr", "hipaa"]})
    with app.app_context():
        whole = [o.id for o in service.open_deadlines(session=db.session, limit=1000)]
        undated = {o.id for o in service.open_deadlines(session=db.session, limit=1000) if o.due_at is None}
    assert len(whole) > 6 and undated, "the walk should cross from dated to undated obligations"
    seen, page_url = [], "/deadlines"
    for _ in range(len(whole)):
        page = client.get(page_url).get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'<tr(?: class="overdue")? data-obligation="(\d+)"', page)]
        later = re.search(r'href="(/deadlines\?after=[^"]+)"', page)
        if not later:
            break
        page_url = later.group(1).replace("&amp;", "&")
    assert seen == whole
    # A cursor nobody made is the first page.
    for junk in ("undated~x", "undated~0", "x~1", "2026-13-01T00:00:00+00:00~1"):
        response = client.get("/deadlines", query_string={"after": junk})
        assert response.status_code == 200 and "← Soonest" not in response.get_data(as_text=True)
