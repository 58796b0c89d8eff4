"""Bank-statement parsers (GPC, Fio JSON/CSV, camt.053): pure functions, no database."""

from __future__ import annotations

import string
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing.bank.statements import (
    ParsedStatement,
    ParsedTransaction,
    StatementError,
    derived_id,
    detect_format,
    national_account,
    normalise_symbol,
    parse_statement,
)
from billing.bank.statements.gpc_render import render_gpc

D = Decimal
SAMPLES = Path(__file__).parent / "samples"
OWN = "2001234567/2010"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def by_id(statement: ParsedStatement) -> dict[str, ParsedTransaction]:
    return {t.bank_tx_id: t for t in statement.transactions}


def tx(tx_id: str, amount: str, day: int = 3, **fields: object) -> ParsedTransaction:
    values: dict = dict(
        currency="CZK", variable_symbol=None, specific_symbol=None, constant_symbol=None,
        counter_account=None, counter_name=None, message=None, line=0,
    )  # fmt: skip
    values.update(fields)
    return ParsedTransaction(tx_id, date(2026, 11, day), D(amount), **values)


def gpc_lines(name: str = "statement_2026-11.gpc") -> list[bytes]:
    return sample(name).split(b"\r\n")


def error_of(data: bytes, fmt: str | None = None) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse_statement(data, fmt)
    return caught.value


# --- the samples, format by format --------------------------------------------------------


def test_gpc_sample():
    result = parse_statement(sample("statement_2026-11.gpc"))
    assert (result.format, result.account) == ("gpc", "2001234567")  # GPC carries no own bank code
    assert (result.opening_balance, result.closing_balance) == (D("15230.50"), D("13574.42"))
    assert result.statement_date == date(2026, 11, 5)
    txs = result.transactions
    amounts = ("799", "1250.5", "-4356", "150", "500", "0.42")
    assert [t.amount for t in txs] == [D(a) for a in amounts]
    assert [t.line for t in txs] == [2, 3, 6, 9, 10, 12]
    first = txs[0]
    assert first == tx(
        "26110300001", "799.00", variable_symbol="1001", specific_symbol="2026000001",
        constant_symbol="308", counter_account="123456789/0800", counter_name="Jan Novák", line=2,
    )  # fmt: skip
    marie = txs[1]
    assert marie.counter_name == "Marie Dvořáková-Svobodová"  # the 076 record's full name
    assert marie.counter_account == "19-2000145399/0800"
    assert marie.message == "Platba za internet a VoIP, faktura 2026000002"  # the 078 record
    assert (marie.variable_symbol, marie.constant_symbol) == ("1002", None)  # KS 0000 -> None
    supplier, reversal = txs[2], txs[3]
    assert supplier.amount < 0 and supplier.counter_name == "Dodavatel konektivity s.r.o."
    assert reversal.amount == D("150.00") and reversal.counter_name == "Storno platby"
    # the last two have no document number: an id derived from the movement itself (issue 13:
    # it was "20261105-045-00005", statement date, number and position, which camt.053 did
    # not share), the same in every format
    assert [t.bank_tx_id[:5] for t in txs[4:]] == ["noid-", "noid-"]
    assert txs[4].bank_tx_id == derived_id("2001234567/2010", txs[4], 1)
    assert txs[4].bank_tx_id != txs[5].bank_tx_id
    assert txs[4].counter_account == "670100-2212345678/6210"
    assert txs[4].message == "Šťastný Petr – internet"
    assert txs[5].counter_account is None and txs[5].counter_name == "Připsaný úrok"


def test_gpc_own_bank_code_can_be_supplied():
    assert parse_statement(sample("statement_2026-11.gpc"), bank_code="2010").account == OWN


