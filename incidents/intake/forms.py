"""The admins' forms for an alert intake: a new one, and changing one's settings."""
from __future__ import annotations

from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from incidents.errors import FieldError
from incidents.forms import BaseForm, options, version_field
from incidents.incident.enums import Severity
from incidents.intake.manage import NAME_LIMIT, map_text, parse_severity_map
from incidents.intake.models import IntakeKind
from incidents.intake.reading import DEFAULT_SEVERITY_MAP

KIND_CHOICES = options([(kind.value, kind.label) for kind in IntakeKind])
SEVERITY_CHOICES = options([(s.value, s.label) for s in Severity])


class IntakeForm(BaseForm):
    name = StringField("Name", validators=[InputRequired(message="Name the intake after what sends to it."),
                                           Length(max=NAME_LIMIT)],
                       render_kw={"placeholder": "e.g. Prometheus production"})
    kind = SelectField("Sender", choices=KIND_CHOICES, default=IntakeKind.alertmanager.value,
                       description="It decides the URL the sender posts to and how its JSON is read.")
    account = SelectField("Declares incidents as", coerce=int,
                          description="The incident commander of what it declares, and the author of its entries.")
    severity_label = StringField("Severity label", default="severity", validators=[Length(max=100)],
                                 description="The alert label whose value sets the severity.")
    severity_map = TextAreaField("Label values and severities", default=map_text(DEFAULT_SEVERITY_MAP),
                                 validators=[Length(max=5_000)], render_kw={"rows": 5},
                                 description="One per line, e.g. critical=SEV1. A value already written "
                                             "SEV1 to SEV4 stands for itself.")
    default_severity = SelectField("Any other value, or none", choices=SEVERITY_CHOICES, default=Severity.SEV3.value)
    title_annotation = StringField("Title from annotation", default="summary", validators=[Length(max=100)],
                                   description="Else the alert name, else the group key.")
    description_annotation = StringField("Description from annotation", default="description",
                                         validators=[Length(max=100)])
    hmac_secret = StringField("Grafana HMAC secret", validators=[Optional(), Length(max=200)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"},
                              description="Grafana only, optional: deliveries without its signature are refused.")
    hmac_timestamp_header = StringField("Grafana timestamp header", validators=[Optional(), Length(max=100)],
                                        render_kw={"placeholder": "e.g. X-Grafana-Alerting-Timestamp"},
                                        description="Only if set in Grafana: the signature then covers the time "
                                                    "and an old one is refused.")

    def validate_severity_map(self, field) -> None:
        try:
            parse_severity_map(field.data or "")
        except FieldError as refused:
            raise ValidationError(str(refused)) from None


class EditIntakeForm(IntakeForm):
    """The same settings but the sender (it decides the URL the sender is set up with) and the
    token (given anew on the intake's page)."""

    kind = None
    version = version_field()
    hmac_secret = StringField("New Grafana HMAC secret", validators=[Optional(), Length(max=200)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"},
                              description="Leave empty to keep the secret it has. Set the same one in Grafana.")
    forget_hmac_secret = BooleanField("Stop checking Grafana's signature (forget the secret)")
