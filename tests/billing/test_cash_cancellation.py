"""Cancelling a cash receipt recorded by mistake (billing/cash/cancellation.py): the
cancelling document, the reversing posting (the original rows untouched), the invoices it
paid open again, the customer's other credit reapplied, the till back to what it was,
audited with the operator and the reason; refusals change nothing; its PDF, the payments
journal, the customer card's data and the command. SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.bank.pairing import credit_available, pair
from billing.cash.cancellation import (
    CancellationError,
    CancellationInputError,
    cancel_cash_receipt,
)
from billing.cash.payments import CashLimitError, take_cash_payment
from billing.customers.card import card
from billing.customers.self_service import payment_history
from billing.documents.cash_receipt import render_cash_cancellation_pdf
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import states_for
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    CashReceipt,
    CashReceiptCancellation,
    DocumentSeries,
    LedgerAccount,
    LedgerLeg,
    LedgerTransaction,
)
from billing.reports.payments import payments_journal
from billing.reports.period import Period
from core.clock import today

YEAR = today().year


def issue(session, customer, supplier, amount, days_ago=30, kind="regular"):
    issued = today() - timedelta(days=days_ago)
    return issue_invoice(session, customer, [LineInput("Internet", D(1), D(amount))], supplier,
                         IssueOptions(kind=kind, issue_date=issued,
                                      due_date=issued + timedelta(days=14)))


def account(session, key):
    return session.scalar(
        select(func.coalesce(func.sum(LedgerLeg.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.key == key))


def snapshot(session):
    """Everything a cancellation writes, counted, and the movements' states."""
    session.flush()
    tables = (CashReceipt, CashReceiptCancellation, BankTransaction, Allocation,
              LedgerTransaction, LedgerLeg, AuditEvent)
    counts = {t.__tablename__: session.scalar(select(func.count()).select_from(t))
              for t in tables}
    counts["statuses"] = sorted(session.execute(select(BankTransaction.id,
                                                       BankTransaction.status)).all())
    counts["allocated"] = session.scalar(select(func.sum(Allocation.amount)))
    counts["series"] = sorted(session.execute(
        select(DocumentSeries.key, DocumentSeries.last_value)).all())
    return counts


def test_cancelling_undoes_the_payment_to_the_haler(session, make_customer, supplier):
    customer = make_customer(number="6600", name="Pavel Novák")
    old = issue(session, customer, supplier, "605.00", days_ago=60)
    new = issue(session, customer, supplier, "450.50", days_ago=30)
    session.commit()
    balance_before, till_before = ledger.balance(session, customer.id), account(session, "cash")
    done = take_cash_payment(session, customer, "1200", supplier, actor="operator:anna")
    session.commit()
    receipt = done.receipt
    assert dict(done.paid) == {old.number: D("605.00"), new.number: D("450.50")}
    assert done.credit == D("144.50")
    paid_postings = session.scalar(select(func.count()).select_from(LedgerTransaction))
    receipt_row = session.execute(select(CashReceipt.__table__)
                                  .where(CashReceipt.id == receipt.id)).one()

    result = cancel_cash_receipt(session, receipt, "  zapsáno omylem, zákazník neplatil  ",
                                 actor="operator:petr")
    session.commit()
    storno = result.cancellation
    assert storno.number == f"SPD{YEAR}000001"
    assert (storno.receipt_id, storno.amount, storno.cancelled_by, storno.reason) == (
        receipt.id, D("1200.00"), "operator:petr", "zapsáno omylem, zákazník neplatil")
    assert result.reopened == [(old.number, D("605.00")), (new.number, D("450.50"))]
    assert result.reapplied == D("0.00")
    assert storno.reopened == (f"faktura {old.number}: 605,00\u00a0Kč; "
                               f"faktura {new.number}: 450,50\u00a0Kč")
    # the invoices are open again, the money is out of the till and off the customer's credit
    assert [s.open_amount for s in states_for(session, [old, new], today())] == [
        D("605.00"), D("450.50")]
    assert ledger.balance(session, customer.id) == balance_before == D("-1055.50")
    assert account(session, "cash") == till_before
    assert credit_available(session, customer.id) == D("0.00")
    tx = session.get(BankTransaction, receipt.bank_transaction_id)
    assert tx.status == "cancelled" and tx.customer_id == customer.id
    # one new transaction, reversing the payment, balanced; the original rows stay as they were
    (reversal,) = session.scalars(select(LedgerTransaction).where(
        LedgerTransaction.kind == "reversal", LedgerTransaction.bank_transaction_id == tx.id))
    legs = dict(session.execute(
        select(LedgerAccount.key, LedgerLeg.amount)
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerLeg.transaction_id == reversal.id)).all())
    assert legs == {f"receivable:{customer.id}": D("1055.50"),
                    f"prepaid_credit:{customer.id}": D("144.50"), "cash": D("-1200.00")}
    payment = session.scalar(select(LedgerTransaction).where(
        LedgerTransaction.kind == "payment", LedgerTransaction.bank_transaction_id == tx.id))
    assert reversal.reverses_id == payment.id and reversal.actor == "operator:petr"
    assert reversal.reference == storno.number
    assert session.scalar(select(func.count()).select_from(LedgerTransaction)) == \
        paid_postings + 1
    for t in session.scalars(select(LedgerTransaction)):
        assert session.scalar(select(func.sum(LedgerLeg.amount))
                              .where(LedgerLeg.transaction_id == t.id)) == 0
    assert session.execute(select(CashReceipt.__table__)
                           .where(CashReceipt.id == receipt.id)).one() == receipt_row
    # the audit names the operator, the reason and what is owed again
    (event,) = session.scalars(select(AuditEvent)
                               .where(AuditEvent.action == "payment.cash_cancelled"))
    assert (event.actor, event.customer_id, event.old_value, event.new_value) == (
        "operator:petr", customer.id, receipt.number, storno.number)
    details = json.loads(event.details)
    assert details["reason"] == "zapsáno omylem, zákazník neplatil"
    assert details["invoices"] == [[old.number, "605.00"], [new.number, "450.50"]]
    # the zone's payment history no longer lists it; the card shows both documents
    assert payment_history(session, customer.id) == []
    data = card(session, customer, today())
    assert data.cash_documents[tx.id] == (receipt.id, receipt.number, storno.number)


