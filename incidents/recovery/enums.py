"""Vocabularies of recovery work."""
from __future__ import annotations

from incidents.enums import LabelledEnum


class WorkstreamStatus(LabelledEnum):
    planned = "planned"
    in_progress = "in_progress"
    blocked = "blocked"
    done = "done"
    abandoned = "abandoned"

    @property
    def is_active(self) -> bool:
        return self in (WorkstreamStatus.planned, WorkstreamStatus.in_progress, WorkstreamStatus.blocked)


# Where restored data comes from.
SOURCES: dict[str, str] = {
    "backup": "Backup",
    "replica": "Replica",
    "tape": "Tape",
    "snapshot": "Storage snapshot",
    "device_resync": "Device re-sync",
    "vendor_tool": "Vendor repair tool",
    "logs": "Replay from logs",
    "other": "Other",
}

UNITS: dict[str, str] = {
    "customers": "customers",
    "records": "records",
    "accounts": "accounts",
    "files": "files",
    "GB": "GB",
    "TB": "TB",
}
