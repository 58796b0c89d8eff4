"""Migration 0008 converts a 0007 database to the double-entry ledger exactly.

The 0007 database holds what the 0007-era code wrote: the demo (customers, a year of
invoices and payments, VoIP lines with calls and a top-up), a bank statement (paid, unknown
and outgoing movements), a credit note, an advance invoice and a payment unpaired from the
wrong customer and paired with the right one. It is made by running today's code on a
database of its own and writing the same rows into a database migrated to 0007: every
table as it is, the old single-entry ``ledger_entry`` rows (what the view now shows) and
each VoIP line's credit column. Every customer's balance, every invoice's paid amount,
every line's credit and every ledger entry are recorded with 0007's own SQL, the database
is upgraded to 0008 and they must come out equal to the haléř; and again after a downgrade.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import MetaData, inspect, select, text

from billing import demo
from billing.bank.importing import import_statement
from billing.bank.queue import assign, unmatched
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_credit_note, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger.balances import customer_balance, line_credit, paid_amounts
from billing.models import (
    BankTransaction,
    Customer,
    Invoice,
    LedgerEntry,
    LedgerLeg,
    LedgerTransaction,
)
from billing.unpairing import unassign
from core import schema
from core.clock import today
from core.db import make_session_factory, money_sum
from voip import demo as voip_demo

ACCOUNT = "2001234567/2010"


@pytest.fixture
def old_engine(fresh_engine):
    """An empty database of this test's own, built by the old migrations in the test."""
    return fresh_engine


def build_money_history(session, supplier) -> None:
    """The demo, a statement, a credit note, an advance invoice and an unpairing."""
    demo.load(session, supplier)
    voip_demo.load(session, supplier, {})
    session.commit()
    customers = session.scalars(select(Customer).order_by(Customer.id)).all()
    first, second = customers[0], customers[1]
    regular = session.scalars(
        select(Invoice).where(Invoice.customer_id == first.id, Invoice.kind == "regular")
        .order_by(Invoice.id)
    ).first()
    issue_credit_note(session, regular, [LineInput("Sleva", D("1"), D("-50.00"))], supplier,
                      "sleva za výpadek", actor="operator:test")
    issue_invoice(session, second, [LineInput("Záloha na router", D("1"), D("1210.00"))],
                  supplier, IssueOptions(kind="advance", actor="operator:test"))
    day = today() - timedelta(days=1)
    moves = [
        ParsedTransaction(bank_tx_id=f"9{n:04d}", booked_on=day, amount=D(amount), currency="CZK",
                          variable_symbol=vs, specific_symbol=None, constant_symbol=None,
                          counter_account="123456789/0800", counter_name="Jan Novák",
                          message=None, line=0)
        for n, (amount, vs) in enumerate([
            ("999.00", first.customer_number), ("1210.00", second.customer_number),
            ("333.33", "4242424242"), ("-500.00", None), ("77.70", customers[2].customer_number),
        ])
    ]
    import_statement(session, render_gpc(ParsedStatement("gpc", ACCOUNT, moves, D("10000.00"))),
                     "vypis.gpc")
    session.commit()
    wrong = session.scalars(
        select(LedgerEntry).where(LedgerEntry.kind == "payment",
                                  LedgerEntry.customer_id == customers[2].id)
        .order_by(LedgerEntry.id.desc())
    ).first()
    tx = session.get(BankTransaction, wrong.bank_transaction_id)
    unassign(session, tx, "operator:test", "paid by the fourth customer")
    assign(session, unmatched(session)[-1], customers[3], actor="operator:test")
    session.commit()


def copy_as_0007(new_engine, old_engine) -> None:
    """Write into the 0007 database what the 0007-era code had written for the same history."""
    schema.upgrade(old_engine, "0007")
    new_meta, old_meta = MetaData(), MetaData()
    new_meta.reflect(new_engine)
    old_meta.reflect(old_engine)
    with new_engine.connect() as src, old_engine.begin() as dst:
        for table in old_meta.sorted_tables:
            if table.name in ("alembic_version", "ledger_entry"):
                continue
            source = new_meta.tables[RENAMED.get(table.name, table.name)]
            shared = [c.name for c in table.columns if c.name in source.columns]
            order = [source.c[c.name] for c in source.primary_key.columns]
            rows = [dict(r._mapping) for r in src.execute(
                select(*[source.c[name] for name in shared]).order_by(*order))]
            if table.name == "voip_account":
                credits = {sid: raw_line_credit(src, sid) for sid in (r["service_id"] for r in rows)}
                for row in rows:
                    row["credit"] = credits[row["service_id"]]
            if rows:
                dst.execute(table.insert(), rows)
        entries = [dict(r._mapping) for r in src.execute(text(
            "SELECT id, customer_id, booked_on, kind, amount, invoice_id, bank_transaction_id, "
            "reverses_id, description, created_at FROM ledger_entry ORDER BY id"))]
        for entry in entries:  # SQLite hands the view's dates back as text
            if isinstance(entry["booked_on"], str):
                entry["booked_on"] = date.fromisoformat(entry["booked_on"])
            if isinstance(entry["created_at"], str):
                entry["created_at"] = datetime.fromisoformat(entry["created_at"])
        dst.execute(old_meta.tables["ledger_entry"].insert(), entries)


