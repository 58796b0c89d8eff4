"""Forms of the client zone. Validation messages are translated lazily."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from billing.customers import self_service as customers
from web.formatting import format_phone

MIN_PASSWORD = 10
# Czech and English messages of our own: WTForms' Czech catalog says "Délka pole ma být
# mezi 10 a 200." (a typo, and no word of what the field is).
TOO_LONG = _l("At most %(max)d characters.")
PASSWORD_LENGTH = _l("The password must have at least %(min)d characters.")
# The domain's reasons (billing.customers.self_service.clean_contact) as the customer reads them.
CONTACT_ERRORS = {
    "name": _l("Enter the name (at most 200 characters)."),
    "contact_person": _l("Enter the contact person's name (at most 200 characters)."),
    "street": _l("Enter the street and house number (at most 200 characters)."),
    "city": _l("Enter the city (at most 100 characters)."),
    "postal_code": _l("Enter a valid postal code of five digits, e.g. 280 02."),
    "email": _l("Enter a valid e-mail address."),
    "phone": _l("Enter a valid phone number, e.g. 601 234 567 or +420 601 234 567."),
    "ico": _l("Enter a valid company ID (IČO) of eight digits."),
    "dic": _l("Enter a valid Czech VAT ID (DIČ), e.g. CZ12345678."),
}
ICO_CHECK_DIGIT = _l("This company ID (IČO) does not exist: its last digit does not match. Check it against the business register.")


class LoginForm(FlaskForm):
    customer_number = StringField(
        _l("Customer number"), validators=[DataRequired(), Length(max=10, message=TOO_LONG)]
    )
    password = PasswordField(
        _l("Password"), validators=[DataRequired(), Length(max=200, message=TOO_LONG)]
    )


class ForgotPasswordForm(FlaskForm):
    customer_number = StringField(
        _l("Customer number"), validators=[DataRequired(), Length(max=10, message=TOO_LONG)]
    )


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        _l("New password"),
        validators=[
            DataRequired(),
            Length(min=MIN_PASSWORD, message=PASSWORD_LENGTH),
            Length(max=200, message=TOO_LONG),
        ],
        description=_l("At least %(min)d characters.", min=MIN_PASSWORD),
    )
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("password", message=_l("The passwords differ."))],
    )


class ChangePasswordForm(ResetPasswordForm):
    current = PasswordField(
        _l("Current password"), validators=[DataRequired(), Length(max=200, message=TOO_LONG)]
    )


class ContactForm(FlaskForm):
    """Contact details. The rules live in billing.customers.self_service (shared with the import); the
    form runs them on every field, so the customer sees all the problems at once."""

    name = StringField(_l("Name"), validators=[DataRequired()])
    contact_person = StringField(_l("Contact person"))
    street = StringField(_l("Street and number"), validators=[DataRequired()])
    city = StringField(_l("City"), validators=[DataRequired()])
    postal_code = StringField(_l("Postal code"), validators=[DataRequired()])
    email = EmailField(_l("E-mail"), validators=[DataRequired()])
    phone = StringField(_l("Phone"), validators=[DataRequired()])
    # No maxlength here: "271 58 365" (as printed on many papers) must fit before the domain
    # takes the spaces out; a browser would cut it to "271 58 3".
    ico = StringField(_l("Company ID (IČO)"))
    dic = StringField(_l("VAT ID (DIČ)"))

    @classmethod
    def for_customer(cls, customer) -> ContactForm:
        """The form of ``customer`` (or what they submitted), prefilled as the pages show the
        values (the phone grouped, +420 601 234 567), without the company IDs for a person
        who has none."""
        form = cls(obj=customer)
        if not form.is_submitted() and form.phone.data:
            form.phone.data = format_phone(form.phone.data)
        if not (customer.is_company or customer.ico or customer.dic):
            del form.ico, form.dic
        return form

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        data = {
            f.name: f.data for f in self if f.name in customers.CONTACT_FIELDS and not f.errors
        }
        try:
            customers.clean_contact(data)
        except customers.ContactValidationError as exc:
            self.add_contact_errors(exc.errors)
            return False
        return valid

    def add_contact_errors(self, errors) -> None:
        for name, reason in errors.items():
            if name == "ico" and "check digit" in str(reason):  # eight digits, a typo in one
                self[name].errors.append(str(ICO_CHECK_DIGIT))
                continue
            self[name].errors.append(str(CONTACT_ERRORS[name]))

    def contact_data(self) -> dict:
        return {f.name: f.data for f in self if f.name in customers.CONTACT_FIELDS}
