"""Unpairing a bank payment (``payments unassign``) whose tax document for the received
payment on an advance was issued (billing/unpairing.py with
billing/invoicing/receipt_corrections.py): one corrective tax document per receipt, the
amounts per rate negated to the haléř, in the same transaction as the unpairing; the money
waits in the unmatched queue; assigning it again (to the same advance or another customer's)
issues a new receipt; refusals (deducted in a final invoice, booked to a prepaid credit
account) change nothing; the console and the command. SQLite and PostgreSQL
(TEST_DATABASE_URL)."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.bank.pairing import PairingError, pair
from billing.bank.queue import assign, unmatched
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipt_corrections import (
    corrections_of_payment,
    render_correction_pdf,
)
from billing.invoicing.receipts import issue_receipts, pending, render_receipt_pdf
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import states_for
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    LedgerLeg,
    LedgerTransaction,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptCorrectionVat,
)
from billing.reports.period import Period
from billing.reports.vat import DocumentKind, vat_report
from billing.unpairing import unassign
from core.clock import today
from tests.credit.test_eur_tax_documents import pdf_text

YEAR = today().year
_seq = iter(range(1, 10**6))


def advance(session, customer, supplier):
    """An advance of 1 210,00 Kč at 21 % and 560,00 Kč at 12 % (prices with VAT)."""
    on = today() - timedelta(days=5)
    return issue_invoice(
        session, customer,
        [LineInput("Router", D(1), D("1210.00"), vat_rate=D("21")),
         LineInput("Instalace", D(1), D("560.00"), vat_rate=D("12"))],
        supplier, IssueOptions(kind="advance", issue_date=on, due_date=on + timedelta(days=14),
                               prices_include_vat=True))


def payment(session, amount, vs=None, ss=None, days_ago=1):
    tx = BankTransaction(
        source_account="2001234567/2010", bank_tx_id=f"UC{next(_seq)}",
        booked_on=today() - timedelta(days=days_ago), amount=D(amount),
        variable_symbol=vs, specific_symbol=ss,
    )
    session.add(tx)
    session.flush()
    return tx


def paid_by_bank(session, customer, supplier, amount="1000"):
    adv = advance(session, customer, supplier)
    tx = payment(session, amount, vs=adv.variable_symbol, ss=adv.specific_symbol)
    assert pair(session, tx) == "matched"
    (tax,) = issue_receipts(session, actor="system:pairing")
    session.commit()
    return adv, tx, tax


def counts(session):
    session.flush()
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t))
            for t in (TaxReceiptCorrection, TaxReceiptCorrectionVat, Allocation,
                      LedgerTransaction, LedgerLeg, AuditEvent)}


def open_amount(session, invoice):
    return [s.open_amount for s in states_for(session, [invoice], today())][0]


def test_unpairing_a_bank_payment_corrects_its_tax_document(session, make_customer, supplier):
    customer = make_customer(number="6800", name="Pavel Novák")
    adv, tx, tax = paid_by_bank(session, customer, supplier)
    recap = {r.rate: (r.base, r.vat, r.total) for r in tax.vat_recap}
    # 1000 × 1210/1770 = 683,62 at 21 % (VAT 683,62 × 21/121 = 118,64), 316,38 at 12 %
    assert recap == {D("12.00"): (D("282.48"), D("33.90"), D("316.38")),
                     D("21.00"): (D("564.98"), D("118.64"), D("683.62"))}
    assert open_amount(session, adv) == D("770.00")

    done = unassign(session, tx, "operator:petr", "platba jiného zákazníka")
    session.commit()

    (correction,) = session.scalars(select(TaxReceiptCorrection))
    assert done.corrections == [(correction.number, tax.number)]
    assert correction.number == f"ODP{YEAR}000001"
    assert (correction.receipt_id, correction.bank_transaction_id,
            correction.cash_cancellation_id, correction.corrected_on, correction.issue_date,
            correction.reason, correction.corrected_by) == (
        tax.id, tx.id, None, today(), today(), "platba jiného zákazníka", "operator:petr")
    assert {r.rate: (r.base, r.vat, r.total) for r in correction.vat_recap} == {
        D("12.00"): (D("-282.48"), D("-33.90"), D("-316.38")),
        D("21.00"): (D("-564.98"), D("-118.64"), D("-683.62"))}
    assert (correction.total_net, correction.total_vat, correction.total) == (
        D("-847.46"), D("-152.54"), D("-1000.00"))
    assert [c.id for c in corrections_of_payment(session, tx.id)] == [correction.id]
    # the receipt stays as issued, corrected; the money waits in the queue
    session.expire_all()
    tax = session.get(TaxReceipt, tax.id)
    assert tax.total == D("1000.00") and tax.correction.number == correction.number
    tx = session.get(BankTransaction, tx.id)
    assert (tx.status, tx.customer_id) == ("unmatched", None)
    assert tx.id in [t.id for t in unmatched(session)]
    # the advance is open again, no receipt is due, the ledger is balanced
    assert open_amount(session, adv) == D("1770.00")
    assert pending(session) == []
    assert ledger.balance(session, customer.id) == D("-1770.00")
    assert session.execute(select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
                           .having(func.sum(LedgerLeg.amount) != 0)).all() == []
    # audited with the operator; the unpairing names its corrective document
    (event,) = session.scalars(select(AuditEvent)
                               .where(AuditEvent.action == "receipt.corrected"))
    assert (event.actor, event.old_value, event.new_value) == (
        "operator:petr", tax.number, correction.number)
    assert json.loads(event.details)["why"] == "unassigned"
    (unpaired,) = session.scalars(select(AuditEvent)
                                  .where(AuditEvent.action == "payment.unassigned"))
    assert unpaired.actor == "operator:petr"
    assert json.loads(unpaired.details)["corrections"] == [[correction.number, tax.number]]
    # the VAT report of the period: the payment nets to zero, per rate
    report = vat_report(session, Period(today() - timedelta(days=10), today()))
    docs = {d.number: d for d in report.documents}
    assert docs[correction.number].kind == DocumentKind.RECEIPT_CORRECTION
    assert docs[correction.number].corrects == tax.number
    for rate in (21, 12):
        assert report.total(rate).base == D("0.00") and report.total(rate).vat == D("0.00")


def test_assigned_again_to_the_same_advance_a_new_tax_document(session, make_customer,
                                                               supplier):
    customer = make_customer(number="6801")
    adv, tx, tax = paid_by_bank(session, customer, supplier)
    unassign(session, tx, "operator:petr", "omyl")
    session.commit()
    assign(session, tx, customer, "operator:petr")
    (fresh,) = issue_receipts(session, actor="operator:petr")
    session.commit()
    assert fresh.number != tax.number and fresh.correction is None
    assert (fresh.advance_invoice_id, fresh.total, fresh.received_on) == (
        adv.id, D("1000.00"), tx.booked_on)
    assert {r.rate: (r.base, r.vat) for r in fresh.vat_recap} == {
        D("12.00"): (D("282.48"), D("33.90")), D("21.00"): (D("564.98"), D("118.64"))}
    assert open_amount(session, adv) == D("770.00")
    assert issue_receipts(session) == []
    # unpaired a second time: the new receipt is corrected too, the first one not again
    done = unassign(session, tx, "operator:petr", "zase omyl")
    session.commit()
    assert [receipt for _number, receipt in done.corrections] == [fresh.number]
    assert [c.receipt_id for c in corrections_of_payment(session, tx.id)] == [tax.id, fresh.id]
    report = vat_report(session, Period(today() - timedelta(days=10), today()))
    assert report.total(21).vat == D("0.00") and report.total(12).vat == D("0.00")


def test_assigned_to_another_customers_advance(session, make_customer, supplier):
    wrong = make_customer(number="6802")
    right = make_customer(number="6803")
    adv, tx, tax = paid_by_bank(session, wrong, supplier)
    theirs = advance(session, right, supplier)
    unassign(session, tx, "operator:petr", "patří zákazníkovi 6803")
    assign(session, tx, right, "operator:petr")
    (fresh,) = issue_receipts(session, actor="operator:petr")
    session.commit()
    assert (fresh.customer_id, fresh.advance_invoice_id, fresh.total) == (
        right.id, theirs.id, D("1000.00"))
    assert open_amount(session, adv) == D("1770.00")
    assert open_amount(session, theirs) == D("770.00")
    assert ledger.balance(session, wrong.id) == D("-1770.00")
    assert ledger.balance(session, right.id) == D("-770.00")


def test_refused_when_deducted_in_a_final_invoice(session, make_customer, supplier):
    customer = make_customer(number="6804")
    adv, tx, tax = paid_by_bank(session, customer, supplier, amount="1770")
    (final,) = settle_paid_advances(session, supplier)
    session.commit()
    before = counts(session)
    with pytest.raises(PairingError, match=(f"transaction {tx.id} cannot be unpaired: the tax "
                                            f"document {tax.number} was deducted in the final "
                                            f"invoice {final.number}.*nothing was changed")):
        unassign(session, tx, "operator:petr", "omyl")
    session.rollback()
    assert counts(session) == before
    assert session.get(BankTransaction, tx.id).status == "matched"


def test_refused_when_booked_to_a_prepaid_credit_account(session, make_customer, supplier):
    from billing.credit import CreditSettings, open_account
    from billing.credit.topups import receipts_and_credit

    customer = make_customer(number="6805")
    account = open_account(session, customer, "CZK", actor="operator:test")
    session.commit()
    tx = payment(session, "500", vs=account.variable_symbol)
    receipts_and_credit(session, today(), actor="t", supplier=supplier,
                        settings=CreditSettings())
    session.commit()
    (receipt,) = session.scalars(select(TaxReceipt))
    session.refresh(tx)
    assert tx.status == "matched"
    before = counts(session)
    with pytest.raises(PairingError, match=(f"cannot be unpaired: the tax document "
                                            f"{receipt.number} topped up a prepaid credit")):
        unassign(session, tx, "operator:petr", "omyl")
    session.rollback()
    assert counts(session) == before


def test_all_or_nothing(session, make_customer, supplier, monkeypatch):
    """A failure after the corrective document was written leaves nothing behind."""
    customer = make_customer(number="6806")
    adv, tx, tax = paid_by_bank(session, customer, supplier)
    before = counts(session)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the settlement failed")

    monkeypatch.setattr("billing.unpairing.settle", broken)
    with pytest.raises(RuntimeError):
        unassign(session, tx, "operator:petr", "omyl")
    session.rollback()
    assert counts(session) == before
    assert open_amount(session, adv) == D("770.00")
    assert session.get(BankTransaction, tx.id).status == "matched"


def test_the_pdfs_state_a_bank_transfer(session, make_customer, supplier):
    customer = make_customer(number="6807", name="Pavel Novák")
    adv, tx, tax = paid_by_bank(session, customer, supplier)
    unassign(session, tx, "operator:petr", "platba jiného zákazníka")
    session.commit()
    (correction,) = corrections_of_payment(session, tx.id)
    text = pdf_text(render_correction_pdf(correction)).replace("\u00a0", " ")
    text = " ".join(text.split())
    assert f"Opravuje doklad č.: {tax.number}" in text
    assert "Forma úhrady: bankovním převodem" in text
    assert "Důvod opravy: platba jiného zákazníka" in text
    assert f"přiřazení platby k zálohové faktuře č. {adv.number} bylo zrušeno" in text
    assert "-118,64 Kč" in text and "-1 000,00 Kč" in text
    receipt_text = " ".join(pdf_text(render_receipt_pdf(tax)).replace("\u00a0", " ").split())
    assert "Forma úhrady: bankovním převodem" in receipt_text


def test_the_unassign_command_issues_the_correction(app, session, make_customer, supplier,
                                                    monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "anna")
    customer = make_customer(number="6808")
    adv, tx, tax = paid_by_bank(session, customer, supplier, amount="1770")
    result = app.test_cli_runner().invoke(args=["payments", "unassign", str(tx.id),
                                                "--reason", "špatný zákazník"])
    assert result.exit_code == 0, result.output
    assert (f"tax document {tax.number} corrected by the corrective tax document "
            f"ODP{YEAR}000001") in result.output
    session.expire_all()
    (correction,) = session.scalars(select(TaxReceiptCorrection))
    assert (correction.receipt_id, correction.bank_transaction_id, correction.corrected_by,
            correction.total, correction.total_vat) == (
        tax.id, tx.id, "operator:anna", D("-1770.00"), D("-270.00"))
    assert session.get(BankTransaction, tx.id).status == "unmatched"
    # a second time: refused, exit 1, nothing changed
    before = counts(session)
    again = app.test_cli_runner().invoke(args=["payments", "unassign", str(tx.id),
                                               "--reason", "znovu"])
    assert again.exit_code == 1 and "is unmatched, not matched" in again.output
    session.rollback()
    assert counts(session) == before


def test_the_unpaired_payment_named_by_the_correction_is_never_changed(
        session, make_customer, supplier):
    """Migration 0029's column is guarded like the rest of the document (SQLite's trigger
    names the columns it had, so it is created again)."""
    from sqlalchemy import text

    customer = make_customer(number="6809")
    _adv, tx, _tax = paid_by_bank(session, customer, supplier)
    unassign(session, tx, "operator:petr", "omyl")
    session.commit()
    with pytest.raises(Exception, match="append-only"):
        session.execute(text("UPDATE tax_receipt_correction SET bank_transaction_id = NULL"))
    session.rollback()
    (correction,) = corrections_of_payment(session, tx.id)
    assert correction.bank_transaction_id == tx.id


def test_a_receipt_being_issued_never_outlives_the_unpairing_of_its_payment(
        need, engine, make_customer, supplier):
    """PostgreSQL: the receipts' issuer (after a pairing, in its own transaction) and an
    unpairing of the same payment at once. tax_receipt.allocation_id has no foreign key
    since migration 0028, so the issuer locks the allocations it issues for: it waits for
    the unpairing, finds the allocation gone and issues nothing (before: a tax document for
    a payment no longer paired, and no correction of it)."""
    need(engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    import threading
    import time

    from core.db import make_session_factory

    factory = make_session_factory(engine)
    setup = factory()
    customer = setup.merge(make_customer(number="5801", password=None))
    adv = advance(setup, customer, supplier)
    tx = payment(setup, "1000", vs=adv.variable_symbol, ss=adv.specific_symbol)
    assert pair(setup, tx) == "matched"
    setup.commit()
    tx_id, advance_id = tx.id, adv.id
    setup.close()

    undoer = factory()
    unassign(undoer, undoer.get(BankTransaction, tx_id), "operator:test", "wrong customer")
    errors, done = [], threading.Event()

    def issue():
        session = factory()
        try:
            issue_receipts(session, actor="system:pairing")
            session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()
            session.close()

    thread = threading.Thread(target=issue)
    thread.start()
    try:
        time.sleep(0.5)
        waited = not done.is_set()  # waiting for the unpairing
        undoer.commit()
    finally:  # never leave the lock held (the teardown would wait for ever)
        undoer.close()
        thread.join(20)
    assert waited
    assert not errors, errors
    check = factory()
    try:
        issued = check.scalars(select(TaxReceipt)
                               .where(TaxReceipt.advance_invoice_id == advance_id)).all()
        assert [r for r in issued if r.correction is None] == []
        assert check.get(BankTransaction, tx_id).status == "unmatched"
    finally:
        check.close()
