"""Forms for declaring, editing and moving incidents."""
from __future__ import annotations

from datetime import timedelta

from wtforms import (
    BooleanField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from incidents.db import utcnow
from incidents.forms import BaseForm, MarkdownField, UTCDateTimeField, options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.impact.forms import CountField
from incidents.incident.enums import DATA_CATEGORIES, Severity, Status

SEVERITY_CHOICES = options((s.value, s.label) for s in Severity)
CATEGORY_CHOICES = options(DATA_CATEGORIES.items())
MAX_TEXT = 20_000


class MultiCheckboxField(SelectMultipleField):
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


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
    summary = MarkdownField("First notes (Markdown, internal)", validators=[Optional(), Length(max=MAX_TEXT)])


class OwnerChoiceField(SelectField):
    """A person chosen from a list, or nobody (0)."""

    def __init__(self, label, **kwargs):
        super().__init__(label, coerce=int, validators=[Optional()], validate_choice=True, **kwargs)


class EditForm(BaseForm):
    version = version_field()
    title = StringField("Title", validators=[DataRequired("Give the incident a title."), Length(max=200)])
    severity = SelectField("Severity", choices=SEVERITY_CHOICES, validators=[DataRequired()])
    summary = MarkdownField("Summary (Markdown, internal)", validators=[Optional(), Length(max=MAX_TEXT)],
                            render_kw={"rows": 10})
    data_categories = MultiCheckboxField("Data categories affected", choices=CATEGORY_CHOICES,
                                         validators=[Optional()])
    personal_data = BooleanField("Personal data involved")
    commander = OwnerChoiceField("Incident commander")
    comms_lead = OwnerChoiceField("Communications lead")
    executive = OwnerChoiceField("Executive owner")
    loss_began_at = UTCDateTimeField("Loss began", validators=[Optional()])
    detected_at = UTCDateTimeField("Detected", validators=[Optional()])
    declared_at = UTCDateTimeField("Declared", validators=[DataRequired("An incident has a declared time.")])
    aware_at = UTCDateTimeField("Became aware (legal clock start)", validators=[Optional()])
    mitigated_at = UTCDateTimeField("Mitigated", validators=[Optional()])
    resolved_at = UTCDateTimeField("Resolved", validators=[Optional()])
    last_good_backup_at = UTCDateTimeField("Last good backup", validators=[Optional()],
                                           description="UTC; the newest backup known to restore")
    restore_verified_at = UTCDateTimeField("Restore verified", validators=[Optional()],
                                           description="UTC; when restored data was checked correct")
    # CountField, like every other number a person types: plain digits only ("1_000" and "٣" are
    # refused; int() alone takes them).
    rpo_target_minutes = CountField("RPO target (minutes)", required=False, validators=[NumberRange(max=10**7)],
                                    description="Most data, in minutes before the loss, we accept losing")
    rto_target_minutes = CountField("RTO target (minutes)", required=False, validators=[NumberRange(max=10**7)],
                                    description="Longest time from loss to verified restore we accept")

    def set_people(self, users) -> None:
        choices = options([(0, "— nobody yet —")] + [(u.id, f"{u.display} ({u.role.value})") for u in users])
        for field in (self.commander, self.comms_lead, self.executive):
            field.choices = choices

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        ordered = [("loss_began_at", "detected_at"), ("detected_at", "resolved_at"),
                   ("loss_began_at", "resolved_at"), ("declared_at", "resolved_at"),
                   ("last_good_backup_at", "loss_began_at"), ("loss_began_at", "restore_verified_at")]
        # A key moment records what happened; one in the future is a typing mistake (a few
        # minutes of slack allow for clocks that run a little ahead).
        latest_allowed = utcnow() + timedelta(minutes=5)
        for name in ("loss_began_at", "detected_at", "declared_at", "aware_at", "mitigated_at", "resolved_at",
                     "last_good_backup_at", "restore_verified_at"):
            field = getattr(self, name)
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


class StatusForm(BaseForm):
    version = version_field()
    status = SelectField("New status", choices=options((s.value, s.label) for s in Status),
                         validators=[DataRequired("Choose the new status.")])
    note = MarkdownField("Why (optional, goes on the timeline)", validators=[Optional(), Length(max=MAX_TEXT)])
