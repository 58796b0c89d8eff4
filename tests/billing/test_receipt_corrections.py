"""Cancelling a cash payment made on an advance invoice whose tax document for the received
payment was issued (billing/cash/cancellation.py with billing/invoicing/receipt_corrections.py):
the corrective tax document reverses the receipt per rate to the haléř, in the same
transaction as the cancellation; the advance is open again; the VAT report of the period
nets to zero for the payment; the receipt shows it was corrected; refusals change nothing;
the PDF; the command. SQLite and PostgreSQL (TEST_DATABASE_URL)."""

from __future__ import annotations

import json
import subprocess
from datetime import timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.cash.cancellation import CancellationError, cancel_cash_receipt
from billing.cash.payments import take_cash_payment
from billing.invoicing import receipt_corrections
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipt_corrections import correction_of, render_correction_pdf
from billing.invoicing.receipts import issue_receipts, pending
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import states_for
from billing.models import (
    AuditEvent,
    CashReceiptCancellation,
    LedgerLeg,
    LedgerTransaction,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptCorrectionVat,
)
from billing.reports.csv_export import vat_csv
from billing.reports.period import Period
from billing.reports.vat import DocumentKind, vat_report
from core.clock import today

YEAR = today().year


def advance(session, customer, supplier):
    """An advance of 1 210,00 Kč at 21 % and 560,00 Kč at 12 % (prices with VAT)."""
    on = today() - timedelta(days=5)
    return issue_invoice(
        session, customer,
        [LineInput("Router", D(1), D("1210.00"), vat_rate=D("21")),
         LineInput("Instalace", D(1), D("560.00"), vat_rate=D("12"))],
        supplier, IssueOptions(kind="advance", issue_date=on, due_date=on + timedelta(days=14),
                               prices_include_vat=True))


def counts(session):
    session.flush()
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t))
            for t in (TaxReceiptCorrection, TaxReceiptCorrectionVat, CashReceiptCancellation,
                      LedgerTransaction, LedgerLeg, AuditEvent)}


def test_storno_of_a_cash_payment_on_an_advance_corrects_its_tax_document(
        session, make_customer, supplier):
    customer = make_customer(number="6700", name="Pavel Novák")
    adv = advance(session, customer, supplier)
    assert adv.total == D("1770.00")
    # a partial payment: 1 000 Kč split over the rates in proportion to their totals
    done = take_cash_payment(session, customer, "1000", supplier, actor="operator:anna",
                             invoice=adv)
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    recap = {r.rate: (r.base, r.vat, r.total) for r in tax.vat_recap}
    # 1000 × 1210/1770 = 683,62 at 21 % (VAT 683,62 × 21/121 = 118,64), 316,38 at 12 %
    assert recap == {D("12.00"): (D("282.48"), D("33.90"), D("316.38")),
                     D("21.00"): (D("564.98"), D("118.64"), D("683.62"))}
    assert [s.open_amount for s in states_for(session, [adv], today())] == [D("770.00")]

    result = cancel_cash_receipt(session, done.receipt, "platba zapsána omylem",
                                 actor="operator:petr")
    session.commit()

    (correction,) = result.corrections
    assert correction.number == f"ODP{YEAR}000001"
    assert (correction.receipt_id, correction.corrected_on, correction.issue_date,
            correction.reason, correction.corrected_by,
            correction.cash_cancellation_id) == (
        tax.id, today(), today(), "platba zapsána omylem", "operator:petr",
        result.cancellation.id)
    assert {r.rate: (r.base, r.vat, r.total) for r in correction.vat_recap} == {
        D("12.00"): (D("-282.48"), D("-33.90"), D("-316.38")),
        D("21.00"): (D("-564.98"), D("-118.64"), D("-683.62"))}
    assert (correction.total_net, correction.total_vat, correction.total) == (
        D("-847.46"), D("-152.54"), D("-1000.00"))
    # the receipt stays as issued and shows its correction
    session.expire_all()
    tax = session.get(TaxReceipt, tax.id)
    assert tax.total == D("1000.00") and tax.correction.number == correction.number
    assert correction_of(session, tax.id).id == correction.id
    # the advance is open again, no receipt waits for it, the ledger is balanced
    assert [s.open_amount for s in states_for(session, [adv], today())] == [D("1770.00")]
    assert pending(session) == []
    assert ledger.balance(session, customer.id) == D("-1770.00")
    unbalanced = session.execute(
        select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
        .having(func.sum(LedgerLeg.amount) != 0)).all()
    assert unbalanced == []
    # audited with the operator, the cancellation names its corrective document
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "receipt.corrected"))
    assert (event.actor, event.old_value, event.new_value) == (
        "operator:petr", tax.number, correction.number)
    (cancelled,) = session.scalars(select(AuditEvent)
                                   .where(AuditEvent.action == "payment.cash_cancelled"))
    assert json.loads(cancelled.details)["corrections"] == [[correction.number, tax.number]]
    # the VAT report of the period: the payment nets to zero, per rate
    report = vat_report(session, Period(today() - timedelta(days=10), today()))
    docs = {d.number: d for d in report.documents}
    assert docs[correction.number].kind == DocumentKind.RECEIPT_CORRECTION
    assert docs[correction.number].corrects == tax.number
    assert docs[correction.number].section == docs[tax.number].section == "A.5"
    for rate in (21, 12):
        assert report.total(rate).base == D("0.00") and report.total(rate).vat == D("0.00")
        assert report.a5_amounts(rate).vat == D("0.00")
    csv_text = vat_csv(report).decode("utf-8-sig")
    assert correction.number in csv_text and "opravný daňový doklad k přijaté platbě" in csv_text
    assert "-118,64" in csv_text or "-118.64" in csv_text
    # paid again later: a new receipt, and the final invoice deducts only that one
    again = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                              invoice=adv)
    (fresh,) = issue_receipts(session, actor="operator:anna")
    assert fresh.total == D("1770.00") and again.receipt.number != done.receipt.number
    (final,) = settle_paid_advances(session, supplier)
    assert final.total == D("0.00")