def test_fio_json_sample():
    data = sample("fio_2026-11.json")
    result = parse_statement(data)
    assert (result.format, result.account, result.statement_date) == (
        "fio-json",
        OWN,
        date(2026, 11, 5),
    )
    assert (result.opening_balance, result.closing_balance) == (D("15230.50"), D("13385.42"))
    assert all(isinstance(t.amount, Decimal) for t in result.transactions)
    txs = by_id(result)
    assert txs["26110300001"] == tx(
        "26110300001", "799.00", variable_symbol="1001", specific_symbol="2026000001",
        constant_symbol="308", counter_account="123456789/0800", counter_name="Jan Novák",
        message="Internet listopad | Jan Novák", line=txs["26110300001"].line,
    )  # fmt: skip
    assert txs["26110300002"].variable_symbol == "1002"  # "0000001002"
    assert txs["26110300002"].message == "Platba faktury 2026000002"  # duplicates folded
    assert txs["26110400001"].amount == D("-4356")
    assert txs["26110500001"].variable_symbol is None  # "ABC12" is no VS
    assert txs["26110500001"].message == "Žluťoučký kůň – internet"
    assert txs["26110500002"].counter_account is None
    lines = data.decode().splitlines()
    for t in result.transactions:  # line = where the transaction's object starts
        assert lines[t.line - 1].strip() == "{"
        assert f'"value": {t.bank_tx_id},' in lines[t.line + 1]


def test_fio_csv_sample():
    result = parse_statement(sample("fio_2026-11.csv"))
    assert (result.format, result.account, result.statement_date) == (
        "fio-csv",
        OWN,
        date(2026, 11, 5),
    )
    assert (result.opening_balance, result.closing_balance) == (D("15230.50"), D("13385.42"))
    txs = result.transactions
    assert [t.line for t in txs] == [14, 15, 17, 18, 19, 20]  # row 15 spans two lines
    amounts = ("799", "1250.5", "-4356", "500", "-39", "0.42")
    assert [t.amount for t in txs] == [D(a) for a in amounts]
    assert txs[0].counter_name == "Novák, Jan"
    assert txs[0].message == "Internet; listopad | Jan Novák"
    assert txs[1].message == "Platba faktury 2026000002 za listopad"
    assert txs[2].counter_name == 'Firma "Síť" s.r.o.'
    assert (txs[2].variable_symbol, txs[2].constant_symbol) == ("9001", "308")
    assert txs[3].variable_symbol is None and txs[3].counter_account == "2212345678/6210"


def test_camt_sample():
    data = sample("camt053_2026-11.xml")
    result = parse_statement(data)
    assert (result.format, result.account) == ("camt053", "CZ4720100000002001234567")
    assert (result.opening_balance, result.closing_balance) == (D("15230.50"), D("12885.00"))
    assert result.statement_date == date(2026, 11, 5)
    txs = by_id(result)
    assert "26110600001" not in txs  # pending, not booked
    jan = txs["26110300001"]
    assert (jan.variable_symbol, jan.specific_symbol, jan.constant_symbol) == (
        "1001", "2026000001", "308",
    )  # fmt: skip
    assert (jan.counter_account, jan.counter_name) == ("123456789/0800", "Jan Novák")
    assert jan.message == "Internet listopad | Bezhotovostní příjem"
    marie = txs["26110300002"]  # VS in CdtrRefInf, SS in Ustrd, counter-account a CZ IBAN
    assert (marie.variable_symbol, marie.specific_symbol) == ("1002", "2026000002")
    assert marie.counter_account == "19-2000145399/0800"
    supplier = txs["26110400001"]  # Fio's "VS:...KS:..." separators, creditor of a debit
    assert supplier.amount == D("-4356.00") and supplier.variable_symbol == "9001"
    assert supplier.constant_symbol == "308"
    assert supplier.counter_name == "Dodavatel konektivity s.r.o."
    assert supplier.counter_account == "2345678901/0100"
    assert txs["26110500009"].amount == D("-500.00")  # RvslInd flips a CRDT
    # no AcctSvcrRef: the derived id, the same as the GPC statement's for this movement
    # (issue 13: it was "2001234567-2026-045-00005", statement id + position)
    gpc_petr = parse_statement(sample("statement_2026-11.gpc")).transactions[4]
    petr = txs[gpc_petr.bank_tx_id]
    assert (petr.variable_symbol, petr.counter_account) == ("1003", "670100-2212345678/6210")
    assert txs["26110500002"].message == "Poplatek za vedení účtu"
    lines = data.decode().splitlines()
    assert all(lines[t.line - 1].strip() == "<Ntry>" for t in result.transactions)


def test_the_same_fio_movement_has_the_same_id_in_gpc_json_and_csv():
    gpc = by_id(parse_statement(sample("statement_2026-11.gpc")))
    fio_json = by_id(parse_statement(sample("fio_2026-11.json")))
    fio_csv = by_id(parse_statement(sample("fio_2026-11.csv")))
    for tx_id in ("26110300001", "26110300002", "26110400001"):
        assert gpc[tx_id].amount == fio_json[tx_id].amount == fio_csv[tx_id].amount


