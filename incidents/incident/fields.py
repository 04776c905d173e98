"""The incident's editable fields, declared once.

The edit form and its page, the changes an edit submits, the differences shown on a conflict and
the timeline's account of an edit all derive from `FIELDS`: a new field is one line here (plus its
column, its migration and wherever the incident page shows it).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["text", "markdown", "severity", "categories", "flag", "person", "moment", "minutes"]


@dataclass(frozen=True)
class Field:
    name: str  # the Incident attribute (a person field names the relationship, e.g. commander)
    label: str  # what the incident page, the timeline and the conflict table call it
    kind: Kind
    group: Literal["what", "who", "when", "recovery"]  # the heading it sits under on the edit page
    prompt: str = ""  # the edit form's label, where it says more than `label`
    hint: str = ""  # the help shown under the field
    required: str = ""  # the message when it is left empty; empty: optional


FIELDS: tuple[Field, ...] = (
    Field("title", "Title", "text", "what", required="Give the incident a title."),
    Field("severity", "Severity", "severity", "what"),
    Field("summary", "Summary", "markdown", "what", prompt="Summary (Markdown, internal)"),
    Field("data_categories", "Data categories", "categories", "what", prompt="Data categories affected"),
    Field("personal_data", "Personal data involved", "flag", "what"),
    Field("commander", "Incident commander", "person", "who"),
    Field("comms_lead", "Communications lead", "person", "who"),
    Field("executive", "Executive owner", "person", "who"),
    Field("loss_began_at", "Loss began", "moment", "when"),
    Field("detected_at", "Detected", "moment", "when"),
    Field("declared_at", "Declared", "moment", "when", required="An incident has a declared time."),
    Field("aware_at", "Became aware (legal clock)", "moment", "when", prompt="Became aware (legal clock start)",
          hint="When you knew personal data was affected: notification deadlines count from here."),
    Field("mitigated_at", "Mitigated", "moment", "when"),
    Field("resolved_at", "Resolved", "moment", "when"),
    Field("last_good_backup_at", "Last good backup", "moment", "recovery",
          hint="UTC; the newest backup known to restore"),
    Field("restore_verified_at", "Restore verified", "moment", "recovery",
          hint="UTC; when restored data was checked correct"),
    Field("rpo_target_minutes", "RPO target (minutes)", "minutes", "recovery",
          hint="Most data, in minutes before the loss, we accept losing"),
    Field("rto_target_minutes", "RTO target (minutes)", "minutes", "recovery",
          hint="Longest time from loss to verified restore we accept"),
)
BY_NAME = {field.name: field for field in FIELDS}

# The key moments of an incident, in the order they usually happen; the status lifecycle alone
# sets the last one.
KEY_MOMENTS: dict[str, str] = {f.name: f.label for f in FIELDS if f.group == "when"} | {"closed_at": "Closed"}