def test_the_correction_is_in_the_period_of_the_cancellation(session, make_customer, supplier):
    customer = make_customer(number="6701")
    adv = advance(session, customer, supplier)
    received = today() - timedelta(days=40)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv, on=received)
    (tax,) = issue_receipts(session, on=received + timedelta(days=1))
    result = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:petr")
    session.commit()
    (correction,) = result.corrections
    then = vat_report(session, Period(received, received + timedelta(days=2)))
    assert [d.number for d in then.documents] == [tax.number]
    assert then.total(21).vat == D("210.00")
    now = vat_report(session, Period(today(), today()))
    assert [d.number for d in now.documents] == [correction.number]
    assert (now.total(21).base, now.total(21).vat, now.total(12).vat) == (
        D("-1000.00"), D("-210.00"), D("-60.00"))


def test_refusals_change_nothing(session, make_customer, supplier):
    customer = make_customer(number="6702")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv)
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    before = counts(session)
    with pytest.raises(Exception, match="reason"):
        cancel_cash_receipt(session, done.receipt, "  ", actor="operator:anna")
    session.rollback()
    assert counts(session) == before
    # deducted in a final invoice: that invoice is corrected first, by a credit note
    (final,) = settle_paid_advances(session, supplier)
    session.commit()
    before = counts(session)
    with pytest.raises(CancellationError, match=f"{tax.number}.*final invoice {final.number}"):
        cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.rollback()
    assert counts(session) == before


def test_already_cancelled_is_refused(session, make_customer, supplier):
    customer = make_customer(number="6703")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "500", supplier, actor="operator:anna",
                             invoice=adv)
    issue_receipts(session, actor="operator:anna")
    first = cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.commit()
    before = counts(session)
    with pytest.raises(CancellationError, match="already cancelled"):
        cancel_cash_receipt(session, done.receipt, "znovu", actor="operator:petr")
    session.rollback()
    assert counts(session) == before
    assert receipt_corrections.refusal(session, [first.corrections[0].receipt]) is not None


def test_all_or_nothing(session, make_customer, supplier, monkeypatch):
    """A failure after the corrective documents were written leaves nothing behind."""
    customer = make_customer(number="6704")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv)
    issue_receipts(session, actor="operator:anna")
    session.commit()
    before = counts(session)

    def broken(*_args, **_kwargs):
        raise RuntimeError("the settlement failed")

    monkeypatch.setattr("billing.cash.cancellation.settle", broken)
    with pytest.raises(RuntimeError):
        cancel_cash_receipt(session, done.receipt, "omyl", actor="operator:anna")
    session.rollback()
    assert counts(session) == before
    assert [s.open_amount for s in states_for(session, [adv], today())] == [D("0.00")]


def test_the_corrective_documents_pdf(session, make_customer, supplier, tmp_path):
    customer = make_customer(number="6705", name="Pavel Novák")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1000", supplier, actor="operator:anna",
                             invoice=adv)
    (tax,) = issue_receipts(session, actor="operator:anna")
    result = cancel_cash_receipt(session, done.receipt, "zapsáno omylem",
                                 actor="operator:petr")
    session.commit()
    (correction,) = result.corrections
    pdf = tmp_path / "odp.pdf"
    pdf.write_bytes(render_correction_pdf(correction))
    text = " ".join(subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                                   text=True, check=True).stdout.replace("\u00a0", " ").split())
    assert (f"Opravný daňový doklad k daňovému dokladu k přijaté platbě č. {correction.number}"
            in text)
    assert f"Opravuje doklad č.: {tax.number}" in text
    assert f"K zálohové faktuře č.: {adv.number}" in text
    assert "Datum uskutečnění opravy:" in text
    assert "Důvod opravy: zapsáno omylem" in text
    assert "operator:petr" in text
    assert "-118,64 Kč" in text and "-33,90 Kč" in text and "-1 000,00 Kč" in text
    assert "Pavel Novák" in text and supplier.name in text


