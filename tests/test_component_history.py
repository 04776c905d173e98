"""Each component's public status over time (issue #16's uptime rests on it): recorded in the
transaction that moves it, whatever moved it (an incident's update, an override, a resolution),
once per change, with the time it changed; edits that move nothing record nothing."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from incidents.auth.models import User
from incidents.db import clock_at
from incidents.extensions import db
from incidents.incident.service import get_incident
from incidents.status import service as status
from incidents.status.models import Component, ComponentStatusChange
from tests.helpers import uptime_bars

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    return T0.replace(hour=hour, minute=minute)


def history(app, name: str) -> list[tuple[str, datetime]]:
    with app.app_context():
        component = db.session.scalar(db.select(Component).where(Component.name == name))
        rows = db.session.scalars(db.select(ComponentStatusChange).where(
            ComponentStatusChange.component_id == component.id).order_by(ComponentStatusChange.id)).all()
        return [(row.status, row.changed_at) for row in rows]


def component(app, name: str, when: datetime) -> int:
    with app.app_context(), clock_at(when):
        made = status.create_component(session=db.session, name=name)
        db.session.commit()
        return made.id


def publish(app, email: str, reference: str, when: datetime, *, state: str, components: dict[str, str],
            first: bool = False) -> None:
    with app.app_context(), clock_at(when):
        actor = db.session.scalar(db.select(User).where(User.email == email))
        incident = get_incident(session=db.session, reference=reference)
        chosen = {db.session.scalar(db.select(Component).where(Component.name == name)): value
                  for name, value in components.items()}
        if first:
            status.publish_incident(session=db.session, actor=actor, incident=incident, public_title="Sync down",
                                    impact="major", body="Looking into it.", status=state, components=chosen,
                                    occurred_at=when)
        else:
            status.publish_update(session=db.session, actor=actor, incident=incident, status=state,
                                  body=f"Now {state}.", component_statuses=chosen, occurred_at=when)
        db.session.commit()


def test_an_incident_moves_its_components_and_each_move_is_recorded_once_with_its_time(app, make):
    email = make.user(role="responder")
    component(app, "Contacts sync", at(8))
    component(app, "Photos", at(8))
    reference = make.incident(by=email)
    publish(app, email, reference, at(9), state="investigating", components={"Contacts sync": "major_outage"},
            first=True)
    publish(app, email, reference, at(10), state="identified", components={"Contacts sync": "partial_outage"})
    publish(app, email, reference, at(11), state="monitoring", components={})  # moves nothing
    publish(app, email, reference, at(12), state="resolved", components={"Contacts sync": "operational"})
    assert history(app, "Contacts sync") == [("operational", at(8)), ("major_outage", at(9)),
                                             ("partial_outage", at(10)), ("operational", at(12))]
    assert history(app, "Photos") == [("operational", at(8))]


def test_the_worst_of_two_incidents_counts_and_resolving_one_leaves_the_other(app, make):
    email = make.user(role="responder")
    component(app, "Mail", at(8))
    first, second = make.incident(by=email), make.incident(by=email)
    publish(app, email, first, at(9), state="investigating", components={"Mail": "degraded_performance"}, first=True)
    publish(app, email, second, at(10), state="investigating", components={"Mail": "major_outage"}, first=True)
    # The public is told the second is over while its link stays: the component follows the first.
    publish(app, email, second, at(11), state="resolved", components={})
    assert history(app, "Mail") == [("operational", at(8)), ("degraded_performance", at(9)),
                                     ("major_outage", at(10)), ("degraded_performance", at(11))]


def test_an_override_is_recorded_and_an_edit_that_moves_nothing_is_not(app, make):
    component(app, "Calendars", at(8))
    with app.app_context():
        made = db.session.scalar(db.select(Component).where(Component.name == "Calendars"))
        with clock_at(at(9)):
            status.update_component(session=db.session, component=made, name="Calendars (web)", description="x",
                                    group_name=None, position=2, status_override=None, showcase=True,
                                    only_show_if_degraded=False)
        with clock_at(at(10)):
            status.update_component(session=db.session, component=made, name="Calendars (web)", description="x",
                                    group_name=None, position=2, status_override="under_maintenance",
                                    showcase=True, only_show_if_degraded=False)
        db.session.commit()
    assert history(app, "Calendars (web)") == [("operational", at(8)), ("under_maintenance", at(10))]


def test_a_rolled_back_change_records_nothing(app, make):
    email = make.user(role="responder")
    component(app, "Tape library", at(8))
    reference = make.incident(by=email)
    with app.app_context(), clock_at(at(9)):
        actor = db.session.scalar(db.select(User).where(User.email == email))
        tape = db.session.scalar(db.select(Component).where(Component.name == "Tape library"))
        status.publish_incident(session=db.session, actor=actor, incident=get_incident(
            session=db.session, reference=reference), public_title="Tapes", impact="minor", body="Hm.",
            components={tape: "partial_outage"})
        db.session.rollback()
    assert history(app, "Tape library") == [("operational", at(8))]


# --- uptime (incidents/status/uptime.py) ----------------------------------------------------------------

def test_a_day_counts_major_outage_fully_partial_at_0_3_and_degraded_not_at_all():
    from datetime import date, timedelta

    from incidents.status.uptime import days_of, percentage

    day = date(2026, 3, 2)
    changes = [("operational", at(0)), ("major_outage", at(9)), ("partial_outage", at(10)),
               ("degraded_performance", at(11, 40)), ("operational", at(13))]
    (only,) = days_of(changes, first=day, last=day, now=at(0) + timedelta(days=3))
    assert only.observed == 1440
    assert only.minutes == {"major_outage": 60, "partial_outage": 100, "degraded_performance": 80}
    assert only.outage == 60 + 30
    assert only.uptime == 1 - 90 / 1440 and only.worst == "major_outage"
    # Before the history began there is no data; today counts up to now only.
    before, first_day, today = days_of([("operational", at(12)), ("partial_outage", at(18))],
                                       first=day - timedelta(days=1), last=day + timedelta(days=1),
                                       now=at(6) + timedelta(days=1))
    assert before.uptime is None and before.observed == 0
    assert first_day.observed == 12 * 60 and first_day.minutes == {"partial_outage": 6 * 60}
    assert today.observed == 6 * 60 and today.minutes == {"partial_outage": 6 * 60}
    assert percentage([before, first_day, today]) == 1 - (0.3 * 12 * 60) / (18 * 60)


def test_the_ninety_days_come_from_the_window_and_the_status_in_force_when_it_opened(app, make):
    from datetime import timedelta

    from incidents.status.uptime import component_days

    start = T0 - timedelta(days=200)
    with app.app_context():
        with clock_at(start):
            made = status.create_component(session=db.session, name="Sync")
            db.session.commit()
        for when, override in ((T0 - timedelta(days=150), "major_outage"),   # still in force at the window
                               (T0 - timedelta(days=10), None),
                               (T0 - timedelta(days=5, hours=-6), "partial_outage"),
                               (T0 - timedelta(days=5, hours=-12), None)):
            with clock_at(when):
                status.update_component(session=db.session, component=made, name="Sync", description=None,
                                        group_name=None, position=0, status_override=override, showcase=True,
                                        only_show_if_degraded=False)
                db.session.commit()
        days = component_days(session=db.session, component_ids=[made.id], now=T0)[made.id]
    assert len(days) == 90 and days[-1].on == T0.date() and days[0].on == T0.date() - timedelta(days=89)
    assert days[0].minutes == {"major_outage": 1440}  # the outage that began before the window
    outage_ends = T0.date() - timedelta(days=10)
    assert [d.worst for d in days if d.on == outage_ends] == ["major_outage"]
    assert [d.minutes for d in days if d.on == T0.date() - timedelta(days=5)] == [{"partial_outage": 360}]
    assert days[-1].observed == 9 * 60  # today, up to 09:00


def test_the_page_shows_a_bar_a_day_with_its_figures_and_folds_groups_that_are_well(app, make, client):
    from datetime import timedelta

    from incidents.db import utcnow

    email = make.user(role="responder")
    now = utcnow()
    with app.app_context(), clock_at(now - timedelta(days=3)):
        status.create_component(session=db.session, name="Contacts sync", group_name="Sync")
        status.create_component(session=db.session, name="Calendar sync", group_name="Sync")
        status.create_component(session=db.session, name="Billing", group_name="Back office")
        db.session.commit()
    reference = make.incident(by=email)
    outage_at = (now - timedelta(days=2)).replace(hour=10, minute=0, second=0, microsecond=0)
    publish(app, email, reference, outage_at, state="investigating", components={"Contacts sync": "major_outage"},
            first=True)
    publish(app, email, reference, outage_at + timedelta(minutes=90), state="monitoring",
            components={"Contacts sync": "operational", "Calendar sync": "partial_outage"})
    page = client.get("/status/").get_data(as_text=True)
    bars = uptime_bars(page)
    assert len(bars) == 3 * 90
    own = page[page.index('aria-label="Contacts sync: each of the last 90 days"'):]
    contacts = uptime_bars(own[:own.index("</ol>")])
    assert [kind for kind, _ in contacts[:86]] == ["none"] * 86  # before its history began
    assert contacts[86][0] == "operational"
    day_of_outage = contacts[87]
    assert day_of_outage[0] == "major_outage" and "1 h 30 min major outage" in day_of_outage[1]
    # Each day names the published incidents that touched the component, by their public title; the
    # incident is still open (monitoring), so up to today.
    assert [text.endswith("Incidents: Sync down") for _, text in contacts[86:]] == [False, True, True, True]
    billing = page[page.index('aria-label="Billing'):]
    assert "Incidents:" not in billing[:billing.index("</ol>")]
    # The group with a component still in partial outage is open; the well one is folded.
    assert re.search(r'<details class="status-group" open>\s*<summary><span class="status-group-name">Sync', page)
    assert re.search(r'<details class="status-group">\s*<summary><span class="status-group-name">Back office', page)
