"""The recovery chart: server-rendered SVG of customers restored against affected, and of
workstream progress. It must parse as XML (browsers and WeasyPrint both read it), obey the
page's Content-Security-Policy (no <style>, no style="", no script) and escape every name.

Most tests draw from unsaved model objects, as the chart only reads them; the page tests at
the end run through the app on SQLite and PostgreSQL.
"""
from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest

from incidents.auth.models import User
from incidents.impact.models import ImpactUpdate
from incidents.incident.models import Incident
from incidents.recovery.chart import RIGHT, recovery_chart
from incidents.recovery.enums import WorkstreamStatus
from incidents.recovery.models import Workstream
from incidents.recovery.scales import compact, time_ticks, y_ticks

SVG = "{http://www.w3.org/2000/svg}"
# Plain SVG 1.1 drawing elements: what WeasyPrint renders and the CSP allows.
ALLOWED = {"svg", "title", "desc", "g", "line", "polyline", "polygon", "rect", "circle", "text", "tspan"}
T0 = datetime(2009, 10, 2, 14, 0, tzinfo=UTC)


# --- helpers ---------------------------------------------------------------------------------

def incident(**fields) -> Incident:
    return Incident(id=7, reference="INC-2009-0001", **fields)


def update(as_of: datetime, affected: int, restored: int = 0, lost: int = 0, notified: int = 0,
           id: int | None = None) -> ImpactUpdate:
    return ImpactUpdate(id=id, as_of=as_of, customers_affected=affected, customers_restored=restored,
                        customers_lost=lost, customers_notified=notified)


def workstream(name: str, done: int, target: int, status=WorkstreamStatus.in_progress,
               category: str | None = "contacts", owner: str | None = "Dana Okafor", id: int = 1) -> Workstream:
    return Workstream(id=id, name=name, done=done, target=target, status=status, category=category,
                      unit="records", owner=User(name=owner, email="o@example.com") if owner else None)


def week() -> list[ImpactUpdate]:
    """Affected grows, then restores climb: the demo's story in five updates."""
    return [update(T0, 8_400), update(T0 + timedelta(days=1), 46_100),
            update(T0 + timedelta(days=7), 181_250, notified=181_250),
            update(T0 + timedelta(days=14), 181_250, 97_300, notified=181_250),
            update(T0 + timedelta(days=20), 181_250, 174_120, 3_410, 181_250)]


def draw(series=(), workstreams=(), **incident_fields) -> tuple[str, ET.Element]:
    """The chart's markup and its parsed tree (failing the test if it is not well-formed XML)."""
    markup = str(recovery_chart(incident=incident(**incident_fields), series=list(series),
                                workstreams=list(workstreams)))
    return markup, ET.fromstring(markup)


def find(root: ET.Element, tag: str, **attrs) -> list[ET.Element]:
    return [el for el in root.iter(SVG + tag) if all(el.get(k) == v for k, v in attrs.items())]


def points(polyline: ET.Element) -> list[tuple[float, float]]:
    return [tuple(map(float, pair.split(","))) for pair in polyline.get("points").split()]


def line(root: ET.Element, series: str) -> list[tuple[float, float]]:
    (polyline,) = find(root, "polyline", **{"data-series": series})
    return points(polyline)


def texts(root: ET.Element) -> list[str]:
    return ["".join(el.itertext()) for el in root.iter(SVG + "text")]


def y_labels(root: ET.Element) -> dict[str, float]:
    """Y-axis tick label -> its y position (labels are right-aligned left of the plot)."""
    return {el.text: float(el.get("y")) for el in find(root, "text", **{"text-anchor": "end"})
            if el.get("x") == "52"}


# --- structure and safety --------------------------------------------------------------------