# --- detection and normalisation ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("statement_2026-11.gpc", "gpc"),
        ("fio_2026-11.json", "fio-json"),
        ("fio_2026-11.csv", "fio-csv"),
        ("camt053_2026-11.xml", "camt053"),
    ],
)
def test_detect_format(name, fmt):
    assert detect_format(sample(name)) == fmt
    assert parse_statement(sample(name), fmt).format == fmt


@pytest.mark.parametrize(
    "data", [b"", b"hello", b"<html></html>", b'{"a": 1}', b"\x00\x01", b"ID;Datum\n1;2\n"]
)
def test_unknown_format_is_refused(data):
    with pytest.raises(StatementError):
        detect_format(data)
    with pytest.raises(StatementError):
        parse_statement(data)


def test_wrong_explicit_format_is_a_statement_error():
    assert isinstance(error_of(sample("fio_2026-11.json"), "gpc"), StatementError)
    assert isinstance(error_of(sample("statement_2026-11.gpc"), "camt053"), StatementError)
    assert isinstance(error_of(b"x", "mt940"), StatementError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0000001001", "1001"), ("1001", "1001"), (" 2026000001 ", "2026000001"), (308, "308"),
        ("0000000000", None), ("", None), (None, None), ("ABC12", None), ("12 34", None),
        ("12345678901", None), ("²", None),
    ],
)  # fmt: skip
def test_symbols_are_normalised(raw, expected):
    assert normalise_symbol(raw) == expected


@pytest.mark.parametrize(
    ("number", "bank", "expected"),
    [
        ("0000000123456789", "0800", "123456789/0800"), ("000019-2000145399", "0800",
        "19-2000145399/0800"), ("2001234567/2010", None, OWN), ("0", "0000", None),
        ("CZ6508000000192000145399", None, "19-2000145399/0800"),
        ("DE89370400440532013000", "COBADEFF", "DE89370400440532013000"),
    ],
)  # fmt: skip
def test_national_account(number, bank, expected):
    assert national_account(number, bank) == expected


def test_statement_error_text():
    assert str(StatementError("amount is not numeric", 7)) == "line 7: amount is not numeric"
    assert str(StatementError("empty file")) == "empty file"
    assert StatementError("x", 3).line == 3 and StatementError("x", 3).reason == "x"


# --- GPC specifics ------------------------------------------------------------------------


def statement(*txs: ParsedTransaction, opening: str = "1000.00", day: int = 5) -> ParsedStatement:
    return ParsedStatement("gpc", OWN, list(txs), D(opening), None, date(2026, 11, day))


def test_gpc_with_several_statements():
    first = render_gpc(statement(tx("11", "100.00"), tx("12", "-30.00")), statement_number=1)
    second = render_gpc(statement(tx("13", "50.00"), opening="1070.00", day=6), statement_number=2)
    result = parse_statement(first + second, bank_code="2010")
    assert [t.bank_tx_id for t in result.transactions] == ["11", "12", "13"]
    assert [t.line for t in result.transactions] == [2, 3, 5]
    assert (result.opening_balance, result.closing_balance) == (D("1000.00"), D("1120.00"))
    assert result.statement_date == date(2026, 11, 6)
    other = replace(statement(tx("14", "1.00")), account="19-2000145399/0800")
    error = error_of(first + render_gpc(other))
    assert error.line == 4 and "differs" in error.reason


def test_gpc_repeated_document_numbers_get_derived_ids():
    # a repeated document number is no id (issue 13: it was "20261105-001-00001-77",
    # statement date, number and position); both movements are kept, with derived ids
    data = render_gpc(statement(tx("77", "100.00"), tx("77", "200.00"), tx("78", "1.00")))
    txs = parse_statement(data).transactions
    assert [t.bank_tx_id for t in txs] == [
        derived_id(OWN, txs[0], 1), derived_id(OWN, txs[1], 1), "78"
    ]


def test_gpc_lf_line_ends_and_trimmed_header_are_accepted():
    lines = gpc_lines()
    lines[0] = lines[0].rstrip()  # the 074 filler trimmed away
    parsed = parse_statement(b"\n".join(lines))
    assert len(parsed.transactions) == 6 and parsed.transactions[2].line == 6


