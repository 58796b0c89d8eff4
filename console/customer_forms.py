"""Forms of the console's customer pages (console/views_customers.py). The rules are the
client zone's (billing.customers.self_service.clean_contact, through
billing.customers.register): the form only carries the values and shows the domain's
reasons, translated, next to each field."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, StringField, TextAreaField
from wtforms.validators import Length, Optional

from billing.customers.register import NOTE_MAX, CustomerInput

# the domain's reasons as an operator reads them (the same words as the client zone's)
FIELD_ERRORS = {
    "name": _l("Enter the name (at most 200 characters)."),
    "contact_person": _l("Enter the contact person's name (at most 200 characters)."),
    "street": _l("Enter the street and house number (at most 200 characters)."),
    "city": _l("Enter the city (at most 100 characters)."),
    "postal_code": _l("Enter a valid postal code of five digits, e.g. 280 02."),
    "email": _l("Enter a valid e-mail address."),
    "phone": _l("Enter a valid phone number, e.g. 601 234 567 or +420 601 234 567."),
    "ico": _l("Enter a valid company ID (IČO) of eight digits; a company needs one."),
    "dic": _l("Enter a valid Czech VAT ID (DIČ), e.g. CZ12345678."),
    "language": _l("Choose Czech or English."),
    "signed_on": _l("Enter the day as YYYY-MM-DD."),
    "ended_on": _l("Enter the day as YYYY-MM-DD, not before the contract was signed."),
}
LONG = 300  # generous: the domain says what is too long, with the field's own limit

TOO_LONG = _l("At most %(max)d characters.")  # WTForms' own text is English


class CustomerForm(FlaskForm):
    name = StringField(_l("Name"), validators=[Length(max=LONG, message=TOO_LONG)])
    is_company = BooleanField(_l("Company"))
    contact_person = StringField(_l("Contact person"), validators=[Length(max=LONG, message=TOO_LONG)])
    street = StringField(_l("Street and number"), validators=[Length(max=LONG, message=TOO_LONG)])
    city = StringField(_l("City"), validators=[Length(max=LONG, message=TOO_LONG)])
    postal_code = StringField(_l("Postal code"), validators=[Length(max=20, message=TOO_LONG)])
    email = StringField(_l("E-mail"), validators=[Length(max=LONG, message=TOO_LONG)])
    phone = StringField(_l("Phone"), validators=[Length(max=40, message=TOO_LONG)])
    ico = StringField(_l("Company ID (IČO)"), validators=[Length(max=20, message=TOO_LONG)])
    dic = StringField(_l("VAT ID (DIČ)"), validators=[Length(max=20, message=TOO_LONG)])
    language = SelectField(_l("Language of invoices and e-mails"),
                           choices=[("cs", "čeština"), ("en", "English")])

    def data_input(self) -> CustomerInput:
        return CustomerInput(
            name=self.name.data or "", contact_person=self.contact_person.data or "",
            street=self.street.data or "", city=self.city.data or "",
            postal_code=self.postal_code.data or "", email=self.email.data or "",
            phone=self.phone.data or "", ico=self.ico.data or "", dic=self.dic.data or "",
            is_company=bool(self.is_company.data), language=self.language.data or "",
        )

    def add_errors(self, errors: dict) -> None:
        for name in errors:
            field = self._fields.get(name)
            if field is not None:
                field.errors = [*field.errors, str(FIELD_ERRORS.get(name, errors[name]))]


class NewCustomerForm(CustomerForm):
    signed_on = StringField(_l("Contract signed on"), validators=[Optional(), Length(max=14, message=TOO_LONG)],
                            description=_l("YYYY-MM-DD; today when empty."))


class ContractForm(FlaskForm):
    signed_on = StringField(_l("Signed on"), validators=[Length(max=14, message=TOO_LONG)])
    ended_on = StringField(_l("Ended on"), validators=[Optional(), Length(max=14, message=TOO_LONG)],
                           description=_l("YYYY-MM-DD; empty while it runs."))


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Note"), validators=[Length(max=NOTE_MAX, message=TOO_LONG)])
