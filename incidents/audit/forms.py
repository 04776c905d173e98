"""The audit log's filter form (a GET form: no CSRF token, nothing changes)."""
from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import Length, Optional

from incidents.audit.recorder import ACTIONS
from incidents.forms import BaseForm, UTCDateTimeField, options


class AuditFilterForm(BaseForm):
    class Meta:
        csrf = False

    actor = StringField("Who (e-mail)", validators=[Optional(), Length(max=254)])
    action = SelectField("Action", choices=options([("", "— any —")] + [(a, a.replace("_", " ")) for a in ACTIONS]),
                         validators=[Optional()])
    entity_type = SelectField("Record type", validators=[Optional()])
    incident = StringField("Incident", validators=[Optional(), Length(max=40)],
                           render_kw={"placeholder": "INC-2026-0001"})
    entity_id = StringField("Record id", validators=[Optional(), Length(max=100)])
    since = UTCDateTimeField("From", validators=[Optional()])
    until = UTCDateTimeField("Until", validators=[Optional()])

    def set_entity_types(self, names: list[str]) -> None:
        self.entity_type.choices = options([("", "— any —")] + [(n, n.replace("_", " ")) for n in names])

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if self.since.data and self.until.data and self.until.data < self.since.data:
            self.until.errors = list(self.until.errors) + ["This cannot be before “From”."]
            valid = False
        return valid
