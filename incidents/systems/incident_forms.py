"""Naming the systems an incident affects: the field that chooses systems (the declare form has it
too), the incident page's small form by name, the page that picks from the whole catalogue, and
the incident page's "Systems affected" panel."""
from __future__ import annotations

from typing import TYPE_CHECKING

from wtforms import SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from incidents.forms import BaseForm, options
from incidents.systems import links

if TYPE_CHECKING:
    from incidents.incident.page import IncidentPage

NOT_OFFERED = "One of the chosen systems is not in the catalogue any more (or is named already): choose again."


class SystemsField(SelectMultipleField):
    """Systems chosen by id from a list the view offers (`offer`); a list box, since the catalogue
    may hold hundreds."""

    def __init__(self, label, **kwargs):
        kwargs.setdefault("description", "Hold Ctrl (⌘ on a Mac) to choose several.")
        super().__init__(label, coerce=int, choices=[], render_kw={"size": 8}, **kwargs)

    def offer(self, choices: list[tuple[int, str]]) -> None:
        self.choices = options(choices)
        self.render_kw = {"size": max(4, min(12, len(choices)))}

    def process_formdata(self, valuelist):
        try:
            super().process_formdata(valuelist)
        except ValueError:
            raise ValueError("Choose systems from the list.") from None

    def pre_validate(self, form):
        offered = {choice.value for choice in self.choices}
        if any(value not in offered for value in self.data or []):
            raise ValidationError(NOT_OFFERED)


class NameSystemForm(BaseForm):
    """The incident page's form: a system by its name, or enough of it to tell it apart."""

    name = StringField("System name", validators=[
        DataRequired("Type the system's name, or part of it."),
        Length(max=120, message="A system's name is at most 120 characters.")],
                       render_kw={"autocomplete": "off", "spellcheck": "false",
                                  "placeholder": "e.g. storage cluster"})


class PickSystemsForm(BaseForm):
    """The catalogue page's form: several systems chosen from the list."""

    systems = SystemsField("Systems affected")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if valid and not self.systems.data:
            self.systems.errors = [*self.systems.errors, "Choose at least one system."]
            valid = False
        return valid


def incident_panel(page: IncidentPage) -> dict:
    """The incident page's "Systems affected" panel: one statement (the form by name needs none)."""
    return {"affected_systems": links.systems_of(session=page.session, incident=page.incident),
            "name_system_form": page.forms.get("name_system_form") or NameSystemForm(formdata=None)}