def replace_field(record: bytes, start: int, text: bytes) -> bytes:
    """Overwrite ``record`` from 1-based position ``start``."""
    return record[: start - 1] + text + record[start - 1 + len(text) :]


def test_gpc_cs_dialect_posting_codes():
    lines = gpc_lines()
    # Česká spořitelna: 3 = reversal of a debit (money back in); as a 4 in the standard
    lines[8] = replace_field(lines[8], 61, b"3")
    parsed = parse_statement(b"\r\n".join(lines))
    assert parsed.transactions[3].amount == D("150.00")
    # with only 4s, the dialect whose balance adds up wins: here 4 = reversal of a credit
    lines[8] = replace_field(lines[8], 61, b"4")
    lines[0] = replace_field(lines[0], 61, b"00000001327442+")  # new balance - 2 x 150
    lines[0] = replace_field(lines[0], 76, b"00000000435600000000000239992")  # turnovers
    parsed = parse_statement(b"\r\n".join(lines))
    assert parsed.transactions[3].amount == D("-150.00")


# --- GPC round trip -----------------------------------------------------------------------

ALPHABET = string.ascii_letters + string.digits + ".,-/&()'" + "áčďéěíňóřšťúůýžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽäöü"
words = st.text(alphabet=ALPHABET, min_size=1, max_size=12)
names = st.lists(words, min_size=1, max_size=7).map(" ".join)
messages = st.lists(words, min_size=1, max_size=6).map(" ".join)


def digits(most: int) -> st.SearchStrategy[str]:
    return st.integers(1, 10**most - 1).map(str)


accounts = st.builds(
    lambda prefix, number, bank: f"{prefix}-{number}/{bank}" if prefix else f"{number}/{bank}",
    st.none() | digits(6),
    digits(10),
    st.sampled_from(["0100", "0300", "0800", "2010", "3030", "5500", "6210"]),
)


@st.composite
def statements(draw: st.DrawFn) -> ParsedStatement:
    start = draw(st.dates(date(1990, 1, 2), date(2089, 11, 30)))
    ids = draw(st.lists(st.integers(1, 10**13 - 1), max_size=12, unique=True))
    transactions = [
        ParsedTransaction(
            bank_tx_id=str(tx_id),
            booked_on=start + timedelta(days=draw(st.integers(0, 25))),
            amount=D(draw(st.integers(-(10**11), 10**11).filter(bool))).scaleb(-2),
            currency=draw(st.sampled_from(["CZK", "EUR", "USD"])),
            variable_symbol=draw(st.none() | digits(10)),
            specific_symbol=draw(st.none() | digits(10)),
            constant_symbol=draw(st.none() | digits(4)),
            counter_account=draw(st.none() | accounts),
            counter_name=draw(st.none() | names),
            message=draw(st.none() | messages),
            line=0,
        )
        for tx_id in ids
    ]
    opening = D(draw(st.integers(-(10**12), 10**12))).scaleb(-2)
    closing = opening + sum((t.amount for t in transactions), D(0))
    when = start + timedelta(days=draw(st.integers(25, 31)))
    return ParsedStatement("gpc", OWN, transactions, opening, closing, when)


@given(statements())
@settings(max_examples=150, deadline=None)
def test_gpc_round_trip(original):
    data = render_gpc(original)
    parsed = parse_statement(data, bank_code="2010")
    records = data.split(b"\r\n")
    assert all(records[t.line - 1].startswith(b"075") for t in parsed.transactions)
    assert [replace(t, line=0) for t in parsed.transactions] == original.transactions
    assert replace(parsed, transactions=[]) == replace(original, transactions=[])


def test_render_gpc_refuses_what_gpc_cannot_say():
    with pytest.raises(ValueError):
        render_gpc(replace(statement(tx("1", "1.00")), closing_balance=D("5")))
    with pytest.raises(ValueError):
        render_gpc(statement(tx("1", "0.001")))
    with pytest.raises(ValueError):
        render_gpc(statement(tx("1", "1.00", counter_account="DE89370400440532013000")))
    with pytest.raises(ValueError):
        render_gpc(statement(tx("1", "1.00", variable_symbol="12345678901")))
    with pytest.raises(ValueError):
        render_gpc(statement(tx("1", "1.00", counter_name="line\nbreak")))


