"""Issue 13, item 3: a statement whose movements do not add up to its balances, that lists
one bank id twice, or that is cut off, is refused with the line and the reason; nothing is
written. Small files made by hand (or a sample with one change)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.bank.importing import StatementError, import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction, parse_statement
from billing.bank.statements.gpc_render import render_gpc
from billing.models import AuditEvent, BankTransaction, LedgerEntry, StatementImport

D = Decimal
SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def error_of(data: bytes, fmt: str | None = None) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse_statement(data, fmt)
    return caught.value


# --- Fio JSON --------------------------------------------------------------------------

FIO_JSON = """{{
  "accountStatement": {{
    "info": {{
      "accountId": "2001234567", "bankId": "2010", "currency": "CZK",
      "openingBalance": {opening}, "closingBalance": {closing},
      "dateStart": "2026-11-03+0100", "dateEnd": "2026-11-03+0100"
    }},
    "transactionList": {{
      "transaction": [
{items}
      ]
    }}
  }}
}}
"""
FIO_ITEM = """        {{
          "column22": {{"value": {id}, "name": "ID pohybu", "id": 22}},
          "column0": {{"value": "2026-11-03+0100", "name": "Datum", "id": 0}},
          "column1": {{"value": {amount}, "name": "Objem", "id": 1}},
          "column5": {{"value": "1003", "name": "VS", "id": 5}}
        }}"""


def fio_json(opening: str, closing: str, *items: tuple[int, str]) -> bytes:
    body = ",\n".join(FIO_ITEM.format(id=i, amount=a) for i, a in items)
    return FIO_JSON.format(opening=opening, closing=closing, items=body).encode()


def test_fio_json_that_adds_up_is_accepted():
    parsed = parse_statement(fio_json("100.00", "1600.00", (11, "500.00"), (12, "1000.00")))
    assert [(t.bank_tx_id, t.amount, t.line) for t in parsed.transactions] == [
        ("11", D("500.00"), 10), ("12", D("1000.00"), 16)]


def test_fio_json_balances_must_add_up():
    # the second movement (1,000,000 Kč) left out of the file, the balances kept
    error = error_of(fio_json("100.00", "1000600.00", (11, "500.00")))
    assert error.line == 3  # the info object, which states the balances
    assert "do not add up" in error.reason and "1000600.00" in error.reason


def test_fio_json_repeated_id_pohybu_is_refused():
    # before: "1 already imported", and the 1,000,000 Kč movement was silently dropped
    data = fio_json("100.00", "1000600.00", (11, "500.00"), (11, "1000000.00"))
    error = error_of(data)
    assert error.line == 16
    assert "ID pohybu (column22) '11' is repeated" in error.reason and "line 10" in error.reason


def test_fio_json_array_located_wrongly_falls_back_to_the_whole_document():
    # a "transaction": [ inside a string must not be taken for the array
    data = fio_json("0", "500.00", (11, "500.00")).replace(
        b'"CZK",', b'"CZK", "note": "\\"transaction\\": [",', 1)
    [only] = parse_statement(data).transactions
    assert only.bank_tx_id == "11" and only.line == 10


# --- Fio CSV ---------------------------------------------------------------------------

FIO_CSV = "\r\n".join([
    "accountId;2001234567", "bankId;2010", "currency;CZK", "openingBalance;100,00",
    "closingBalance;1600,00", "dateEnd;03.11.2026", "",
    "ID pohybu;Datum;Objem;Měna;Protiúčet;Kód banky;KS;VS;SS;Zpráva pro příjemce;",
    '11;03.11.2026;500,00;CZK;123456789;0800;;1003;;"platba ""listopad""";',
    '12;03.11.2026;1 000,00;CZK;123456789;0800;;1003;;"druhá\r\nplatba";',
    "",
]).encode()


def test_fio_csv_that_adds_up_is_accepted():
    parsed = parse_statement(FIO_CSV)
    assert [(t.bank_tx_id, t.amount, t.line) for t in parsed.transactions] == [
        ("11", D("500.00"), 9), ("12", D("1000.00"), 10)]


def test_fio_csv_cut_after_the_first_row_is_refused():
    cut = FIO_CSV[: FIO_CSV.index(b"12;03.11")]
    error = error_of(cut)
    assert error.line == 5 and "do not add up" in error.reason  # the closingBalance line


def test_fio_csv_cut_inside_a_quoted_field_is_refused():
    cut = FIO_CSV[: FIO_CSV.index(b"\r\nplatba")]
    error = error_of(cut)
    assert error.line == 10
    assert error.reason == "malformed CSV: the file ends inside a quoted field (it is cut off)"


