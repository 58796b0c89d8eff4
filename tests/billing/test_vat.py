"""VAT per § 37 (since 2019): every expected value below is worked out by hand from
VAT = base x rate / 100 (net entry) or VAT = gross x rate / (100 + rate) (gross entry),
computed exactly and rounded once to haléře, half up."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import (
    LineInput,
    compute_document,
    money,
    net_unit_price,
    vat_from_gross,
    vat_from_gross_old_coefficient,
    vat_from_net,
)

D = Decimal

# (entry, amount, rate, expected base, expected VAT, expected total)
CASES = [
    # -- net entry: VAT = base x rate / 100 ---------------------------------------------------
    ("net", "100.00", "21", "100.00", "21.00", "121.00"),  # 21.00 exactly
    ("net", "100.00", "12", "100.00", "12.00", "112.00"),  # 12.00 exactly
    ("net", "100.00", "0", "100.00", "0.00", "100.00"),  # 0 %
    ("net", "0.10", "21", "0.10", "0.02", "0.12"),  # 0.021 -> 0.02 (below the half)
    ("net", "2.50", "21", "2.50", "0.53", "3.03"),  # 0.525 exactly -> 0.53 (half up)
    ("net", "0.50", "21", "0.50", "0.11", "0.61"),  # 0.105 exactly -> 0.11 (half-even: 0.10)
    ("net", "1.50", "21", "1.50", "0.32", "1.82"),  # 0.315 exactly -> 0.32
    ("net", "0.05", "21", "0.05", "0.01", "0.06"),  # 0.0105 -> 0.01
    ("net", "0.04", "12", "0.04", "0.00", "0.04"),  # 0.0048 -> 0.00
    ("net", "0.46", "12", "0.46", "0.06", "0.52"),  # 0.0552 -> 0.06
    ("net", "999.99", "21", "999.99", "210.00", "1209.99"),  # 209.9979 -> 210.00
    ("net", "1234.56", "12", "1234.56", "148.15", "1382.71"),  # 148.1472 -> 148.15
    ("net", "-2.50", "21", "-2.50", "-0.53", "-3.03"),  # credit note: half away from zero
    # -- gross entry: VAT = gross x rate / (100 + rate) --------------------------------------
    ("gross", "121.00", "21", "100.00", "21.00", "121.00"),  # 2541/121 = 21 exactly
    ("gross", "100.00", "21", "82.64", "17.36", "100.00"),  # 2100/121 = 17.3553.. -> 17.36
    ("gross", "10000.00", "21", "8264.46", "1735.54", "10000.00"),  # 210000/121 = 1735.537..
    ("gross", "450.00", "21", "371.90", "78.10", "450.00"),  # 9450/121 = 78.0991.. -> 78.10
    ("gross", "1.00", "21", "0.83", "0.17", "1.00"),  # 21/121 = 0.17355.. -> 0.17
    ("gross", "0.01", "21", "0.01", "0.00", "0.01"),  # 0.21/121 = 0.0017.. -> 0.00
    ("gross", "112.00", "12", "100.00", "12.00", "112.00"),  # 1344/112 = 12 exactly
    ("gross", "100.00", "12", "89.29", "10.71", "100.00"),  # 1200/112 = 10.714.. -> 10.71
    ("gross", "0.14", "12", "0.12", "0.02", "0.14"),  # 1.68/112 = 0.015 exactly -> 0.02
    ("gross", "0.42", "12", "0.37", "0.05", "0.42"),  # 5.04/112 = 0.045 exactly -> 0.05
    ("gross", "234.50", "12", "209.37", "25.13", "234.50"),  # 2814/112 = 25.125 -> 25.13
    ("gross", "100.00", "0", "100.00", "0.00", "100.00"),  # 0 %
    ("gross", "-100.00", "21", "-82.64", "-17.36", "-100.00"),  # credit note mirrors 100.00
]


@pytest.mark.parametrize(("entry", "amount", "rate", "base", "vat", "total"), CASES)
def test_vat_split(entry, amount, rate, base, vat, total):
    compute = vat_from_net if entry == "net" else vat_from_gross
    split = compute(D(amount), D(rate))
    assert (split.base, split.vat, split.total) == (D(base), D(vat), D(total))
    assert split.rate == D(rate)
    assert split.base + split.vat == split.total


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("0.005", "0.01"),  # half up, not half even
        ("0.015", "0.02"),
        ("0.025", "0.03"),  # half even would give 0.02
        ("-0.005", "-0.01"),  # away from zero
        ("0.0049999", "0.00"),
        (5, "5.00"),
    ],
)
def test_money_rounds_half_up(value, expected):
    assert money(D(value) if isinstance(value, str) else value) == D(expected)


def test_money_refuses_float():
    with pytest.raises(TypeError):
        money(0.1)
    with pytest.raises(TypeError):
        vat_from_net(100.0, D("21"))


@pytest.mark.parametrize(
    ("unit_price", "rate", "includes_vat", "expected"),
    [
        ("121.00", "21", True, "100.00"),  # 12100/121 = 100
        ("100.00", "21", True, "82.64"),  # 10000/121 = 82.6446.. -> 82.64
        ("117.25", "12", True, "104.69"),  # 11725/112 = 104.6875 -> 104.69
        ("99.999", "21", False, "100.00"),  # net entry: only rounded
        ("50.00", "0", True, "50.00"),
    ],
)
def test_net_unit_price(unit_price, rate, includes_vat, expected):
    assert net_unit_price(D(unit_price), D(rate), includes_vat) == D(expected)


# -- the old koeficient --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gross", "exact_vat", "old_vat"),
    [
        ("10000.00", "1735.54", "1736.00"),  # 10000 x 0.1736 = 1736.00
        ("450.00", "78.10", "78.12"),  # 450 x 0.1736 = 78.12
    ],
)
def test_old_coefficient_differs(gross, exact_vat, old_vat):
    exact = vat_from_gross(D(gross), D("21"))
    old = vat_from_gross_old_coefficient(D(gross), D("21"))
    assert exact.vat == D(exact_vat)
    assert old.vat == D(old_vat)
    assert exact.vat != old.vat


def test_issue_invoice_uses_the_exact_method(session, make_customer, supplier):
    customer = make_customer()
    lines = [LineInput("Roční připojení", D("1"), D("10000.00"))]
    invoice = issue_invoice(
        session, customer, lines, supplier, IssueOptions(issue_date=date(2026, 11, 22))
    )
    assert invoice.total_vat == D("1735.54")  # not 1736.00 (koeficient 0.1736)
    assert invoice.total_net == D("8264.46")
    assert [(r.rate, r.base, r.vat, r.total) for r in invoice.vat_recap] == [
        (D("21"), D("8264.46"), D("1735.54"), D("10000.00"))
    ]
    assert invoice.lines[0].vat == D("1735.54")


# -- whole documents -----------------------------------------------------------------------


def recap(doc) -> list[tuple[Decimal, Decimal, Decimal, Decimal]]:
    return [(s.rate, s.base, s.vat, s.total) for s in doc.recap]


def assert_consistent(doc) -> None:
    """Totals are the recap sums; per rate, the lines add up to the recap exactly."""
    assert doc.total_net == sum(s.base for s in doc.recap)
    assert doc.total_vat == sum(s.vat for s in doc.recap)
    assert doc.total == doc.total_net + doc.total_vat == sum(s.total for s in doc.recap)
    for split in doc.recap:
        lines = [cl for cl in doc.lines if D(cl.line.vat_rate) == split.rate]
        assert sum(cl.net for cl in lines) == split.base
        assert sum(cl.vat for cl in lines) == split.vat
        assert sum(cl.gross for cl in lines) == split.total
    for cl in doc.lines:
        assert cl.net + cl.vat == cl.gross


def test_document_two_rates_gross_entry():
    doc = compute_document(
        [
            LineInput("Router", D("1"), D("1000.00"), D("21")),
            LineInput("Příručka", D("2"), D("117.25"), D("12")),
        ],
        prices_include_vat=True,
    )
    # 21 %: 1000.00 x 21/121 = 173.553.. -> 173.55;  12 %: 234.50 x 12/112 = 25.125 -> 25.13
    assert recap(doc) == [
        (D("21"), D("826.45"), D("173.55"), D("1000.00")),
        (D("12"), D("209.37"), D("25.13"), D("234.50")),
    ]
    assert (doc.total_net, doc.total_vat, doc.total) == (D("1035.82"), D("198.68"), D("1234.50"))
    assert_consistent(doc)


def test_document_three_rates_net_entry():
    doc = compute_document(
        [
            LineInput("Internet", D("3"), D("33.33"), D("21")),  # 99.99 -> VAT 20.9979 -> 21.00
            LineInput("Kniha", D("1"), D("10.00"), D("12")),  # 10.00 -> VAT 1.20
            LineInput("Pojištění", D("1"), D("5.00"), D("0")),  # 5.00 -> VAT 0
        ],
        prices_include_vat=False,
    )
    assert recap(doc) == [
        (D("21"), D("99.99"), D("21.00"), D("120.99")),
        (D("12"), D("10.00"), D("1.20"), D("11.20")),
        (D("0"), D("5.00"), D("0.00"), D("5.00")),
    ]
    assert (doc.total_net, doc.total_vat, doc.total) == (D("114.99"), D("22.20"), D("137.19"))
    assert_consistent(doc)


def test_vat_is_computed_per_rate_not_summed_from_lines():
    # Three lines of 1.00 gross at 21 %: each alone 21/121 = 0.1735.. -> 0.17 (sum 0.51),
    # but the rate's VAT is 3.00 x 21/121 = 0.5206.. -> 0.52; the last line absorbs 0.01.
    lines = [LineInput(f"Položka {i}", D("1"), D("1.00")) for i in range(3)]
    doc = compute_document(lines, prices_include_vat=True)
    assert recap(doc) == [(D("21"), D("2.48"), D("0.52"), D("3.00"))]
    assert [cl.vat for cl in doc.lines] == [D("0.17"), D("0.17"), D("0.18")]
    assert_consistent(doc)


def test_lines_keep_their_order_across_rates():
    lines = [
        LineInput("a", D("1"), D("10.00"), D("12")),
        LineInput("b", D("1"), D("10.00"), D("21")),
        LineInput("c", D("1"), D("10.00"), D("12")),
    ]
    doc = compute_document(lines, prices_include_vat=False)
    assert [cl.line.description for cl in doc.lines] == ["a", "b", "c"]
    assert [s.rate for s in doc.recap] == [D("21"), D("12")]  # recap: highest rate first
    assert_consistent(doc)


def test_fractional_quantity_is_rounded_once_per_line():
    # 1.5 x 0.33 = 0.495 -> 0.50 gross; VAT 0.50 x 21/121 = 0.0867.. -> 0.09
    doc = compute_document([LineInput("Data", D("1.5"), D("0.33"))], prices_include_vat=True)
    assert recap(doc) == [(D("21"), D("0.41"), D("0.09"), D("0.50"))]


def test_the_same_line_object_twice_still_adds_up_to_the_recap():
    line = LineInput("Kabel", D(1), D("0.50"), D("21"))  # 0.105 VAT each, 0.21 for both
    doc = compute_document([line, line], prices_include_vat=False)
    assert doc.recap[0].vat == D("0.21")
    assert [cl.vat for cl in doc.lines] == [D("0.11"), D("0.10")]
    assert sum(cl.vat for cl in doc.lines) == doc.total_vat


def test_unknown_rate_is_refused():
    with pytest.raises(ValueError, match="15"):
        compute_document([LineInput("x", D("1"), D("1.00"), D("15"))], prices_include_vat=True)


def test_compute_document_refuses_float_prices():
    # Decimal(2.675) is 2.67499999999999982236431605997495353221893310546875 -> 2.67, not 2.68.
    with pytest.raises(TypeError):
        compute_document([LineInput("x", D("1"), 2.675)], prices_include_vat=True)
