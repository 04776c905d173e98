"""The admins' forms: a webhook subscription (new or edited), and the buttons on its page."""
from __future__ import annotations

from wtforms import SelectField, StringField
from wtforms.validators import InputRequired, Length

from incidents.forms import BaseForm, MultiCheckboxField, options, version_field
from incidents.webhooks.models import EVENTS, NAME_MAX, PRESETS, URL_MAX


class WebhookForm(BaseForm):
    name = StringField("Name", validators=[InputRequired(message="Name the webhook after where it goes."),
                                           Length(max=NAME_MAX)],
                       render_kw={"placeholder": "e.g. #incidents on Slack"})
    url = StringField("URL", validators=[InputRequired(message="Enter the URL to send the events to."),
                                         Length(max=URL_MAX)],
                      render_kw={"placeholder": "https://hooks.example.com/incidents", "inputmode": "url",
                                 "autocomplete": "off", "spellcheck": "false"},
                      description="https only. Private, loopback and link-local addresses are refused "
                                  "unless OUTBOUND_ALLOW_PRIVATE allows them; redirects are not followed.")
    preset = SelectField("Format", choices=options(PRESETS.items()), default="standard")
    events = MultiCheckboxField("Events", choices=options(EVENTS.items()), default=list(EVENTS),
                                description="Each chosen event is sent as one signed message.")


class EditWebhookForm(WebhookForm):
    version = version_field()


class ButtonForm(BaseForm):
    """Disable, enable, test, rotate: a button and its CSRF token."""
