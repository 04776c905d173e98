"""The deadline engine, with fixed clocks and deadlines worked out by hand (no database)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from incidents.obligations.deadlines import compute, threshold_state
from incidents.obligations.rules import load_rules

RULES = load_rules()
BRUSSELS, NEW_YORK, LA = ZoneInfo("Europe/Brussels"), ZoneInfo("America/New_York"), ZoneInfo("America/Los_Angeles")


def utc(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def due(rule_id: str, **anchors) -> datetime:
    deadline = compute(RULES.rules[rule_id], {k.replace("sent_", "sent:"): v for k, v in anchors.items()})
    assert deadline.state == "due", deadline
    return deadline.due_at


def test_72_hours_across_the_eu_daylight_saving_change_are_72_real_hours():
    # Aware at 01:30 CET on Sunday 29 March 2026, half an hour before clocks go forward (02:00 → 03:00).
    aware = datetime(2026, 3, 29, 1, 30, tzinfo=BRUSSELS)
    assert aware.utcoffset() == timedelta(hours=1)
    deadline = due("gdpr-33-authority", aware=aware)
    assert deadline == utc(2026, 4, 1, 0, 30)
    # Shown in Brussels it is 02:30 summer time, not the 01:30 that "same clock time + 3 days" gives.
    local = deadline.astimezone(BRUSSELS)
    assert (local.hour, local.minute, local.utcoffset()) == (2, 30, timedelta(hours=2))


def test_sec_8k_skips_thanksgiving_and_the_weekend():
    # Determined material on Wednesday 25 November 2026 at 15:00 in New York. Thursday the 26th is
    # Thanksgiving; business days: Fri 27, Mon 30, Tue 1 Dec, Wed 2 Dec.
    determined = datetime(2026, 11, 25, 15, 0, tzinfo=NEW_YORK)
    deadline = due("sec-8k-105", materiality_determined=determined)
    local = deadline.astimezone(NEW_YORK)
    assert (local.year, local.month, local.day, local.strftime("%A")) == (2026, 12, 2, "Wednesday")
    assert (local.hour, local.minute) == (23, 59)
    assert deadline == utc(2026, 12, 3, 4, 59, 59)


def test_one_month_from_31_january_is_the_end_of_february():
    sent = utc(2027, 1, 31, 10, 0)
    deadline = due("nis2-23-final-report", **{"sent_nis2-23-notification": sent})
    assert deadline.astimezone(BRUSSELS).date().isoformat() == "2027-02-28"
    assert deadline == utc(2027, 2, 28, 22, 59, 59)  # 23:59:59 CET


def test_one_month_in_a_leap_year_reaches_29_february_and_from_it_29_march():
    from_january = due("nis2-23-final-report", **{"sent_nis2-23-notification": utc(2028, 1, 31, 9, 0)})
    assert from_january.astimezone(BRUSSELS).date().isoformat() == "2028-02-29"
    from_leap_day = due("nis2-23-final-report", **{"sent_nis2-23-notification": utc(2028, 2, 29, 9, 0)})
    # 29 March 2028 is after the clocks went forward (26 March): the day ends at 21:59:59 UTC.
    assert from_leap_day == utc(2028, 3, 29, 21, 59, 59)


def test_dora_initial_notification_when_classified_30_hours_after_awareness():
    aware = utc(2026, 6, 1, 8, 0)
    # Past the 24-hour limit: 4 hours from the classification itself.
    assert due("dora-initial", aware=aware, classified_major=aware + timedelta(hours=30)) == aware + timedelta(hours=34)
    # Classified early: 4 hours from classification.
    assert due("dora-initial", aware=aware, classified_major=aware + timedelta(hours=2)) == aware + timedelta(hours=6)
    # Classified at hour 22: the 24-hour limit from awareness comes first.
    assert due("dora-initial", aware=aware, classified_major=aware + timedelta(hours=22)) == aware + timedelta(hours=24)


def test_dora_waits_for_a_classification_and_chains_on_what_was_sent():
    waiting = compute(RULES.rules["dora-initial"], {"aware": utc(2026, 6, 1, 8, 0)})
    assert (waiting.state, waiting.waiting_for) == ("waiting", "classified_major")
    sent = utc(2026, 6, 1, 11, 0)
    assert due("dora-intermediate", **{"sent_dora-initial": sent}) == sent + timedelta(hours=72)


def test_calendar_days_end_on_the_recipients_calendar_across_the_us_clock_change():
    # Discovered 20 October 2026, 10:00 in Los Angeles (summer time); 30 days later is 19 November,
    # after clocks went back on 1 November: the day ends at 23:59:59 PST = 07:59:59 UTC next day.
    discovered = datetime(2026, 10, 20, 10, 0, tzinfo=LA)
    assert due("us-ca-residents", discovered=discovered) == utc(2026, 11, 20, 7, 59, 59)


def test_hipaa_small_breach_goes_in_the_log_60_days_after_the_year_ends():
    # 31 December 2026 + 60 days = 1 March 2027 (February 2027 has 28 days).
    deadline = due("hipaa-hhs-log", discovered=utc(2026, 7, 10, 12, 0))
    assert deadline.astimezone(NEW_YORK).date().isoformat() == "2027-03-01"


def test_without_undue_delay_and_as_soon_as_feasible_have_no_fixed_clock():
    aware = utc(2026, 6, 1, 8, 0)
    for rule_id in ("gdpr-34-individuals", "ca-pipeda-commissioner"):
        deadline = compute(RULES.rules[rule_id], {"aware": aware})
        assert (deadline.state, deadline.due_at, deadline.anchor_at) == ("no_fixed_clock", None, aware)
        assert "no fixed clock" in deadline.how


def test_a_threshold_is_crossed_when_the_affected_count_grows():
    media = RULES.rules["hipaa-media"].thresholds  # more than 500 residents of one state
    t1, t2, t3 = utc(2026, 5, 1), utc(2026, 5, 2), utc(2026, 5, 3)
    assert threshold_state(media, [(t1, 300)]).met is False
    assert threshold_state(media, [(t1, 300), (t2, 500)]).met is False  # exactly 500 is not "more than"
    crossed = threshold_state(media, [(t3, 620), (t1, 300), (t2, 500)])
    assert (crossed.met, crossed.since, crossed.count) == (True, t3, 620)


def test_an_upper_threshold_stops_applying_as_the_count_grows():
    log_only = RULES.rules["hipaa-hhs-log"].thresholds  # fewer than 500
    t1, t2 = utc(2026, 5, 1), utc(2026, 5, 2)
    assert threshold_state(log_only, [(t1, 300)]).met is True
    assert threshold_state(log_only, [(t1, 300), (t2, 700)]).met is False
    assert threshold_state(log_only, []).met is False  # no count yet: not known to apply


@pytest.mark.parametrize("rule_id", sorted(RULES.rules))
def test_every_shipped_rule_gives_a_deadline_after_its_anchor(rule_id):
    rule = RULES.rules[rule_id]
    start = utc(2026, 2, 27, 16, 0)
    anchors = {rule.anchor: start}
    if rule.not_later_than:
        anchors[rule.not_later_than.anchor] = start
    deadline = compute(rule, anchors)
    assert deadline.state in ("due", "no_fixed_clock")
    if deadline.is_due:
        assert start < deadline.due_at <= start + timedelta(days=400)
