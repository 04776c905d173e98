"""The recovery chart: customers restored against affected over time, and workstream progress,
drawn on the server as SVG so it needs no JavaScript and can go into PDFs.

Hand-written rather than pygal: pygal embeds a <style> element and scripts in its SVG, which the
page's Content-Security-Policy (style-src 'self'; script-src 'self') blocks. This builder uses
presentation attributes only (fill, stroke, font-size …) and plain SVG 1.1 elements, so browsers
and WeasyPrint draw it the same. Every piece of text goes through `markupsafe.escape`.
"""
from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from markupsafe import Markup, escape

from incidents.impact.service import ImpactPoint
from incidents.incident.enums import DATA_CATEGORIES
from incidents.incident.models import Incident
from incidents.recovery import svg
from incidents.recovery.enums import WorkstreamStatus
from incidents.recovery.models import Workstream
from incidents.recovery.scales import compact, time_ticks, y_ticks

WIDTH = 800
FONT = "system-ui, -apple-system, Segoe UI, DejaVu Sans, sans-serif"
INK, MUTED, GRID, AXIS = "#1b1f24", "#5c6670", "#e4e7ec", "#98a2b3"

# The impact section's plot area (the workstream section is laid out below it).
LEFT, RIGHT = 60, WIDTH - 20
PLOT_HEIGHT = 230
BUCKET_PX = 2  # points closer than this on the x axis are merged, so 500 updates stay small


@dataclass(frozen=True)
class Line:
    key: str
    label: str
    color: str
    width: float
    dash: str | None = None
    area: str | None = None  # fill under the line


LINES = [  # legend order; areas are drawn before all lines, so the red "not yet restored" band shows
    Line("affected", "Affected", "#b42318", 2.5, area="#fde4e1"),
    Line("restored", "Restored", "#16794a", 2.5, area="#cfeedd"),
    Line("lost", "Permanently lost", "#1b1f24", 2, dash="6 3"),
    Line("notified", "Notified", "#b54708", 1.5, dash="2 3"),
]

STATUS_COLORS = {
    WorkstreamStatus.planned: "#98a2b3",
    WorkstreamStatus.in_progress: "#1f5fbf",
    WorkstreamStatus.done: "#16794a",
    WorkstreamStatus.blocked: "#b42318",
    WorkstreamStatus.abandoned: "#b9c0c8",
}

# Rendered charts by content. During an incident many people reload the same page while the
# figures change only now and then; the key holds every input the drawing reads, so a cached chart
# is never stale, and each app server keeps its own small cache (nothing to share or invalidate).
_CACHE: OrderedDict[tuple, Markup] = OrderedDict()
_CACHE_SIZE = 64
_CACHE_LOCK = threading.Lock()


def _cache_key(incident: Incident, series: Sequence[ImpactPoint], workstreams: list[Workstream]) -> tuple:
    return (
        incident.id, incident.reference, incident.loss_began_at, incident.restore_verified_at,
        tuple(series),
        tuple((w.id, w.version, w.name, w.category, w.status, w.done, w.target, w.unit,
               w.owner.display if w.owner else None) for w in workstreams),
    )


def recovery_chart(*, incident: Incident, series: Sequence[ImpactPoint], workstreams: list[Workstream]) -> Markup:
    """The chart as inline SVG markup (empty until there is something to draw)."""
    if not series and not workstreams:
        return Markup("")
    try:
        key = _cache_key(incident, series, workstreams)
        hash(key)
    except TypeError:  # inputs that are not plain values (e.g. ORM rows in tests): just draw
        return _draw(incident, series, workstreams)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    drawn = _draw(incident, series, workstreams)
    with _CACHE_LOCK:
        _CACHE[key] = drawn
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return drawn


