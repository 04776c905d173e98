"""The review workflow of a postmortem."""
from __future__ import annotations

from incidents.enums import LabelledEnum


class PostmortemStatus(LabelledEnum):
    """draft → in review → approved → published. Editing approved text sends it back to review."""

    draft = "draft"
    in_review = "in_review"
    approved = "approved"
    published = "published"
