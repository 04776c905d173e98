"""Forms for drafting, approving and releasing notices."""
from __future__ import annotations

from wtforms import SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from incidents.forms import BaseForm, MarkdownField, MultiCheckboxField, options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.notices.models import Audience, Channel
from incidents.notices.service import BODY_MAX, SUBJECT_MAX

AUDIENCE_CHOICES = options((a.value, a.label) for a in Audience)
CHANNEL_CHOICES = options([("", "— choose —")] + [(c.value, c.label) for c in Channel])


class NoticeTextForm(IdempotentFormMixin, BaseForm):
    subject = StringField("Subject", validators=[DataRequired("Give the notice a subject line."),
                                                 Length(max=SUBJECT_MAX)])
    body = MarkdownField("Notice", validators=[DataRequired("Write the notice."), Length(max=BODY_MAX)],
                         render_kw={"rows": 24},
                         description="Markdown: ## headings, - lists, **bold**, | tables |. Readers see "
                                     "exactly this: no internal names, notes or references.")


class NewNoticeForm(NoticeTextForm):
    audience = SelectField("Audience", choices=AUDIENCE_CHOICES, validators=[DataRequired()])


class EditNoticeForm(NoticeTextForm):
    version = version_field()


class ApproveForm(BaseForm):
    version = version_field()


class ReleaseForm(BaseForm):
    version = version_field()
    channel = SelectField("Channel", choices=CHANNEL_CHOICES,
                          validators=[DataRequired("Choose how the notice went out.")])
    # The pending notification obligations this release meets (choices set by the view).
    file_obligations = MultiCheckboxField("This release files", coerce=int, choices=[], validators=[Optional()])
    reason = TextAreaField("Why late", validators=[Optional(), Length(max=5000)], render_kw={"rows": 2},
                           description="Needed when an obligation you tick is past its due time.")


class ChecklistForm(BaseForm):
    # One box per item the law asks this notice to carry (choices set by the view).
    covered = MultiCheckboxField("Covered by the notice's text", choices=[], validators=[Optional()])