def test_the_customers_other_credit_settles_the_reopened_invoices(session, make_customer,
                                                                   supplier):
    customer = make_customer(number="6610")
    invoice = issue(session, customer, supplier, "600.00", days_ago=60)
    done = take_cash_payment(session, customer, "600", supplier, actor="operator:anna")
    bank = BankTransaction(source_account="2001234567/2010", bank_tx_id="C6610",
                           booked_on=today(), amount=D("200.00"), variable_symbol="6610")
    session.add(bank)
    session.flush()
    assert pair(session, bank) == "matched"
    assert credit_available(session, customer.id) == D("200.00")
    session.commit()

    result = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.commit()
    assert result.reapplied == D("200.00")
    (state,) = states_for(session, [invoice], today())
    assert (state.paid, state.open_amount) == (D("200.00"), D("400.00"))
    assert ledger.balance(session, customer.id) == D("-400.00")
    assert credit_available(session, customer.id) == D("0.00")


def test_refusals_change_nothing(session, make_customer, supplier):
    customer = make_customer(number="6620")
    issue(session, customer, supplier, "450.00")
    done = take_cash_payment(session, customer, "450", supplier, actor="operator:anna")
    session.commit()
    before = snapshot(session)
    for reason in ("", "   ", None):
        with pytest.raises(CancellationInputError, match="reason"):
            cancel_cash_receipt(session, done.receipt, reason, actor="operator:anna")
        session.rollback()
        assert snapshot(session) == before

    first = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.commit()
    after = snapshot(session)
    with pytest.raises(CancellationError,
                       match=f"already cancelled \\(by {first.cancellation.number}\\)"):
        cancel_cash_receipt(session, done.receipt, "znovu", actor="operator:petr")
    session.rollback()
    assert snapshot(session) == after


def test_a_receipt_with_a_tax_document_is_cancelled_with_its_correction(session, make_customer,
                                                                        supplier):
    """The tax document for the received advance stays, corrected by a corrective tax
    document (tests/billing/test_receipt_corrections.py has the details)."""
    from billing.invoicing.receipts import issue_receipts

    customer = make_customer(number="6630")
    issue_invoice(session, customer, [LineInput("Záloha na router", D(1), D("1210.00"))],
                  supplier, IssueOptions(kind="advance"))
    done = take_cash_payment(session, customer, "1210", supplier, actor="operator:anna")
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    result = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.commit()
    (correction,) = result.corrections
    assert (correction.receipt_id, correction.total) == (tax.id, -tax.total)


