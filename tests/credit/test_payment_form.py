"""Forma úhrady on an invoice (billing/documents/pdf.py): a payment request still open asks
for a bank transfer (with the account to pay to); paid in full from the prepaid credit it
says "z kreditu"; paid in cash at the till, "hotově". SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal as D

from billing.cash.payments import take_cash_payment
from billing.credit import pay_from_credit
from billing.documents.pdf import render_invoice_pdf
from tests.credit.test_credit import _invoice, _top_up
from tests.credit.test_eur_tax_documents import pdf_text


def text_of(invoice) -> str:
    return " ".join(pdf_text(render_invoice_pdf(invoice, D("0.00"))).replace("\u00a0", " ")
                    .split())


def test_forma_uhrady_follows_the_payment(session, supplier, credit_settings, credit_customer,
                                          gpc_pay, make_customer):
    customer = credit_customer()
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "1000.00", date.today())
    invoice = _invoice(session, supplier, customer, "121.00",
                       date.today() - timedelta(days=2))
    before = text_of(invoice)
    # the account to pay to: in the supplier's block and beside the form of payment
    assert "Forma úhrady: bankovním převodem" in before and before.count("Bankovní účet") == 2
    pay_from_credit(session, invoice, actor="customer:x")
    session.commit()
    paid = text_of(invoice)
    assert "Forma úhrady: z kreditu" in paid
    assert "bankovním převodem" not in paid and paid.count("Bankovní účet") == 1

    at_till = make_customer(number="6890")
    cash_invoice = _invoice(session, supplier, at_till, "242.00",
                            date.today() - timedelta(days=2))
    take_cash_payment(session, at_till, "242", supplier, actor="operator:anna",
                      invoice=cash_invoice)
    session.commit()
    assert "Forma úhrady: hotově" in text_of(cash_invoice)