# --- bad input: each rejected with the line it is on --------------------------------------


def gpc_error(lines: list[bytes]) -> StatementError:
    return error_of(b"\r\n".join(lines), "gpc")


def test_gpc_truncated_transaction():
    lines = gpc_lines()
    lines[5] = lines[5][:100]
    error = gpc_error(lines)
    assert (error.line, error.reason) == (6, "record is 100 characters long, expected 128")


def test_gpc_record_too_long():
    lines = gpc_lines()
    lines[1] += b"  "
    assert str(gpc_error(lines)) == "line 2: record is 130 characters long, expected 128"


def test_gpc_utf8_file_is_explained():
    text = sample("statement_2026-11.gpc").decode("cp1250").encode("utf-8")
    error = error_of(text)
    assert error.line == 1 and "UTF-8" in error.reason


def test_gpc_non_numeric_amount():
    lines = gpc_lines()
    lines[1] = replace_field(lines[1], 49, b"0000007990x0")
    assert str(gpc_error(lines)) == "line 2: amount is not numeric ('0000007990x0')"


@pytest.mark.parametrize("position", [92, 123])
def test_gpc_bad_date(position):
    lines = gpc_lines()
    lines[9] = replace_field(lines[9], position, b"310226")
    error = gpc_error(lines)
    assert error.line == 10 and "'310226' is not a valid date" in error.reason


def test_gpc_bad_statement_date():
    lines = gpc_lines()
    lines[0] = replace_field(lines[0], 109, b"320126")
    assert gpc_error(lines).line == 1


def test_gpc_bytes_invalid_in_windows_1250():
    lines = gpc_lines()
    lines[2] = replace_field(lines[2], 100, b"\x98")
    assert str(gpc_error(lines)) == "line 3: byte 0x98 is not valid windows-1250 text"


def test_gpc_sums_must_match_the_header():
    lines = gpc_lines()
    lines[1] = replace_field(lines[1], 49, b"000000079800")  # 799.00 -> 798.00
    error = gpc_error(lines)
    assert error.line == 1 and "credits 2548.92 (header 2549.92)" in error.reason


def test_gpc_balances_must_add_up():
    lines = gpc_lines()
    lines[0] = replace_field(lines[0], 61, b"00000001357443")  # new balance off by 0.01
    error = gpc_error(lines)
    assert error.line == 1 and "header new balance 13574.43" in error.reason


def test_gpc_transaction_before_header():
    error = gpc_error(gpc_lines()[1:])
    assert (error.line, error.reason) == (1, "transaction record 075 before any 074 header")


def test_gpc_without_header():
    assert error_of(b"", "gpc").reason == "no 074 statement header in the file"
    assert error_of(b"\r\n\r\n", "gpc").line is None


def test_gpc_unknown_record_and_orphan_message():
    lines = gpc_lines()
    lines.insert(3, b"077" + b" " * 125)
    assert str(gpc_error(lines)) == "line 4: unknown record type '077'"
    lines = gpc_lines()
    lines.insert(1, b"078Hello".ljust(128))
    assert gpc_error(lines).line == 2


def test_gpc_bad_posting_code_and_sign():
    lines = gpc_lines()
    lines[1] = replace_field(lines[1], 61, b"7")
    assert str(gpc_error(lines)) == "line 2: unknown posting code '7'"
    lines = gpc_lines()
    lines[0] = replace_field(lines[0], 60, b"*")
    assert gpc_error(lines).line == 1


# A NUL character (U+0000) cannot be stored in PostgreSQL text: refused naming line and field.
NUL = "contains a NUL character (U+0000)"


@pytest.mark.parametrize(
    ("line", "position", "what"),
    [
        (1, 25, "account name"),  # 074
        (1, 60, "old balance"),
        (2, 40, "document number"),  # 075
        (2, 65, "variable symbol"),
        (2, 98, "counter-party name"),
        (2, 128, "due date"),
        (4, 1, "record type"),  # 076
        (4, 50, "counter-party name"),
        (5, 70, "message"),  # 078
    ],
)
def test_gpc_nul_byte(line, position, what):
    lines = gpc_lines()
    lines[line - 1] = replace_field(lines[line - 1], position, b"\x00")
    assert str(gpc_error(lines)) == f"line {line}: {what} {NUL} at position {position}"