def test_chart_draws_the_customer_lines_legend_and_workstream_bars():
    markup, root = draw(week(), [workstream("Rebuild contacts DB", 750, 1000),
                                 workstream("Restore calendars from backup", 0, 50, category="calendars", id=2)])
    assert root.tag == SVG + "svg"
    assert root.get("role") == "img"
    assert {"affected", "restored", "lost", "notified"} == {el.get("data-series") for el in find(root, "polyline")}
    assert (root.get("data-latest-affected"), root.get("data-latest-restored"), root.get("data-latest-lost")) == \
        ("181250", "174120", "3410")

    legend = {el.get("data-legend"): "".join(el.itertext()) for el in find(root, "text") if el.get("data-legend")}
    assert legend == {"affected": "Affected 181,250", "restored": "Restored 174,120 (96.1%)",
                      "lost": "Permanently lost 3,410", "notified": "Notified 181,250"}

    bars = {el.get("data-workstream"): el for el in find(root, "g") if el.get("data-workstream")}
    assert set(bars) == {"1", "2"}
    track, done = find(bars["1"], "rect")
    assert float(done.get("width")) == pytest.approx(0.75 * float(track.get("width")))
    assert find(bars["2"], "rect", **{"class": "bar-done"}) == []  # nothing done: an empty track
    assert "75%" in texts(bars["1"]) and "0%" in texts(bars["2"])
    assert {"CONTACTS", "CALENDARS"} <= set(texts(root))
    assert texts(root).index("CONTACTS") < texts(root).index("CALENDARS")


def test_the_text_alternative_names_the_latest_figures():
    _markup, root = draw(week(), [workstream("A", 1, 2), workstream("B", 2, 2, WorkstreamStatus.done, id=2)])
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert root.get("aria-labelledby") == title.get("id") and root.get("aria-describedby") == desc.get("id")
    assert "INC-2009-0001" in title.text
    assert "174,120 of 181,250 affected customers restored (96.1%)" in desc.text
    assert "3,410 permanently lost" in desc.text
    assert "2 recovery workstreams: 1 in progress, 1 done." in desc.text


def test_chart_has_no_style_script_or_event_handlers():
    markup, root = draw(week(), [workstream("Rebuild", 5, 10)], loss_began_at=T0 - timedelta(hours=10),
                        restore_verified_at=T0 + timedelta(days=19))
    for el in root.iter():
        tag = el.tag.removeprefix(SVG)
        assert tag in ALLOWED, tag
        for name, value in el.attrib.items():
            assert name != "style" and not name.startswith("on"), (tag, name)
            assert "javascript:" not in value.lower() and "url(" not in value.lower(), (tag, name, value)
    assert not re.search(r"<(style|script|foreignObject|image|a)\b", markup, re.I)


@pytest.mark.parametrize("name", ['<script>alert(1)</script>', '"/><foo onload="alert(1)', "a & b</text></svg><b>",
                                  "bell\x07 and null\x00 inside"])
def test_hostile_workstream_and_owner_names_cannot_break_out(name):
    markup, root = draw(week(), [workstream(name, 1, 2, owner=name)])
    assert "<script" not in markup and "<foo" not in markup and "<b>" not in markup  # no <footer> here
    assert all(el.tag.removeprefix(SVG) in ALLOWED for el in root.iter())
    (bar,) = [el for el in find(root, "g") if el.get("data-workstream")]
    shown = "".join(bar.itertext())
    readable = name.replace("\x07", "").replace("\x00", "")
    assert readable.split()[0] in shown  # the name is shown as text, not swallowed
    assert f"{readable}:" in bar.find(SVG + "title").text


# --- edge cases ------------------------------------------------------------------------------

def test_nothing_to_draw_gives_empty_markup():
    assert str(recovery_chart(incident=incident(), series=[], workstreams=[])) == ""


def test_a_single_update_draws_its_figures_at_the_right_edge_and_no_bars():
    markup, root = draw([update(T0, 1_200, 300)])
    assert "nan" not in markup.lower() and "inf" not in markup.lower()
    # One moment is known: a dot per figure at the axis's end, no line running on after it.
    assert line(root, "restored") == [(RIGHT, pytest.approx(float(find(root, "circle")[1].get("cy"))))]
    assert {float(c.get("cx")) for c in find(root, "circle")} == {RIGHT}
    assert find(root, "g") == []
    assert root.get("data-workstreams") == "0"
    assert set(y_labels(root)) == {"0", "250", "500", "750", "1k", "1.25k"}


def test_only_workstreams_draws_only_bars():
    _markup, root = draw([], [workstream("Re-sync from phones", 10, 10, WorkstreamStatus.done)])
    assert find(root, "polyline") == []
    assert "100%" in texts(root)


