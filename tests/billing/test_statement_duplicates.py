"""Issue 13, item 4: one movement in statements of several formats pays once.

A movement without a bank id gets an id derived from the movement itself, the same in every
format; a movement that looks like one stored from a statement in another format (same
account, day, amount, symbols, counter-account, another id) waits in the unmatched queue as
a suspected duplicate instead of being paired."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.bank.importing import import_statement
from billing.bank.pairing import credit_available
from billing.bank.queue import dismiss, unmatched
from billing.bank.statements import parse_statement
from billing.models import AuditEvent, BankTransaction, LedgerEntry

D = Decimal
OWN = "2001234567/2010"

# The same 500 Kč from Petr Šťastný (670100-2212345678/6210), VS 1003, booked 5 Nov 2026,
# on our account 2001234567/2010, in the four formats; each statement opens at 1000.00.
GPC = (  # an empty document number: no bank id
    "0740000002001234567Příkladnet s.r.o.   04112600000000100000+00000000150000+"
    "000000000000000000000000500000045051126              \r\n"
    "0750000002001234567670100221234567800000000000000000000500002000000100300621000000"
    "000000000051126Petr Šťastný        00203051126\r\n"
).encode("cp1250")
FIO_CSV = "\r\n".join([
    "accountId;2001234567", "bankId;2010", "currency;CZK", "openingBalance;1000,00",
    "closingBalance;1500,00", "dateEnd;05.11.2026", "",
    "ID pohybu;Datum;Objem;Měna;Protiúčet;Název protiúčtu;Kód banky;KS;VS;SS;"
    "Zpráva pro příjemce;",
    "27000000045;05.11.2026;500,00;CZK;670100-2212345678;Petr Šťastný;6210;;1003;;internet;",
    "",
]).encode()
FIO_JSON = """{"accountStatement": {
  "info": {"accountId": "2001234567", "bankId": "2010", "currency": "CZK",
           "openingBalance": 1000.00, "closingBalance": 1500.00, "dateEnd": "2026-11-05+0100"},
  "transactionList": {"transaction": [
    {"column22": {"value": 27000000045, "name": "ID pohybu", "id": 22},
     "column0": {"value": "2026-11-05+0100", "name": "Datum", "id": 0},
     "column1": {"value": 500.00, "name": "Objem", "id": 1},
     "column2": {"value": "670100-2212345678", "name": "Protiúčet", "id": 2},
     "column3": {"value": "6210", "name": "Kód banky", "id": 3},
     "column5": {"value": "1003", "name": "VS", "id": 5},
     "column10": {"value": "Petr Šťastný", "name": "Název protiúčtu", "id": 10}}
  ]}}}
""".encode()
CAMT = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt><Stmt>
  <Id>2001234567-2026-045</Id>
  <Acct><Id><IBAN>CZ4720100000002001234567</IBAN></Id><Ccy>CZK</Ccy></Acct>
  <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">1000.00</Amt>
   <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-04</Dt></Dt></Bal>
  <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="CZK">1500.00</Amt>
   <CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2026-11-05</Dt></Dt></Bal>
  <Ntry>
   <Amt Ccy="CZK">500.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
   <BookgDt><Dt>2026-11-05</Dt></BookgDt>
   <NtryDtls><TxDtls>
    <Refs><EndToEndId>/VS/1003</EndToEndId></Refs>
    <RltdPties><Dbtr><Nm>Petr Šťastný</Nm></Dbtr>
     <DbtrAcct><Id><IBAN>CZ6562106701002212345678</IBAN></Id></DbtrAcct></RltdPties>
   </TxDtls></NtryDtls>
  </Ntry>
 </Stmt></BkToCstmrStmt>
</Document>
""".encode()
FILES = {"gpc": GPC, "fio-csv": FIO_CSV, "fio-json": FIO_JSON, "camt053": CAMT}


