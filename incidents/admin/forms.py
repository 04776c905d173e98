from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional

from incidents.auth.models import Role
from incidents.auth.service import MIN_PASSWORD_LENGTH
from incidents.forms import BaseForm, options

ROLE_CHOICES = options((r.value, r.label) for r in Role)


class NewUserForm(BaseForm):
    email = EmailField("E-mail", validators=[DataRequired(), Email(check_deliverability=False), Length(max=254)])
    name = StringField("Name", validators=[Optional(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES, default=Role.responder.value)
    password = PasswordField("Initial password", validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])


class EditUserForm(BaseForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    role = SelectField("Role", choices=ROLE_CHOICES)
    active = BooleanField("Can sign in")
    password = PasswordField("New password (leave empty to keep)",
                             validators=[Optional(), Length(min=MIN_PASSWORD_LENGTH, max=1024)])
