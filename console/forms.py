"""Forms of the console's own pages (login, second factor, operators). Validation messages
are translated lazily."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from billing.models import OperatorRole
from web.labels import ROLE_LABELS

TOO_LONG = _l("At most %(max)d characters.")
BETWEEN = _l("%(min)d to %(max)d characters.")


class LoginForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=64, message=TOO_LONG)])
    password = PasswordField(_l("Password"),
                             validators=[DataRequired(), Length(max=200, message=TOO_LONG)])


class CodeForm(FlaskForm):
    code = StringField(_l("Code"), validators=[DataRequired(), Length(max=20, message=TOO_LONG)],
                       description=_l("The 6 digits your authenticator app shows, or a recovery code."))


class EnrolForm(FlaskForm):
    code = StringField(_l("Code from the app"),
                       validators=[DataRequired(), Length(max=20, message=TOO_LONG)])


def role_choices():
    return [(r.value, ROLE_LABELS[r.value]) for r in OperatorRole]


class OperatorForm(FlaskForm):
    login = StringField(_l("Login"), validators=[DataRequired(), Length(max=64, message=TOO_LONG)])
    name = StringField(_l("Name"), validators=[Optional(), Length(max=200, message=TOO_LONG)])
    email = EmailField(_l("E-mail"), validators=[Optional(), Length(max=254, message=TOO_LONG)])
    role = SelectField(_l("Role"), choices=role_choices)
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(min=10, max=200, message=BETWEEN)])
    password2 = PasswordField(_l("Password again"),
                              validators=[DataRequired(), EqualTo("password", _l("The passwords differ."))])