def test_the_four_files_describe_one_movement():
    parsed = {fmt: parse_statement(data) for fmt, data in FILES.items()}
    assert {p.format for p in parsed.values()} == set(FILES)
    fields = {
        (t.booked_on, t.amount, t.variable_symbol, t.specific_symbol, t.constant_symbol,
         t.counter_account)
        for p in parsed.values() for t in p.transactions
    }
    assert len(fields) == 1
    ids = {fmt: p.transactions[0].bank_tx_id for fmt, p in parsed.items()}
    # no bank id in GPC (empty document number) nor camt.053 (no AcctSvcrRef): one derived id
    # (before: "20261105-045-00001" and "2001234567-2026-045-00001")
    assert ids["gpc"] == ids["camt053"] and ids["gpc"].startswith("noid-")
    assert ids["fio-csv"] == ids["fio-json"] == "27000000045"


@pytest.mark.parametrize("order", list(itertools.permutations(FILES)),
                         ids=lambda order: ",".join(order))
def test_the_same_movement_in_four_formats_pays_once(session, make_customer, order):
    customer = make_customer(number="1003")
    session.commit()
    reports = [import_statement(session, FILES[fmt], f"vypis.{fmt}", bank_code="2010")
               for fmt in order]
    session.commit()
    assert reports[0].matched == 1
    assert sum(r.matched for r in reports) == 1
    stored = session.scalars(select(BankTransaction).order_by(BankTransaction.id)).all()
    assert len(stored) == 2  # the Fio id once, the derived id once
    paid, held = stored
    assert (paid.status, paid.customer_id, paid.duplicate_of) == ("matched", customer.id, None)
    assert (held.status, held.customer_id, held.duplicate_of) == ("unmatched", None, paid.id)
    assert sum(r.held for r in reports) == 1
    assert credit_available(session, customer.id) == D("500.00")
    payments = session.scalar(select(func.count(LedgerEntry.id))
                              .where(LedgerEntry.kind == "payment"))
    assert payments == 1
    assert [t.id for t in unmatched(session)] == [held.id]
    # the operator sees the suspicion and takes it out of the queue
    dismiss(session, held, actor="operator:test", reason="the same payment from the GPC file")
    session.commit()
    assert unmatched(session) == []


def test_a_second_payment_in_the_same_format_is_not_held(session, make_customer):
    """Two Fio exports with two ids are two payments: the same format gives one movement
    one id, so the second one is paired, not held."""
    make_customer(number="1003")
    session.commit()
    import_statement(session, FIO_CSV, "a.csv")
    second = FIO_CSV.replace(b"27000000045", b"27000000046")
    report = import_statement(session, second, "b.csv")
    session.commit()
    assert (report.new, report.matched, report.held) == (1, 1, 0)


def test_the_queue_listing_and_the_report_name_the_suspected_duplicate(app, session,
                                                                       make_customer, tmp_path):
    make_customer(number="1003")
    session.commit()
    runner = app.test_cli_runner()
    for fmt in ("gpc", "fio-json"):
        path = tmp_path / f"vypis.{fmt}"
        path.write_bytes(FILES[fmt])
        result = runner.invoke(args=["payments", "import", "--any-account", str(path)])
        assert result.exit_code == 0, result.output
    assert "of them 1 held as suspected duplicates" in result.output
    paid = session.scalar(select(BankTransaction.id).where(BankTransaction.status == "matched"))
    listing = runner.invoke(args=["payments", "unmatched"]).output
    assert f"[suspected duplicate of {paid}: dismiss it if it is]" in listing
    # assigning it by hand would pay the customer twice: refused, nothing written
    held = session.scalar(select(BankTransaction.id).where(BankTransaction.status == "unmatched"))
    refused = runner.invoke(args=["payments", "assign", str(held), "1003"])
    assert refused.exit_code == 1 and f"looks like transaction {paid}" in refused.output
    session.rollback()
    assert session.get(BankTransaction, held).status == "unmatched"
    # unless the operator says it is a payment of its own (audited)
    done = runner.invoke(args=["payments", "assign", str(held), "1003", "--not-a-duplicate"])
    assert done.exit_code == 0, done.output
    session.rollback()  # a fresh read: the command committed in its own session
    row = session.get(BankTransaction, held)
    assert (row.status, row.duplicate_of) == ("matched", None)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.assigned")).one()
    assert f'"not_a_duplicate_of": "{paid}"' in event.details
