"""Input that used to end in a 500 (issue 13, item 8), and the strict parsers every form
field, query parameter and command argument goes through (web/parsing.py)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from tests.voip.conftest import make_line, voip_auth  # noqa: F401 - fixtures
from voip.models import TopUp, VoipLine
from web import parsing

NASTY = ["sNaN", "NaN", "-NaN", "Infinity", "-inf", "1e999999", "1E2", "1_000", "0x10",
         "\x00", "1\x0050", "٣", "１２", "+5", "-5", "5.", ".5", "1,234,5", "12 34", "1.001",
         "9" * 5000, "ěščř", "{\"a\": [1]}", " ", "100 Kč Kč"]


# -- the parsers -------------------------------------------------------------------------------


@pytest.mark.parametrize("raw, value", [
    ("50", "50.00"), ("49,50", "49.50"), ("1500.5", "1500.50"), ("1 500", "1500.00"),
    ("1\u00a0500,00\u00a0Kč", "1500.00"), ("200 CZK", "200.00"), (" 0 ", "0.00"),
    ("1 000 000", "1000000.00"),
])
def test_amount_accepts_what_people_write(raw, value):
    assert parsing.amount(raw) == Decimal(value)
    assert parsing.amount(raw).as_tuple().exponent == -2


@pytest.mark.parametrize("raw", [*NASTY, "1000000.01", None, 5, ""])
def test_amount_refuses_everything_else(raw):
    with pytest.raises(parsing.ParseError):
        parsing.amount(raw)


def test_amount_bounds():
    assert parsing.amount("100", minimum=Decimal("100"), maximum=Decimal("100")) == 100
    with pytest.raises(parsing.ParseError):
        parsing.amount("0,99", minimum=Decimal("1"))


@pytest.mark.parametrize("raw", [*NASTY, "1.0", "10000000000000000000", ""])
def test_integer_refuses(raw):
    with pytest.raises(parsing.ParseError):
        parsing.integer(raw, minimum=0, maximum=10**12)


def test_integer_and_page_numbers():
    assert parsing.integer(" 42 ", minimum=1, maximum=100) == 42
    assert parsing.integer("-3", minimum=-5, maximum=5) == -3
    with pytest.raises(parsing.ParseError):
        parsing.integer("101", minimum=1, maximum=100)
    assert [parsing.page_number(v) for v in (None, "", "3", "0", "-1", "1e9", "9" * 40, "sNaN")] == [
        1, 1, 3, 1, 1, 1, 1, 1]


@pytest.mark.parametrize("raw", [*NASTY, "2026-02-30", "2026-1-5", "20260105", "2026-01-05T00:00",
                                 "1999-12-31", "2101-01-01", "２０２６-01-05"])
def test_day_refuses(raw):
    with pytest.raises(parsing.ParseError):
        parsing.day(raw)


def test_day_text_choice_optional():
    assert parsing.day("2026-12-25") == date(2026, 12, 25)
    # as Czech people write it (a browser without a date picker)
    assert parsing.day("25. 12. 2026") == parsing.day("25.12.2026") == date(2026, 12, 25)
    assert parsing.day("1.2.2026") == date(2026, 2, 1)
    for bad in ("31.13.2026", "30. 2. 2026", "25.12.26", "25. 12 2026"):
        with pytest.raises(parsing.ParseError):
            parsing.day(bad)
    assert parsing.text("  Husova 5 ") == "Husova 5"
    with pytest.raises(parsing.ParseError):
        parsing.text("a\x00b")
    with pytest.raises(parsing.ParseError):
        parsing.text("x" * 201)
    assert parsing.choice("cs", ("cs", "en")) == "cs"
    with pytest.raises(parsing.ParseError):
        parsing.choice("de", ("cs", "en"))
    assert parsing.optional("  ", parsing.amount) is None
    assert parsing.optional(None, parsing.integer, 7, minimum=0, maximum=1) == 7


# -- the routes that answered 500 --------------------------------------------------------------


@pytest.fixture
def voip_user(client, voip_auth, make_line, make_customer):  # noqa: F811
    line = make_line("+420601234567", password="voip-pass",
                     customer=make_customer(number="3001", password="zone-pass-1"))
    assert voip_auth.login("567", "voip-pass", client=client).status_code == 302
    return line


@pytest.mark.parametrize("amount", ["sNaN", "NaN", "Infinity", "1e999999", "1E2", "\x00", "٣٠٠"])
def test_topup_confirm_with_a_nasty_amount(client, session, voip_user, amount):
    """GET /voip/topup/confirm?amount=sNaN answered 500 (comparing sNaN raised); so did POST."""
    response = client.get("/voip/topup/confirm", query_string={"amount": amount})
    assert response.status_code in (302, 400)
    response = client.post("/voip/topup/confirm",
                           data={"amount": amount, "request_key": "k" * 24})
    assert response.status_code == 400
    assert session.scalars(select(TopUp)).all() == []


def test_topup_confirm_still_takes_a_coupon(client, voip_user):
    response = client.get("/voip/topup/confirm?amount=200")
    assert response.status_code == 200 and "200" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", ["1e999999", "sNaN", "Infinity", "-5", "1,001", "9" * 19])
def test_threshold_with_a_nasty_value(client, session, voip_user, value):
    """POST /voip/threshold with 1e999999 answered 500 (quantize overflowed)."""
    response = client.post("/voip/threshold", data={"threshold": value}, follow_redirects=True)
    assert response.status_code == 200
    assert "Zadejte částku v Kč" in response.get_data(as_text=True)
    session.rollback()
    row = session.get(VoipLine, voip_user.id)
    assert row is None or row.low_credit_threshold is None


def test_page_numbers_out_of_range(auth, client, voip_user, make_customer):  # noqa: F811
    for page in ("9" * 30, "-5", "1e3", "sNaN"):
        assert client.get("/voip/", query_string={"page": page}).status_code == 200
    make_customer(number="4001", password="zone-pass-1")
    assert auth.login("4001", "zone-pass-1", client=client).status_code == 302
    for page in ("9" * 30, "-5", "sNaN"):
        assert client.get("/invoices", query_string={"page": page}).status_code == 200
    for query in ({"from": "2026-02-30"}, {"from": "9999999-01-01"}, {"to": "\u0663"},
                  {"service": "9" * 30}, {"service": "sNaN"}):
        assert client.get("/traffic", query_string=query).status_code in (200, 404)


def test_nul_anywhere_is_400(auth, client, make_customer):  # noqa: F811
    make_customer(number="4002", password="zone-pass-1")
    assert client.post("/login", data={"customer_number": "40\x0002", "password": "x"}).status_code == 400
    assert client.get("/login?next=/\x00").status_code == 200  # next: checked by safe_next
    assert client.post("/password/forgot", data={"customer_number\x00": "4002"}).status_code == 400
    assert client.get("/password/reset/ab%00cd").status_code == 400


# -- the command line ----------------------------------------------------------------------------


def test_deeply_nested_fio_json_is_a_clear_error(app, tmp_path):
    """``payments import`` of a deeply nested Fio JSON printed a RecursionError traceback."""
    path = tmp_path / "deep.json"
    path.write_text('{"accountStatement": {"info": {}, "transactionList": {"transaction": '
                    + "[" * 100_000 + "]" * 100_000 + "}}}")
    with app.app_context():
        result = app.test_cli_runner().invoke(
            args=["payments", "import", "--format", "fio-json", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output
    assert str(path) in result.output and "nothing was imported" in result.output


def test_set_cap_refuses_nasty_amounts(app, make_line):  # noqa: F811
    make_line("+420601234567")
    with app.app_context():
        for raw in ("1e999999", "sNaN", "0x10"):
            result = app.test_cli_runner().invoke(args=["voip", "set-cap", "+420601234567", raw])
            assert result.exit_code == 1 and "nothing was changed" in result.output, result.output


def test_ids_in_urls_beyond_the_database_are_404(auth, client, make_customer):  # noqa: F811
    """/receipts/9223372036854775808.pdf overflowed the driver (found by the route fuzz test)."""
    make_customer(number="4003", password="zone-pass-1")
    assert auth.login("4003", "zone-pass-1", client=client).status_code == 302
    for path in ("/receipts/9223372036854775808.pdf", "/invoices/2147483648", "/services/" + "9" * 40):
        assert client.get(path).status_code == 404
    assert client.get("/invoices/2147483647").status_code == 404  # the largest id: looked up


def test_a_json_body_is_not_a_form(auth, client, make_customer):  # noqa: F811
    """Flask-WTF fed a JSON body to the form: 30,000 levels deep it raised RecursionError."""
    make_customer(number="4004", password="zone-pass-1")
    assert auth.login("4004", "zone-pass-1", client=client).status_code == 302
    deep = '{"a":' * 30_000 + "1" + "}" * 30_000
    for body in (deep, "[1, 2]", '{"name": {"x": 1}}'):
        response = client.post("/info/edit", data=body, content_type="application/json")
        assert response.status_code == 415
