"""Forms for scheduling maintenance, editing its plan and posting its updates."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from incidents.forms import BaseForm, MarkdownField, UTCDateTimeField, options, version_field
from incidents.idempotency import IdempotentFormMixin
from incidents.maintenance.models import MAINTENANCE_STATUSES
from incidents.maintenance.service import STATUS_LABELS, status_of
from incidents.status.forms import with_component_fields
from incidents.status.service import component_field_name


class PlanForm(BaseForm):
    title = StringField("Public title", validators=[DataRequired(), Length(max=200)],
                        description="Written for customers, e.g. \"Photo storage upgrade\".")
    # Optional here: the service refuses a missing time beside the field, in its own words.
    scheduled_for = UTCDateTimeField("Starts", validators=[Optional()])
    scheduled_until = UTCDateTimeField("Ends", validators=[Optional()])
    auto_start = BooleanField("Start automatically at the scheduled time", default=True)
    auto_complete = BooleanField("Complete automatically at the scheduled end", default=True)


class ScheduleForm(IdempotentFormMixin, PlanForm):
    body = MarkdownField("Announcement", validators=[DataRequired(), Length(max=5000)],
                         description="What will happen and what customers will notice. Public.")


class EditForm(PlanForm):
    version = version_field()


class UpdateForm(IdempotentFormMixin, BaseForm):
    status = SelectField("Status", choices=options((s, STATUS_LABELS[s]) for s in MAINTENANCE_STATUSES))
    body = MarkdownField("Public update", validators=[DataRequired(), Length(max=5000)])


def schedule_form(components, *, formdata: bool = True) -> ScheduleForm:
    cls = with_component_fields(ScheduleForm, components, first=True)
    return cls() if formdata else cls(formdata=None)


def edit_form(components, maintenance=None) -> EditForm:
    """The plan form as posted, or (given the maintenance) filled with its plan."""
    cls = with_component_fields(EditForm, components, first=True)
    if maintenance is None:
        return cls()
    form = cls(formdata=None, obj=maintenance)
    for link in maintenance.components:
        name = component_field_name(link.component)
        if name in form:
            form[name].data = link.status
    return form


def update_form(maintenance=None, *, formdata: bool = True) -> UpdateForm:
    """The update form as posted, or blank with the status the maintenance is in now."""
    if formdata:
        return UpdateForm()
    current = status_of(maintenance) if maintenance is not None else "scheduled"
    return UpdateForm(formdata=None, status=current if current in MAINTENANCE_STATUSES else "scheduled")


def chosen_components(form, components) -> dict:
    """The components the form names, with the status chosen for each."""
    return {c: form[component_field_name(c)].data for c in components if form[component_field_name(c)].data}
