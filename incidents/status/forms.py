"""Forms for publishing to the status page and managing its components."""
from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING

from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from incidents.forms import BaseForm, MarkdownField, options
from incidents.idempotency import IdempotentFormMixin
from incidents.status import service
from incidents.status.models import (
    AFFECTED_STATUSES,
    CLOSED_PUBLIC_STATUSES,
    COMPONENT_STATUSES,
    IMPACTS,
    PUBLIC_STATUSES,
)
from incidents.status.service import component_field_name

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage


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
    # Shown once the public was told the incident is resolved (see service.publish_update).
    reopen = BooleanField("Reopen on the status page",
                          description="Customers were told this is resolved; tick to tell them it is not.")
    public_body = MarkdownField("Public update", validators=[DataRequired(), Length(max=5000)])


def with_component_fields(form_class, components, *, first: bool):
    """A subclass of `form_class` with one select per component (how this incident affects it)."""
    if first:
        choices = options([("", "Not affected")] + [(s, _label(s)) for s in AFFECTED_STATUSES])
    else:
        choices = options([("", "No change")] + [(s, _label(s)) for s in COMPONENT_STATUSES])
    attrs = {component_field_name(c): SelectField(c.name, choices=choices, default="") for c in components}
    return type(form_class.__name__, (form_class,), attrs)


def publish_form(components, *, formdata: bool = True) -> PublishForm:
    """The form that first puts an incident on the status page, as posted or blank."""
    cls = with_component_fields(PublishForm, components, first=True)
    return cls() if formdata else cls(formdata=None)


def update_form(components, *, blank_from: list | None = None) -> PublicUpdateForm:
    """The public update form as posted; or, given the updates so far, blank from the latest status."""
    cls = with_component_fields(PublicUpdateForm, components, first=False)
    if blank_from is None:
        return cls()
    # Left alone, the status stays what the public sees now (an update never moves it by accident).
    return cls(formdata=None, public_status=blank_from[0].public_status if blank_from else "investigating")


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's status-page panel: what is published, and the form for the next step."""
    components = service.list_components(session=page.session)
    updates = service.public_updates(session=page.session, incident=page.incident)
    return {"publishing": SimpleNamespace(
        components=components, updates=updates,
        resolved=bool(updates) and updates[0].public_status in CLOSED_PUBLIC_STATUSES,
        links=service.linked_components(session=page.session, incident=page.incident),
        publish_form=page.forms.get("publish_form") or publish_form(components, formdata=False),
        update_form=page.forms.get("update_form") or update_form(components, blank_from=updates))}


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
