"""Writing SVG by hand, safely: every text and attribute escaped and stripped of the control
characters XML forbids, numbers rounded, and text cut to fit a width (SVG cannot wrap)."""
from __future__ import annotations

import re

from markupsafe import escape

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean(text: str) -> str:
    """Text without the control characters XML forbids (they would make the SVG unreadable)."""
    return _CONTROL.sub("", text)


def fit(text: str, width: float, size: float) -> str:
    """`text` on one line, cut short with an ellipsis where it would run past `width` pixels.

    SVG cannot wrap or measure text, so widths are estimated from typical sans-serif glyphs."""
    text = " ".join(clean(text).split())
    widths = [size * _glyph_width(char) for char in text]
    if sum(widths) <= width:
        return text
    used, room = 0.0, width - size * 0.8  # leave space for the ellipsis
    for i, glyph in enumerate(widths):
        used += glyph
        if used > room:
            return text[:i].rstrip() + "…"
    return text


def _glyph_width(char: str) -> float:
    if char in "ijlI.,:;|!'` ()[]ft":
        return 0.32
    if char in "mwMW@%":
        return 0.9
    if char.isupper() or char.isdigit():
        return 0.68
    return 0.56 if char.isascii() else 1.0


def num(value: float) -> float | int:
    rounded = round(value, 1)
    return int(rounded) if rounded == int(rounded) else rounded


def points(points: list[tuple[float, float]]) -> str:
    return " ".join(f"{num(px)},{num(py)}" for px, py in points)


def attributes(attrs: dict) -> str:
    return "".join(f' {name}="{escape(clean(str(value)))}"' for name, value in attrs.items())


def el(tag: str, **attrs) -> str:
    return f"<{tag}{attributes(attrs)}/>"


def text_el(tag: str, text: str, **attrs) -> str:
    return f"<{tag}{attributes(attrs)}>{escape(clean(text))}</{tag}>"