def test_gpc_nul_byte_in_a_trimmed_record_and_beyond_its_end():
    lines = gpc_lines()
    lines[4] = lines[4].rstrip() + b"\x00"
    assert str(gpc_error(lines)) == f"line 5: message {NUL} at position {len(lines[4])}"
    lines = gpc_lines()
    lines[2] += b"  \x00"
    assert str(gpc_error(lines)) == f"line 3: record {NUL} at position 131"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b'"Jan Nov\xc3\xa1k"', b'"Jan\\u0000Nov\xc3\xa1k"',
         f"line 21: column10 (N\u00e1zev proti\u00fa\u010dtu) {NUL}"),
        ("\u017dlu\u0165ou\u010dk\u00fd".encode(), b"\\u0000",
         f"line 272: column16 (Zpr\u00e1va pro p\u0159\u00edjemce) {NUL}"),
        (b'"Poplatek za', b'"\\u0000Poplatek za', f"line 345: column7 (U\u017eivatelsk\u00e1 identifikace) {NUL}"),
        (b'"value": "CZK"', b'"value": "CZ\\u0000K"', f"line 21: column14 (M\u011bna) {NUL}"),
        (b'"bankId": "2010"', b'"bankId": "2010\\u0000"', f"line 3: info.bankId {NUL}"),
        # a raw control character is invalid JSON anyway
        (b'"Jan Nov\xc3\xa1k"', b'"Jan\x00Nov\xc3\xa1k"',
         "line 48: invalid JSON: Invalid control character at"),
    ],
)
def test_fio_json_nul_character(old, new, message):
    data = sample("fio_2026-11.json")
    assert old in data
    assert str(error_of(data.replace(old, new, 1))).startswith(message)


def test_fio_json_escaped_backslash_before_u0000_is_no_nul():
    data = sample("fio_2026-11.json").replace(b'"Jan Nov', b'"Jan\\\\u0000 Nov', 1)
    names = {t.counter_name for t in parse_statement(data).transactions}
    assert "Jan\\u0000 Nov\u00e1k" in names


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (b"accountId;2001234567", b"accountId;2001234567\x00", f"line 1: column 2 {NUL}"),
        (b";0308;9001;", b";03\x0008;9001;", f"line 17: column 9 (KS) {NUL}"),
        (b"\nza listopad", b"\nza\x00listopad",  # a row over two lines: where it starts
         f"line 15: column 13 (Zpr\u00e1va pro p\u0159\u00edjemce) {NUL}"),
        (b"BIC;ID pokynu;", b"BIC;ID\x00pokynu;", f"line 13: column 19 {NUL}"),  # the header
    ],
)
def test_fio_csv_nul_character(old, new, message):
    data = sample("fio_2026-11.csv")
    assert old in data
    assert str(error_of(data.replace(old, new, 1))) == message


def test_fio_csv_non_numeric_amount():
    text = sample("fio_2026-11.csv").replace(b"-4 356,00", b"-4 356,0O")
    error = error_of(text)
    assert str(error) == "line 17: amount is not numeric ('-4 356,0O')"


def test_fio_csv_bad_date_and_missing_header():
    error = error_of(sample("fio_2026-11.csv").replace(b"05.11.2026;500", b"31.02.2026;500"))
    assert error.line == 18 and "31.02.2026" in error.reason
    assert "header" in error_of(b"accountId;2001234567\n", "fio-csv").reason


INTERNET_BANKING_CSV = "\r\n".join(
    [
        '"Výpis č. 12/2026 z účtu ""2001234567/2010"""',
        '"Majitel: Příkladnet s.r.o., Nádražní 12, 280 02 Kolín"',
        '"Období: 01.12.2026 - 06.12.2026"',
        '"Počáteční stav účtu k 01.12.2026: 15 055,00 CZK"',
        '"Koncový stav účtu k 06.12.2026: 15 205,00 CZK"',
        '""',
        '"ID pohybu";"Datum";"Objem";"Měna";"Protiúčet";"Název protiúčtu";"Kód banky";"KS";'
        '"VS";"SS";"Uživatelská identifikace";"Zpráva pro příjemce";"Typ";"Komentář"',
        '"27412345680";"06.12.2026";"150,00";"CZK";"19-2000145399";"Pospíšilová Zdeňka";'
        '"0800";"0308";"1012";"2026000081";"";"doplatek";"Bezhotovostní příjem";""',
        "",
    ]
)


