"""Forms of the obligations page: regimes, anchor moments, filing, not required."""
from __future__ import annotations

from flask_wtf.file import FileField
from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from incidents.forms import BaseForm, MarkdownField, MultiCheckboxField, UTCDateTimeField, options, version_field
from incidents.impact.forms import CountField
from incidents.obligations.rules import ANCHOR_LABELS, RECIPIENTS, RECORDED_ANCHORS


class RegimesForm(BaseForm):
    # Choices are the loaded rule book's regimes; anything else is refused beside the field.
    regimes = MultiCheckboxField("Regimes that apply", validate_choice=True)


class AnchorForm(BaseForm):
    kind = SelectField("Moment", choices=options(RECORDED_ANCHORS.items()),
                       validators=[DataRequired("Choose a moment.")])
    at = UTCDateTimeField("When it happened", validators=[InputRequired("Give the date and time (UTC).")])


class FileForm(BaseForm):
    filed_at = UTCDateTimeField("Sent at", validators=[InputRequired("Give when it was sent (UTC).")])
    reference = StringField("Reference number", validators=[Optional(), Length(max=200)],
                            render_kw={"placeholder": "e.g. the authority's case number"})
    notice_version = SelectField("Notice version sent", coerce=int, validate_choice=True, default=0)
    reason = MarkdownField("Reason for the delay", validators=[Optional(), Length(max=5000)],
                           description="Required when it is sent after the due time.", render_kw={"rows": 2})
    attachment = FileField("Proof of sending (optional)",
                           description="The authority's receipt or a screenshot of the submission; at most 1.5 MB.")


class NotRequiredForm(BaseForm):
    exemption = SelectField("Exemption", validate_choice=True, default="")
    explanation = MarkdownField("Why it is not required", validators=[Optional(), Length(max=5000)],
                                description="Why it does not apply, e.g. “the data was encrypted”.",
                                render_kw={"rows": 2})


class ResidentsForm(BaseForm):
    """People affected under one regime (a state's residents); empty: the incident's customers affected."""

    residents = IntegerField("Residents affected", validators=[Optional(), NumberRange(min=0, max=10**9)])


def lines_within(limit: int):
    """A validator: every line of a one-item-per-line list at most `limit` characters."""
    def check(_form, field) -> None:
        if isinstance(field.data, str) and any(len(line) > limit for line in field.data.splitlines()):
            raise ValidationError(f"Keep each item under {limit + 1} characters (one item per line).")
    return check


OFFSET_CHOICES = [("hours", "hours"), ("calendar_days", "calendar days"),
                  ("business_days", "business days (weekends skipped)"), ("calendar_months", "calendar months"),
                  ("without_undue_delay", "without undue delay (no fixed clock)")]


class ContractRuleForm(BaseForm):
    title = StringField("Obligation", validators=[DataRequired("Say what must be done."), Length(max=500)],
                        render_kw={"placeholder": "e.g. Tell enterprise customers' security contacts"})
    recipient = SelectField("Who is told", choices=options(RECIPIENTS.items()), default="customers",
                            validators=[DataRequired()])
    anchor = SelectField("Counted from", choices=options(ANCHOR_LABELS.items()), default="aware",
                         validators=[DataRequired()])
    offset_kind = SelectField("Deadline in", choices=options(OFFSET_CHOICES), default="hours",
                              validators=[DataRequired()])
    offset_amount = CountField("How many", required=False, validators=[NumberRange(min=1, max=3660)],
                               description="Empty for “without undue delay”.")
    content = TextAreaField("What the notice must carry", render_kw={"rows": 4},
                            validators=[DataRequired("List at least one item, one per line."), Length(max=5000),
                                        lines_within(500)],
                            description="One item per line.")
    note = TextAreaField("Note", validators=[Optional(), Length(max=500)], render_kw={"rows": 2},
                         description="e.g. which contracts: “Enterprise plan, clause 9.2”.")


class EditContractRuleForm(ContractRuleForm):
    version = version_field()