def test_updates_at_the_same_moment_show_the_last_one_written():
    _markup, root = draw([update(T0, 100), update(T0, 500, 50), update(T0, 400, 120)])
    affected, restored = line(root, "affected"), line(root, "restored")
    labels = y_labels(root)
    zero, top = labels["0"] - 4, labels["400"] - 4  # labels sit 4 px below their grid line
    assert affected[-1][1] == pytest.approx(top, abs=0.2)
    assert restored[-1][1] == pytest.approx(zero + (top - zero) * 120 / 400, abs=0.2)
    assert root.get("data-latest-affected") == "400"


def test_five_hundred_updates_stay_small_and_end_on_the_latest_figures():
    series = [update(T0 + timedelta(minutes=20 * i), 1_000 + 7 * i, 3 * i, i // 50, 5 * i) for i in range(500)]
    markup, root = draw(series)
    assert len(markup) < 40_000
    restored = line(root, "restored")
    assert len(restored) <= 400
    assert [x for x, _ in restored] == sorted(x for x, _ in restored), "time runs left to right"
    assert root.get("data-latest-restored") == str(3 * 499)
    heights = [y for _, y in restored]
    assert min(heights) == restored[-1][1], "the line ends at its highest figure"


def test_the_time_axis_ends_at_the_latest_figure_and_draws_nothing_after_it():
    _markup, root = draw(week(), loss_began_at=T0 - timedelta(hours=6))
    latest_x = {float(c.get("cx")) for c in find(root, "circle")}
    assert latest_x == {RIGHT}, "the latest figures sit at the axis's right end"
    for key in ("affected", "restored", "lost", "notified"):
        assert max(x for x, _ in line(root, key)) == RIGHT, f"{key} runs on past its latest figure"
    (area,) = find(root, "polygon", **{"data-series": "restored"})
    assert max(x for x, _ in points(area)) == RIGHT
    ticks = [float(el.get("x1")) for el in find(root, "line") if el.get("y2") and el.get("x1") == el.get("x2")
             and float(el.get("y2")) - float(el.get("y1")) == 5]
    assert ticks and max(ticks) <= RIGHT


def test_huge_numbers_get_short_tick_labels():
    _markup, root = draw([update(T0, 3_600_000_000, 1_000_000_000),
                          update(T0 + timedelta(days=1), 9_000_000_000_000_000_000 // 1000)])
    assert set(y_labels(root)) == {"0", "2,000T", "4,000T", "6,000T", "8,000T", "10,000T"}


def test_tick_values_sit_at_their_height():
    _markup, root = draw(week())
    labels = y_labels(root)
    assert list(labels) == ["0", "50k", "100k", "150k", "200k"]
    spacing = {round(labels[a] - labels[b], 1) for a, b in pairwise(labels)}
    assert len(spacing) == 1, "evenly spaced"
    zero, top = labels["0"] - 4, labels["200k"] - 4
    restored_end = line(root, "restored")[-1][1]
    assert restored_end == pytest.approx(zero + (top - zero) * 174_120 / 200_000, abs=0.2)


@pytest.mark.parametrize(("largest", "ticks"), [
    (0, [0, 1]), (3, [0, 1, 2, 3]), (181_250, [0, 50_000, 100_000, 150_000, 200_000]),
    (1_020_000, [0, 250_000, 500_000, 750_000, 1_000_000, 1_250_000]), (100, [0, 20, 40, 60, 80, 100]),
])
def test_y_ticks_are_round_and_cover_the_largest_value(largest, ticks):
    assert y_ticks(largest) == ticks


@pytest.mark.parametrize(("value", "label"), [
    (0, "0"), (950, "950"), (1_000, "1k"), (1_250, "1.25k"), (1_500, "1.5k"), (12_345, "12.3k"),
    (12_350, "12.4k"), (150_000, "150k"), (174_120, "174k"), (999_999, "1M"), (1_020_000, "1.02M"),
    (2_500_000, "2.5M"), (10**9, "1B"), (4 * 10**12, "4T"), (9 * 10**18, "9,000,000T"),
])
def test_compact_numbers(value, label):
    assert compact(value) == label


def test_time_ticks_by_days_hours_and_years():
    days = time_ticks(T0, T0 + timedelta(days=20))
    assert [label for _, label in days] == [f"Oct {d}" for d in range(2, 23, 2)]
    hours = time_ticks(T0, T0 + timedelta(hours=5))
    assert [label for _, label in hours] == ["14:00\nOct 2", "14:30", "15:00", "15:30", "16:00", "16:30",
                                             "17:00", "17:30", "18:00", "18:30", "19:00"]
    minutes = time_ticks(T0 + timedelta(minutes=48), T0 + timedelta(minutes=108))  # 14:48 to 15:48
    assert [label for _, label in minutes] == ["14:50\nOct 2", "15:00", "15:10", "15:20", "15:30", "15:40"]
    few_minutes_late = time_ticks(T0 + timedelta(minutes=43), T0 + timedelta(minutes=103))
    assert few_minutes_late[0][1] == "14:40\nOct 2", "a small margin keeps the round time"
    overnight = time_ticks(T0 + timedelta(hours=8), T0 + timedelta(hours=20))
    assert "00:00\nOct 3" in [label for _, label in overnight]
    new_year = time_ticks(datetime(2009, 12, 20, tzinfo=UTC), datetime(2010, 1, 12, tzinfo=UTC))
    labels = [label for _, label in new_year]
    assert labels[0] == "Dec 20, 2009" and "Jan 3, 2010" in labels
    decades = time_ticks(datetime(1990, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
    assert 2 <= len(decades) <= 12


def test_workstream_bars_show_status_and_never_overflow():
    _markup, root = draw([], [
        workstream("Blocked one", 39, 100, WorkstreamStatus.blocked),
        workstream("Abandoned one", 12, 100, WorkstreamStatus.abandoned, id=2),
        workstream("Over target", 150, 100, WorkstreamStatus.done, id=3),
        workstream("Nobody's", 1, 100, owner=None, category=None, id=4),
        workstream("A very long workstream name " * 5, 1, 100, category="photos", id=5),
    ])
    bars = {el.get("data-workstream"): el for el in find(root, "g") if el.get("data-workstream")}
    fill = {key: find(bar, "rect", **{"class": "bar-done"})[0] for key, bar in bars.items()}
    assert fill["1"].get("fill") == "#b42318"  # blocked is red
    assert "blocked" in texts(bars["1"])[1]
    assert "abandoned" in texts(bars["2"])[1]
    track = find(bars["3"], "rect")[0]
    assert float(fill["3"].get("width")) == float(track.get("width"))
    assert "no owner" in texts(bars["4"])[1]
    assert texts(root)[-len(texts(bars["4"])) - 1] == "OTHER WORK", "uncategorised work comes last"
    label = texts(bars["5"])[0]
    assert label.endswith("…") and len(label) < 70


# --- on the incident page --------------------------------------------------------------------

def test_incident_page_shows_the_chart_once_there_is_something_to_draw(app, client, auth, make):
    email = auth.as_role("responder")
    ref = make.incident(by=email, title="Contacts gone")
    page = client.get(f"/incidents/{ref}").get_data(as_text=True)
    assert "Recovery over time" not in page and "<svg" not in page

    make.impact(ref, by=email, affected=5_000, restored=1_000, lost=10)
    make.workstream(ref, by=email, name='<script>alert(1)</script>"/><foo', target=100)
    response = client.get(f"/incidents/{ref}")
    page = response.get_data(as_text=True)
    assert "style-src 'self'" in response.headers["Content-Security-Policy"]
    card = re.search(r'<section class="card chart-card".*?</section>', page, re.S).group(0)
    assert "Recovery over time" in card
    svg = re.search(r"<svg.*?</svg>", card, re.S).group(0)
    root = ET.fromstring(svg)
    assert root.get("data-latest-restored") == "1000"
    assert "<script>" not in page and not re.search(r"<foo(?![a-z])", page)
    # The page lists the workstreams with their bars beside the chart, which draws the figures only
    # (the executive report's chart draws the bars: see the tests above).
    assert root.get("data-workstreams") == "0" and "alert(1)" not in svg
    assert '&lt;script&gt;alert(1)&lt;/script&gt;&#34;/&gt;&lt;foo' in page
    assert not re.search(r"<style|\sstyle=", svg)
