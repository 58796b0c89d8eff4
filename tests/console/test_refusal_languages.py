"""Refusals in Czech and English (core.i18n, docs/console.md): a domain function raises its
DomainError with a message marked ``_l(msgid, **params)``; the web door and the console's
forms translate the msgid in the reader's language and fill the parameters in after. Each
case below is a refusal an operator (or a customer) meets, read once with lang cs and once
with lang en; nothing was written either time. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from markupsafe import escape
from sqlalchemy import func, select

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent, Invoice
from core.clock import today
from core.errors import Conflict, DomainError
from core.i18n import Message, _l, translate

CZECH = {"line %(line)s: %(reason)s": "řádek %(line)s: %(reason)s",
         "the quantity": "množství", "not an amount: %(text)s": "není to částka: %(text)s",
         "broken %(x)s": "rozbité %(y)s"}


def test_a_message_is_english_text_that_remembers_its_msgid():
    message = _l("not an amount: %(text)s", text="'abc'")
    assert isinstance(message, str) and isinstance(message, Message)
    assert message == "not an amount: 'abc'"
    assert (message.msgid, message.params) == ("not an amount: %(text)s", {"text": "'abc'"})
    assert message.translate(lambda s: CZECH.get(s, s)) == "není to částka: 'abc'"
    # a parameter that is a message is translated too; an unknown msgid stays English
    nested = _l("line %(line)s: %(reason)s", line=3, reason=_l("the quantity"))
    assert nested == "line 3: the quantity"
    assert nested.translate(lambda s: CZECH.get(s, s)) == "řádek 3: množství"
    assert _l("unknown").translate(lambda s: CZECH.get(s, s)) == "unknown"
    # a translation that breaks the placeholders falls back to the English text
    assert _l("broken %(x)s", x=1).translate(lambda s: CZECH.get(s, s)) == "broken 1"
    # plain text is looked up as it is (the constant messages the catalogs already had)
    assert translate("the quantity", lambda s: CZECH.get(s, s)) == "množství"


def test_a_domain_error_translates_its_message():
    error = Conflict(_l("not an amount: %(text)s", text="'x'"), field="amount")
    assert str(error) == error.message == "not an amount: 'x'"
    assert error.translated(lambda s: CZECH.get(s, s)) == "není to částka: 'x'"
    assert DomainError("the quantity").translated(lambda s: CZECH.get(s, s)) == "množství"


def owe(session, supplier, customer, amount="605.00"):
    issued = today() - timedelta(days=40)
    invoice = issue_invoice(session, customer, [LineInput("Internet", D(1), D(amount))],
                            supplier, IssueOptions(issue_date=issued,
                                                   due_date=issued + timedelta(days=14)))
    session.commit()
    return invoice


def written(session):
    session.rollback()
    return (session.scalar(select(func.count()).select_from(Invoice)),
            session.scalar(select(func.count()).select_from(AuditEvent)))


@pytest.mark.parametrize("lang", ["cs", "en"])
def test_console_refusals_in_the_operators_language(console_client, session, make_customer,
                                                    supplier, lang):
    customer = make_customer(number="6801", internet_ip="10.68.0.1")
    invoice = owe(session, supplier, customer)
    billing = console_client("admin")  # money acts and services alike
    assert billing.post("/language", data={"lang": lang}).status_code in (200, 302)
    cid = customer.id
    cases = [
        # billing/cash: the day's cash limit (parameters filled in after translation)
        (f"/console/customers/{cid}/cash", {"amount": "300000"}, 422, {
            "en": "more than 270,000 Kč may not be taken in cash from one payer in one day",
            "cs": "od jednoho plátce nelze za jeden den přijmout v hotovosti více než "
                  "270\u00a0000 Kč"}),
        # billing/invoicing one_off: a bad line, with its number
        (f"/console/customers/{cid}/invoices/new",
         {"description_1": "X", "quantity_1": "1", "price_1": "100", "rate_1": "15"}, 422, {
             "en": "line 1: VAT rate 15 % is not one of 21 %, 12 %, 0 %",
             "cs": "položka 1: sazba DPH 15 % není žádná z 21 %, 12 %, 0 %"}),
        (f"/console/customers/{cid}/invoices/new",
         {"description_1": "X", "quantity_1": "abc", "price_1": "100"}, 422, {
             "en": "line 1: the quantity &#39;abc&#39; is not a number",
             "cs": "položka 1: množství &#39;abc&#39; není číslo"}),
        # billing/invoicing credit notes: more than is left of a line
        (f"/console/invoices/{invoice.id}/credit-note",
         {f"mode_{invoice.lines[0].id}": "amount", f"value_{invoice.lines[0].id}": "700",
          "reason": "sleva"}, 422, {
             "en": "line 1: CZK\u00a0700.00 is more than the CZK\u00a0605.00 left of it",
             "cs": "položka 1: 700,00\u00a0Kč je více než zbývajících 605,00\u00a0Kč"}),
        # billing/customers: a service cannot end before it starts (the door's refused page)
        (f"/console/services/{customer.services[0].id}/end", {"valid_to": "2000-01-01"}, 422, {
            "en": "the service cannot end before it starts",
            "cs": "služba nemůže skončit dříve, než začne"}),
        # the statement upload: a file of nothing known
        ("/console/payments/upload", {"statement": (__import__("io").BytesIO(b"hello"), "x.txt")},
         422, {"en": "unknown statement format (expected GPC, Fio JSON/CSV or camt.053)",
               "cs": "neznámý formát výpisu (očekává se GPC, Fio JSON/CSV nebo camt.053)"}),
    ]
    before = written(session)
    for url, data, status, expected in cases:
        extra = {"content_type": "multipart/form-data"} if "statement" in data else {}
        response = billing.post(url, data=data, **extra)
        page = response.get_data(as_text=True)
        assert response.status_code == status, (url, page[-2000:])
        assert str(escape(expected[lang])).replace("&amp;#39;", "&#39;") in page \
            or expected[lang] in page, (url, lang)
        other = expected["en" if lang == "cs" else "cs"]
        assert other not in page, (url, lang)
    assert written(session) == before


@pytest.mark.parametrize(("lang", "expected"), [
    ("cs", "není číslo bankovního účtu (123456789/0800 nebo IBAN)"),
    ("en", "is not a bank account number (123456789/0800 or an IBAN)"),
])
def test_a_customers_refusal_in_the_zone(app, session, make_customer, lang, expected):
    """billing/credit: closing the credit account to a bank account that is none."""
    from billing import credit

    customer = make_customer(number="6802")
    credit.open_account(session, customer, "CZK", actor="customer:6802", consent=True,
                        terms_version="1")
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"customer_number": "6802",
                                       "password": "secret-pass"}).status_code == 302
    client.post("/language", data={"lang": lang})
    response = client.post("/credit/close", data={"bank_account": "xyz"},
                           follow_redirects=True)
    assert expected in response.get_data(as_text=True)
    session.rollback()
    assert credit.account_of(session, customer.id).close_requested_at is None
