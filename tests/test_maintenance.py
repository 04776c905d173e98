"""Scheduled maintenance (issue #16): responders announce a window, it starts and completes by itself
at its times (worked out when read: no request or worker has to come at that moment), its components
show their planned status while it is under way, and every public output carries it in Statuspage's
shape."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import feedparser
import pytest

from incidents.auth.models import User
from incidents.db import clock_at
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.maintenance import lifecycle
from incidents.maintenance import service as maintenance
from incidents.maintenance.models import Maintenance
from incidents.status import service as status
from incidents.status.models import Component
from tests.helpers import uptime_bars
from tests.test_status_api import validate

API = "/status/api/v2/"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FORM_TIME = "%Y-%m-%dT%H:%M"


# --- the lifecycle, on its own --------------------------------------------------------------------

def plan(**changes) -> lifecycle.Plan:
    values = {"public_id": "abc123", "scheduled_for": T0, "scheduled_until": T0 + timedelta(hours=2),
              "auto_start": True, "auto_complete": True}
    return lifecycle.Plan(**{**values, **changes})


def statuses(found) -> list[tuple[str, int, bool]]:
    return [(s.status, int((s.at - T0).total_seconds() // 60), s.automatic) for s in found]


def test_a_window_starts_and_completes_by_itself_at_its_times():
    announced = [lifecycle.Step("scheduled", T0 - timedelta(days=1), object())]
    assert statuses(lifecycle.steps(plan(), announced, T0 - timedelta(minutes=1))) == [("scheduled", -1440, False)]
    during = lifecycle.steps(plan(), announced, T0 + timedelta(minutes=5))
    assert statuses(during)[-1] == ("in_progress", 0, True) and lifecycle.status(during) == "in_progress"
    after = lifecycle.steps(plan(), announced, T0 + timedelta(hours=3))
    assert statuses(after)[1:] == [("in_progress", 0, True), ("completed", 120, True)]
    assert lifecycle.started_at(after) == T0 and lifecycle.completed_at(after) == T0 + timedelta(hours=2)


def test_what_people_post_comes_first_and_automatic_steps_never_repeat_it():
    early_start = [lifecycle.Step("in_progress", T0 - timedelta(minutes=10), object())]
    found = lifecycle.steps(plan(), early_start, T0 + timedelta(hours=3))
    assert statuses(found) == [("in_progress", -10, False), ("completed", 120, True)]
    done_early = [*early_start, lifecycle.Step("completed", T0 + timedelta(hours=1), object())]
    assert statuses(lifecycle.steps(plan(), done_early, T0 + timedelta(hours=3))) == [
        ("in_progress", -10, False), ("completed", 60, False)]
    # Without the automatic steps, a window waits for people.
    manual = plan(auto_start=False, auto_complete=False)
    assert lifecycle.status(lifecycle.steps(manual, [], T0 + timedelta(hours=5))) == "scheduled"


def test_automatic_steps_keep_one_id_whenever_they_are_read():
    ids = {lifecycle.auto_update_id("abc123", "in_progress") for _ in range(3)}
    assert len(ids) == 1 and re.fullmatch(r"[0-9a-f]{12}", ids.pop())
    assert lifecycle.auto_update_id("abc123", "in_progress") != lifecycle.auto_update_id("abc124", "in_progress")


# --- through the app ------------------------------------------------------------------------------

def actor(email: str) -> User:
    return db.session.scalar(db.select(User).where(User.email == email))


def component(app, name: str, when: datetime = T0 - timedelta(days=3)) -> int:
    with app.app_context(), clock_at(when):
        made = status.create_component(session=db.session, name=name)
        db.session.commit()
        return made.id


def schedule(app, email: str, *, title: str = "Photo storage upgrade", start: datetime, hours: float = 2,
             components: dict[str, str] | None = None, at: datetime | None = None, **flags) -> int:
    with app.app_context(), clock_at(at or start - timedelta(days=1)):
        chosen = {db.session.scalar(db.select(Component).where(Component.name == name)): value
                  for name, value in (components or {}).items()}
        made = maintenance.schedule(session=db.session, actor=actor(email), title=title,
                                    body="Uploads **pause** while we move photos to new disks.",
                                    scheduled_for=start, scheduled_until=start + timedelta(hours=hours),
                                    components=chosen, **flags)
        db.session.commit()
        return made.id


def get_json(client, path: str, when: datetime, **headers):
    with clock_at(when):
        return client.get(API + path, headers=headers)


def test_scheduling_through_the_page_announces_it_everywhere(app, client, auth):
    email = auth.as_role("responder")
    storage = component(app, "Photo storage")
    start = (datetime.now(UTC) + timedelta(days=2)).replace(second=0, microsecond=0)
    response = client.post("/maintenance", data={
        "title": "Photo storage upgrade", "body": "Uploads pause for two hours.",
        "scheduled_for": start.strftime(FORM_TIME), "scheduled_until": (start + timedelta(hours=2)).strftime(FORM_TIME),
        "auto_start": "y", "auto_complete": "y", f"component_{storage}": "under_maintenance"})
    assert response.status_code == 302
    detail = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Photo storage upgrade" in detail and "Scheduled" in detail and "Post an update" in detail

    page = client.get("/status/").get_data(as_text=True)
    assert "Scheduled maintenance" in page and "Photo storage upgrade" in page
    assert "Uploads pause for two hours." in page and "Photo storage (under maintenance)" in page
    summary = client.get(API + "summary.json").get_json()
    [announced] = summary["scheduled_maintenances"]
    assert announced["status"] == "scheduled" and announced["impact"] == "maintenance"
    assert announced["scheduled_for"].startswith(start.strftime("%Y-%m-%dT%H:%M"))
    assert [c["name"] for c in announced["components"]] == ["Photo storage"]
    assert [c["status"] for c in summary["components"]] == ["operational"]  # not yet under way
    for path, schema in (("summary.json", "summary"), ("scheduled-maintenances.json", "scheduled-maintenances"),
                         ("scheduled-maintenances/upcoming.json", "scheduled-maintenances-upcoming"),
                         ("scheduled-maintenances/active.json", "scheduled-maintenances-active")):
        validate(schema, client.get(API + path).get_json())
    assert len(client.get(API + "scheduled-maintenances/upcoming.json").get_json()["scheduled_maintenances"]) == 1
    assert client.get(API + "scheduled-maintenances/active.json").get_json()["scheduled_maintenances"] == []
    public = client.get(announced["shortlink"].removeprefix("http://localhost"))
    assert public.status_code == 200 and "Photo storage upgrade" in public.get_data(as_text=True)
    assert email not in public.get_data(as_text=True)


def test_a_window_opens_and_closes_on_the_public_site_with_no_one_posting(app, client, make):
    email = make.user(role="responder")
    component(app, "Photo storage")
    component(app, "Contacts sync")
    maintenance_id = schedule(app, email, start=T0, components={"Photo storage": "under_maintenance"})
    before = get_json(client, "summary.json", T0 - timedelta(minutes=1))
    assert before.get_json()["scheduled_maintenances"][0]["status"] == "scheduled"

    # The window's start moves the validators: a poller holding the old ETag gets the new state.
    during = get_json(client, "summary.json", T0 + timedelta(minutes=1), **{"If-None-Match": before.headers["ETag"]})
    assert during.status_code == 200
    data = during.get_json()
    validate("summary", data)
    [under_way] = data["scheduled_maintenances"]
    assert under_way["status"] == "in_progress"
    assert {c["name"]: c["status"] for c in data["components"]} == {
        "Photo storage": "under_maintenance", "Contacts sync": "operational"}
    assert data["status"] == {"indicator": "none", "description": "Service Under Maintenance"}
    started = under_way["incident_updates"][0]
    assert started["status"] == "in_progress" and started["display_at"].startswith("2026-03-02T09:00:00")
    assert started["affected_components"] == [{"code": data["components"][1]["id"], "name": "Photo storage",
                                               "old_status": "operational", "new_status": "under_maintenance"}]
    active = get_json(client, "scheduled-maintenances/active.json", T0 + timedelta(minutes=1)).get_json()
    assert [m["id"] for m in active["scheduled_maintenances"]] == [under_way["id"]]
    with clock_at(T0 + timedelta(minutes=1)):
        page = client.get("/status/").get_data(as_text=True)
    assert "Maintenance under way" in page and "status-indicator-maintenance" in page

    after = get_json(client, "scheduled-maintenances.json", T0 + timedelta(hours=3)).get_json()
    validate("scheduled-maintenances", after)
    [done] = after["scheduled_maintenances"]
    assert done["status"] == "completed" and done["resolved_at"].startswith("2026-03-02T11:00:00")
    assert [u["status"] for u in done["incident_updates"]] == ["completed", "in_progress", "scheduled"]
    # The same automatic step keeps its id from one read to the next.
    assert done["incident_updates"][1]["id"] == started["id"]
    summary = get_json(client, "summary.json", T0 + timedelta(hours=3)).get_json()
    assert summary["scheduled_maintenances"] == [] and summary["status"]["indicator"] == "none"
    assert {c["status"] for c in summary["components"]} == {"operational"}
    with app.app_context(), clock_at(T0 + timedelta(hours=3)):
        # Nothing was written by reading: the state is worked out, the rows are as scheduled.
        stored = db.session.get(Maintenance, maintenance_id)
        assert stored.completed_at is None and len(stored.updates) == 1
        assert maintenance.status_of(stored) == "completed"


def test_an_incident_during_maintenance_is_still_an_incident(app, client, make):
    email = make.user(role="responder")
    component(app, "Photo storage")
    schedule(app, email, start=T0, components={"Photo storage": "under_maintenance"})
    reference = make.incident(by=email)
    with app.app_context(), clock_at(T0 + timedelta(minutes=20)):
        storage = db.session.scalar(db.select(Component))
        status.publish_incident(session=db.session, actor=actor(email),
                                incident=get_incident(session=db.session, reference=reference),
                                public_title="Photos failing to load", impact="major", body="Investigating.",
                                components={storage: "major_outage"})
        db.session.commit()
    data = get_json(client, "summary.json", T0 + timedelta(minutes=30)).get_json()
    assert [c["status"] for c in data["components"]] == ["major_outage"]
    assert data["status"]["indicator"] == "critical" and len(data["incidents"]) == 1
    assert data["scheduled_maintenances"][0]["status"] == "in_progress"


def test_updates_by_hand_complete_it_and_customers_are_never_told_it_is_back_on(app, client, auth):
    email = auth.as_role("responder")
    component(app, "Photo storage")
    start = datetime.now(UTC) - timedelta(minutes=30)
    maintenance_id = schedule(app, email, start=start, at=start - timedelta(minutes=5), auto_complete=False,
                              components={"Photo storage": "under_maintenance"})
    for state, body in (("verifying", "Checking every album."), ("completed", "All photos are on the new disks.")):
        response = client.post(f"/maintenance/{maintenance_id}/updates", data={"status": state, "body": body})
        assert response.status_code == 302
    refused = client.post(f"/maintenance/{maintenance_id}/updates",
                          data={"status": "in_progress", "body": "More work."})
    assert refused.status_code == 422
    assert re.search(r'id="status-errors".*told this maintenance is complete', refused.get_data(as_text=True),
                     re.S)

    data = client.get(API + "scheduled-maintenances.json").get_json()
    [done] = data["scheduled_maintenances"]
    assert [u["status"] for u in done["incident_updates"]] == ["completed", "verifying", "in_progress", "scheduled"]
    assert done["incident_updates"][0]["body"] == "All photos are on the new disks."
    assert done["incident_updates"][0]["affected_components"][0]["new_status"] == "operational"
    page = client.get("/status/").get_data(as_text=True)
    assert "Maintenance under way" not in page
    past = page[page.index('id="history-h"'):]
    assert "Photo storage upgrade" in past
    feed = feedparser.parse(client.get("/status/history.atom").get_data())
    assert not feed.bozo
    [entry] = [e for e in feed.entries if e.title == "Photo storage upgrade"]
    assert entry.link.endswith(f"/status/maintenance/{done['id']}")
    assert "Completed" in entry.content[0].value and "Verifying" in entry.content[0].value


def test_calling_it_off_takes_it_off_the_public_site(app, client, auth):
    email = auth.as_role("responder")
    start = datetime.now(UTC) + timedelta(days=1)
    maintenance_id = schedule(app, email, start=start, at=datetime.now(UTC))
    shortlink = client.get(API + "scheduled-maintenances.json").get_json()["scheduled_maintenances"][0]["shortlink"]
    assert client.post(f"/maintenance/{maintenance_id}/cancel").status_code == 302
    assert client.get(API + "scheduled-maintenances.json").get_json()["scheduled_maintenances"] == []
    assert "Photo storage upgrade" not in client.get("/status/").get_data(as_text=True)
    assert client.get(shortlink.removeprefix("http://localhost")).status_code == 404
    assert "Called off" in client.get(f"/maintenance/{maintenance_id}").get_data(as_text=True)


def test_work_under_way_cannot_be_called_off(app, client, auth):
    email = auth.as_role("responder")
    start = datetime.now(UTC) - timedelta(minutes=10)
    maintenance_id = schedule(app, email, start=start, at=start - timedelta(minutes=1))
    response = client.post(f"/maintenance/{maintenance_id}/cancel", follow_redirects=True)
    assert "Only a maintenance that has not started can be called off" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Maintenance, maintenance_id).cancelled_at is None


def plan_form(app, maintenance_id: int, **changes) -> dict:
    with app.app_context():
        stored = db.session.get(Maintenance, maintenance_id)
        values = {"version": stored.version, "title": stored.title, "auto_start": "y", "auto_complete": "y",
                  "scheduled_for": stored.scheduled_for.strftime(FORM_TIME),
                  "scheduled_until": stored.scheduled_until.strftime(FORM_TIME)}
    return {**values, **changes}


def test_the_plan_is_edited_with_a_version_and_a_started_window_keeps_its_start(app, client, auth):
    email = auth.as_role("responder")
    start = (datetime.now(UTC) - timedelta(minutes=10)).replace(second=0, microsecond=0)
    maintenance_id = schedule(app, email, start=start, at=start - timedelta(minutes=1))
    stale = plan_form(app, maintenance_id, title="Photo storage upgrade, part 1")
    longer = plan_form(app, maintenance_id, scheduled_until=(start + timedelta(hours=4)).strftime(FORM_TIME))
    assert client.post(f"/maintenance/{maintenance_id}/plan", data=longer).status_code == 302  # an overrun
    conflict = client.post(f"/maintenance/{maintenance_id}/plan", data=stale)
    assert conflict.status_code == 409 and "changed while you were editing" in conflict.get_data(as_text=True)
    moved = client.post(f"/maintenance/{maintenance_id}/plan", data=plan_form(
        app, maintenance_id, scheduled_for=(start + timedelta(hours=1)).strftime(FORM_TIME)))
    assert moved.status_code == 422
    assert re.search(r'id="scheduled_for-errors".*its start can no longer move', moved.get_data(as_text=True), re.S)
    data = client.get(API + "scheduled-maintenances/active.json").get_json()
    assert data["scheduled_maintenances"][0]["scheduled_until"].startswith(
        (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))


@pytest.mark.parametrize("changes, field, message", [
    ({"title": ""}, "title", "This field is required"),
    ({"scheduled_until": "2009-10-02T04:40"}, "scheduled_until", "already over"),
    ({"scheduled_for": "2009-10-02T04:40"}, "scheduled_for", "at most a day ago"),
    ({"scheduled_until": "+30m", "scheduled_for": "+2h"}, "scheduled_until", "must end after it starts"),
    ({"scheduled_until": "+40d"}, "scheduled_until", "at most 31 days"),
])
def test_a_bad_plan_is_refused_beside_its_field_and_nothing_is_announced(app, client, auth, changes, field,
                                                                           message):
    auth.as_role("responder")
    now = datetime.now(UTC)

    def typed(value: str) -> str:
        if value.startswith("+"):
            amount, unit = int(value[1:-1]), value[-1]
            return (now + timedelta(**{{"m": "minutes", "h": "hours", "d": "days"}[unit]: amount})).strftime(FORM_TIME)
        return value

    data = {"title": "Photo storage upgrade", "body": "Uploads pause.", "scheduled_for": typed("+1h"),
            "scheduled_until": typed("+3h"), **{k: typed(v) for k, v in changes.items()}}
    response = client.post("/maintenance", data=data)
    assert response.status_code == 422
    assert re.search(rf'id="{field}-errors".*{message}', response.get_data(as_text=True), re.S)
    assert client.get(API + "scheduled-maintenances.json").get_json()["scheduled_maintenances"] == []


def test_a_viewer_sees_the_plans_but_cannot_schedule(app, client, auth, make):
    email = make.user(role="responder")
    maintenance_id = schedule(app, email, start=datetime.now(UTC) + timedelta(days=1), at=datetime.now(UTC))
    auth.as_role("viewer")
    page = client.get("/maintenance").get_data(as_text=True)
    assert "Photo storage upgrade" in page and "Schedule maintenance" not in page
    assert "Post an update" not in client.get(f"/maintenance/{maintenance_id}").get_data(as_text=True)


def test_maintenance_days_show_on_the_uptime_bars_and_never_count_as_downtime(app, client, make):
    email = make.user(role="responder")
    now = datetime.now(UTC)
    component(app, "Photo storage", when=now - timedelta(days=5))
    yesterday = (now - timedelta(days=1)).replace(hour=10, minute=0, second=0, microsecond=0)
    schedule(app, email, start=yesterday, at=yesterday - timedelta(hours=2),
             components={"Photo storage": "major_outage"})
    page = client.get("/status/").get_data(as_text=True)
    bars = uptime_bars(page)
    day = f"{yesterday:%d %b %Y}"
    [(shade, text)] = [(shade, text) for shade, text in bars if text.startswith(day)]
    assert shade == "under_maintenance"
    assert "100% up" in text and "2 h 0 min under maintenance" in text
    assert "Maintenance: Photo storage upgrade" in text
    assert "100% uptime over 90 days" in page
