"""Shared form pieces: a base form that refuses control characters, field helpers, the version
field of edits with versions, service errors beside their field, and the link check."""
from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urlsplit

from flask import flash, request
from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, IntegerField, SelectMultipleField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, NumberRange, ValidationError
from wtforms.widgets import CheckboxInput, HiddenInput, ListWidget

from incidents.errors import FieldError
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


class MultiCheckboxField(SelectMultipleField):
    """A set of checkboxes, one per choice (rendered by `field()` in templates/_forms.html)."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def version_field(*, minimum: int = 1, what: str = "version") -> IntegerField:
    """The hidden version a form was drawn from: saving on top of a newer one is a conflict."""
    return IntegerField(widget=HiddenInput(), validators=[
        InputRequired(f"The form is missing its {what}; reload the page."),
        NumberRange(min=minimum, max=2**31 - 1, message="The form is damaged; reload the page.")])


def rebase(field, version: int) -> None:
    """Keep the editor's input but base it on the version now stored, so saving again after
    seeing the conflict is a deliberate choice rather than a silent overwrite."""
    field.data, field.raw_data = version, [str(version)]
    field.errors = ["Someone saved a newer version: check what is saved now, then save again."]


def show_error(form, error: FieldError) -> None:
    """Put a service's refusal beside the field it names, or above the form when it names none."""
    if form is not None and error.field and error.field in form:
        form[error.field].errors = [*form[error.field].errors, str(error)]
    else:
        flash(str(error), "error")


MAX_URL = 500


def url_problem(url: str) -> str | None:
    """Why `url` is not a link we will show (None when it is): http(s), a host, no credentials."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- reading it refuses a port that is not a number in range
    except ValueError:
        parts = None
    if parts is None or parts.scheme.lower() not in ("http", "https") or not parts.hostname \
            or not url.isprintable() or any(c.isspace() for c in url):
        return "Give a full http:// or https:// link, or leave it empty."
    if len(url) > MAX_URL:
        return f"That link is longer than {MAX_URL} characters."
    if "@" in parts.netloc:
        # user:password@host would publish a secret to everyone who can read the page.
        return "Leave the user name and password out of the link."
    return None


def safe_url(_form, field) -> None:
    """A link field's check (after Optional()): the same rules as `url_problem`, beside the field."""
    problem = url_problem(field.data.strip()) if isinstance(field.data, str) else None
    if problem:
        raise ValidationError(problem)