@pytest.mark.parametrize(
    ("first_line", "account"),
    [
        ('"Výpis č. 12/2026 z účtu ""2001234567/2010"""', OWN),  # number/year comes first
        ('"Výpis č. 245/2026 z účtu 19-2000145399/0800"', "19-2000145399/0800"),
        ('"Statement no. 12/2026"\n"Account 2001234567/2010"', OWN),  # no Czech word
    ],
)
def test_fio_internet_banking_csv_names_our_account_after_the_statement_number(first_line, account):
    data = INTERNET_BANKING_CSV.replace(INTERNET_BANKING_CSV.split("\r\n")[0], first_line, 1)
    result = parse_statement(data.encode())
    assert (result.format, result.account) == ("fio-csv", account)
    assert (result.opening_balance, result.closing_balance) == (D("15055.00"), D("15205.00"))
    assert [(t.bank_tx_id, t.amount, t.variable_symbol) for t in result.transactions] == [
        ("27412345680", D("150.00"), "1012")
    ]


@pytest.mark.parametrize(
    ("name", "old", "new", "line", "amount"),
    [
        ("fio_2026-11.json", b'"value": 799.0,', b'"value": 799.005,', 21, "799.005"),
        ("fio_2026-11.csv", b";799,00;", b";799,001;", 14, "799.001"),
        ("camt053_2026-11.xml", b"<Amt Ccy=\"CZK\">799.00</Amt>", b"<Amt Ccy=\"CZK\">799.009</Amt>",
         74, "799.009"),
    ],
)
def test_a_fraction_of_a_haler_is_refused_with_its_line(name, old, new, line, amount):
    data = sample(name).replace(old, new, 1)
    assert data != sample(name)
    error = error_of(data)
    assert (error.line, error.reason) == (line, f"amount {amount} has more than two decimal places")


def test_fio_json_malformed():
    data = sample("fio_2026-11.json").replace(b'"column1": {', b'"column1": {{', 1)
    error = error_of(data)
    assert error.line == 32 and error.reason.startswith("invalid JSON")


def test_fio_json_non_numeric_amount():
    data = sample("fio_2026-11.json").replace(b'"value": -4356.0', b'"value": "abc"')
    error = error_of(data)
    assert error.line == 187 and error.reason == "amount is not numeric ('abc')"


def test_fio_json_single_line_uses_line_one():
    import json

    compact = json.dumps(json.loads(sample("fio_2026-11.json"))).encode()
    assert {t.line for t in parse_statement(compact).transactions} == {1}


def test_fio_json_epoch_milliseconds_dates():
    data = (
        b'{"accountStatement": {"info": {"accountId": "2001234567", "bankId": "2010"},'
        b' "transactionList": {"transaction": [{"column22": {"value": 1148734530},'
        b' "column0": {"value": 1340661600000}, "column1": {"value": 1.0}}]}}}'
    )
    [only] = parse_statement(data).transactions
    assert only.booked_on == date(2012, 6, 26) and only.amount == D("1.0")  # Prague midnight


CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <Stmt>
      <Id>S1</Id>
      <Acct><Id><IBAN>CZ4720100000002001234567</IBAN></Id></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">100.00</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-04</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">{closing}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-05</Dt></Dt></Bal>
      {entries}
    </Stmt>
  </BkToCstmrStmt>
