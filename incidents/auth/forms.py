from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length

from incidents.forms import BaseForm


class LoginForm(BaseForm):
    email = StringField("E-mail", validators=[DataRequired(), Length(max=254)],
                        render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password"})
    remember = BooleanField("Keep me signed in on this device")


class ReauthForm(BaseForm):
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)],
                             render_kw={"autocomplete": "current-password", "autofocus": True})
