"""The cash receipt's storno in the console (billing/cash/cancellation.py): a billing operator
cancels a receipt from its page with a reason; the page, the customer card, the payments list
and the payments journal show the cancelling document, its PDF prints; a second attempt and
a missing reason are refused on the page in the operator's language (Czech and English);
support and readonly see no form and are refused. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.cash.payments import take_cash_payment
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger.balances import states_for
from billing.models import AuditEvent, BankTransaction, CashReceiptCancellation, LedgerTransaction
from core.clock import today


def paid_in_cash(session, supplier, customer, amount="605.00"):
    issued = today() - timedelta(days=40)
    invoice = issue_invoice(session, customer, [LineInput("Internet", D(1), D(amount))],
                            supplier, IssueOptions(issue_date=issued,
                                                   due_date=issued + timedelta(days=14)))
    done = take_cash_payment(session, customer, amount.split(".")[0], supplier,
                             actor="operator:anna")
    session.commit()
    return invoice, done.receipt


def language(client, lang):
    assert client.post("/language", data={"lang": lang}).status_code in (200, 302)
    return client


def count(session, model):
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_billing_cancels_a_receipt_from_its_page(console_client, session, make_customer,
                                                  supplier):
    customer = make_customer(number="6701")
    invoice, receipt = paid_in_cash(session, supplier, customer)
    billing = console_client("billing")
    page = billing.get(f"/console/cash-receipts/{receipt.id}").get_data(as_text=True)
    assert f"/console/cash-receipts/{receipt.id}/cancel" in page
    # not cancelled yet: the cancellation's PDF leads back to the receipt
    assert billing.get(f"/console/cash-receipts/{receipt.id}/cancellation.pdf").status_code == 302

    response = billing.post(f"/console/cash-receipts/{receipt.id}/cancel",
                            data={"reason": "zapsáno omylem"})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/console/cash-receipts/{receipt.id}")
    session.rollback()
    (storno,) = session.scalars(select(CashReceiptCancellation))
    assert storno.number == f"SPD{today().year}000001"
    assert storno.cancelled_by == f"operator:{billing.operator.login}"
    (state,) = states_for(session, [invoice], today())
    assert state.open_amount == D("605.00")
    (event,) = session.scalars(select(AuditEvent)
                               .where(AuditEvent.action == "payment.cash_cancelled"))
    assert event.actor == f"operator:{billing.operator.login}"
    assert json.loads(event.details)["reason"] == "zapsáno omylem"

    page = billing.get(f"/console/cash-receipts/{receipt.id}").get_data(as_text=True)
    assert f"Cancelled by {storno.number}" in page and "zapsáno omylem" in page
    assert f"/console/cash-receipts/{receipt.id}/cancel\"" not in page  # no form any more
    pdf = billing.get(f"/console/cash-receipts/{receipt.id}/cancellation.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    card = billing.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert receipt.number in card and f"cancelled by {storno.number}" in card
    assert "cancelled (storno)" in card
    payments = billing.get("/console/payments?source=cash").get_data(as_text=True)
    assert "cancelled (storno)" in payments
    start = (today() - timedelta(days=1)).isoformat()
    journal = billing.get(f"/console/reports/payments?from={start}&to={today().isoformat()}")
    text = journal.get_data(as_text=True)
    assert f"cancels {receipt.number}" in text and f"cancelled by {storno.number}" in text

    # a second time: refused on the page, in English and in Czech; nothing written
    before = (count(session, CashReceiptCancellation), count(session, LedgerTransaction))
    response = billing.post(f"/console/cash-receipts/{receipt.id}/cancel",
                            data={"reason": "znovu"})
    assert response.status_code == 409
    assert (f"cash receipt {receipt.number} is already cancelled (by {storno.number})"
            in response.get_data(as_text=True))
    response = language(billing, "cs").post(f"/console/cash-receipts/{receipt.id}/cancel",
                                            data={"reason": "znovu"})
    assert response.status_code == 409
    assert (f"pokladní doklad {receipt.number} je již stornován (dokladem {storno.number})"
            in response.get_data(as_text=True))
    assert (count(session, CashReceiptCancellation), count(session, LedgerTransaction)) == before


def test_a_cancellation_without_a_reason_is_refused_in_the_operators_language(
        console_client, session, make_customer, supplier):
    customer = make_customer(number="6702")
    _invoice, receipt = paid_in_cash(session, supplier, customer)
    billing = console_client("billing")
    url = f"/console/cash-receipts/{receipt.id}/cancel"
    english = billing.post(url, data={"reason": "  "})
    assert english.status_code == 422
    assert "give the reason for cancelling the cash receipt" in english.get_data(as_text=True)
    czech = language(billing, "cs").post(url, data={"reason": ""})
    assert czech.status_code == 422
    assert "uveďte důvod storna pokladního dokladu" in czech.get_data(as_text=True)
    assert count(session, CashReceiptCancellation) == 0
    session.rollback()
    assert session.get(BankTransaction, receipt.bank_transaction_id).status == "matched"


@pytest.mark.parametrize("role", ["support", "readonly"])
def test_support_and_readonly_cannot_cancel(console_client, session, make_customer, supplier,
                                            role):
    customer = make_customer(number="6703")
    _invoice, receipt = paid_in_cash(session, supplier, customer)
    client = console_client(role)
    page = client.get(f"/console/cash-receipts/{receipt.id}").get_data(as_text=True)
    assert "/cancel" not in page
    assert client.post(f"/console/cash-receipts/{receipt.id}/cancel",
                       data={"reason": "omyl"}).status_code == 403
    assert count(session, CashReceiptCancellation) == 0
