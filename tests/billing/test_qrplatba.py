"""QR Platba (SPAYD 1.0): building, escaping, validation, parsing back, the SVG."""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal

import pytest

from billing.documents.qrplatba import (
    QR_ALPHANUMERIC,
    QrPlatbaError,
    build_spayd,
    parse_spayd,
    qr_svg,
    spayd_for_invoice,
)
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput

IBAN = "CZ5855000000001265098001"  # the example account of the specification


def test_round_trip_keeps_every_field():
    s = build_spayd(
        IBAN,
        Decimal("799.50"),
        vs="9562231077",
        ss="2026000123",
        ks="0308",
        message="Faktura 2026000123",
        bic="RZBCCZPP",
    )
    assert s.startswith("SPD*1.0*ACC:")
    assert parse_spayd(s) == {
        "ACC": f"{IBAN}+RZBCCZPP",
        "AM": "799.50",
        "CC": "CZK",
        "X-VS": "9562231077",
        "X-SS": "2026000123",
        "X-KS": "0308",
        "MSG": "FAKTURA 2026000123",
    }


def test_exact_string_and_normalised_inputs():
    s = build_spayd("cz58 5500 0000 0012 6509 8001", Decimal("480.5"), vs=1234, currency="czk")
    assert s == f"SPD*1.0*ACC:{IBAN}*AM:480.50*CC:CZK*X-VS:1234"


def test_optional_fields_are_left_out():
    assert parse_spayd(build_spayd(IBAN, Decimal("1"))) == {"ACC": IBAN, "AM": "1.00", "CC": "CZK"}


def test_star_and_percent_are_escaped_and_round_trip():
    s = build_spayd(IBAN, Decimal("10.00"), message="Sleva *50 % na 2*")
    assert "MSG:SLEVA %2A50 %25 NA 2%2A" in s
    assert s.count("*") == 5  # header (2) + separators of ACC, AM, CC, MSG (3): none in MSG
    assert parse_spayd(s)["MSG"] == "SLEVA *50 % NA 2*"


def test_message_loses_diacritics_and_stays_qr_alphanumeric():
    s = build_spayd(
        IBAN, Decimal("1.00"), message="Příliš žluťoučký kůň úpěl ďábelské ódy; ß & Łódź"
    )
    msg = parse_spayd(s)["MSG"]
    assert msg == "PRILIS ZLUTOUCKY KUN UPEL DABELSKE ODY SS LODZ"
    assert set(s) <= QR_ALPHANUMERIC | {"*"}  # the whole code can use alphanumeric mode


def test_message_is_truncated_to_60_characters():
    long = "Platba za internet a telefon " * 5
    s = build_spayd(IBAN, Decimal("1.00"), message=long)
    msg_field = s.split("*MSG:")[1]
    assert len(msg_field) <= 60
    assert msg_field == long.upper()[:60].rstrip()


def test_truncation_never_splits_an_escape():
    s = build_spayd(IBAN, Decimal("1.00"), message="A" * 58 + "*B")
    msg_field = s.split("*MSG:")[1]
    assert len(msg_field) <= 60
    assert msg_field == "A" * 58  # "%2A" would not fit: the star is dropped, not cut in half


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"iban": "CZ5955000000001265098001"}, "IBAN"),  # check digits wrong
        ({"iban": "CZ58550000000012650980"}, "IBAN"),  # too short
        ({"iban": "CZ4720100000002001234567"}, "Czech account"),  # IBAN ok, mod 11 fails
        ({"iban": ""}, "IBAN"),
        ({"vs": "12A4"}, "X-VS"),
        ({"vs": "12345678901"}, "X-VS"),
        ({"vs": "-1"}, "X-VS"),
        ({"vs": "١٢٣"}, "X-VS"),  # Arabic-Indic digits are digits to str.isdigit()
        ({"ss": "1 2"}, "X-SS"),
        ({"ks": "12345678901"}, "X-KS"),
        ({"amount": Decimal("10.001")}, "2 decimal places"),
        ({"amount": Decimal("0")}, "positive"),
        ({"amount": Decimal("-5.00")}, "positive"),
        ({"amount": Decimal("10000000.00")}, "too large"),
        ({"amount": Decimal("NaN")}, "amount"),
        ({"amount": 12.5}, "Decimal"),
        ({"currency": "KČ"}, "currency"),
        ({"bic": "NOPE"}, "BIC"),
    ],
)
def test_invalid_input_raises(kwargs, fragment):
    args = {"iban": IBAN, "amount": Decimal("100.00")} | kwargs
    with pytest.raises(QrPlatbaError, match=fragment):
        build_spayd(**args)


