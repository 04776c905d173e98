"""Scales for the recovery chart: round tick values, short number labels and time ticks."""
from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal


def y_ticks(largest: int, *, count: int = 5) -> list[int]:
    """Round tick values from 0 to at least `largest`, about `count` intervals."""
    if largest <= 0:
        return [0, 1]
    raw = largest / count
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    step = max(1, int(step))
    top = -(-largest // step) * step
    return list(range(0, top + 1, step))


UNITS = ((10**12, "T"), (10**9, "B"), (10**6, "M"), (10**3, "k"))


def compact(value: int) -> str:
    """A count in about three significant digits: 950, 1.25k, 12.3k, 174k, 2.5M, 4B."""
    for i, (size, suffix) in enumerate(UNITS):
        if abs(value) >= size:
            text = _scaled(value, size)
            if text.lstrip("-") == "1000" and i > 0:  # 999,999 rounds up to 1M, not 1000k
                size, suffix = UNITS[i - 1]
                text = _scaled(value, size)
            return text + suffix
    return str(value)


def _scaled(value: int, size: int) -> str:
    whole = abs(value) // size
    if whole >= 1000:
        return f"{round(value / size):,}"
    digits = max(0, 3 - len(str(whole)))
    text = str((Decimal(value) / size).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))
    return text.rstrip("0").rstrip(".") if "." in text else text


TIME_STEPS = [timedelta(minutes=m) for m in (5, 10, 15, 30)] + \
             [timedelta(hours=h) for h in (1, 2, 3, 6, 12)] + \
             [timedelta(days=d) for d in (1, 2, 7, 14, 28, 56, 91, 182, 364)]


def time_ticks(start: datetime, end: datetime, *, most: int = 12) -> list[tuple[datetime, str]]:
    """Evenly spaced, labelled ticks on round times of day or midnights (UTC) up to `end`, at most
    about `most` of them. The first is at or just before `start` (the chart then begins there),
    or the first after it when the one before would leave a wide empty margin."""
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    step = next((s for s in TIME_STEPS if (end - start) / s <= most - 1), None)
    if step is None:  # decades: whole "years" of 364 days, several at a time
        step = TIME_STEPS[-1] * math.ceil((end - start) / TIME_STEPS[-1] / (most - 1))
    midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
    first = midnight + step * ((start - midnight) // step) if step < timedelta(days=1) else midnight
    if start - first > (end - start) / 10:
        first += step  # starting on the round time before `start` would waste too much room
    ticks = [first]
    while ticks[-1] + step <= end:
        ticks.append(ticks[-1] + step)
    years = len({t.year for t in ticks}) > 1
    labels = []
    for i, tick in enumerate(ticks):
        new_year = years and (i == 0 or tick.year != ticks[i - 1].year)
        day = f"{tick:%b} {tick.day}" + (f", {tick.year}" if new_year else "")
        if step < timedelta(days=1):
            new_day = i == 0 or tick.date() != ticks[i - 1].date()
            labels.append((tick, f"{tick:%H:%M}" + (f"\n{day}" if new_day else "")))
        else:
            labels.append((tick, day))
    return labels