</Document>
"""
ENTRY = """<Ntry>
        <Amt Ccy="CZK">{amount}</Amt><CdtDbtInd>{cdi}</CdtDbtInd>{reversal}
        <Sts><Cd>BOOK</Cd></Sts><BookgDt><DtTm>2026-11-05T10:00:00</DtTm></BookgDt>
        <AcctSvcrRef>{ref}</AcctSvcrRef>{details}
      </Ntry>"""


def camt(closing: str, *entries: str) -> bytes:
    return CAMT.format(closing=closing, entries="\n      ".join(entries)).encode()


def entry(amount: str, ref: str, cdi: str = "CRDT", reversal: str = "", details: str = "") -> str:
    return ENTRY.format(amount=amount, cdi=cdi, reversal=reversal, ref=ref, details=details)


def test_camt_newer_version_and_batch_entries():
    batch = entry("300.00", "B1", details="""<NtryDtls>
        <TxDtls><Refs><AcctSvcrRef>B1-a</AcctSvcrRef><EndToEndId>1005</EndToEndId></Refs>
          <Amt Ccy="CZK">100.00</Amt></TxDtls>
        <TxDtls><Refs><EndToEndId>VS1006</EndToEndId></Refs><Amt Ccy="CZK">200.00</Amt>
          <RltdPties><Dbtr><Pty><Nm>Eva Malá</Nm></Pty></Dbtr></RltdPties></TxDtls>
        </NtryDtls>""")  # fmt: skip
    parsed = parse_statement(camt("400.00", batch))
    assert parsed.format == "camt053" and parsed.statement_date == date(2026, 11, 5)
    first, second = parsed.transactions
    assert (first.bank_tx_id, first.amount, first.variable_symbol) == ("B1-a", D(100), "1005")
    assert (second.bank_tx_id, second.amount, second.variable_symbol) == ("B1-2", D(200), "1006")
    assert second.counter_name == "Eva Malá" and second.line == first.line + 2


def test_camt_reversal_reading_follows_the_balances():
    reversed_debit = entry("50.00", "R1", cdi="CRDT", reversal="<RvslInd>true</RvslInd>")
    # the closing balance says the money came back in: the indicator is the direction here
    [only] = parse_statement(camt("150.00", reversed_debit)).transactions
    assert only.amount == D("50.00")
    [only] = parse_statement(camt("50.00", reversed_debit)).transactions
    assert only.amount == D("-50.00")


def test_camt_entries_must_add_up():
    data = camt("999.00", entry("50.00", "A"))
    error = error_of(data)
    assert error.line == 4 and "do not add up" in error.reason


def test_camt_non_numeric_amount():
    data = camt("150.00", entry("5O.00", "A"))
    error = error_of(data)
    assert error.line == 12 and error.reason == "amount is not numeric ('5O.00')"


def test_camt_malformed_xml():
    data = sample("camt053_2026-11.xml").replace(b"</Dbtr>", b"</Dbtor>", 1)
    error = error_of(data)
    assert error.line == 111 and error.reason.startswith("malformed XML: mismatched tag")


@pytest.mark.parametrize("nul", [b"\x00", b"&#0;", b"&#x0;", b"&#x000;", b"&#00;"])
def test_camt_nul_character(nul):
    """XML cannot contain NUL, as a byte or as a character reference: expat refuses it."""
    data = sample("camt053_2026-11.xml").replace(b"Petr ", b"Petr " + nul, 1)
    assert str(error_of(data)) == "line 270: malformed XML: a NUL character (U+0000) is not allowed in XML"
    attribute = sample("camt053_2026-11.xml").replace(b'Ccy="CZK"', b'Ccy="CZK' + nul + b'"', 1)
    assert error_of(attribute).reason.endswith("a NUL character (U+0000) is not allowed in XML")


def test_camt_nul_character_in_utf16_and_other_bad_references():
    text = sample("camt053_2026-11.xml").decode()
    data = text.replace('encoding="UTF-8"', 'encoding="UTF-16"').replace("Petr ", "Petr \x00")
    assert str(error_of(data.encode("utf-16"), "camt053")).startswith("line 270: malformed XML:")
    data = sample("camt053_2026-11.xml").replace(b"Petr ", b"Petr &#1;", 1)
    message = "line 270: malformed XML: reference to invalid character number"
    assert str(error_of(data)) == message


@pytest.mark.parametrize(
    "prologue",
    [
        b'<!DOCTYPE lol [<!ENTITY a "aaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>\n',
        b'<!DOCTYPE Document SYSTEM "file:///etc/passwd">\n',
    ],
)
def test_camt_refuses_dtds_and_entities(prologue):
    data = sample("camt053_2026-11.xml").replace(b"?>\n", b"?>\n" + prologue, 1)
    error = error_of(data)
    assert error.line == 2 and "DTD" in error.reason


def test_camt_refuses_dtd_in_utf16():
    data = ('<?xml version="1.0" encoding="UTF-16"?>\n<!DOCTYPE d [<!ENTITY a "x">]>\n'
            "<Document><BkToCstmrStmt/></Document>").encode("utf-16")  # fmt: skip
    assert "DTD" in error_of(data, "camt053").reason
