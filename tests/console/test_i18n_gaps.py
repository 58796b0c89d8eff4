"""Issue 14's remaining gaps: refusals of voip, enforcement, the monthly run and the bank
statement parsers read in the operator's (or customer's) language, their numbers, amounts and
days formatted in it when the page shows them (core.i18n ``money``/``number``/``day``;
docs/console.md, "Refusals in Czech and English"). The English text of logs and the CLI is
what it was. SQLite and PostgreSQL."""

from __future__ import annotations

import ast
import importlib
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from flask_babel import force_locale
from sqlalchemy import func, select

from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.models import AuditEvent, BankTransaction
from core.errors import DomainError
from core.i18n import Message, _l, day, join, money, number
from voip.topups import CapExceeded

ROOT = Path(__file__).resolve().parents[2]
NBSP = "\u00a0"
CZECH = {"top-up of %(amount)s would exceed the monthly cap %(cap)s (spent %(spent)s)":
         "dobití %(amount)s by překročilo měsíční limit %(cap)s (dobito už %(spent)s)",
         "row %(row)s: %(reason)s": "řádek %(row)s: %(reason)s"}


def czech(s: str) -> str:
    return CZECH.get(s, s)


# -- the parameters ---------------------------------------------------------------------------


def test_numbers_amounts_and_days_in_the_readers_language():
    message = _l("top-up of %(amount)s would exceed the monthly cap %(cap)s (spent %(spent)s)",
                 amount=money(D("1500.00"), "CZK"), cap=money(D("1000"), "CZK"),
                 spent=money(D("-1234.5"), "CZK"))
    # the English text of logs, the CLI and the tests that match it: as an f-string made it
    assert message == "top-up of 1500.00 would exceed the monthly cap 1000 (spent -1234.5)"
    assert message.translate(czech, "cs") == (
        f"dobití 1{NBSP}500,00{NBSP}Kč by překročilo měsíční limit 1{NBSP}000,00{NBSP}Kč "
        f"(dobito už \u22121{NBSP}234,50{NBSP}Kč)")
    assert message.translate(str, "en") == (
        f"top-up of CZK{NBSP}1,500.00 would exceed the monthly cap CZK{NBSP}1,000.00 "
        f"(spent \u2212CZK{NBSP}1,234.50)")
    # without a language (a caller that knows none): the English text of the values
    assert message.translate(czech) == (
        "dobití 1500.00 by překročilo měsíční limit 1000 (dobito už -1234.5)")
    assert number(270000, 0).format("cs") == f"270{NBSP}000"
    assert number(270000, 0).format("en") == "270,000"
    assert number(D("0.125")).format("cs") == "0,125"
    assert money(D("1234.5")).format("cs") == f"1{NBSP}234,50"  # the message names the currency
    assert money(D("12.5"), "EUR").format("cs") == f"12,50{NBSP}€"
    assert day(date(2026, 12, 6)).format("cs") == f"6.{NBSP}12.{NBSP}2026"
    assert day(date(2026, 12, 6)).format("en") == "6 Dec 2026"
    assert str(day(date(2026, 12, 6))) == "2026-12-06"
    assert str(number(1000, text="1,000")) == "1,000"  # an English text kept as it was


def test_values_are_formatted_when_read_not_when_raised():
    """One refusal, read by a Czech page and an English one: each in its own format (the
    value was not formatted at raise time); a nested message's values too."""
    error = CapExceeded(D("1000.00"), D("200.00"), D("1000.00"))
    assert str(error) == "top-up of 1000.00 would exceed the monthly cap 1000.00 (spent 200.00)"
    cs = error.translated(czech, "cs")
    assert f"1{NBSP}000,00{NBSP}Kč" in cs and f"200,00{NBSP}Kč" in cs
    assert f"CZK{NBSP}1,000.00" in error.translated(czech, "en")
    rows = join([_l("row %(row)s: %(reason)s", row=2, reason=_l("x %(n)s", n=number(1500)))])
    assert isinstance(rows, Message) and rows == "row 2: x 1500"
    assert rows.translate(czech, "cs") == f"řádek 2: x 1{NBSP}500"


@pytest.mark.parametrize("lang", ["cs", "en"])
def test_core_formats_as_the_pages_filters(app, lang):
    """core.i18n (Flask-free, for refusals) and web.formatting (the templates' filters) write
    an amount and a day alike."""
    from core.i18n import format_date, format_money
    from web.formatting import format_date as page_date
    from web.formatting import format_money as page_money

    with app.test_request_context("/"), force_locale(lang):
        for value in (D("0"), D("5.5"), D("1234.5"), D("-270000"), D("9999999999.99")):
            assert format_money(value, lang) == page_money(value), value
            assert format_money(value, lang, "EUR") == page_money(value, currency="EUR"), value
        for value in (date(2026, 1, 1), date(2026, 12, 6),
                      datetime(2026, 12, 6, 23, 30, tzinfo=UTC)):
            assert format_date(value, lang) == page_date(value), value


# -- nothing left to mark ---------------------------------------------------------------------

# the areas of this issue: every refusal (a DomainError) raised there says what it says through
# core.i18n._l, never as an f-string or a bare literal the catalog cannot translate
AREAS = ("voip", "enforcement", "billing/bank/statements", "billing/invoicing/monthly_run.py",
         "console/views_voip.py")
NOT_REFUSALS = ("voip/agi.py", "voip/demo.py", "enforcement/drivers", "enforcement/radius")


def _modules():
    for area in AREAS:
        path = ROOT / area
        for file in ([path] if path.suffix == ".py" else sorted(path.rglob("*.py"))):
            rel = file.relative_to(ROOT).as_posix()
            if not rel.startswith(NOT_REFUSALS):
                yield rel


