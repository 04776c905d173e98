"""The API's writes are checked by the same forms the HTML pages post: one set of rules.

The JSON body is first typed by pydantic (SpecTree: a number is a number, a time has a zone);
then its values are written out as the fields a browser would post and run through the page's
WTForms form, so a rule added to a form (moments in order, a count within range, Markdown within
its rendering budget) holds for the API as well. The form's field errors come back as a 422
problem, under the API's names for the fields.
"""
from __future__ import annotations

import enum
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from werkzeug.datastructures import MultiDict

from incidents.api.problems import InvalidFields

F = TypeVar("F")

# How the forms' UTCDateTimeField reads a time (seconds kept: an API client means them).
FORM_TIME = "%Y-%m-%dT%H:%M:%S"


def form_value(value: Any) -> list[str]:
    """One JSON value as the list of strings a browser would post for its field."""
    if value is None or value is False:
        return []  # an empty field; an unchecked box is not posted at all
    if value is True:
        return ["y"]
    if isinstance(value, datetime):
        return [value.astimezone(UTC).strftime(FORM_TIME)]
    if isinstance(value, enum.Enum):
        return [str(value.value)]
    if isinstance(value, list | tuple):
        return [item for element in value for item in form_value(element)]
    return [str(value)]


def as_formdata(values: Mapping[str, Any]) -> MultiDict:
    data = MultiDict()
    for name, value in values.items():
        for item in form_value(value):
            data.add(name, item)
    return data


def checked(form_class: type[F], values: Mapping[str, Any], *, names: Mapping[str, str] | None = None,
            prepare=None) -> F:
    """The form `form_class` filled with `values` (form field names) and validated, or InvalidFields
    with its errors named as the API names them (`names` maps a form field to its API name).
    `prepare(form)` runs before validation (to offer a select's choices)."""
    form = form_class(formdata=as_formdata(values), meta={"csrf": False})
    if prepare is not None:
        prepare(form)
    if not form.validate():
        raise InvalidFields(api_errors(form.errors, names or {}))
    return form


def api_errors(errors: Mapping[str, Any], names: Mapping[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for field, messages in errors.items():  # the pages' forms are flat: a list of messages per field
        out.setdefault(names.get(field, field), []).extend(str(m) for m in messages)
    return out
