"""Forms for posting to and correcting the timeline."""
from __future__ import annotations

from wtforms import IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from incidents.forms import BaseForm, options, UTCDateTimeField
from incidents.timeline.models import POSTABLE_KINDS, EntryKind, Visibility

MAX_BODY = 20_000
KIND_CHOICES = options((k.value, k.label) for k in POSTABLE_KINDS)
VISIBILITY_CHOICES = options((v.value, v.label) for v in Visibility)


class EntryForm(BaseForm):
    body = TextAreaField("Update", validators=[DataRequired("Write what happened."), Length(max=MAX_BODY)],
                         render_kw={"placeholder": "What happened? Markdown works.", "rows": 3})
    kind = SelectField("Kind", choices=KIND_CHOICES, default=EntryKind.note.value)
    visibility = SelectField("Visibility", choices=VISIBILITY_CHOICES, default=Visibility.internal.value)
    occurred_at = UTCDateTimeField("Happened at", validators=[Optional()],
                                   description="UTC; leave empty for now")


class CorrectionForm(BaseForm):
    revision = IntegerField(widget=HiddenInput(),
                            validators=[InputRequired("The form is missing its revision; reload the page."),
                                        NumberRange(min=1, max=2**31 - 1)])
    body = TextAreaField("Corrected text", validators=[DataRequired("Write the corrected text."),
                                                       Length(max=MAX_BODY)], render_kw={"rows": 6})
    kind = SelectField("Kind", choices=options((k.value, k.label) for k in EntryKind))
    visibility = SelectField("Visibility", choices=VISIBILITY_CHOICES)
    occurred_at = UTCDateTimeField("Happened at", validators=[DataRequired("Keep a time for the entry.")])
    reason = StringField("Why the correction?", validators=[DataRequired("Say why you are correcting it."),
                                                             Length(max=500)])