def _draw(incident: Incident, series: Sequence[ImpactPoint], workstreams: list[Workstream]) -> Markup:
    parts: list[str] = []
    height = 0
    if series:
        height = _impact_section(parts, incident, series)
    if workstreams:
        height = _workstream_section(parts, workstreams, top=height + (24 if height else 8))
    height += 12
    base = f"chart-{incident.id}"
    attrs = {"xmlns": "http://www.w3.org/2000/svg", "version": "1.1", "class": "recovery-chart",
             # Fluid width: the viewBox keeps the proportions on the page and in a PDF.
             "viewBox": f"0 0 {WIDTH} {height}", "width": "100%",
             "role": "img", "aria-labelledby": f"{base}-title", "aria-describedby": f"{base}-desc",
             "font-family": FONT, "font-size": 12, "fill": INK,
             "data-updates": len(series), "data-workstreams": len(workstreams)}
    if series:
        last = series[-1]
        attrs.update({f"data-latest-{line.key}": _value(last, line.key) for line in LINES})
    head = [svg.text_el("title", f"Recovery of {incident.reference}: customers restored against affected "
                              "over time, and progress of each recovery workstream", id=f"{base}-title"),
            svg.text_el("desc", summary(series=series, workstreams=workstreams), id=f"{base}-desc")]
    return Markup(f"<svg{svg.attributes(attrs)}>" + "".join(head + parts) + "</svg>")


def summary(*, series: Sequence[ImpactPoint], workstreams: list[Workstream]) -> str:
    """One or two sentences with the latest figures, for people who cannot see the chart."""
    sentences = []
    if series:
        last = series[-1]
        pct = f" ({last.restored_pct:.1f}%)" if last.restored_pct is not None else ""
        sentences.append(
            f"Latest figures ({_when(last.as_of)}): {last.customers_restored:,} of "
            f"{last.customers_affected:,} affected customers restored{pct}, {last.customers_lost:,} "
            f"permanently lost, {last.customers_notified:,} notified; {len(series)} impact "
            f"update{'s' if len(series) != 1 else ''} since {_when(series[0].as_of)}.")
    if workstreams:
        counts = {s: sum(1 for w in workstreams if w.status is s) for s in WorkstreamStatus}
        states = ", ".join(f"{n} {s.label.lower()}" for s, n in counts.items() if n)
        sentences.append(f"{len(workstreams)} recovery workstream{'s' if len(workstreams) != 1 else ''}: "
                         f"{states}.")
    return " ".join(sentences)


# --- the impact lines ---------------------------------------------------------------------------

def _impact_section(parts: list[str], incident: Incident, series: Sequence[ImpactPoint]) -> int:
    """Legend, axes, areas and step lines of the customer counts; returns the section's height."""
    start, end = _time_domain(incident, series)
    ticks = time_ticks(start, end)
    start = min(start, ticks[0][0])
    span = (end - start).total_seconds()
    values = y_ticks(max(u.customers_affected for u in series))
    top = _legend(parts, series[-1]) + 22
    bottom = top + PLOT_HEIGHT

    def x(when: datetime) -> float:
        return LEFT + (RIGHT - LEFT) * (when - start).total_seconds() / span

    def y(value: int) -> float:
        return bottom - PLOT_HEIGHT * value / values[-1]

    for value in values:
        parts.append(svg.el("line", x1=LEFT, x2=RIGHT, y1=svg.num(y(value)), y2=svg.num(y(value)),
                         stroke=GRID if value else AXIS, **{"stroke-width": 1}))
        parts.append(svg.text_el("text", compact(value), x=LEFT - 8, y=svg.num(y(value) + 4),
                              **{"text-anchor": "end", "fill": MUTED, "font-size": 11}))
    for when, label in ticks:
        px = svg.num(x(when))
        parts.append(svg.el("line", x1=px, x2=px, y1=bottom, y2=bottom + 5, stroke=AXIS))
        for i, row in enumerate(label.split("\n")):
            parts.append(svg.text_el("text", row, x=px, y=bottom + 19 + 13 * i,
                                  **{"text-anchor": "middle", "fill": MUTED, "font-size": 11}))
    _markers(parts, incident, start, end, x, top=top, bottom=bottom)
    _lines(parts, series, x, y, right=x(end), bottom=bottom)
    return bottom + 36


def _lines(parts: list[str], series: Sequence[ImpactPoint], x, y, *, right: float, bottom: float) -> None:
    """The shaded areas, then the step lines on top, then a dot on each latest figure."""
    lines = {line.key: _step_points(series, line.key, x, y, right=right) for line in LINES}
    for line in LINES:
        if line.area:
            pts = lines[line.key]
            polygon = pts + [(pts[-1][0], bottom), (pts[0][0], bottom)]
            parts.append(svg.el("polygon", points=svg.points(polygon), fill=line.area, stroke="none",
                             **{"data-series": line.key}))
    for line in LINES:
        attrs = {"class": f"line line-{line.key}", "stroke-width": line.width,
                 "stroke-linejoin": "round", "data-series": line.key}
        if line.dash:
            attrs["stroke-dasharray"] = line.dash
        parts.append(svg.el("polyline", points=svg.points(lines[line.key]), fill="none", stroke=line.color,
                         **attrs))
    last_x = x(series[-1].as_of)
    for line in LINES:
        parts.append(svg.el("circle", cx=svg.num(last_x), cy=svg.num(y(_value(series[-1], line.key))), r=3.5,
                         fill=line.color, stroke="#fff", **{"stroke-width": 1.5}))