def test_fio_csv_cut_inside_a_row_is_refused():
    cut = FIO_CSV[: FIO_CSV.index(b";1003;;\"druh")]
    error = error_of(cut)
    assert error.line == 10 and "row has 7 columns, the header has 11" in error.reason


def test_fio_csv_repeated_id_pohybu_is_refused():
    data = FIO_CSV.replace(b"\r\n12;", b"\r\n11;")
    error = error_of(data)
    assert error.line == 10 and "ID pohybu '11' is repeated" in error.reason
    assert "line 9" in error.reason


def test_fio_csv_balances_must_add_up():
    error = error_of(FIO_CSV.replace(b"1 000,00", b"1 000 000,00"))
    assert error.line == 5 and "closing balance is 1600.00" in error.reason


# --- GPC -------------------------------------------------------------------------------


def tx(tx_id: str, amount: str, day: int = 3) -> ParsedTransaction:
    from datetime import date

    return ParsedTransaction(tx_id, date(2026, 11, day), D(amount), "CZK", "1003", None, None,
                             "123456789/0800", "Jan Novák", None, 0)


def gpc(opening: str, *txs: ParsedTransaction, number: int = 1, day: int = 3) -> bytes:
    from datetime import date

    return render_gpc(ParsedStatement("gpc", "2001234567/2010", list(txs), D(opening), None,
                                      date(2026, 11, day)), statement_number=number)


def test_gpc_statements_must_chain():
    first = gpc("100.00", tx("11", "500.00"))
    second = gpc("600.00", tx("12", "50.00", day=4), number=2, day=4)
    assert len(parse_statement(first + second).transactions) == 2
    gap = gpc("700.00", tx("12", "50.00", day=4), number=2, day=4)  # a statement left out
    error = error_of(first + gap)
    assert error.line == 3
    assert "old balance 700.00 is not the new balance 600.00" in error.reason


def test_gpc_turnovers_and_balances_are_checked():
    lines = gpc("100.00", tx("11", "500.00"), tx("12", "-20.00")).split(b"\r\n")
    lines.pop(2)  # the 075 of movement 12: its header still counts it
    error = error_of(b"\r\n".join(lines))
    assert error.line == 1 and "debits 0.00 (header 20.00)" in error.reason


# --- camt.053 --------------------------------------------------------------------------

CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
  <BkToCstmrStmt>
{statements}
  </BkToCstmrStmt>
