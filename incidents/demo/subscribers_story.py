"""The demo's status-page subscribers: a few customers by e-mail (everything, or the components they
care about), one still to confirm, a chat tool's webhook, and one webhook quarantined after failing.

The demo replays 2009 and today's incident through the real services, which announce each public
update to subscribers; none of those replays is sent: their fan-out jobs are cancelled here before
the demo commits, so `make run`'s worker mails nobody about October 2009.
"""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from incidents.db import utcnow
from incidents.jobs import BackgroundJob, JobState, cancel
from incidents.status.service import list_components
from incidents.subscribers import service as subscribers
from incidents.subscribers.models import QUARANTINE_AFTER

EMAIL_SUBSCRIBERS = [  # address, the groups of the components chosen (None: all of them)
    ("ana.lima@example.net", None),
    ("family.photos@example.org", {"Photos"}),
    ("it-desk@example.com", {"Sync"}),
]


def play(*, session: Session) -> None:
    _cancel_replayed_announcements(session)
    components = list_components(session=session)
    for address, groups in EMAIL_SUBSCRIBERS:
        chosen = None if groups is None else [c.id for c in components if c.group_name in groups]
        subscriber = subscribers.subscribe_email(session=session, email=address, component_ids=chosen)
        subscribers.confirm(session=session, subscriber=subscriber)
    subscribers.subscribe_email(session=session, email="not.yet.confirmed@example.net", component_ids=None)
    hook = subscribers.subscribe_webhook(session=session, url="https://hooks.example.com/skylark-status",
                                         email="ops@example.com", component_ids=None)
    subscribers.confirm(session=session, subscriber=hook)
    failing = subscribers.subscribe_webhook(session=session, url="https://chat.example.org/hooks/status-page",
                                            email="chat-admin@example.org", component_ids=None)
    subscribers.confirm(session=session, subscriber=failing)
    failing.failures, failing.last_failure_at = QUARANTINE_AFTER, utcnow() - timedelta(days=2)
    failing.quarantined_at = failing.last_failure_at
    session.flush()


def _cancel_replayed_announcements(session: Session) -> None:
    for job in session.scalars(select(BackgroundJob).where(BackgroundJob.kind == "subscribers.fan_out",
                                                           BackgroundJob.state == JobState.queued)):
        cancel(session=session, job=job)