def test_the_cash_cancel_command_issues_the_correction(app, session, make_customer, supplier,
                                                       monkeypatch):
    monkeypatch.setenv("ISPZONE_AS", "anna")
    customer = make_customer(number="6706")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv)
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    result = app.test_cli_runner().invoke(args=["payments", "cash-cancel", done.receipt.number,
                                                "--reason", "omyl"])
    assert result.exit_code == 0, result.output
    assert f"ODP{YEAR}000001" in result.output and tax.number in result.output
    session.expire_all()
    (correction,) = session.scalars(select(TaxReceiptCorrection))
    assert (correction.receipt_id, correction.corrected_by, correction.total) == (
        tax.id, "operator:anna", D("-1770.00"))


def test_a_correction_is_never_changed(session, make_customer, supplier):
    from sqlalchemy import text

    customer = make_customer(number="6707")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv)
    issue_receipts(session, actor="operator:anna")
    (correction,) = cancel_cash_receipt(session, done.receipt, "omyl",
                                        actor="operator:anna").corrections
    session.commit()
    for sql in ("UPDATE tax_receipt_correction SET total = 0",
                "DELETE FROM tax_receipt_correction",
                "UPDATE tax_receipt_correction_vat SET vat = 0"):
        with pytest.raises(Exception, match="append-only"):
            session.execute(text(sql))
        session.rollback()
    assert session.get(TaxReceiptCorrection, correction.id).total == D("-1770.00")


def test_a_eur_receipt_is_refused_when_booked_to_credit_and_its_correction_states_czk_vat(
        session, supplier, make_customer):
    """A EUR receipt (a credit top-up paid from abroad) booked to the credit is refused; its
    corrective document, issued by hand (correct_receipts), states its VAT in CZK at the
    receipt's own ČNB rate: the same CZK amount, negated."""
    from billing import rates
    from billing.credit import CreditSettings, open_account
    from billing.credit.topups import receipts_and_credit
    from tests.credit.test_eur_tax_documents import _eur_payment, cnb_file, pdf_text

    customer = make_customer("6708")
    account = open_account(session, customer, "EUR", actor="operator:test")
    session.commit()
    paid_on = today() - timedelta(days=1)
    rates.import_rates(session, cnb_file(paid_on), source="f", actor="t")
    _eur_payment(session, account.variable_symbol, D("48.40"), paid_on)
    receipts_and_credit(session, paid_on, actor="t", supplier=supplier,
                        settings=CreditSettings())
    session.commit()
    (receipt,) = session.scalars(select(TaxReceipt))
    why = receipt_corrections.refusal(session, [receipt])
    assert why is not None and "prepaid credit" in str(why)
    (correction,) = receipt_corrections.correct_receipts(
        session, [receipt], "test", on=today(), actor="operator:test")
    assert (correction.total_net, correction.total_vat) == (D("-40.00"), D("-8.40"))
    day = f"{paid_on.day}. {paid_on.month}. {paid_on.year}"
    text = pdf_text(render_correction_pdf(correction)).replace("\u00a0", " ")
    assert f"DPH v CZK: -212,39 Kč (kurz ČNB 25,285 CZK/EUR ze dne {day})" in text
    assert "-48,40 €" in text
    session.rollback()


def test_the_cash_receipts_tax_document_and_its_correction_state_cash(
        session, make_customer, supplier):
    """Forma úhrady: the payment's real form ("hotově" at the till), with no bank account
    to pay to beside it; a bank payment's receipt keeps "bankovním převodem"
    (tests/billing/test_unassign_corrections.py)."""
    from billing.invoicing.receipts import render_receipt_pdf
    from tests.credit.test_eur_tax_documents import pdf_text

    def text_of(pdf: bytes) -> str:
        return " ".join(pdf_text(pdf).replace("\u00a0", " ").split())

    customer = make_customer(number="6709")
    adv = advance(session, customer, supplier)
    done = take_cash_payment(session, customer, "1770", supplier, actor="operator:anna",
                             invoice=adv)
    (tax,) = issue_receipts(session, actor="operator:anna")
    session.commit()
    receipt_text = text_of(render_receipt_pdf(tax))
    assert "Forma úhrady: hotově" in receipt_text
    # the supplier's account stays in its block; the payment column names none
    assert "bankovním převodem" not in receipt_text
    assert receipt_text.count("Bankovní účet") == 1
    assert f"Variabilní symbol: {adv.variable_symbol}" in receipt_text
    (correction,) = cancel_cash_receipt(session, done.receipt, "omyl",
                                        actor="operator:petr").corrections
    session.commit()
    correction_text = text_of(render_correction_pdf(correction))
    assert "Forma úhrady: hotově" in correction_text
    assert "bankovním převodem" not in correction_text
    # the receipt, its allocation gone with the cancellation, still states cash
    assert "Forma úhrady: hotově" in text_of(render_receipt_pdf(tax))
