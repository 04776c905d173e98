"""The status site's subscribe form, and the admins' filter of the subscriber list."""
from __future__ import annotations

from wtforms import EmailField, RadioField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from incidents.forms import BaseForm, MultiCheckboxField, options

KIND_CHOICES = options([("email", "By e-mail"),
                        ("webhook", "By webhook: we POST each update as JSON to your URL")])
SCOPE_CHOICES = options([("all", "All components, including ones added later"),
                         ("some", "Only the components ticked below")])


class SubscribeForm(BaseForm):
    """E-mail or webhook, for all components or some; `for_components` offers the live ones."""

    kind = RadioField("How should we tell you?", choices=KIND_CHOICES, default="email")
    email = EmailField("E-mail address", validators=[
        DataRequired("Enter your e-mail address."),
        Length(max=254, message="Use an address of at most 254 characters."),
        Email("Enter an e-mail address like name@example.com.", check_deliverability=False)],
        description="Where updates go. For a webhook: who confirms it and hears when deliveries fail.",
        render_kw={"autocomplete": "email", "spellcheck": "false"})
    url = StringField("Webhook URL", validators=[
        Optional(), Length(max=500, message="Use a URL of at most 500 characters.")],
        description="Only for a webhook: an https:// address on the public internet.",
        render_kw={"inputmode": "url", "autocomplete": "url", "spellcheck": "false",
                   "placeholder": "https://hooks.example.com/status"})
    scope = RadioField("Which components?", choices=SCOPE_CHOICES, default="all")
    components = MultiCheckboxField("Components", choices=[])

    @classmethod
    def for_components(cls, components) -> SubscribeForm:
        """The form as posted (or blank), offering these components by their public ids."""
        form = cls()
        form.components.choices = options((c.public_id, c.name) for c in components)
        return form

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        url = (self.url.data or "").strip()
        if self.kind.data == "webhook" and not url and not self.url.errors:
            self.url.errors = [*self.url.errors, "Enter the https URL to send updates to."]
            valid = False
        elif self.kind.data == "email" and url:
            self.url.errors = [*self.url.errors, "For e-mail updates leave this empty, or choose “By webhook” "
                                                 "above to send them to this URL."]
            valid = False
        if self.scope.data == "some" and not self.components.data and not self.components.errors:
            self.components.errors = [*self.components.errors,
                                      "Tick at least one component, or choose all components."]
            valid = False
        elif self.scope.data == "all" and self.components.data:
            self.components.errors = [*self.components.errors, "You chose all components and ticked some: choose "
                                                               "“Only the components ticked below”, or untick them."]
            valid = False
        return valid


STATES = options([("", "Any state"), ("active", "Active"), ("unconfirmed", "Awaiting confirmation"),
                  ("bounced", "Bounced"), ("quarantined", "Quarantined"), ("unsubscribed", "Unsubscribed")])
KINDS = options([("", "E-mail and webhooks"), ("email", "E-mail"), ("webhook", "Webhooks")])


class SubscriberFilterForm(BaseForm):
    """The admins' filter of the subscriber list (a GET form: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    kind = SelectField("Kind", choices=KINDS, validators=[Optional()])
    state = SelectField("State", choices=STATES, validators=[Optional()])