def _raised_class(module, node: ast.expr):
    try:
        found = eval(ast.unparse(node), vars(module))  # a name or module.Name, no call
    except Exception:
        return None
    return found if isinstance(found, type) else None


def test_refusals_of_the_areas_are_marked_for_translation():
    unmarked = []
    for rel in _modules():
        module = importlib.import_module(rel.removesuffix(".py").replace("/", "."))
        tree = ast.parse((ROOT / rel).read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)):
                continue
            raised = _raised_class(module, node.exc.func)
            if raised is None or not issubclass(raised, DomainError) or not node.exc.args:
                continue
            first = node.exc.args[0]
            if isinstance(first, ast.JoinedStr | ast.Constant | ast.BinOp):
                unmarked.append(f"{rel}:{node.lineno}: {ast.unparse(first)[:70]}")
    assert not unmarked, "refusals not marked with core.i18n._l:\n" + "\n".join(unmarked)


# -- what an operator reads -------------------------------------------------------------------


def _in_czech(client):
    client.post("/language", data={"lang": "cs"})
    return client


def _gpc_with_a_wrong_amount() -> bytes:
    """A statement whose one credit of 1 500,00 was altered to 1 234,50 in its 075 record: the
    header's turnover no longer matches."""
    tx = ParsedTransaction(bank_tx_id="990001", booked_on=date.today() - timedelta(days=1),
                           amount=D("1500.00"), currency="CZK", variable_symbol="6901",
                           specific_symbol=None, constant_symbol=None,
                           counter_account="123456789/0800", counter_name="Plátce",
                           message="platba", line=0)
    data = render_gpc(ParsedStatement("gpc", "2001234588/2010", [tx]))
    header, record, *rest = data.split(b"\r\n")
    assert record.startswith(b"075") and int(record[48:60]) == 150000
    record = record[:48] + b"%012d" % 123450 + record[60:]
    return b"\r\n".join([header, record, *rest])


@pytest.mark.parametrize(("lang", "expected"), [
    ("cs", f"řádek 1: pohyby nesouhlasí se záhlavím: debety 0,00 (záhlaví 0,00), kredity "
           f"1{NBSP}234,50 (záhlaví 1{NBSP}500,00)"),
    ("en", "line 1: transactions do not match the header: debits 0.00 (header 0.00), credits "
           "1,234.50 (header 1,500.00)"),
])
def test_a_bad_statement_line_in_the_operators_language(console_client, session, lang,
                                                        expected):
    billing = console_client("billing")
    billing.post("/language", data={"lang": lang})
    response = billing.post("/console/payments/upload", data={
        "statement": (io.BytesIO(_gpc_with_a_wrong_amount()), "vypis.gpc"), "format": "gpc"},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert expected in page, page[-3000:]
    session.rollback()
    assert session.scalar(select(func.count()).select_from(BankTransaction)) == 0


def test_a_statement_field_is_named_in_czech(console_client):
    tx = ParsedTransaction(bank_tx_id="990002", booked_on=date(2026, 11, 3), amount=D("10.00"),
                           currency="CZK", variable_symbol="1", specific_symbol=None,
                           constant_symbol=None, counter_account=None, counter_name="X",
                           message="", line=0)
    data = render_gpc(ParsedStatement("gpc", "2001234588/2010", [tx]))
    header, record, *rest = data.split(b"\r\n")
    record = record[:122] + b"991399" + record[128:]  # the due date: day 99 of month 13
    page = _in_czech(console_client("billing")).post("/console/payments/upload", data={
        "statement": (io.BytesIO(b"\r\n".join([header, record, *rest])), "v.gpc")},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "řádek 2: datum splatnosti &#39;991399&#39; není platné datum (DDMMRR)" in page


def test_a_price_list_refusal_lists_its_rows_in_czech(console_client, session):
    support = _in_czech(console_client("support"))
    csv_text = ("prefix;destination;price_per_minute\n420601;Mobil;abc\n420602;Mobil;1,5\n"
                "420602;Mobil;2\n")
    response = support.post("/console/voip/tariffs/preview", data={
        "file": (io.BytesIO(csv_text.encode()), "cenik.csv")},
        content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code == 422, page[-2000:]
    assert "řádek 2: price_per_minute &#39;abc&#39; není číslo" in page
    assert "řádek 4: předčíslí 420602 už je na řádku 3" in page
    assert "is not a number" not in page


def test_an_announcement_refusal_has_a_czech_number(console_client, session):
    support = _in_czech(console_client("support"))
    response = support.post("/console/announcements", data={
        "kind": "outage", "text_cs": "x" * 1001}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert f"český text je delší než 1{NBSP}000 znaků" in page
    assert "longer than" not in page
    session.rollback()
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "announcement.posted")) == 0


def test_the_door_reads_a_voip_refusal_in_the_pages_language(app):
    """The web door's text of a refusal (web.door.refusal_text): the catalog's Czech and the
    page's number format."""
    from web.door import refusal_text

    error = CapExceeded(D("1000.00"), D("200.00"), D("1000.00"))
    with app.test_request_context("/"):
        with force_locale("cs"):
            assert refusal_text(error) == (
                f"dobití 1{NBSP}000,00{NBSP}Kč by překročilo měsíční limit "
                f"1{NBSP}000,00{NBSP}Kč (dobito už 200,00{NBSP}Kč)")
        with force_locale("en"):
            assert refusal_text(error) == (
                f"top-up of CZK{NBSP}1,000.00 would exceed the monthly cap CZK{NBSP}1,000.00 "
                f"(spent CZK{NBSP}200.00)")
