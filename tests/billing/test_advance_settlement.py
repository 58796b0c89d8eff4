"""Final invoices that settle advances (issue 15 item 8, billing/invoicing/settlement.py).

The table: a supply, the advances paid for it (each with its payments, so each payment gets
its tax document), and the final invoice's base and VAT per rate = supply minus the
receipts, to the haléř; the total is owed (underpaid) or becomes credit (overpaid). Run
with ``-s`` to see the table printed.
"""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.bank.pairing import pair
from billing.documents.pdf import render_invoice_pdf
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts
from billing.invoicing.recurring import issue_month
from billing.invoicing.settlement import (
    FinalOptions,
    SettlementError,
    issue_final_invoice,
    settleable_advances,
)
from billing.invoicing.vat import LineInput
from billing.ledger.balances import account_balance, customer_balance, open_invoices
from billing.models import AdvanceDeduction, BankTransaction, LedgerLeg, TaxReceipt
from core.clock import today

D = Decimal
_n = [0]


def lines_of(spec):
    return [LineInput(f"Položka {i} ({rate} %)", D(1), D(price), D(rate))
            for i, (price, rate) in enumerate(spec, start=1)]


def advance(session, customer, supplier, spec):
    issued = today() - timedelta(days=20)
    return issue_invoice(session, customer, lines_of(spec), supplier,
                         IssueOptions(kind="advance", issue_date=issued,
                                      due_date=issued + timedelta(days=14)))


def pay(session, inv, amount, days_ago=3):
    _n[0] += 1
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"S{_n[0]}",
                         booked_on=today() - timedelta(days=days_ago), amount=D(amount),
                         variable_symbol=inv.variable_symbol, specific_symbol=inv.specific_symbol)
    session.add(tx)
    session.flush()
    assert pair(session, tx) == "matched"


# name, supply [(gross, rate)], net prices?, advances [([(gross, rate)], [payments])],
# expected per rate {rate: (base, vat)}, expected total
CASES = [
    ("one advance = supply", [("1210.00", 21)], False, [([("1210.00", 21)], ["1210.00"])],
     {21: ("0.00", "0.00")}, "0.00"),
    ("underpaid, 21 %", [("2420.00", 21)], False, [([("1210.00", 21)], ["1210.00"])],
     {21: ("1000.00", "210.00")}, "1210.00"),
    ("overpaid, 21 %", [("1000.00", 21)], False, [([("1210.00", 21)], ["1210.00"])],
     {21: ("-173.55", "-36.45")}, "-210.00"),
    ("two advances, rounding rest", [("3000.00", 21)], False,
     [([("1000.00", 21)], ["1000.00"]), ([("1000.00", 21)], ["1000.00"])],
     {21: ("826.44", "173.56")}, "1000.00"),
    ("underpaid, 12 %", [("1120.00", 12)], False, [([("560.00", 12)], ["560.00"])],
     {12: ("500.00", "60.00")}, "560.00"),
    ("21 % and 12 %, settled exactly", [("1210.00", 21), ("112.00", 12)], False,
     [([("1210.00", 21), ("112.00", 12)], ["1322.00"])],
     {21: ("0.00", "0.00"), 12: ("0.00", "0.00")}, "0.00"),
    ("21 % and 12 %, two payments, underpaid", [("2420.00", 21), ("224.00", 12)], False,
     [([("1210.00", 21), ("112.00", 12)], ["1000.00", "322.00"])],
     {21: ("1000.00", "210.00"), 12: ("100.00", "12.00")}, "1322.00"),
    ("half-haléř edge, 12 %", [("18.76", 12)], False, [([("9.38", 12)], ["9.38"])],
     {12: ("8.38", "1.00")}, "9.38"),
    ("three advances, overpaid by 1 haléř", [("999.99", 21)], False,
     [([("333.33", 21)], ["333.33"]), ([("333.33", 21)], ["333.33"]),
      ([("333.34", 21)], ["333.34"])],
     {21: ("-0.01", "0.00")}, "-0.01"),
    ("advances per rate, 12 % overpaid", [("1210.00", 21), ("560.00", 12)], False,
     [([("1210.00", 21)], ["1210.00"]), ([("1120.00", 12)], ["1120.00"])],
     {21: ("0.00", "0.00"), 12: ("-500.00", "-60.00")}, "-560.00"),
    ("supply priced without VAT", [("1000.00", 21)], True, [([("605.00", 21)], ["605.00"])],
     {21: ("500.00", "105.00")}, "605.00"),
    # partly paid advances (§ 28 ZDPH: a receipt for what was received; the final invoice
    # deducts exactly that, per rate, and the unpaid rest is owed on the final invoice only)
    ("partly paid, 21 %", [("1210.00", 21)], False, [([("1210.00", 21)], ["605.00"])],
     {21: ("500.00", "105.00")}, "605.00"),
    ("partly paid, 21 % and 12 % split by the recap", [("1210.00", 21), ("112.00", 12)], False,
     [([("1210.00", 21), ("112.00", 12)], ["1000.00"])],
     {21: ("243.57", "51.15"), 12: ("24.36", "2.92")}, "322.00"),
    ("partly paid in two payments", [("2420.00", 21)], False,
     [([("2420.00", 21)], ["1000.00", "210.00"])],
     {21: ("1000.00", "210.00")}, "1210.00"),
    ("partly paid, supply smaller than received", [("500.00", 21)], False,
     [([("1210.00", 21)], ["605.00"])],
     {21: ("-86.78", "-18.22")}, "-105.00"),
    ("one paid and one partly paid advance", [("2420.00", 21)], False,
     [([("1210.00", 21)], ["1210.00"]), ([("1210.00", 21)], ["0.01"])],
     {21: ("999.99", "210.00")}, "1209.99"),
]


