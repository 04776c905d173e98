"""Forms of the obligations page: regimes, anchor moments, filing, not required."""
from __future__ import annotations

from wtforms import IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from incidents.forms import BaseForm, MarkdownField, MultiCheckboxField, UTCDateTimeField, options
from incidents.obligations.rules import RECORDED_ANCHORS


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


class NotRequiredForm(BaseForm):
    exemption = SelectField("Exemption", validate_choice=True, default="")
    explanation = MarkdownField("Why it is not required", validators=[Optional(), Length(max=5000)],
                                description="Why it does not apply, e.g. “the data was encrypted”.",
                                render_kw={"rows": 2})


class ResidentsForm(BaseForm):
    """People affected under one regime (a state's residents); empty: the incident's customers affected."""

    residents = IntegerField("Residents affected", validators=[Optional(), NumberRange(min=0, max=10**9)])
