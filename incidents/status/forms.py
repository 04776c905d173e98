"""Forms for publishing to the status page and managing its components."""
from __future__ import annotations

from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from incidents.forms import BaseForm, MarkdownField, options
from incidents.idempotency import IdempotentFormMixin
from incidents.status.models import AFFECTED_STATUSES, COMPONENT_STATUSES, IMPACTS, PUBLIC_STATUSES
from incidents.status.service import component_field_name


def _label(value: str) -> str:
    return value.replace("_", " ").capitalize()


STATUS_CHOICES = options((s, _label(s)) for s in PUBLIC_STATUSES)
IMPACT_CHOICES = options((s, _label(s)) for s in IMPACTS)
OVERRIDE_CHOICES = options([("", "Follow incidents")] + [(s, _label(s)) for s in COMPONENT_STATUSES])


class PublishForm(IdempotentFormMixin, BaseForm):
    public_title = StringField("Public title", validators=[DataRequired(), Length(max=200)],
                               description="Written for customers: no internal names or details.")
    impact = SelectField("Impact", choices=IMPACT_CHOICES, default="minor")
    # Named apart from the incident's own status and the timeline's text: all share one page.
    public_status = SelectField("Status", choices=STATUS_CHOICES, default="investigating")
    public_body = MarkdownField("First public update", validators=[DataRequired(), Length(max=5000)])


class PublicUpdateForm(IdempotentFormMixin, BaseForm):
    public_status = SelectField("Status", choices=STATUS_CHOICES)
    public_body = MarkdownField("Public update", validators=[DataRequired(), Length(max=5000)])


def with_component_fields(form_class, components, *, first: bool):
    """A subclass of `form_class` with one select per component (how this incident affects it)."""
    if first:
        choices = options([("", "Not affected")] + [(s, _label(s)) for s in AFFECTED_STATUSES])
    else:
        choices = options([("", "No change")] + [(s, _label(s)) for s in COMPONENT_STATUSES])
    attrs = {component_field_name(c): SelectField(c.name, choices=choices, default="") for c in components}
    return type(form_class.__name__, (form_class,), attrs)


def component_statuses(form, components) -> dict:
    """The components the form names, with the status chosen for each."""
    chosen = {}
    for component in components:
        value = getattr(form, component_field_name(component)).data
        if value:
            chosen[component] = value
    return chosen


class ComponentForm(BaseForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    description = TextAreaField("Description", validators=[Optional(), Length(max=1000)])
    group_name = StringField("Group", validators=[Optional(), Length(max=120)])
    position = IntegerField("Position", default=0, validators=[Optional(), NumberRange(min=0, max=100000)])
    status_override = SelectField("Status", choices=OVERRIDE_CHOICES, default="",
                                  description="Set by hand, or follow the open incidents that name it.")
    showcase = BooleanField("Show on the page", default=True)
    only_show_if_degraded = BooleanField("Only show when not operational")
