"""The incident page's first card: the latest update inside and in public, and what needs attention,
above the quick-post box."""
from __future__ import annotations

from sqlalchemy import select

from incidents.auth.models import User
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.recovery.enums import WorkstreamStatus
from incidents.status import service as status


def card(page: str) -> str:
    start = page.index('id="now"')
    return page[start:page.index("</section>", start)]


def test_the_first_card_tells_the_latest_update_the_public_status_and_what_needs_attention(
        app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email)
    first = card(client.get(f"/incidents/{ref}").get_data(as_text=True))
    assert "Not on the status page." in first and "Needs attention" not in first

    make.entry(ref, by=email, body="Older note")
    make.entry(ref, by=email, body="Restore of **shard 7** started")
    make.workstream(ref, by=email, name="Replay journals", status=WorkstreamStatus.blocked)
    with app.app_context():
        status.publish_incident(session=db.session, actor=db.session.scalar(select(User).where(User.email == email)),
                                incident=get_incident(session=db.session, reference=ref),
                                public_title="Photos missing", impact="minor", body="We are looking into it.")
        db.session.commit()
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    now = card(page)
    # The newest entry is the publication itself; it quotes what the public was told.
    assert "We are looking into it." in now and "Older note" not in now
    assert "Investigating" in now
    assert "Blocked: Replay journals" in now
    # The card comes before the quick-post box, which comes before the timeline.
    assert page.index('id="now"') < page.index("What&#39;s happening?") < page.index('id="timeline"')
