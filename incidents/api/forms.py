"""The settings page's form: a new personal access token."""
from __future__ import annotations

from wtforms import IntegerField, StringField
from wtforms.validators import InputRequired, Length, NumberRange
from wtforms.widgets import NumberInput

from incidents.api.models import Scope
from incidents.api.tokens import DEFAULT_DAYS, MAX_DAYS, NAME_LIMIT
from incidents.forms import BaseForm, MultiCheckboxField, options

SCOPE_CHOICES = options([(Scope.read.value, "read: see incidents (as a viewer)"),
                         (Scope.write.value, "write: post and change (as a responder)"),
                         (Scope.admin.value, "admin: everything an admin may (as an admin)")])


class AccessTokenForm(BaseForm):
    name = StringField("Name", validators=[InputRequired(message="Name the token after what uses it."),
                                           Length(max=NAME_LIMIT)],
                       render_kw={"placeholder": "e.g. restore script on backup-01"})
    scopes = MultiCheckboxField("Scopes", choices=SCOPE_CHOICES, default=[Scope.read.value],
                                description="A token never does more than your own role allows.")
    days = IntegerField("Expires after (days)", default=DEFAULT_DAYS, widget=NumberInput(min=1, max=MAX_DAYS),
                        validators=[InputRequired(message="Say after how many days it expires."),
                                    NumberRange(min=1, max=MAX_DAYS,
                                                message=f"From 1 to {MAX_DAYS} days: make a new one when it expires.")])