@pytest.mark.parametrize("name,supply,net_prices,advances,expected,total", CASES,
                         ids=[c[0] for c in CASES])
def test_final_invoice_is_supply_minus_advances_to_the_haler(
        session, make_customer, supplier, name, supply, net_prices, advances, expected, total):
    customer = make_customer(number=str(7100 + CASES.index(
        next(c for c in CASES if c[0] == name))))
    paid_advances = []
    for spec, payments in advances:
        adv = advance(session, customer, supplier, spec)
        for amount in payments:
            pay(session, adv, amount)
        paid_advances.append(adv)
    issue_receipts(session)
    unpaid = sum((D(sum(D(g) for g, _ in spec)) - sum((D(p) for p in payments), D("0"))
                  for spec, payments in advances), D("0.00"))
    assert customer_balance(session, customer.id) == -unpaid  # a partly paid request is owed
    final = issue_final_invoice(session, customer, lines_of(supply), supplier, paid_advances,
                                FinalOptions(prices_include_vat=not net_prices))
    recap = {int(r.rate): (r.base, r.vat) for r in final.vat_recap}
    rows = [f"  {name}: final invoice {final.number}"]
    for line in final.lines:
        rows.append(f"    {line.description:<70} {line.vat_rate:>6} % {line.net:>10} "
                    f"{line.vat:>9} {line.gross:>10}")
    for rate, (base, vat) in sorted(recap.items(), reverse=True):
        rows.append(f"    recap {rate:>2} %: base {base:>10}  VAT {vat:>9}")
    rows.append(f"    total {final.total}")
    print("\n".join(rows))
    assert recap == {rate: (D(b), D(v)) for rate, (b, v) in expected.items()}
    assert final.total == D(total) == final.total_net + final.total_vat
    # every receipt is deducted with its number, base and VAT per rate
    receipts = session.scalars(select(TaxReceipt).where(TaxReceipt.customer_id == customer.id)).all()
    deducted = [ln for ln in final.lines if ln.description.startswith("Odpočet zálohy")]
    assert sorted((ln.description.split()[4], ln.vat_rate, -ln.net, -ln.vat) for ln in deducted) == \
        sorted((r.number, v.rate, v.base, v.vat) for r in receipts for v in r.vat_recap)
    # underpaid: the customer owes the total; overpaid: it is their credit
    assert customer_balance(session, customer.id) == -final.total
    owed = sum((s.open_amount for s in open_invoices(session, customer.id, today())), D("0"))
    assert owed == max(final.total, D("0.00"))
    # each receipt covers what its payment brought, no more (§ 28: one per payment)
    assert sorted(r.total for r in receipts) == sorted(
        D(p) for _, payments in advances for p in payments)
    # the ledger's advances account no longer holds these requests
    assert account_balance(session, "advances") == D("0.00")


