"""How a stored value reads in timeline entries and conflict messages, for every feature."""
from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from incidents.auth.models import User
from incidents.incident.enums import DATA_CATEGORIES


def show_value(value: Any) -> str:
    """A value as a person reads it: names for people, UTC times, plain words for choices."""
    if value is None or value == "" or value == []:
        return "none"
    if isinstance(value, User):
        return value.display
    if isinstance(value, bool):  # before int: a bool is an int
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, enum.Enum):
        return str(value.value).replace("_", " ")
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, list):
        return ", ".join(DATA_CATEGORIES.get(v, v) for v in value)
    return str(value)
