"""Forms for recovery workstreams: planning one, changing it, and reporting progress."""
from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, StopValidation

from incidents.forms import BaseForm, MarkdownField, UTCDateTimeField, options, people_options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.impact.forms import CountField
from incidents.incident.enums import DATA_CATEGORIES
from incidents.recovery.enums import SOURCES, UNITS, WorkstreamStatus

MAX_TEXT = 20_000
STATUS_CHOICES = options((s.value, s.label) for s in WorkstreamStatus)


def at_least_one(form, field) -> None:
    if field.data is not None and field.data < 1:
        raise StopValidation("The target must be at least 1 unit.")


class WorkstreamForm(IdempotentFormMixin, BaseForm):
    name = StringField("Name", validators=[DataRequired("Name the line of recovery work."), Length(max=200)],
                       render_kw={"placeholder": "e.g. Restore contacts from the nightly tape"})
    owner = SelectField("Accountable owner", coerce=int, validate_choice=True,
                        validators=[DataRequired("Every workstream needs an accountable owner.")])
    category = SelectField("Data category", validators=[Optional()],
                           description="Which of the incident's data this work brings back")
    target = CountField("Target", required=True, validators=[at_least_one],
                        description="Units to recover in total")
    unit = SelectField("Unit", choices=options(UNITS.items()), default="records", validators=[DataRequired()])
    status = SelectField("Status", choices=STATUS_CHOICES, default=WorkstreamStatus.planned.value,
                         validators=[DataRequired()])
    eta = UTCDateTimeField("ETA", validators=[Optional()], description="UTC; when this work should be done")
    source = SelectField("Source", choices=options(SOURCES.items()), default="backup",
                         validators=[DataRequired()], description="Where the restored data comes from")
    evidence = MarkdownField("Evidence notes (Markdown)", validators=[Optional(), Length(max=MAX_TEXT)],
                             render_kw={"rows": 4, "placeholder": "How we know the restored data is right: "
                                                                  "checksums, sample checks, tickets"})

    def set_choices(self, *, people, categories: list[str]) -> None:
        self.owner.choices = people_options("— choose the accountable owner —", people)
        self.category.choices = options([("", "— not one category —")] +
                                        [(c, DATA_CATEGORIES.get(c, c)) for c in categories])


class EditWorkstreamForm(WorkstreamForm):
    version = version_field()


class ProgressForm(IdempotentFormMixin, BaseForm):
    version = version_field()
    done = CountField("Done so far", required=True,
                      description="Units recovered in total up to now (not since the last report)")
    status = SelectField("Status", choices=options([("", "— unchanged —")] + [(s.value, s.label)
                                                                            for s in WorkstreamStatus]),
                         validators=[Optional()])
    note = MarkdownField("Note (optional)", validators=[Optional(), Length(max=MAX_TEXT)],
                         render_kw={"rows": 2})

    @property
    def new_status(self) -> WorkstreamStatus | None:
        return WorkstreamStatus(self.status.data) if self.status.data else None