# tables renamed since 0007 (0007's name -> today's): migration 0011
RENAMED = {"voip_account": "voip_line"}


def line_table(session) -> str:
    """The VoIP lines' table at the database's revision (voip_line from 0011 on)."""
    return "voip_line" if inspect(session.connection()).has_table("voip_line") else "voip_account"


def raw_line_credit(conn, service_id):
    """The line's credit as the database stores money (haléře on SQLite)."""
    return conn.execute(text(
        "SELECT coalesce(-sum(l.amount), 0) FROM ledger_leg l JOIN ledger_account a "
        "ON a.id = l.account_id WHERE a.kind = 'voip_line_credit' AND a.service_id = :sid"
    ), {"sid": service_id}).scalar_one()


def money(engine, value) -> D:
    if value is None:
        return D("0.00")
    if engine.dialect.name == "sqlite":
        return (D(int(value)) / 100).quantize(D("0.01"))
    return D(value).quantize(D("0.01"))


def state_0007(engine) -> dict:
    """Balances, paid amounts, line credits and ledger entries, with 0007's own SQL."""
    with engine.connect() as conn:
        balances = {cid: money(engine, total) for cid, total in conn.execute(text(
            "SELECT c.id, (SELECT sum(amount) FROM ledger_entry e WHERE e.customer_id = c.id) "
            "FROM customer c"))}
        paid = {iid: money(engine, total) for iid, total in conn.execute(text(
            "SELECT i.id, (SELECT sum(amount) FROM allocation a WHERE a.invoice_id = i.id) "
            "FROM invoice i"))}
        credits = {sid: money(engine, credit) for sid, credit in conn.execute(text(
            "SELECT service_id, credit FROM voip_account"))}
        entries = [(i, c, str(b), k, money(engine, a), inv, tx, rev) for i, c, b, k, a, inv, tx, rev
                   in conn.execute(text(
                       "SELECT id, customer_id, booked_on, kind, amount, invoice_id, "
                       "bank_transaction_id, reverses_id FROM ledger_entry ORDER BY id"))]
    return {"balances": balances, "paid": paid, "credits": credits, "entries": entries}


def state_0008(engine) -> dict:
    """The same, read by today's code from the ledger's legs."""
    with make_session_factory(engine)() as s:
        customers = s.scalars(select(Customer.id)).all()
        invoices = s.scalars(select(Invoice.id)).all()
        paid = paid_amounts(s, invoices)
        lines = s.scalars(text(f"SELECT service_id FROM {line_table(s)}")).all()
        entries = [(e.id, e.customer_id, str(e.booked_on), e.kind, e.amount, e.invoice_id,
                    e.bank_transaction_id, e.reverses_id)
                   for e in s.scalars(select(LedgerEntry).order_by(LedgerEntry.id))]
        return {
            "balances": {cid: customer_balance(s, cid) for cid in customers},
            "paid": {iid: paid.get(iid, D("0.00")) for iid in invoices},
            "credits": {sid: line_credit(s, sid) for sid in lines},
            "entries": entries,
        }


def test_upgrade_keeps_every_balance_paid_amount_and_credit(session, supplier, engine, old_engine,
                                                            monkeypatch):
    from argon2 import PasswordHasher

    monkeypatch.setattr(demo, "hash_password",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash,
                        raising=False)
    build_money_history(session, supplier)
    session.close()
    copy_as_0007(engine, old_engine)
    before = state_0007(old_engine)
    # the history has every kind of old entry, money on lines and a reversal
    assert {e[3] for e in before["entries"]} == {"invoice", "credit_note", "payment", "reversal"}
    assert any(credit != 0 for credit in before["credits"].values())
    assert any(balance > 0 for balance in before["balances"].values())
    assert any(balance < 0 for balance in before["balances"].values())

    schema.upgrade(old_engine, "0008")
    after = state_0008(old_engine)
    assert after == before
    with make_session_factory(old_engine)() as s:
        # every converted transaction balances, and the old entry ids are the transactions'
        unbalanced = s.execute(
            select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
            .having(money_sum(LedgerLeg.amount) != 0)
        ).all()
        assert unbalanced == []
        assert s.scalar(select(LedgerTransaction.kind).where(
            LedgerTransaction.id == before["entries"][0][0])) in ("invoice", "voip_topup")

    schema.downgrade(old_engine, "0007")
    assert state_0007(old_engine) == before
    schema.upgrade(old_engine, "head")
    assert state_0008(old_engine) == before
