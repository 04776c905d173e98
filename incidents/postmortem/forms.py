"""Forms for writing a postmortem, naming reviewers and moving it through review."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from incidents.forms import BaseForm, MarkdownField, options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.postmortem.sections import MAX_SECTION_LENGTH, SECTIONS


class PostmortemForm(IdempotentFormMixin, BaseForm):
    # 0: the form was drawn before anyone started the postmortem.
    version = version_field(minimum=0)
    include_full_timeline = BooleanField("Include the whole timeline, not only the key (pinned) entries")

    def section_fields(self):
        return [(getattr(self, key), hint) for key, _heading, hint in SECTIONS]

    def sections(self) -> dict[str, str]:
        return {key: getattr(self, key).data or "" for key, _heading, _hint in SECTIONS}


for _key, _heading, _hint in SECTIONS:
    setattr(PostmortemForm, _key, MarkdownField(
        _heading, validators=[Optional(), Length(max=MAX_SECTION_LENGTH)],
        render_kw={"rows": 6, "data-preview": _key}))


class ReviewerForm(BaseForm):
    email = StringField("Reviewer's e-mail", validators=[DataRequired("Enter the reviewer's e-mail address."),
                                                         Length(max=254)],
                        render_kw={"placeholder": "name@example.com", "autocomplete": "off"})


class WorkflowForm(BaseForm):
    """Send to review or publish: only the version the page showed."""

    version = version_field()


DECISIONS = {"approve": "Approve this version", "changes": "Request changes (back to draft)"}


class ReviewForm(BaseForm):
    version = version_field()
    decision = SelectField("Decision", choices=options(DECISIONS.items()), default="approve",
                           validators=[DataRequired()])
    comment = MarkdownField("Comment", validators=[Optional(), Length(max=1000)],
                            description="Required when you request changes: say what should change.",
                            render_kw={"rows": 3})


class RemoveReviewerForm(BaseForm):
    pass
