"""Vocabularies of action items."""
from __future__ import annotations

from incidents.enums import LabelledEnum


class ActionKind(LabelledEnum):
    prevent = "prevent"
    detect = "detect"
    mitigate = "mitigate"
    process = "process"


class ActionPriority(LabelledEnum):
    high = "high"
    medium = "medium"
    low = "low"

    @property
    def rank(self) -> int:
        return list(ActionPriority).index(self)


class ActionStatus(LabelledEnum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    wont_do = "wont_do"

    __labels__ = {"wont_do": "Won't do"}

    @property
    def is_open(self) -> bool:
        return self in (ActionStatus.open, ActionStatus.in_progress)


OPEN_ACTION_STATUSES = [s for s in ActionStatus if s.is_open]
# The same set as SQL, written out: a partial index serves only a query that repeats its condition
# word for word, which a bound parameter list is not (models.py, service.py).
OPEN_CONDITION = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_ACTION_STATUSES))
