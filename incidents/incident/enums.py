"""The fixed vocabularies of an incident: severity, status and data categories."""
from __future__ import annotations

from incidents.enums import LabelledEnum


class Severity(LabelledEnum):
    """SEV1 is the most severe."""

    SEV1 = "SEV1"
    SEV2 = "SEV2"
    SEV3 = "SEV3"
    SEV4 = "SEV4"

    __labels__ = {
        "SEV1": "SEV1 · critical",
        "SEV2": "SEV2 · major",
        "SEV3": "SEV3 · minor",
        "SEV4": "SEV4 · low",
    }


class Status(LabelledEnum):
    """The lifecycle, in order. Closed comes only after resolved."""

    investigating = "investigating"
    identified = "identified"
    recovering = "recovering"
    monitoring = "monitoring"
    resolved = "resolved"
    closed = "closed"

    @property
    def is_open(self) -> bool:
        return self not in (Status.resolved, Status.closed)


OPEN_STATUSES = [s for s in Status if s.is_open]

# Which status may follow which. Work can slide back (a restore fails, a resolved incident
# reopens), but a closed incident is history and stays closed.
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.investigating: (Status.identified, Status.recovering, Status.monitoring, Status.resolved),
    Status.identified: (Status.investigating, Status.recovering, Status.monitoring, Status.resolved),
    Status.recovering: (Status.investigating, Status.identified, Status.monitoring, Status.resolved),
    Status.monitoring: (Status.investigating, Status.identified, Status.recovering, Status.resolved),
    Status.resolved: (Status.investigating, Status.recovering, Status.monitoring, Status.closed),
    Status.closed: (),
}

# Data an incident can touch. Kept as a vocabulary so counts per category add up across incidents.
DATA_CATEGORIES: dict[str, str] = {
    "contacts": "Contacts",
    "calendars": "Calendars",
    "tasks": "To-do lists",
    "notes": "Notes",
    "photos": "Photos",
    "files": "Files",
    "messages": "Messages",
    "settings": "Settings and preferences",
    "billing": "Billing records",
}