def _time_domain(incident: Incident, series: Sequence[ImpactPoint]) -> tuple[datetime, datetime]:
    """From the first update (or the loss, if it began shortly before) to the latest update."""
    start, end = series[0].as_of, series[-1].as_of
    span = end - start
    began = incident.loss_began_at
    if began is not None and began < start and start - began <= max(span / 2, timedelta(days=2)):
        start = began
    # The axis ends at the latest figure: nothing is known after it, and figures are never dated
    # in the future (impact service), so neither is the axis. A lone update gets an hour of room
    # on the left, never on the right.
    return min(start, end - timedelta(hours=1)), end


def _step_points(series: Sequence[ImpactPoint], key: str, x, y, *, right: float) -> list[tuple[float, float]]:
    """A step line: each figure holds until the next update. Of updates a bucket (a couple of
    pixels) apart, only the last is drawn, so the size stays bounded however many there are."""
    buckets: dict[int, tuple[float, float]] = {}
    for update in series:
        px = x(update.as_of)
        buckets[int(px // BUCKET_PX)] = (px, y(_value(update, key)))
    # Steps only where updates are far enough apart to see them; dense series become a plain
    # line, which looks the same and halves the points.
    steps = len(buckets) * 8 <= right - LEFT
    points: list[tuple[float, float]] = []
    for px, py in buckets.values():
        if not points:
            points.append((px, py))
        elif py != points[-1][1]:
            points += [(px, points[-1][1]), (px, py)] if steps else [(px, py)]
    if right > points[-1][0]:
        points.append((right, points[-1][1]))
    return points


def _legend(parts: list[str], last: ImpactPoint) -> int:
    """A swatch, the name and the latest figure of each line, wrapping; returns the last row's y."""
    parts.append(svg.text_el("text", f"Customers (latest figures {_when(last.as_of)}; dates in UTC)",
                          x=LEFT, y=16, **{"fill": MUTED, "font-size": 11}))
    x, y = LEFT, 38
    for line in LINES:
        value = _value(last, line.key)
        figure = f"{value:,}"
        if line.key == "restored" and last.restored_pct is not None:
            figure += f" ({last.restored_pct:.1f}%)"
        width = 24 + 7 * (len(line.label) + len(figure) + 1)
        if x > LEFT and x + width > WIDTH:
            x, y = LEFT, y + 20
        attrs = {"stroke-width": 3}
        if line.dash:
            attrs["stroke-dasharray"] = line.dash
        parts.append(svg.el("line", x1=x, x2=x + 18, y1=y - 4, y2=y - 4, stroke=line.color, **attrs))
        parts.append(f'<text x="{x + 24}" y="{y}" font-size="12" data-legend="{line.key}">'
                     f'<tspan fill="{MUTED}">{escape(line.label)}</tspan> '
                     f'<tspan font-weight="bold">{escape(figure)}</tspan></text>')
        x += width + 24
    return y


def _markers(parts: list[str], incident: Incident, start: datetime, end: datetime, x, *,
             top: float, bottom: float) -> None:
    """Dashed verticals for the loss beginning and the restore being verified, when in view."""
    for when, label in ((incident.loss_began_at, "Loss began"),
                        (incident.restore_verified_at, "Restore verified")):
        if when is None or not start <= when <= end:
            continue
        px = svg.num(x(when))
        near_right = px > RIGHT - 110
        parts.append(svg.el("line", x1=px, x2=px, y1=top - 6, y2=bottom, stroke=MUTED,
                         **{"stroke-width": 1, "stroke-dasharray": "3 3"}))
        parts.append(svg.text_el("text", label, x=px - 4 if near_right else px + 4, y=top + 6,
                              **{"text-anchor": "end" if near_right else "start", "fill": MUTED,
                                 "font-size": 10.5}))


# --- the workstream bars ------------------------------------------------------------------------

ROW = 36
BAR_X, BAR_W, FIGURES_X = 392, 250, 656
LABEL_WIDTH = BAR_X - 14


def _workstream_section(parts: list[str], workstreams: list[Workstream], *, top: int) -> int:
    """A heading, then per data category one bar per workstream; returns the bottom edge."""
    parts.append(svg.text_el("text", "Workstream progress (done of target)", x=0, y=top + 14,
                          **{"font-size": 14, "font-weight": "bold"}))
    y = top + 28
    for label, group in _by_category(workstreams):
        parts.append(svg.el("line", x1=0, x2=WIDTH, y1=y + 0.5, y2=y + 0.5, stroke=GRID))
        parts.append(svg.text_el("text", label.upper(), x=0, y=y + 17,
                              **{"fill": MUTED, "font-size": 11, "font-weight": "bold",
                                 "letter-spacing": 0.6}))
        y += 24
        for workstream in group:
            parts.append(_bar(workstream, y))
            y += ROW
    return y


def _by_category(workstreams: list[Workstream]) -> list[tuple[str, list[Workstream]]]:
    """Groups in the vocabulary's order; workstreams without a category come last."""
    order = list(DATA_CATEGORIES)
    keys = sorted({w.category for w in workstreams},
                  key=lambda c: (c is None, order.index(c) if c in order else len(order), c or ""))
    return [(DATA_CATEGORIES.get(k, k) if k else "Other work",
             [w for w in workstreams if w.category == k]) for k in keys]


def _bar(workstream: Workstream, y: int) -> str:
    """One workstream row: name and owner, the bar, and the figures."""
    color = STATUS_COLORS[workstream.status]
    faded = workstream.status is WorkstreamStatus.abandoned
    owner = workstream.owner.display if workstream.owner else "no owner"
    status = workstream.status.label.lower()
    done_w = BAR_W * workstream.percent / 100
    pct = f"{math.floor(workstream.percent)}%" if workstream.percent < 100 else "100%"
    unit = workstream.unit
    figures = f"{_count(workstream.done)} of {_count(workstream.target)} {unit}"
    status_color = color if workstream.status in (WorkstreamStatus.blocked, WorkstreamStatus.done) else MUTED
    items = [
        svg.text_el("title", f"{workstream.name}: {workstream.done:,} of {workstream.target:,} {unit} "
                          f"({workstream.percent:.1f}%), {status}, owner {owner}"),
        svg.text_el("text", svg.fit(workstream.name, LABEL_WIDTH, 12.5), x=0, y=y + 14,
                 **{"font-size": 12.5, "fill": MUTED if faded else INK}),
        f'<text x="0" y="{y + 29}" font-size="11" fill="{MUTED}">{escape(svg.clean(owner))} · '
        f'<tspan fill="{status_color}" font-weight="{"bold" if status_color != MUTED else "normal"}">'
        f'{escape(status)}</tspan></text>',
        svg.el("rect", x=BAR_X, y=y + 9, width=BAR_W, height=12, rx=3, fill="#eef1f4"),
    ]
    if done_w > 0:
        items.append(svg.el("rect", x=BAR_X, y=y + 9, width=svg.num(max(done_w, 2)), height=12, rx=3, fill=color,
                         **{"class": "bar-done"}))
    items += [
        svg.text_el("text", pct, x=FIGURES_X, y=y + 14,
                 **{"font-size": 12.5, "font-weight": "bold", "fill": MUTED if faded else INK}),
        svg.text_el("text", figures, x=FIGURES_X, y=y + 29, **{"font-size": 11, "fill": MUTED}),
    ]
    attrs = {"class": f"workstream status-{workstream.status.value}", "data-workstream": workstream.id,
             "data-percent": f"{workstream.percent:.1f}"}
    return f"<g{svg.attributes(attrs)}>" + "".join(items) + "</g>"


# --- markup helpers ----------------------------------------------------------------------------

def _count(value: int) -> str:
    """Exact while short (9,500), compact beyond (12.3k, 6.3M)."""
    return f"{value:,}" if value < 10_000 else compact(value)


def _value(update: ImpactPoint, key: str) -> int:
    return getattr(update, f"customers_{key}")


def _when(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return f"{moment:%b} {moment.day}, {moment.year} {moment:%H:%M} UTC"
