"""Forms of the VoIP zone. Validation messages are translated lazily."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Length, Optional

TOO_LONG = _l("At most %(max)d characters.")  # WTForms' own texts are English
BETWEEN = _l("%(min)d to %(max)d characters.")


class VoipLoginForm(FlaskForm):
    suffix = StringField(_l("Last digits of your phone number"), validators=[DataRequired(), Length(max=20, message=TOO_LONG)])
    # asked for only when several lines share the suffix
    number = StringField(_l("Your full phone number"), validators=[Optional(), Length(max=30, message=TOO_LONG)])
    password = PasswordField(_l("VoIP password"), validators=[DataRequired(), Length(max=200, message=TOO_LONG)])


class TopUpConfirmForm(FlaskForm):
    amount = HiddenField(validators=[DataRequired(), Length(max=12, message=TOO_LONG)])
    request_key = HiddenField(validators=[DataRequired(), Length(min=16, max=64, message=BETWEEN)])


class ThresholdForm(FlaskForm):
    threshold = StringField(_l("Warn me by e-mail when the credit falls below"), validators=[Optional()])  # web.parsing.amount bounds it, with the message
