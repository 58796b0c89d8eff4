"""The prepaid credit account (issue 15, items 1-3, 6, 7): top-up, permanent VS,
auto-pay, statements and CSV, closing. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import func, select

from billing.credit import (
    CreditConflict,
    CreditError,
    PayOutcome,
    account_of,
    credit_balance,
    is_credit_symbol,
    open_account,
    pay_from_credit,
    set_auto_pay,
    set_hold,
    variable_symbol_for,
)
from billing.credit.autopay import run_autopay
from billing.credit.closing import close_account, mark_refund_sent, request_closing
from billing.credit.statements import export_csv, period, record_statements, render_statement_pdf
from billing.credit.topups import receipts_and_credit, request_topup
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger.balances import paid_amounts
from billing.models import Invoice, LedgerLeg, TaxReceipt
from billing.models.credit import CreditMail, CreditPayment, CreditRefund, CreditStatement

D = Decimal


def _invoice(session, supplier, customer, gross: str, issued: date, kind: str = "regular",
             currency: str = "CZK") -> Invoice:
    invoice = issue_invoice(
        session, customer, [LineInput("Webhosting", D("1"), D(gross))], supplier,
        IssueOptions(kind=kind, issue_date=issued, due_date=issued + timedelta(days=14),
                     currency=currency))
    session.commit()
    return invoice


def _top_up(session, supplier, credit_settings, customer, gpc_pay, net: str, on: date):
    request = request_topup(session, customer, D(net), supplier=supplier,
                            settings=credit_settings, actor=f"customer:{customer.customer_number}",
                            on=on)
    session.commit()
    gpc_pay([(request.specific_symbol, str(request.total), on)], specific=True)
    return request


def test_top_up_500_without_vat_is_a_request_of_605_paid_by_gpc_giving_500_credit(
        session, supplier, credit_settings, credit_customer, gpc_pay):
    customer = credit_customer("1001")
    request = request_topup(session, customer, D("500"), supplier=supplier,
                            settings=credit_settings, actor="customer:1001")
    session.commit()
    assert request.kind == "advance" and request.taxable_date is None  # not a tax document
    assert (request.total_net, request.total_vat, request.total) == (D("500.00"), D("105.00"),
                                                                      D("605.00"))
    assert credit_balance(session, customer.id) == D("0.00")

    # the customer pays by the QR Platba's symbols: VS = their number, SS = the request
    report = gpc_pay([("1001", "605.00", date.today())])
    assert report.matched == 1
    assert paid_amounts(session, [request.id])[request.id] == D("605.00")
    assert credit_balance(session, customer.id) == D("500.00")
    receipt = session.scalar(select(TaxReceipt).where(TaxReceipt.advance_invoice_id == request.id))
    assert (receipt.total_net, receipt.total_vat, receipt.total) == (D("500.00"), D("105.00"),
                                                                      D("605.00"))
    mail = session.scalar(select(CreditMail).where(CreditMail.customer_id == customer.id,
                                                   CreditMail.template == "credit_topped_up"))
    assert '"balance": "500.00"' in mail.context
    # running the job again credits nothing twice
    receipts_and_credit(session, actor="operator:test", supplier=supplier,
                        settings=credit_settings)
    session.commit()
    assert credit_balance(session, customer.id) == D("500.00")
    # the monthly run's settlement of paid advances leaves the top-up's request alone: its
    # payment is credit and its tax document the only one (no final invoice of 0,00 Kč
    # booking the revenue and the VAT a second time)
    from billing.invoicing.settlement import settle_paid_advances, settleable_advances

    assert settleable_advances(session, [customer.id]) == []
    before = session.scalar(select(func.count()).select_from(Invoice))
    settle_paid_advances(session, supplier, actor="system:test")
    session.commit()
    assert session.scalar(select(func.count()).select_from(Invoice)) == before
    assert credit_balance(session, customer.id) == D("500.00")


def test_a_top_up_under_the_minimum_is_refused_and_creates_nothing(
        session, supplier, credit_settings, credit_customer):
    customer = credit_customer()
    before = session.scalar(select(func.count()).select_from(Invoice))
    with pytest.raises(CreditError, match="smallest top-up is 500,00 Kč"):
        request_topup(session, customer, D("100"), supplier=supplier, settings=credit_settings,
                      actor="customer:x")
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Invoice)) == before


def test_a_payment_to_the_permanent_vs_tops_up_from_the_gross(
        session, supplier, credit_customer, gpc_pay):
    customer = credit_customer()
    vs = account_of(session, customer.id).variable_symbol
    assert is_credit_symbol(vs) and len(vs) == 10
    gpc_pay([(vs, "1000.00", date.today())])
    # VAT from the gross: 1000 * 21 / 121 = 173.55; the credit is the base
    assert credit_balance(session, customer.id) == D("826.45")
    receipt = session.scalars(select(TaxReceipt).where(TaxReceipt.customer_id == customer.id)).one()
    assert (receipt.total_net, receipt.total_vat) == (D("826.45"), D("173.55"))


def test_the_permanent_vs_scheme():
    assert variable_symbol_for(42) == "7700000420"  # 77, the id in 7 digits, Luhn's digit
    assert is_credit_symbol("7700000420") and is_credit_symbol("007700000420")
    assert not is_credit_symbol("7700000421")  # a mistyped check digit
    assert not is_credit_symbol("7700000240")  # two neighbours swapped


def test_eur_credit_never_pays_a_czk_invoice(session, supplier, credit_customer):
    customer = credit_customer(currency="EUR", auto_pay=True)
    invoice = _invoice(session, supplier, customer, "121.00", date.today() - timedelta(days=30))
    with pytest.raises(CreditError, match="never pays another currency"):
        pay_from_credit(session, invoice, actor="system:test")
    session.rollback()
    assert run_autopay(session, date.today(), days=10, actor="system:test")["paid"] == 0
    assert paid_amounts(session, [invoice.id]) == {}


def test_the_short_credit_notice_states_the_credit_left_after_the_runs_payments(
        session, supplier, credit_settings, credit_customer, gpc_pay):
    day0 = date.today() - timedelta(days=20)
    customer = credit_customer(auto_pay=True)
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "600", day0)
    small = _invoice(session, supplier, customer, "121.00", day0)  # net 100: paid
    big = _invoice(session, supplier, customer, "1210.00", day0)  # net 1000: short
    session.commit()
    result = run_autopay(session, day0 + timedelta(days=10), days=10, actor="t")
    session.commit()
    assert (result["paid"], result["short"]) == (1, 1)
    assert paid_amounts(session, [small.id, big.id]) == {small.id: D("121.00")}
    short = session.scalar(select(CreditMail).where(CreditMail.template == "credit_short"))
    context = json.loads(short.context)
    assert (context["invoice"], context["balance"]) == (big.number, "500.00")  # not 600.00


def test_auto_pay_on_the_day_nestrhavat_and_short_credit(
        session, supplier, credit_settings, credit_customer, gpc_pay):
    day0 = date.today() - timedelta(days=20)
    customer = credit_customer(auto_pay=True)
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "1000", day0)
    assert credit_balance(session, customer.id) == D("1000.00")
    first = _invoice(session, supplier, customer, "605.00", day0)  # net 500
    held = _invoice(session, supplier, customer, "121.00", day0)  # net 100
    set_hold(session, held, True, actor="customer:x")
    session.commit()

    # day 9: not yet
    assert run_autopay(session, day0 + timedelta(days=9), days=10, actor="t")["paid"] == 0
    # day 10: the first is paid (its net from the credit), the held one is not
    result = run_autopay(session, day0 + timedelta(days=10), days=10, actor="t")
    session.commit()
    assert result["paid"] == 1
    assert paid_amounts(session, [first.id, held.id]) == {first.id: D("605.00")}
    assert credit_balance(session, customer.id) == D("500.00")
    # again the same day: nothing paid twice
    assert run_autopay(session, day0 + timedelta(days=10), days=10, actor="t")["paid"] == 0

    # a request the credit cannot cover: nothing deducted, it stays open, the customer told
    big = _invoice(session, supplier, customer, "1210.00", day0 + timedelta(days=1))  # net 1000
    result = run_autopay(session, day0 + timedelta(days=11), days=10, actor="t")
    session.commit()
    assert result == {**result, "paid": 0, "short": 1}
    assert credit_balance(session, customer.id) == D("500.00")
    assert paid_amounts(session, [big.id]) == {}
    short = session.scalar(select(CreditMail).where(CreditMail.template == "credit_short"))
    assert big.number in short.context
    # the job run again that day: still short, not told twice
    assert run_autopay(session, day0 + timedelta(days=11), days=10, actor="t")["told"] == 0
    session.commit()

    # the manual switch: nothing automatic even when due
    set_auto_pay(session, customer.id, False, actor="customer:x")
    set_hold(session, held, False, actor="customer:x")
    session.commit()
    assert run_autopay(session, day0 + timedelta(days=12), days=10, actor="t")["paid"] == 0
    # paid by hand from credit (the zone's button, a renewal)
    result = pay_from_credit(session, held, actor="customer:x")
    session.commit()
    assert result.outcome == PayOutcome.PAID and result.credit_amount == D("100.00")
    assert pay_from_credit(session, held, actor="x").outcome == PayOutcome.ALREADY_PAID
    assert pay_from_credit(session, big, actor="x").outcome == PayOutcome.SHORT
    session.rollback()
    assert session.scalar(select(func.count()).select_from(CreditPayment)) == 2
    # the ledger balances
    assert session.scalar(select(func.coalesce(func.sum(LedgerLeg.amount), 0))) == 0


def test_an_advance_request_paid_from_credit(session, supplier, credit_settings, credit_customer,
                                             gpc_pay):
    customer = credit_customer(auto_pay=True)
    day0 = date.today() - timedelta(days=15)
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "600", day0)
    request = _invoice(session, supplier, customer, "242.00", day0, kind="advance")
    assert run_autopay(session, day0 + timedelta(days=10), days=10, actor="t")["paid"] == 1
    session.commit()
    assert credit_balance(session, customer.id) == D("400.00")
    assert paid_amounts(session, [request.id])[request.id] == D("242.00")


def test_statement_pdf_and_csv(session, supplier, credit_settings, credit_customer, gpc_pay, app,
                               outbox):
    with time_machine.travel(datetime(2026, 10, 1, 8, tzinfo=UTC)):
        customer = credit_customer(auto_pay=True)
    day0 = date(2026, 10, 5)
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "500", day0)
    invoice = _invoice(session, supplier, customer, "121.00", day0)
    run_autopay(session, day0 + timedelta(days=10), days=10, actor="t")
    session.commit()

    data = period(session, customer.id, date(2026, 10, 1), date(2026, 10, 31))
    assert [m.amount for m in data.movements] == [D("500.00"), D("-100.00")]
    assert (data.opening, data.closing) == (D("0.00"), D("400.00"))
    raw = export_csv(data)
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert rows[0] == ["Datum", "Pohyb", "Popis", "Částka (CZK)", "Zůstatek (CZK)"]
    assert rows[1][1:] == ["Počáteční zůstatek", "", "", "0,00"]
    assert rows[2][0] == "5.10.2026" and rows[2][3:] == ["500,00", "500,00"]
    assert rows[3][1] == "Úhrada z kreditu" and invoice.number in rows[3][2]
    assert rows[3][3:] == ["-100,00", "400,00"]

    assert record_statements(session, "2026-10") == 1
    assert record_statements(session, "2026-10") == 0  # once
    session.commit()
    statement = session.scalars(select(CreditStatement)).one()
    assert (statement.opening, statement.closing, statement.movements) == (D("0.00"), D("400.00"), 2)
    assert statement.mailed_at is None
    # the mailer sends it with its PDF (the app's mail, into its outbox folder)
    with app.app_context():
        from web.cli_credit import send_outbox

        sent = send_outbox()
    assert sent >= 1
    message = [m for m in outbox.messages() if "Vyúčtování kreditu za 2026-10" in m["Subject"]][0]
    topped = [m for m in outbox.messages() if m["Subject"] == "Váš kredit byl dobit"][0]
    body = topped.get_body().get_content()
    assert "dobili váš kredit o 500,00\u00a0Kč (bez DPH)" in body
    assert "Váš kredit nyní činí 500,00\u00a0Kč." in body
    (attachment,) = list(message.iter_attachments())
    assert attachment.get_filename() == "vyuctovani-kreditu-2026-10.pdf"
    assert "400,00" in _pdf_text(attachment.get_content())
    session.rollback()
    assert session.get(CreditStatement, statement.id).mailed_at is not None
    with app.app_context():
        assert send_outbox() == 0  # once
    pdf = render_statement_pdf(data, customer, supplier.name)
    assert pdf.startswith(b"%PDF")
    text = _pdf_text(pdf)
    assert "Vyúčtování kreditu" in text and "400,00" in text and invoice.number in text


def _pdf_text(pdf: bytes) -> str:
    import subprocess

    out = subprocess.run(["pdftotext", "-", "-"], input=pdf, capture_output=True, check=True)
    return out.stdout.decode("utf-8")


def test_closing_returns_the_unused_credit_after_a_quiet_month(
        session, supplier, credit_settings, credit_customer, gpc_pay):
    customer = credit_customer()
    _top_up(session, supplier, credit_settings, customer, gpc_pay, "500", date(2026, 9, 10))
    request_closing(session, customer.id, "19-2000145399/0800", actor="customer:x")
    session.commit()
    # October had no transaction, but September did: not on 1 October
    with pytest.raises(CreditConflict, match="start of a month"):
        close_account(session, customer.id, on=date(2026, 10, 1), actor="t")
    session.rollback()
    refund = close_account(session, customer.id, on=date(2026, 11, 1), actor="operator:test")
    session.commit()
    assert (refund.amount, refund.bank_account, refund.status) == (D("500.00"), "19-2000145399/0800",
                                                                   "pending")
    assert credit_balance(session, customer.id) == D("0.00")
    assert account_of(session, customer.id).closed_at is not None
    mark_refund_sent(session, refund.id, actor="operator:test")
    session.commit()
    assert session.get(CreditRefund, refund.id).status == "sent"
    with pytest.raises(CreditConflict):
        mark_refund_sent(session, refund.id, actor="operator:test")
    session.rollback()
    # reopened only in its currency
    with pytest.raises(CreditConflict, match="only in CZK"):
        open_account(session, customer, "EUR", actor="operator:test")
    session.rollback()


def test_a_customer_opens_only_with_consent(session, make_customer):
    customer = make_customer()
    with pytest.raises(CreditError, match="consent"):
        open_account(session, customer, "CZK", actor=f"customer:{customer.customer_number}")
    session.rollback()
    account = open_account(session, customer, "CZK", actor=f"customer:{customer.customer_number}",
                           consent=True, terms_version="2026-12")
    session.commit()
    assert account.terms_version == "2026-12" and account.terms_accepted_at is not None


def test_an_unpaid_top_up_request_is_no_overdue_debt(session, supplier, credit_settings,
                                                      credit_customer):
    """Enforcement does not remind or disconnect a customer for a top-up they did not pay."""
    from billing.ledger.balances import account_summary
    from enforcement.service import gather

    customer = credit_customer()
    issued = date.today() - timedelta(days=40)
    request_topup(session, customer, D("500"), supplier=supplier, settings=credit_settings,
                  actor="customer:x", on=issued)
    session.commit()
    assert [row for row in gather(session, date.today(), [customer.id]) if row.debt] == []
    assert account_summary(session, customer.id, date.today()).overdue_total == 0
    _invoice(session, supplier, customer, "121.00", issued)  # a real debt still counts
    (row,) = gather(session, date.today(), [customer.id])
    assert row.debt == D("121.00")
