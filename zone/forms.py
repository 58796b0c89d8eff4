"""Forms of the client zone. Validation messages are translated lazily."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

MIN_PASSWORD = 10


class LoginForm(FlaskForm):
    customer_number = StringField(_l("Customer number"), validators=[DataRequired(), Length(max=10)])
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=200)])


class ForgotPasswordForm(FlaskForm):
    customer_number = StringField(_l("Customer number"), validators=[DataRequired(), Length(max=10)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"), validators=[DataRequired(), Length(min=MIN_PASSWORD, max=200)]
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ChangePasswordForm(ResetPasswordForm):
    current = PasswordField(_l("Current password"), validators=[DataRequired(), Length(max=200)])


class ContactForm(FlaskForm):
    """Contact details. Field-level rules live in billing.customers (shared with import)."""

    name = StringField(_l("Name"), validators=[DataRequired(), Length(max=200)])
    contact_person = StringField(_l("Contact person"), validators=[Optional(), Length(max=200)])
    street = StringField(_l("Street and number"), validators=[DataRequired(), Length(max=200)])
    city = StringField(_l("City"), validators=[DataRequired(), Length(max=100)])
    postal_code = StringField(_l("Postal code"), validators=[DataRequired(), Length(max=10)])
    email = EmailField(_l("E-mail"), validators=[DataRequired(), Length(max=254)])
    phone = StringField(_l("Phone"), validators=[DataRequired(), Length(max=20)])
    ico = StringField(_l("Company ID (IČO)"), validators=[Optional(), Length(max=8)])
    dic = StringField(_l("VAT ID (DIČ)"), validators=[Optional(), Length(max=14)])
