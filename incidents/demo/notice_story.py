"""The demo's notices: once Skylark Sync's data is back, the communications lead drafts the
customer notice from the public facts, revises it, the incident commander approves it and it goes
out by e-mail and on the website; a notice to the data-protection regulator is still a draft.

Everything goes through the real services at the moment it happened (`clock_at`).
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.auth.models import User
from incidents.db import clock_at
from incidents.incident.models import Incident
from incidents.notices import service as notices
from incidents.notices.models import Audience, Channel

APOLOGY = ("We are sorry. Your address book, calendar and photos are things you rely on every day, and we "
           "let you down. As a thank-you for your patience, every affected account gets **three months of "
           "Skylark Sync Plus free**; it is already switched on.")


def utc(month, day, hour=0, minute=0) -> datetime:
    return datetime(2009, month, day, hour, minute, tzinfo=UTC)


def _user(session: Session, email: str) -> User:
    return session.scalar(select(User).where(User.email == email))


def play(*, session: Session, incident: Incident) -> None:
    """Add the demo notices to the demo incident (the caller commits)."""
    priya, morgan = _user(session, "priya.nair@example.com"), _user(session, "morgan.reyes@example.com")
    with clock_at(utc(10, 22, 13, 0)):
        subject, body = notices.draft_for(session=session, incident=incident, audience=Audience.customers)
        notice = notices.create_notice(session=session, actor=priya, incident=incident,
                                       audience=Audience.customers, subject=subject, body=body)
    with clock_at(utc(10, 22, 13, 40)):
        revised = body.replace("We are sorry for the trouble this has caused.", APOLOGY)
        notices.save_version(session=session, actor=priya, incident=incident, notice=notice, based_on=1,
                             subject="Your Skylark Sync data: what happened and what we are doing",
                             body=revised)
    with clock_at(utc(10, 22, 14, 0)):
        notices.approve(session=session, actor=morgan, incident=incident, notice=notice, number=2)
    with clock_at(utc(10, 22, 15, 0)):
        notices.release(session=session, actor=priya, incident=incident, notice=notice, number=2,
                        channel=Channel.email)
    with clock_at(utc(10, 22, 15, 5)):
        notices.release(session=session, actor=priya, incident=incident, notice=notice, number=2,
                        channel=Channel.website)
    with clock_at(utc(10, 22, 16, 30)):
        subject, body = notices.draft_for(session=session, incident=incident, audience=Audience.regulator)
        notices.create_notice(session=session, actor=priya, incident=incident, audience=Audience.regulator,
                              subject=subject, body=body)
