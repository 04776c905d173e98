"""Forms for declaring, editing and moving incidents."""
from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from incidents.db import utcnow
from incidents.forms import (
    BaseForm,
    MarkdownField,
    MultiCheckboxField,
    UTCDateTimeField,
    options,
    people_options,
    version_field,
)
from incidents.idempotency import IdempotentFormMixin
from incidents.impact.forms import CountField
from incidents.incident.enums import DATA_CATEGORIES, Severity, Status
from incidents.incident.fields import FIELDS, Field
from incidents.status.forms import IMPACT_CHOICES
from incidents.systems.incident_forms import SystemsField

SEVERITY_CHOICES = options((s.value, s.label) for s in Severity)
CATEGORY_CHOICES = options(DATA_CATEGORIES.items())
MAX_TEXT = 20_000


class DeclareForm(IdempotentFormMixin, BaseForm):
    title = StringField("What is happening?", validators=[DataRequired("Give the incident a title."),
                                                          Length(max=200)],
                        render_kw={"placeholder": "e.g. Contacts missing after storage upgrade",
                                   "autofocus": True})
    severity = SelectField("Severity", choices=SEVERITY_CHOICES, default=Severity.SEV2.value,
                           validators=[DataRequired()])
    data_categories = MultiCheckboxField("Data affected (if known)", choices=CATEGORY_CHOICES,
                                         validators=[Optional()])
    personal_data = BooleanField("Personal data may be involved")
    # Named with their state at the declaration kept; the incident's RPO target follows theirs.
    systems = SystemsField("Systems affected")
    summary = MarkdownField("First notes (Markdown, internal)", validators=[Optional(), Length(max=MAX_TEXT)])
    # Optional: publish to the status page at once (incidents/status/service.publish_incident).
    # The names are the publish form's, so component fields and errors read the same.
    public_title = StringField("Public title", validators=[Optional(), Length(max=200)],
                               description="Written for customers: no internal names or details.")
    impact = SelectField("Public impact", choices=IMPACT_CHOICES, default="minor")
    public_body = MarkdownField("First public update", validators=[Optional(), Length(max=5000)],
                                description="Customers read this as written. No names, customer details or "
                                            "internal notes.")

    @property
    def publishes(self) -> bool:
        """Whether the declarer asked to put the incident on the status page now."""
        return bool((self.public_title.data or "").strip() or (self.public_body.data or "").strip())

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and self.publishes:
            for field, message in ((self.public_title, "Give the incident a title written for the public, "
                                                       "or leave both public fields empty."),
                                   (self.public_body, "Write the first update customers will read, "
                                                      "or leave both public fields empty.")):
                if not (field.data or "").strip():
                    field.errors = list(field.errors) + [message]
                    valid = False
        return valid


class OwnerChoiceField(SelectField):
    """A person chosen from a list, or nobody (0)."""

    def __init__(self, label, **kwargs):
        super().__init__(label, coerce=int, validators=[Optional()], validate_choice=True, **kwargs)


class EditForm(BaseForm):
    """The incident's editable fields (declared in incidents/incident/fields.py) and its version."""

    version = version_field()

    @classmethod
    def showing(cls, incident) -> EditForm:
        """The form filled in from the stored incident (its selects hold values and ids)."""
        form = cls(formdata=None, obj=incident)
        for spec in FIELDS:
            if spec.kind == "severity":
                form[spec.name].data = getattr(incident, spec.name).value
            elif spec.kind == "person":
                form[spec.name].data = getattr(incident, f"{spec.name}_id") or 0
        return form

    def set_people(self, users) -> None:
        choices = people_options("— nobody yet —", users)
        for spec in FIELDS:
            if spec.kind == "person":
                self[spec.name].choices = choices

    def group(self, name: str) -> list:
        """The fields under one heading of the edit page, in declared order."""
        return [self[spec.name] for spec in FIELDS if spec.group == name]

    def changes(self, *, person: Callable[[int], Any]) -> dict[str, Any]:
        """The submitted values as the incident stores them; `person` finds a user by id."""
        read = {"text": str.strip, "markdown": lambda v: (v or "").strip(), "severity": Severity,
                "categories": lambda v: v or [], "flag": bool, "person": lambda v: person(v) if v else None}
        return {spec.name: read.get(spec.kind, lambda v: v)(self[spec.name].data) for spec in FIELDS}

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        ordered = [("loss_began_at", "detected_at"), ("detected_at", "resolved_at"),
                   ("loss_began_at", "resolved_at"), ("declared_at", "resolved_at"),
                   ("last_good_backup_at", "loss_began_at"), ("loss_began_at", "restore_verified_at")]
        # A key moment records what happened; one in the future is a typing mistake (a few
        # minutes of slack allow for clocks that run a little ahead).
        latest_allowed = utcnow() + timedelta(minutes=5)
        for field in (self[spec.name] for spec in FIELDS if spec.kind == "moment"):
            if field.data and field.data > latest_allowed:
                field.errors.append("This is in the future; enter when it happened (UTC).")
                valid = False
        for earlier, later in ordered:
            a, b = getattr(self, earlier).data, getattr(self, later).data
            if a and b and b < a:
                getattr(self, later).errors.append(
                    f"This cannot be before “{getattr(self, earlier).label.text}”.")
                valid = False
        return valid


def _form_field(spec: Field):
    """The form field for one declared field, by its kind."""
    label, first = spec.prompt or spec.label, DataRequired(spec.required) if spec.required else Optional()
    hint = {"description": spec.hint} if spec.hint else {}
    match spec.kind:
        case "text":
            return StringField(label, validators=[first, Length(max=200)])
        case "markdown":
            return MarkdownField(label, validators=[first, Length(max=MAX_TEXT)], render_kw={"rows": 10})
        case "severity":
            return SelectField(label, choices=SEVERITY_CHOICES, validators=[DataRequired()])
        case "categories":
            return MultiCheckboxField(label, choices=CATEGORY_CHOICES, validators=[Optional()])
        case "flag":
            return BooleanField(label)
        case "person":
            return OwnerChoiceField(label)
        case "moment":
            return UTCDateTimeField(label, validators=[first], **hint)
        case "minutes":
            # CountField, like every other number a person types: plain digits only ("1_000" and
            # "٣" are refused; int() alone takes them).
            return CountField(label, required=False, validators=[NumberRange(max=10**7)], **hint)
    raise ValueError(f"no form field for kind {spec.kind!r}")


for _spec in FIELDS:
    setattr(EditForm, _spec.name, _form_field(_spec))


class StatusForm(BaseForm):
    version = version_field()
    status = SelectField("New status", choices=options((s.value, s.label) for s in Status),
                         validators=[DataRequired("Choose the new status.")])
    note = MarkdownField("Why (optional, goes on the timeline)", validators=[Optional(), Length(max=MAX_TEXT)])
