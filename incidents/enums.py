"""What every vocabulary of the tracker shares: a label for people beside the stored value."""
from __future__ import annotations

import enum
from typing import ClassVar


class LabelledEnum(enum.Enum):
    """An enum whose members have a `label`: the value in words ("in_progress" → "In progress"),
    unless the class lists its own wording in `__labels__` (by value)."""

    # A dunder name, so Enum keeps it as a class attribute rather than making it a member.
    __labels__: ClassVar[dict[str, str]] = {}

    @property
    def label(self) -> str:
        """The member as people read it."""
        return self.__labels__.get(self.value) or self.value.replace("_", " ").capitalize()
