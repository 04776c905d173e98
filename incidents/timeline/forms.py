"""Forms for posting to and correcting the timeline."""
from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from incidents.forms import BaseForm, MarkdownField, UTCDateTimeField, options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.timeline.models import POSTABLE_KINDS, EntryKind, Visibility

MAX_BODY = 20_000
KIND_CHOICES = options((k.value, k.label) for k in POSTABLE_KINDS)
VISIBILITY_CHOICES = options((v.value, v.label) for v in Visibility)


class EntryForm(IdempotentFormMixin, BaseForm):
    """The quick-post box: one line that Enter posts, or a longer text under "More options"."""

    # A one-line input, but running text like the longer box (so not a StringField, whose
    # text-direction check is meant for names and titles).
    body = MarkdownField("What's happening?", widget=TextInput(), validators=[Length(max=MAX_BODY)],
                         description="Enter posts it now, as an internal note.",
                         render_kw={"autocomplete": "off"})
    long_body = MarkdownField("Or write a longer update", validators=[Length(max=MAX_BODY)],
                              description="Markdown works. Use this or the one-line box, not both.",
                              render_kw={"rows": 5})
    kind = SelectField("Kind", choices=KIND_CHOICES, default=EntryKind.note.value)
    visibility = SelectField("Visibility", choices=VISIBILITY_CHOICES, default=Visibility.internal.value)
    occurred_at = UTCDateTimeField("Happened at", validators=[Optional()],
                                   description="UTC; leave empty for now")

    def validate_body(self, field) -> None:
        quick, long = (field.data or "").strip(), (self.long_body.data or "").strip()
        if quick and long:
            raise ValidationError("You wrote in both boxes: clear this one or the longer text, "
                                  "then post again.")
        if not quick and not long:
            raise ValidationError("Write what happened.")

    @property
    def text(self) -> str:
        """The update as typed, from whichever box was filled."""
        return (self.body.data or "").strip() or (self.long_body.data or "").strip()

    @property
    def options_used(self) -> bool:
        """Whether anything under "More options" was filled in or is wrong (so it opens)."""
        fields = (self.long_body, self.kind, self.visibility, self.occurred_at)
        return (any(f.errors for f in fields) or bool((self.long_body.data or "").strip())
                or self.kind.data != EntryKind.note.value or self.occurred_at.data is not None
                or bool(self.occurred_at.raw_data and self.occurred_at.raw_data[0])
                or self.visibility.data != Visibility.internal.value)


class CorrectionForm(BaseForm):
    revision = version_field(what="revision")
    body = MarkdownField("Corrected text", validators=[DataRequired("Write the corrected text."),
                                                       Length(max=MAX_BODY)], render_kw={"rows": 6})
    kind = SelectField("Kind", choices=options((k.value, k.label) for k in EntryKind))
    visibility = SelectField("Visibility", choices=VISIBILITY_CHOICES)
    occurred_at = UTCDateTimeField("Happened at", validators=[DataRequired("Keep a time for the entry.")])
    reason = StringField("Why the correction?", validators=[DataRequired("Say why you are correcting it."),
                                                             Length(max=500)])