def test_error_is_a_value_error():
    assert issubclass(QrPlatbaError, ValueError)


def test_largest_amount_and_ten_digit_symbols_are_accepted():
    s = build_spayd(IBAN, Decimal("9999999.99"), vs="9" * 10, ss="1" * 10, ks="0" * 10)
    fields = parse_spayd(s)
    assert fields["AM"] == "9999999.99"
    assert (fields["X-VS"], fields["X-SS"], fields["X-KS"]) == ("9" * 10, "1" * 10, "0" * 10)


@pytest.mark.parametrize(
    "bad", ["", "QR*1.0*ACC:X", "SPD*x*ACC:X", "SPD*1.0*AM:1.00", "SPD*1.0*acc:X"]
)
def test_parse_rejects_malformed(bad):
    with pytest.raises(QrPlatbaError):
        parse_spayd(bad)


def test_svg_is_inline_markup():
    svg = qr_svg(build_spayd(IBAN, Decimal("799.50"), vs="1234"))
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert svg.rstrip().endswith("</svg>")
    assert "<path" in svg


def test_svg_uses_level_m_and_alphanumeric_mode():
    import segno

    spayd = build_spayd(IBAN, Decimal("799.50"), vs="1234", message="Faktura 2026000123")
    qr = segno.make(spayd, error="m", boost_error=False)
    assert (qr.error, qr.mode) == ("M", "alphanumeric")
    assert qr_svg(spayd) == qr.svg_inline(scale=4, svgclass="qr-platba", title="QR Platba")


# -- from an issued invoice -----------------------------------------------------------------

BANK = {"account": "2001234561/2010", "iban": "CZ1520100000002001234561"}


@pytest.fixture
def invoice(session, make_customer, supplier):
    customer = make_customer(name="Žaneta Řeháková")
    lines = [LineInput("Internet 100", Decimal("1"), Decimal("450.00"))]
    options = IssueOptions(issue_date=date(2026, 11, 22))
    return issue_invoice(session, customer, lines, dataclasses.replace(supplier, **BANK), options)


def test_spayd_for_invoice(invoice):
    fields = parse_spayd(spayd_for_invoice(invoice, Decimal("450.00")))
    assert fields == {
        "ACC": BANK["iban"],
        "AM": "450.00",
        "CC": "CZK",
        "X-VS": invoice.variable_symbol,
        "X-SS": invoice.specific_symbol,
        "MSG": f"FAKTURA {invoice.number}",
    }
    assert "DT" not in fields  # DT is the execution date, not the due date


def test_spayd_for_invoice_uses_the_open_amount(invoice):
    assert parse_spayd(spayd_for_invoice(invoice, Decimal("50.00")))["AM"] == "50.00"


def test_nothing_due_means_no_qr(invoice):
    assert spayd_for_invoice(invoice, Decimal("0.00")) is None
    assert spayd_for_invoice(invoice, Decimal("-1.00")) is None


def test_no_iban_means_no_qr(invoice):
    invoice.supplier_iban = None  # not flushed: the test only reads the object
    assert spayd_for_invoice(invoice, Decimal("450.00")) is None


def test_advance_invoice_message_and_credit_note_has_no_qr(invoice):
    invoice.kind = "advance"  # not flushed: the test only reads the object
    msg = parse_spayd(spayd_for_invoice(invoice, Decimal("450.00")))["MSG"]
    assert msg == f"ZALOHOVA FAKTURA {invoice.number}"
    invoice.kind = "credit_note"
    assert spayd_for_invoice(invoice, Decimal("450.00")) is None
