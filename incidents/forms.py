"""Shared form pieces: a base form that refuses control characters, and field helpers."""
from __future__ import annotations

import re
from datetime import UTC, datetime

from flask import request
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import ValidationError

from incidents.markdown import cost_problem

# NUL and other control characters have no business in text a person typed, and PostgreSQL
# refuses NUL outright; tab, newline and carriage return are fine.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


# Bidirectional overrides and isolates can make a one-line value (a title, a name, an address)
# display differently from what it is, e.g. to disguise who someone is. Running text may keep them.
_BIDI_CONTROLS = re.compile("[\u202a-\u202e\u2066-\u2069]")


def has_control_chars(value: str) -> bool:
    return bool(_CONTROL_CHARS.search(value))


def options(pairs) -> list[SelectChoice]:
    """Select choices from (value, label) pairs."""
    return [SelectChoice(value, label) for value, label in pairs]


def people_options(placeholder: str, people) -> list[SelectChoice]:
    """Choices for a person drop-down: the placeholder (value 0), then "Name (role)" per person."""
    return options([(0, placeholder)] + [(u.id, f"{u.display} ({u.role.value})") for u in people])


class BaseForm(FlaskForm):
    """A CSRF-protected form whose text fields refuse invisible control characters."""

    class Meta:
        def wrap_formdata(self, form, formdata):
            # These are plain HTML forms: read only the posted fields. Flask-WTF would also hand
            # them uploaded files and JSON bodies, whose values (a file, a number, a list) crash
            # validators that expect text; here such a value simply counts as missing.
            if formdata is None or hasattr(formdata, "getlist"):
                return formdata  # given explicitly by the view
            return request.form if form.is_submitted() else None

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            values = field.data if isinstance(field.data, list) else [field.data]
            if any(isinstance(v, str) and has_control_chars(v) for v in values):
                field.errors = list(field.errors) + ["Remove the invisible control characters."]
                valid = False
            elif field.type in ("StringField", "EmailField") and isinstance(field.data, str) \
                    and _BIDI_CONTROLS.search(field.data):
                field.errors = list(field.errors) + ["Remove the invisible text-direction characters."]
                valid = False
        return valid


class UTCDateTimeField(DateTimeLocalField):
    """A date and time typed in UTC (the form says so) and returned timezone-aware."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"])
        kwargs.setdefault("description", "UTC")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        if self.data is not None:
            if not (1900 <= self.data.year <= 2200):
                self.data = None
                raise ValueError("Enter a date between 1900 and 2200.")
            self.data = self.data.replace(tzinfo=UTC)

    def _value(self):
        if self.raw_data:
            return " ".join(self.raw_data)
        if isinstance(self.data, datetime):
            return self.data.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        return ""


def markdown_within_budget(_form, field) -> None:
    """Refuse Markdown too intricate to render quickly (see incidents/markdown.py), beside the field."""
    problem = cost_problem(field.data) if isinstance(field.data, str) else None
    if problem:
        raise ValidationError(problem)


class MarkdownField(TextAreaField):
    """A text area for Markdown: refused beside the field when it would be too costly to render.

    The names of these fields are also how a request finds the text to render before it takes
    the database's write lock (incidents/markdown_prerender.py).
    """

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, [*(validators or []), markdown_within_budget], **kwargs)
