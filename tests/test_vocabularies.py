"""The words and colours people see for each status: one label rule, one tone table, one status order."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from incidents.actions.enums import ActionKind, ActionStatus
from incidents.incident.enums import Severity, Status
from incidents.notices.models import Audience, Channel
from incidents.postmortem.enums import PostmortemStatus
from incidents.recovery.enums import WorkstreamStatus
from incidents.status.public import PublicComponent, PublicPage, PublicView
from incidents.templating import tone
from incidents.timeline.models import EntryKind


@pytest.mark.parametrize(("member", "label"), [
    (Status.investigating, "Investigating"),
    (WorkstreamStatus.in_progress, "In progress"),
    (EntryKind.status_change, "Status change"),
    (ActionStatus.wont_do, "Won't do"),  # the class's own wording wins over the derived one
    (Severity.SEV1, "SEV1 · critical"),
    (Audience.customers, "Customers"),
    (Audience.regulator, "Regulator / partner"),
    (Channel.in_app, "In-app message"),
    (Channel.letter, "Letter"),
])
def test_labels_read_as_people_expect(member, label):
    assert member.label == label


def test_own_wording_is_not_a_member():
    # A vocabulary with its own labels must not grow a "__labels__" choice in forms and CHECKs.
    assert [s.value for s in ActionStatus] == ["open", "in_progress", "done", "wont_do"]
    assert len(ActionKind) == 4 and len(Channel) == 5


@pytest.mark.parametrize("vocabulary", [Status, WorkstreamStatus, ActionStatus, PostmortemStatus])
def test_every_status_has_a_tone(vocabulary):
    tones = {member: tone(member) for member in vocabulary}
    assert all(t.startswith("tone-") for t in tones.values())
    # Only the start and the end of a lifecycle may look quiet; live states stand out.
    assert tone(Status.investigating) == "tone-bad" and tone(WorkstreamStatus.blocked) == "tone-bad"
    assert tone(ActionStatus.done) == tone(PostmortemStatus.published) == "tone-ok"


def _view(*statuses: str) -> PublicView:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    components = tuple(PublicComponent(
        id=f"c{i}", name=f"C{i}", description=None, status=status, position=i, group_id=None,
        group_name=None, showcase=True, only_show_if_degraded=False, created_at=at, updated_at=at,
        start_date=None) for i, status in enumerate(statuses))
    page = PublicPage(id="p", name="Status", url="http://x/status", time_zone="Etc/UTC", updated_at=at)
    return PublicView(page=page, components=components, incidents=())


@pytest.mark.parametrize(("statuses", "description"), [
    ((), "All Systems Operational"),
    (("operational", "under_maintenance"), "All Systems Operational"),  # planned work is no outage
    (("operational", "degraded_performance"), "Minor Service Outage"),
    (("partial_outage", "degraded_performance"), "Partial System Outage"),
    (("major_outage", "under_maintenance", "partial_outage"), "Major System Outage"),
])
def test_the_page_headline_follows_the_worst_component(statuses, description):
    assert _view(*statuses).description == description
