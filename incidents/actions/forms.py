"""Forms for action items: adding one, changing it, and moving its status."""
from __future__ import annotations

from wtforms import DateField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from incidents.actions.enums import ActionKind, ActionPriority, ActionStatus
from incidents.forms import BaseForm, MarkdownField, options, people_options, safe_url, version_field
from incidents.idempotency import IdempotentFormMixin

KIND_HINTS = {
    "prevent": "Prevent: stop it happening again",
    "detect": "Detect: notice sooner",
    "mitigate": "Mitigate: lose less, recover faster",
    "process": "Process: how we work",
}


class DueDateField(DateField):
    """A calendar date (YYYY-MM-DD) within a sane range."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None and not (1900 <= self.data.year <= 2200):
            self.data = None
            raise ValueError("Enter a date between 1900 and 2200.")


class ActionForm(IdempotentFormMixin, BaseForm):
    title = StringField("What needs doing", validators=[DataRequired("Say what needs doing."), Length(max=200)],
                        render_kw={"placeholder": "e.g. Take and test a fresh backup before every storage change"})
    kind = SelectField("Kind", choices=options((k.value, KIND_HINTS[k.value]) for k in ActionKind),
                       validators=[DataRequired("Choose a kind.")])
    owner = SelectField("Owner", coerce=int, validate_choice=True,
                        validators=[DataRequired("Every action item needs an owner.")])
    due_on = DueDateField("Due date", validators=[InputRequired("Give a due date.")],
                          description="YYYY-MM-DD")
    priority = SelectField("Priority", choices=options((p.value, p.label) for p in ActionPriority),
                           default=ActionPriority.medium.value, validators=[DataRequired()])
    tracker_url = StringField("Link to the tracker (optional)", validators=[Optional(), safe_url],
                              render_kw={"placeholder": "https://tracker.example.com/OPS-123",
                                         "inputmode": "url"})

    def set_people(self, people) -> None:
        self.owner.choices = people_options("— choose the owner —", people)


class EditActionForm(ActionForm):
    version = version_field()


class ActionStatusForm(BaseForm):
    version = version_field()
    status = SelectField("New status", choices=options((s.value, s.label) for s in ActionStatus),
                         validators=[DataRequired("Choose a status.")])
    reason = MarkdownField("Reason", validators=[Optional(), Length(max=2000)],
                           description="Required for won't do: why it will not be done.",
                           render_kw={"rows": 2})
