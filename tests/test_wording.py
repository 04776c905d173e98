"""What the app says reads as English: labels, plurals and articles where they are produced."""
from __future__ import annotations

import logging
import re
from html import unescape

from tests.helpers import text_of


def _options(html: str, name: str) -> list[str]:
    match = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert match, f"no select {name}"
    return [unescape(label).strip() for label in re.findall(r"<option[^>]*>(.*?)</option>", match.group(1), re.S)]


def test_owner_drop_downs_name_each_role_once(app, runner, client):
    result = runner.invoke(args=["demo", "load"])
    assert result.exit_code == 0, result.output
    email, password = re.search(r"Demo login: (\S+@\S+) / (\S+)", result.output).groups()
    assert client.post("/login", data={"email": email, "password": password}).status_code == 302
    reference = re.search(r'href="/incidents/(INC-[^"/]+)"', client.get("/").get_data(as_text=True)).group(1)
    page = client.get(f"/incidents/{reference}/edit").get_data(as_text=True)
    people = _options(page, "commander")[1:]
    assert people, "the demo has people to choose"
    for label in people:
        assert re.fullmatch(r"[^()]+ \((viewer|responder|admin)\)", label), label
    assert "Alex Demo (admin)" in people


def test_the_timeline_heading_counts_in_english(client, auth, make):
    responder = auth.as_role("responder")
    reference = make.incident(by=responder)

    def heading() -> str:
        page = client.get(f"/incidents/{reference}").get_data(as_text=True)
        return re.search(r"Timeline \(([^)]*)\)", text_of(page)).group(1)

    assert heading() == "1 entry, newest first"
    make.entry(reference, by=responder)
    assert heading() == "2 entries, newest first"


def test_the_public_update_log_line_uses_the_right_article(client, auth, make, caplog):
    auth.as_role("responder")
    reference = make.incident()
    assert client.post(f"/incidents/{reference}/publish", data={
        "public_title": "Contacts not syncing", "impact": "major", "public_status": "investigating",
        "public_body": "We are looking."}).status_code == 302
    with caplog.at_level(logging.INFO, logger="incidents.status.service"):
        for status in ("identified", "monitoring"):
            assert client.post(f"/incidents/{reference}/publish/update", data={
                "public_status": status, "public_body": f"Now {status}."}).status_code == 302
    lines = [r.getMessage() for r in caplog.records if "update on" in r.getMessage()]
    assert [line.split(" posted ")[1].split(" update")[0] for line in lines] == ["an identified", "a monitoring"]


def test_the_notice_draft_says_on_a_day_at_a_time_and_quotes_the_latest_public_update(app, client, auth, make):
    from datetime import UTC, datetime

    from incidents.extensions import db
    from incidents.incident.service import get_incident
    from incidents.notices.models import Audience
    from incidents.notices.service import draft_for

    auth.as_role("responder")
    reference = make.incident(declared_at=datetime(2009, 10, 3, 6, 15, tzinfo=UTC))
    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        incident.loss_began_at = datetime(2009, 10, 2, 3, 10, tzinfo=UTC)
        incident.detected_at = datetime(2009, 10, 2, 4, 40, tzinfo=UTC)
        db.session.commit()
    assert client.post(f"/incidents/{reference}/publish", data={
        "public_title": "Contacts missing", "impact": "major", "public_status": "investigating",
        "public_body": "We are investigating reports of missing contacts."}).status_code == 302
    assert client.post(f"/incidents/{reference}/publish/update", data={
        "public_status": "identified", "public_body": "We found the cause and are restoring contacts."}
    ).status_code == 302

    with app.app_context():
        incident = get_incident(session=db.session, reference=reference)
        customers = draft_for(session=db.session, incident=incident, audience=Audience.customers)[1]
        regulator = draft_for(session=db.session, incident=incident, audience=Audience.regulator)[1]
    happened = customers.split("## What happened\n\n")[1].split("\n## ")[0]
    assert happened.startswith("On 2 October 2009, a fault in our systems caused some customers' data to "
                               "disappear from our service. The problem began at 03:10 UTC and we detected "
                               "it at 04:40 UTC.")
    assert "We found the cause and are restoring contacts." in happened
    assert "investigating reports" not in customers
    nature = regulator.split("## Nature of the incident\n\n")[1].split("\n## ")[0]
    assert nature.strip() == "We found the cause and are restoring contacts."
