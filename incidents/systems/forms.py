"""Forms of the catalogue's pages: a system's facts, a restore test, a report token.

Field names are the names of service.SystemFields, so a service refusal lands beside its field,
and each field's id is its name, so the audit's fix links can point at `edit#owner`."""
from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import NumberInput

from incidents.actions.forms import DueDateField
from incidents.forms import (
    BaseForm,
    MultiCheckboxField,
    UTCDateTimeField,
    options,
    people_options,
    safe_url,
    version_field,
)
from incidents.incident.enums import DATA_CATEGORIES
from incidents.systems.models import ORIGINS

NOBODY = "— nobody —"
RESULTS = {"passed": "Passed: the data came back whole", "failed": "Failed"}


class SystemForm(BaseForm):
    name = StringField("Name", validators=[DataRequired("Give the system a name."), Length(max=120)],
                       render_kw={"placeholder": "e.g. Storage cluster B"})
    description = TextAreaField("Description", validators=[Optional(), Length(max=5000)], render_kw={"rows": 3},
                                description="What it holds and what depends on it.")
    # Any account's id is taken here; the service refuses a disabled one with its own words.
    owner = SelectField("Accountable owner", coerce=int, validate_choice=False, default=0,
                        description="An active account who answers for it.")
    team = StringField("Team", validators=[Optional(), Length(max=120)])
    data_categories = MultiCheckboxField("Data categories held", choices=options(DATA_CATEGORIES.items()),
                                         validate_choice=True)
    personal_data = BooleanField("Holds personal data")
    origin = SelectField("Came from", choices=options(ORIGINS.items()), default="built",
                         validators=[DataRequired("Choose where it came from.")])
    origin_name = StringField("Acquired from / vendor", validators=[Optional(), Length(max=200)],
                              description="The company it came with, or the vendor who runs it.")
    acquired_on = DueDateField("Acquired on", validators=[Optional()], description="Acquired systems only.")
    backup_method = StringField("Backup method", validators=[Optional(), Length(max=200)],
                                render_kw={"placeholder": "e.g. nightly ZFS snapshot, sent off-site"},
                                description="Empty means no backup policy: the audit flags it.")
    backup_destination = StringField("Where copies go", validators=[Optional(), Length(max=200)],
                                     render_kw={"placeholder": "e.g. object storage in another region"})
    rpo_target_minutes = IntegerField("RPO target (minutes)", widget=NumberInput(min=1, step=1),
                                      validators=[Optional()],
                                      description="The most data you accept to lose: 1440 is a day.")
    retention = StringField("Retention", validators=[Optional(), Length(max=200)],
                            render_kw={"placeholder": "e.g. 30 daily, 12 monthly copies"})

    def set_people(self, people, current_owner=None) -> None:
        """Active people, and the current owner too when disabled: kept if left alone (the audit flags
        it), but nobody can newly choose a disabled account."""
        choices = people_options(NOBODY, people)
        if current_owner is not None and not current_owner.active:
            choices += options([(current_owner.id, f"{current_owner.display} (account disabled)")])
        self.owner.choices = choices


class EditSystemForm(SystemForm):
    version = version_field()


class RestoreTestForm(BaseForm):
    tested_at = UTCDateTimeField("Tested at", validators=[InputRequired("Give when the restore was tested (UTC).")])
    # No result is chosen for you: a "passed" recorded by a slip would hide the next data loss.
    result = SelectField("Result", choices=options([("", "— choose —"), *RESULTS.items()]), default="",
                         validators=[DataRequired("Say whether the restore worked.")])
    evidence_url = StringField("Evidence link", validators=[Optional(), safe_url],
                               render_kw={"placeholder": "https://wiki.example.com/restore-test-2024-05",
                                          "inputmode": "url"})
    performed_by = SelectField("Who did it", coerce=int, validate_choice=True)
    note = TextAreaField("Note", validators=[Optional(), Length(max=2000)], render_kw={"rows": 2})

    def set_people(self, people) -> None:
        self.performed_by.choices = options((u.id, f"{u.display} ({u.role.value})") for u in people)


class TokenForm(BaseForm):
    label = StringField("Label", validators=[Optional(), Length(max=120)],
                        render_kw={"placeholder": "e.g. nightly job on backup-01"},
                        description="To tell this system's tokens apart.")