def test_overpaid_advance_credit_pays_the_next_invoice(session, make_customer, supplier):
    customer = make_customer(number="7201")
    adv = advance(session, customer, supplier, [("1210.00", 21)])
    pay(session, adv, "1210.00")
    issue_receipts(session)
    final = issue_final_invoice(session, customer, lines_of([("1000.00", 21)]), supplier, [adv])
    assert final.total == D("-210.00") and customer_balance(session, customer.id) == D("210.00")
    nxt = issue_invoice(session, customer, [LineInput("Internet", D(1), D("300.00"))], supplier,
                        IssueOptions())
    (state,) = open_invoices(session, customer.id, today())
    assert state.invoice.id == nxt.id and state.open_amount == D("90.00")
    assert customer_balance(session, customer.id) == D("-90.00")


def test_refusals_write_nothing(session, make_customer, supplier):
    customer, other = make_customer(number="7301"), make_customer(number="7302")
    partly = advance(session, customer, supplier, [("1000.00", 21)])
    pay(session, partly, "400.00")
    theirs = advance(session, other, supplier, [("500.00", 21)])
    pay(session, theirs, "500.00")
    unpaid = advance(session, customer, supplier, [("300.00", 21)])
    issue_receipts(session)
    no_receipt = advance(session, customer, supplier, [("200.00", 21)])
    pay(session, no_receipt, "50.00")  # its receipt is not issued yet
    before = session.scalar(select(func.count()).select_from(LedgerLeg))
    for advances, message in (([unpaid], "not paid at all"), ([theirs], "another customer's"),
                              ([no_receipt], "tax documents for 0.00 of 50.00")):
        with pytest.raises(SettlementError, match=message):
            issue_final_invoice(session, customer, lines_of([("1000.00", 21)]), supplier, advances)
    assert session.scalar(select(func.count()).select_from(LedgerLeg)) == before
    assert settleable_advances(session, [customer.id]) == []  # the run waits for full payment
    assert settleable_advances(session, [customer.id], partly_paid=True) == [partly]
    ok = advance(session, customer, supplier, [("100.00", 21)])
    pay(session, ok, "100.00")
    issue_receipts(session)
    issue_final_invoice(session, customer, lines_of([("100.00", 21)]), supplier, [ok])
    with pytest.raises(SettlementError, match="already settled"):
        issue_final_invoice(session, customer, lines_of([("100.00", 21)]), supplier, [ok])


def test_the_monthly_run_settles_existing_paid_advances_once(session, make_customer, supplier):
    customer = make_customer(number="7401")
    adv = advance(session, customer, supplier, [("1210.00", 21), ("112.00", 12)])
    pay(session, adv, "1322.00")
    waiting = advance(session, customer, supplier, [("500.00", 21)])
    pay(session, waiting, "100.00")  # partly paid: waits
    issue_receipts(session)
    month = today().strftime("%Y-%m")
    report = issue_month(session, supplier, month)
    (final,) = report.settled
    assert final.total == D("0.00") and [ln.gross for ln in final.lines] == \
        [D("1210.00"), D("112.00"), D("-112.00"), D("-1210.00")]
    assert session.scalar(select(func.count()).select_from(AdvanceDeduction)) == 1
    assert issue_month(session, supplier, month).settled == []  # once
    # the advances account holds only the unsettled request now
    assert account_balance(session, "advances") == D("-500.00")
    pdf = render_invoice_pdf(final, D("0.00"))
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    receipt = session.scalar(select(TaxReceipt).where(TaxReceipt.advance_invoice_id == adv.id))
    assert "Odpočet zálohy" in text and receipt.number in text and adv.number in text