</Document>
"""
STMT = """    <Stmt>
      <Id>{id}</Id>
      <Acct><Id><IBAN>CZ4720100000002001234567</IBAN></Id></Acct>
      <Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">{opening}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-03</Dt></Dt></Bal>
      <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">{closing}</Amt>
        <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-03</Dt></Dt></Bal>
      <TxsSummry>
        <TtlNtries><NbOfNtries>{count}</NbOfNtries><Sum>{total}</Sum></TtlNtries>
        <TtlCdtNtries><NbOfNtries>{count}</NbOfNtries><Sum>{total}</Sum></TtlCdtNtries>
      </TxsSummry>
{entries}
    </Stmt>"""
NTRY = """      <Ntry>
        <Amt Ccy="CZK">{amount}</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
        <BookgDt><Dt>2026-11-03</Dt></BookgDt><AcctSvcrRef>{ref}</AcctSvcrRef>
      </Ntry>"""


def stmt(stmt_id: str, opening: str, closing: str, *entries: tuple[str, str],
         count: int | None = None, total: str | None = None) -> str:
    return STMT.format(
        id=stmt_id, opening=opening, closing=closing,
        count=len(entries) if count is None else count,
        total=total or str(sum(D(a) for _, a in entries)),
        entries="\n".join(NTRY.format(ref=r, amount=a) for r, a in entries))


def camt(*statements: str) -> bytes:
    return CAMT.format(statements="\n".join(statements)).encode()


def test_camt_that_adds_up_is_accepted():
    data = camt(stmt("S1", "100.00", "1600.00", ("A", "500.00"), ("B", "1000.00")),
                stmt("S2", "1600.00", "1650.00", ("C", "50.00")))
    parsed = parse_statement(data)
    assert [t.bank_tx_id for t in parsed.transactions] == ["A", "B", "C"]


def test_camt_summary_count_must_match():
    data = camt(stmt("S1", "100.00", "600.00", ("A", "500.00"), count=2, total="1500.00"))
    error = error_of(data)
    assert error.line == 12  # the NbOfNtries element
    assert "TxsSummry/TtlNtries/NbOfNtries says 2" in error.reason


def test_camt_summary_sum_must_match():
    data = camt(stmt("S1", "100.00", "600.00", ("A", "500.00"), total="1500.00"))
    error = error_of(data)
    assert error.line == 12 and "TtlNtries/Sum says 1500.00" in error.reason


def test_camt_repeated_acctsvcrref_is_refused():
    data = camt(stmt("S1", "100.00", "1100.00", ("A", "500.00"), ("A", "500.00")))
    error = error_of(data)
    assert error.line == 19 and "AcctSvcrRef 'A' is repeated" in error.reason
    assert "line 15" in error.reason


def test_camt_statements_must_chain():
    data = camt(stmt("S1", "100.00", "600.00", ("A", "500.00")),
                stmt("S2", "700.00", "750.00", ("C", "50.00")))
    error = error_of(data)
    assert error.line == 20 and "not the closing balance 600.00" in error.reason


def test_camt_balances_must_add_up():
    error = error_of(camt(stmt("S1", "100.00", "1000600.00", ("A", "500.00"))))
    assert error.line == 4 and "do not add up" in error.reason


# --- nothing is written ----------------------------------------------------------------

REFUSED = {
    "fio-json sum": (fio_json("100.00", "1000600.00", (11, "500.00")), "line 3: "),
    "fio-json repeated id": (
        fio_json("100.00", "1000600.00", (11, "500.00"), (11, "1000000.00")), "line 16: "),
    "fio-csv cut": (FIO_CSV[: FIO_CSV.index(b"12;03.11")], "line 5: "),
    "fio-csv quote": (FIO_CSV[: FIO_CSV.index(b"\r\nplatba")], "line 10: "),
    "gpc chain": (gpc("100.00", tx("11", "500.00"))
                  + gpc("700.00", tx("12", "50.00", day=4), number=2, day=4), "line 3: "),
    "camt summary": (camt(stmt("S1", "100.00", "600.00", ("A", "500.00"), count=2)),
                     "line 12: "),
    "camt repeated id": (camt(stmt("S1", "100.00", "1100.00", ("A", "500.00"),
                                   ("A", "500.00"))), "line 19: "),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_refused_statement_writes_nothing(app, session, tmp_path, case):
    data, where = REFUSED[case]
    path = tmp_path / "vypis"
    path.write_bytes(data)
    result = app.test_cli_runner().invoke(args=["payments", "import", "--any-account", str(path)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.exception
    assert f"Error: {path}: {where}" in result.output and "(nothing was imported)" in result.output
    for table in (BankTransaction, StatementImport, AuditEvent, LedgerEntry):
        assert session.scalar(select(func.count()).select_from(table)) == 0


# --- size ------------------------------------------------------------------------------


def test_a_file_over_the_size_limit_is_refused(app, session, tmp_path):
    path = tmp_path / "big.json"
    data = fio_json("0", "500.00", (11, "500.00"))
    path.write_bytes(data)
    app.config["STATEMENT_MAX_BYTES"] = len(data) - 1
    result = app.test_cli_runner().invoke(args=["payments", "import", "--any-account", str(path)])
    assert result.exit_code == 1
    assert (f"Error: {path}: the file has {len(data):,} bytes, more than the "
            f"{len(data) - 1:,} a statement may have (setting STATEMENT_MAX_BYTES)") in result.output
    assert session.scalar(select(func.count()).select_from(StatementImport)) == 0
    with pytest.raises(StatementError, match="STATEMENT_MAX_BYTES"):
        import_statement(session, data, "big.json", max_bytes=len(data) - 1)
    app.config["STATEMENT_MAX_BYTES"] = len(data)
    result = app.test_cli_runner().invoke(args=["payments", "import", "--any-account", str(path)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("name", ["statement_2026-11.gpc", "fio_2026-11.csv",
                                  "fio_2026-11.json", "camt053_2026-11.xml"])
def test_a_file_read_line_by_line_parses_as_its_bytes(name):
    with (SAMPLES / name).open("rb") as file:
        from_file = parse_statement(file)
    assert from_file == parse_statement(sample(name))


def test_a_file_read_line_by_line_names_the_line_of_a_nul(tmp_path):
    data = sample("statement_2026-11.gpc").replace("Jan Novák".encode("cp1250"),
                                                  "Jan\0Novák".encode("cp1250"))
    path = tmp_path / "x.gpc"
    path.write_bytes(data)
    with path.open("rb") as file, pytest.raises(StatementError) as caught:
        parse_statement(file)
    assert str(caught.value) == str(error_of(data))
    assert str(caught.value) == ("line 2: counter-party name contains a NUL character (U+0000) "
                                 "at position 101")
