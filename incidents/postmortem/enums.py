"""The review workflow of a postmortem."""
from __future__ import annotations

import enum


class PostmortemStatus(enum.Enum):
    """draft → in review → approved → published. Editing approved text sends it back to review."""

    draft = "draft"
    in_review = "in_review"
    approved = "approved"
    published = "published"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()
