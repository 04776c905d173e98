"""The demo's notification obligations: which laws' clocks ran for the Skylark Sync loss, and which
were met. The timings follow the 2009 story: aware on 3 October, the data-protection authority told
on 9 October (after its 72 hours, with the reasons), customers told by the released notice on
22 October, the state attorneys general after that (Washington's copy late).

Through the real services at the moment each thing happened (`clock_at`), after the notice story.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import clock_at
from incidents.incident.models import Incident
from incidents.notices import service as notices
from incidents.notices.models import Audience, Notice, NoticeVersion
from incidents.obligations import service as obligations
from incidents.obligations.models import Obligation
from incidents.obligations.rules import rule_book

# Subscribers in the two US states with the most affected accounts (the thresholds need residents).
RESIDENTS = {"us-ca": 118_400, "us-wa": 21_700}

LATE_AUTHORITY = ("We first expected to rebuild the data from the damaged volumes. We notified once the "
                  "vendor's rebuild failed on 8 October and it was clear that subscribers' personal data "
                  "was lost; a preliminary notice on 5 October should have gone out regardless.")
LATE_WASHINGTON = ("The sample notice went to the California Attorney General first; Washington's copy was "
                   "sent two days after its deadline when the legal team checked the list of states.")


def utc(month, day, hour=0, minute=0) -> datetime:
    return datetime(2009, month, day, hour, minute, tzinfo=UTC)


def _user(session: Session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def play(*, session: Session, incident: Incident) -> None:
    """Add the demo incident's obligations and their filings (the caller commits)."""
    rules, morgan = rule_book(), _user(session, "morgan.reyes@example.com")
    priya = _user(session, "priya.nair@example.com")
    with clock_at(utc(10, 3, 10, 0)):
        obligations.choose_regimes(session=session, actor=morgan, incident=incident, rules=rules,
                                   regimes=["gdpr", "us-ca", "us-wa"], residents=RESIDENTS)
        obligations.set_anchor(session=session, actor=morgan, incident=incident, rules=rules,
                               kind="discovered", at=utc(10, 2, 11, 0))
    customer_notice = session.scalar(
        select(NoticeVersion.id).join(Notice, NoticeVersion.notice_id == Notice.id)
        .where(Notice.incident_id == incident.id, Notice.audience == Audience.customers, NoticeVersion.number == 2))
    filings = [
        ("gdpr-33-authority", morgan, utc(10, 9, 16, 0), "DPA-2009-0412", None, LATE_AUTHORITY),
        ("gdpr-34-individuals", priya, utc(10, 22, 15, 0), "", customer_notice, ""),
        ("us-ca-residents", priya, utc(10, 22, 15, 0), "", customer_notice, ""),
        ("us-wa-residents", priya, utc(10, 22, 15, 0), "", customer_notice, ""),
        ("us-ca-attorney-general", morgan, utc(11, 4, 17, 0), "CA-AG-SBN-2009-311", None, ""),
        ("us-wa-attorney-general", morgan, utc(11, 3, 18, 0), "WA-AG-2009-0877", None, LATE_WASHINGTON),
    ]
    _tick_checklist(session, incident, rules, priya)
    for rule_id, who, when, reference, version, reason in filings:
        obligation = session.scalar(select(Obligation).where(Obligation.incident_id == incident.id,
                                                             Obligation.rule_id == rule_id))
        with clock_at(when):
            obligations.file_obligation(session=session, actor=who, incident=incident, rules=rules,
                                        obligation=obligation,
                                        filing=obligations.Filing(filed_at=when, reference=reference,
                                                                  notice_version_id=version, reason=reason))


def _tick_checklist(session: Session, incident: Incident, rules, priya: User) -> None:
    """The customer notice covers what the law asks, but for the consumer reporting agencies'
    numbers Washington wants: the page shows that one as missing."""
    notice = session.scalar(select(Notice).where(Notice.incident_id == incident.id,
                                                 Notice.audience == Audience.customers))
    groups = obligations.notice_checklist(session=session, incident=incident, rules=rules,
                                          audience=Audience.customers.value)
    covered = [key for group in groups for key, text in group.items if "consumer reporting" not in text]
    with clock_at(utc(10, 22, 13, 50)):
        notices.set_covered_items(session=session, actor=priya, incident=incident, notice=notice, covered=covered)
