"""Vocabularies of action items."""
from __future__ import annotations

import enum


class ActionKind(enum.Enum):
    prevent = "prevent"
    detect = "detect"
    mitigate = "mitigate"
    process = "process"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class ActionPriority(enum.Enum):
    high = "high"
    medium = "medium"
    low = "low"

    @property
    def label(self) -> str:
        return self.value.capitalize()

    @property
    def rank(self) -> int:
        return list(ActionPriority).index(self)


class ActionStatus(enum.Enum):
    open = "open"
    in_progress = "in_progress"
    done = "done"
    wont_do = "wont_do"

    @property
    def label(self) -> str:
        return {"open": "Open", "in_progress": "In progress", "done": "Done",
                "wont_do": "Won't do"}[self.value]

    @property
    def is_open(self) -> bool:
        return self in (ActionStatus.open, ActionStatus.in_progress)


OPEN_ACTION_STATUSES = [s for s in ActionStatus if s.is_open]