def test_a_cancelled_receipt_does_not_count_to_the_days_cash_limit(session, make_customer,
                                                                  supplier):
    customer = make_customer(number="6640")
    done = take_cash_payment(session, customer, "200000", supplier, actor="operator:anna")
    session.commit()
    with pytest.raises(CashLimitError):
        take_cash_payment(session, customer, "100000", supplier, actor="operator:anna")
    session.rollback()
    cancel_cash_receipt(session, done.receipt, "špatná částka", actor="operator:anna")
    again = take_cash_payment(session, customer, "100000", supplier, actor="operator:anna")
    session.commit()
    assert again.receipt.number == f"PPD{YEAR}000002"


def test_the_cancelling_documents_pdf(session, make_customer, supplier, tmp_path):
    customer = make_customer(number="6650", name="Pavel Novák")
    invoice = issue(session, customer, supplier, "1234.50")
    done = take_cash_payment(session, customer, "1500", supplier, actor="operator:anna")
    result = cancel_cash_receipt(session, done.receipt, "zapsáno omylem",
                                 actor="operator:petr")
    session.commit()
    pdf = tmp_path / "storno.pdf"
    pdf.write_bytes(render_cash_cancellation_pdf(done.receipt, result.cancellation))
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.replace("\u00a0", " ").split())
    number = result.cancellation.number
    assert f"Storno příjmového pokladního dokladu č. {number}" in text
    assert "Částka: -1 500,00 Kč" in text
    assert f"Ruší doklad: Příjmový pokladní doklad č. {done.receipt.number}" in text
    assert "Důvod storna: zapsáno omylem" in text
    assert f"faktura {invoice.number}: 1 234,50 Kč" in text
    assert "Stornoval: petr" in text
    assert "Pavel Novák" in text and supplier.name in text and "Zákaznické číslo: 6650" in text


def test_the_payments_journal_shows_the_receipt_and_its_cancellation(session, make_customer,
                                                                     supplier):
    customer = make_customer(number="6660")
    issue(session, customer, supplier, "605.00")
    kept = take_cash_payment(session, customer, "300", supplier, actor="operator:anna",
                             on=today() - timedelta(days=3))
    done = take_cash_payment(session, customer, "605", supplier, actor="operator:anna",
                             on=today() - timedelta(days=2))
    result = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.commit()
    journal = payments_journal(session, Period(today() - timedelta(days=10), today()))
    rows = [(p.document, p.amount, p.status, p.cancels, p.cancelled_by, p.credit)
            for p in journal.payments]
    storno = result.cancellation.number
    assert rows == [
        (kept.receipt.number, D("300.00"), "matched", None, None, D("0.00")),
        (done.receipt.number, D("605.00"), "cancelled", None, storno, D("0.00")),
        (storno, D("-605.00"), "cancelled", done.receipt.number, None, D("0.00")),
    ]
    assert journal.total == D("300.00") and journal.total_by("cash") == D("300.00")
    # a period that ended before the cancellation keeps what was received then
    before = payments_journal(session, Period(today() - timedelta(days=10),
                                              today() - timedelta(days=1)))
    assert before.total == D("905.00")


def test_the_cash_cancel_command(app, session, make_customer, supplier, tmp_path, monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "anna")  # what ``ispzone --as anna`` sets
    customer = make_customer(number="6670")
    issue(session, customer, supplier, "450.00")
    done = take_cash_payment(session, customer, "450", supplier, actor="operator:anna")
    session.commit()
    runner = app.test_cli_runner()
    result = runner.invoke(args=["payments", "cash-cancel", done.receipt.number,
                                 "--reason", "omyl", "--document", str(tmp_path / "s.pdf")])
    assert result.exit_code == 0, result.output
    assert f"cancelled by SPD{YEAR}000001" in result.output
    assert (tmp_path / "s.pdf").read_bytes().startswith(b"%PDF")
    again = runner.invoke(args=["payments", "cash-cancel", done.receipt.number,
                                "--reason", "omyl"])
    assert again.exit_code == 1 and "already cancelled" in again.output
    session.expire_all()
    (event,) = session.scalars(select(AuditEvent)
                               .where(AuditEvent.action == "payment.cash_cancelled"))
    assert event.actor == "operator:anna"
