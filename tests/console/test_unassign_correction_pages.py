"""Unpairing a bank payment on an advance whose tax document for the received payment was
issued, from the console (console/views_payments.py, billing/unpairing.py): the flash names
the corrective tax document, the advance's page (console and zone) shows the receipt
corrected, the payment waits in the queue and, assigned again, gets a new tax document; a refusal (deducted in a
final invoice) is flashed in Czech and English with nothing changed. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from sqlalchemy import func, select

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction, TaxReceipt, TaxReceiptCorrection
from core.clock import today


def paid_advance(session, supplier, customer, amount="1000.00"):
    on = today() - timedelta(days=3)
    advance = issue_invoice(
        session, customer,
        [LineInput("Router", D(1), D("1210.00"), vat_rate=D("21")),
         LineInput("Instalace", D(1), D("560.00"), vat_rate=D("12"))],
        supplier, IssueOptions(kind="advance", issue_date=on, due_date=on + timedelta(days=14),
                               prices_include_vat=True))
    tx = BankTransaction(source_account="2001234567/2010", bank_tx_id=f"CU{customer.id}",
                         booked_on=today() - timedelta(days=1), amount=D(amount),
                         variable_symbol=advance.variable_symbol,
                         specific_symbol=advance.specific_symbol)
    session.add(tx)
    session.flush()
    assert pair(session, tx) == "matched"
    (tax,) = issue_receipts(session, actor="system:test")
    session.commit()
    return advance, tx, tax


def language(client, lang):
    assert client.post("/language", data={"lang": lang}).status_code in (200, 302)
    return client


def test_unpairing_issues_the_correction_and_assigning_again_a_new_receipt(
        app, console_client, session, make_customer, supplier):
    customer = make_customer(number="6820", password="secret-pass")
    advance, tx, tax = paid_advance(session, supplier, customer)
    billing = console_client("billing")
    response = billing.post(f"/console/payments/{tx.id}/unassign",
                            data={"reason": "platba jiného zákazníka", "back": "payments"},
                            follow_redirects=True)
    page = response.get_data(as_text=True)
    session.rollback()
    (correction,) = session.scalars(select(TaxReceiptCorrection))
    assert (correction.receipt_id, correction.bank_transaction_id, correction.corrected_by,
            correction.total) == (tax.id, tx.id, f"operator:{billing.operator.login}",
                                  D("-1000.00"))
    assert f"Payment {tx.id} unpaired from customer 6820" in page
    assert (f"Tax document {tax.number} corrected by the corrective tax document "
            f"{correction.number}.") in page
    advance_page = billing.get(f"/console/invoices/{advance.id}").get_data(as_text=True)
    assert f"corrected by {correction.number}" in advance_page
    session.expire_all()
    assert session.get(BankTransaction, tx.id).status == "unmatched"
    # the client zone: the advance's receipt, its correction (in Czech) and the PDF
    zone = language(app.test_client(), "cs")
    assert zone.post("/login", data={"customer_number": "6820",
                                     "password": "secret-pass"}).status_code == 302
    detail = zone.get(f"/invoices/{advance.id}").get_data(as_text=True)
    assert (f"Opravuje {tax.number}: přiřazení platby k této záloze bylo zrušeno") in detail
    assert zone.get(f"/receipt-corrections/{correction.id}.pdf").status_code == 200
    assert f"/console/payments/{tx.id}/assign" in billing.get(
        "/console/payments/unmatched").get_data(as_text=True)
    # assigned again (the receipts are issued after the commit): a new tax document
    response = billing.post(f"/console/payments/{tx.id}/assign", data={"customer": "6820"})
    assert response.status_code == 302
    session.rollback()
    session.expire_all()
    receipts = session.scalars(select(TaxReceipt).order_by(TaxReceipt.id)).all()
    assert [r.number for r in receipts][0] == tax.number and len(receipts) == 2
    assert receipts[1].total == D("1000.00") and receipts[1].correction is None


def test_a_refusal_is_flashed_in_czech_and_english(console_client, session, make_customer,
                                                    supplier):
    customer = make_customer(number="6821")
    _advance, tx, tax = paid_advance(session, supplier, customer, amount="1770.00")
    (final,) = settle_paid_advances(session, supplier)
    session.commit()
    billing = console_client("billing")
    english = billing.post(f"/console/payments/{tx.id}/unassign",
                           data={"reason": "omyl", "back": "payments"}, follow_redirects=True)
    assert (f"the tax document {tax.number} was deducted in the final invoice "
            f"{final.number}") in english.get_data(as_text=True)
    czech = language(billing, "cs").post(f"/console/payments/{tx.id}/unassign",
                                         data={"reason": "omyl", "back": "payments"},
                                         follow_redirects=True)
    assert (f"spárování platby {tx.id} nelze zrušit: daňový doklad {tax.number} byl odečten "
            f"ve vyúčtovací faktuře {final.number}") in czech.get_data(as_text=True)
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(TaxReceiptCorrection)) == 0
    assert session.get(BankTransaction, tx.id).status == "matched"
