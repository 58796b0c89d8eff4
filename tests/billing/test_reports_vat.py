"""The VAT report: per rate, the sum over the period's tax documents (invoices, credit notes,
tax documents for received advance payments and their corrective documents) as printed on their recaps; the kontrolní
hlášení split (A.4: customers with a DIČ over 10 000 Kč incl. VAT, a credit note where its
invoice went; A.5: the rest, summed)."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal
from unittest import mock

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing.bank.pairing import pair
from billing.cash.cancellation import cancel_cash_receipt
from billing.cash.payments import take_cash_payment
from billing.invoicing.issue import IssueOptions, issue_credit_note, issue_invoice
from billing.invoicing.receipts import issue_receipts
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction
from billing.reports.period import Period, PeriodError, month_of
from billing.reports.vat import A4, A5, KH_LIMIT, DocumentKind, kh_section, vat_report

D = Decimal
_months = itertools.count()
_tx_ids = itertools.count(1)


def invoice(session, customer, supplier, lines, on, kind="regular"):
    return issue_invoice(
        session, customer,
        [LineInput(desc, D(1), D(price), vat_rate=D(rate)) for desc, price, rate in lines],
        supplier, IssueOptions(kind=kind, issue_date=on, due_date=on + timedelta(days=14)),
    )


def credit(session, supplier, inv, price, rate, on):
    return issue_credit_note(session, inv, [LineInput("Sleva", D(-1), D(price), vat_rate=D(rate))],
                             supplier, "reklamace", issue_date=on)


def pay(session, inv, amount, on):
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"VAT{next(_tx_ids)}",
                         booked_on=on, amount=D(amount), variable_symbol=inv.variable_symbol,
                         specific_symbol=inv.specific_symbol)
    session.add(tx)
    session.flush()
    assert pair(session, tx) == "matched"
    return tx


def test_kh_section_rules():
    over, at = KH_LIMIT + D("0.01"), KH_LIMIT
    assert kh_section("CZ12345678", over, taxed=True) == A4
    assert kh_section("CZ12345678", at, taxed=True) == A5  # "over" 10 000: strictly more
    assert kh_section(None, D("99999.00"), taxed=True) == A5  # no DIČ: A.5 whatever the value
    assert kh_section("CZ12345678", over, taxed=False) is None  # only exempt: not in the KH
    # a credit note goes where its invoice went, whatever its own value
    assert kh_section("CZ12345678", D("-500.00"), True, ("CZ12345678", over)) == A4
    assert kh_section("CZ12345678", D("-12000.00"), True, ("CZ12345678", at)) == A5


def test_period_refuses_an_end_before_its_start():
    try:
        Period(date(2026, 11, 30), date(2026, 11, 1))
    except PeriodError as exc:
        assert "before it starts" in exc.message
    else:
        raise AssertionError("accepted")
    assert month_of(date(2026, 12, 6)) == Period(date(2026, 12, 1), date(2026, 12, 31))
    assert month_of(date(2028, 2, 10)).end == date(2028, 2, 29)


def test_a_month_of_documents(session, make_customer, supplier):
    firm = make_customer(number="7101", name="Stavby Novák s.r.o.", ico="27082440",
                         dic="CZ27082440", is_company=True)
    person = make_customer(number="7102", name="Jana Dvořáková")
    nov = date(2026, 11, 10)
    big = invoice(session, firm, supplier, [("Připojení 1 Gbit/s", "12100.00", "21")], nov)
    small = invoice(session, firm, supplier, [("Internet", "605.00", "21"),
                                              ("Kniha", "112.00", "12")], nov)
    private_big = invoice(session, person, supplier, [("Router", "15000.00", "21")], nov)
    # last month's big invoice, corrected this month by a small credit note: A.4
    october = invoice(session, firm, supplier, [("Instalace", "20000.00", "21")],
                      date(2026, 10, 20))
    cn = credit(session, supplier, october, "1210.00", "21", date(2026, 11, 15))
    advance = invoice(session, firm, supplier, [("Záloha na stavbu", "24200.00", "21")],
                      date(2026, 11, 1), kind="advance")
    pay(session, advance, "12100.00", date(2026, 11, 20))
    (receipt,) = issue_receipts(session, on=date(2026, 11, 21))
    invoice(session, firm, supplier, [("Prosinec", "1000.00", "21")], date(2026, 12, 1))

    report = vat_report(session, month_of(nov))

    numbers = {d.number: d for d in report.documents}
    assert set(numbers) == {big.number, small.number, private_big.number, cn.number,
                            receipt.number}  # not the advance, not October's, not December's
    assert numbers[cn.number].kind == DocumentKind.CREDIT_NOTE
    assert numbers[cn.number].corrects == october.number
    assert numbers[receipt.number].kind == DocumentKind.ADVANCE_RECEIPT
    assert numbers[receipt.number].taxable_date == date(2026, 11, 20)
    # 21 %: 10 000 + 500 + 12 396.69 - 1 000 + 10 000 (the received advance) as printed
    assert report.total(21).base == D("10000.00") + D("500.00") + D("12396.69") \
        - D("1000.00") + D("10000.00")
    assert report.total(21).vat == D("2100.00") + D("105.00") + D("2603.31") \
        - D("210.00") + D("2100.00")
    assert report.total(12).base == D("100.00") and report.total(12).vat == D("12.00")
    assert [d.number for d in report.a4] == sorted([big.number, cn.number, receipt.number],
                                                   key=lambda n: numbers[n].taxable_date)
    assert all(d.dic == "CZ27082440" for d in report.a4)
    # A.5: the small invoice to the firm and the big one to a person without a DIČ
    assert report.a5_amounts(21).base == D("500.00") + D("12396.69")
    assert report.a5_amounts(12).vat == D("12.00")
    # the two sections together are the whole of what is taxed
    for rate in (21, 12):
        assert report.a4_sum(rate) + report.a5_amounts(rate) == report.total(rate)


# -- the report equals the sum over the period's documents ---------------------------------

amounts = st.one_of(
    st.integers(995_000, 1_005_000),  # around the 10 000 Kč limit, in haléře
    st.integers(100, 3_000_000),
)
rates = st.sampled_from(["21", "12", "0"])
document = st.tuples(
    # "storno": an advance paid in cash, its tax document, the cash receipt cancelled (its
    # corrective document dated in the period, or in a later one when "inside" is false)
    st.sampled_from(["invoice", "credit_note", "advance", "storno"]),
    st.booleans(),  # the customer has a DIČ
    st.lists(st.tuples(amounts, rates), min_size=1, max_size=3),
    st.integers(1, 99),  # a credit note: the percentage of its invoice it credits
    st.booleans(),  # a credit note's invoice is in the period (or before it)
)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(document, min_size=1, max_size=5))
def test_vat_report_is_the_sum_of_the_documents(session, make_customer, supplier, documents):
    n = next(_months)
    month = month_of(date(2031 + n // 12, n % 12 + 1, 1))
    before = date(2030, 6, 1)  # the corrected invoices issued before any period
    expected_docs = {}  # number -> (recap rows as printed, section)
    for index, (kind, has_dic, lines, percent, inside) in enumerate(documents):
        fields = {"dic": "CZ27082440", "ico": "27082440", "is_company": True} if has_dic else {}
        customer = make_customer(number=f"8{n:03d}{index}", **fields)
        on = month.start + timedelta(days=index * 3)
        line_inputs = [(f"Položka {i}", f"{D(cents) / 100:.2f}", rate)
                       for i, (cents, rate) in enumerate(lines)]
        if kind == "invoice":
            inv = invoice(session, customer, supplier, line_inputs, on)
            taxed = any(r.rate > 0 for r in inv.vat_recap)
            expected_docs[inv.number] = (inv.vat_recap,
                                         kh_section(inv.customer_dic, inv.total, taxed))
        elif kind == "credit_note":
            inv = invoice(session, customer, supplier, line_inputs, on if inside else before)
            if inside:
                taxed = any(r.rate > 0 for r in inv.vat_recap)
                expected_docs[inv.number] = (inv.vat_recap,
                                             kh_section(inv.customer_dic, inv.total, taxed))
            line = inv.lines[0]
            price = max(D("0.01"), (line.gross * percent / 100).quantize(D("0.01")))
            cn = credit(session, supplier, inv, f"{price:.2f}", f"{line.vat_rate}", on)
            taxed = any(r.rate > 0 for r in cn.vat_recap)
            expected_docs[cn.number] = (cn.vat_recap, kh_section(
                cn.customer_dic, cn.total, taxed, (inv.customer_dic, inv.total)))
        elif kind == "storno":
            adv = invoice(session, customer, supplier, line_inputs, on, kind="advance")
            crowns = max(D(1), (adv.total * percent / 100).quantize(D(1)))
            done = take_cash_payment(session, customer, crowns, supplier, actor="operator:t",
                                     invoice=adv, on=on + timedelta(days=1))
            (receipt,) = issue_receipts(session, on=on + timedelta(days=2))
            taxed = any(r.rate > 0 for r in receipt.vat_recap)
            expected_docs[receipt.number] = (receipt.vat_recap,
                                             kh_section(adv.customer_dic, receipt.total, taxed))
            # outside: a later period that no other example's month reaches
            corrected_on = on + timedelta(days=2) if inside else date(2045, 1, 1) + timedelta(n)
            with mock.patch("billing.cash.cancellation.today", return_value=corrected_on):
                (correction,) = cancel_cash_receipt(session, done.receipt, "omyl",
                                                    actor="operator:t").corrections
            if inside:
                expected_docs[correction.number] = (correction.vat_recap, kh_section(
                    adv.customer_dic, correction.total, taxed,
                    (adv.customer_dic, receipt.total)))
        else:
            adv = invoice(session, customer, supplier, line_inputs, on, kind="advance")
            paid = max(D("0.01"), (adv.total * percent / 100).quantize(D("0.01")))
            pay(session, adv, paid, on + timedelta(days=1))
            (receipt,) = issue_receipts(session, on=on + timedelta(days=2))
            taxed = any(r.rate > 0 for r in receipt.vat_recap)
            expected_docs[receipt.number] = (receipt.vat_recap,
                                             kh_section(adv.customer_dic, receipt.total, taxed))
    session.flush()

    report = vat_report(session, month)

    assert {d.number: d.section for d in report.documents} == {
        number: section for number, (_, section) in expected_docs.items()}
    for rate in (D("21"), D("12"), D("0")):
        rows = [r for recap, _ in expected_docs.values() for r in recap if r.rate == rate]
        assert report.total(rate).base == sum((r.base for r in rows), D("0.00"))
        assert report.total(rate).vat == sum((r.vat for r in rows), D("0.00"))
        if rate > 0:
            a5 = [r for recap, section in expected_docs.values() if section == A5
                  for r in recap if r.rate == rate]
            assert report.a5_amounts(rate).base == sum((r.base for r in a5), D("0.00"))
            assert report.a5_amounts(rate).vat == sum((r.vat for r in a5), D("0.00"))
    assert sorted(d.number for d in report.a4) == sorted(
        number for number, (_, section) in expected_docs.items() if section == A4)
