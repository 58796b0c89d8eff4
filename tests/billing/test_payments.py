"""Pairing payments with invoices: SS, VS oldest first, partial, overpayment, unmatched."""

from __future__ import annotations

import itertools
from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hs
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from billing.bank.pairing import PairingError, credit_available, pair
from billing.bank.queue import assign, unmatched
from billing.invoicing.issue import IssueOptions, issue_credit_note, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import account_summary, customer_invoices
from billing.models import Allocation, BankTransaction, Invoice, LedgerEntry
from core import events
from core.clock import today

D = Decimal


def invoice(session, customer, supplier, amount, days_ago=30):
    issued = today() - timedelta(days=days_ago)
    return issue_invoice(
        session,
        customer,
        [LineInput("Internet 100", D("1"), D(amount))],
        supplier,
        IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)),
    )


_seq = iter(range(1, 10**6))


def payment(session, amount, vs=None, ss=None):
    tx = BankTransaction(
        source_account="2001234567/2010",
        bank_tx_id=f"T{next(_seq)}",
        booked_on=today(),
        amount=D(amount),
        variable_symbol=vs,
        specific_symbol=ss,
    )
    session.add(tx)
    session.flush()
    return tx


def states(session, customer):
    return {s.invoice.number: (s.status, s.paid) for s in customer_invoices(session, customer.id, today())}


def test_ss_pays_that_invoice(session, make_customer, supplier):
    c = make_customer(number="3001")
    old = invoice(session, c, supplier, "450.00", days_ago=60)
    new = invoice(session, c, supplier, "450.00", days_ago=30)
    assert pair(session, payment(session, "450.00", vs="3001", ss=new.specific_symbol)) == "matched"
    s = states(session, c)
    assert s[new.number] == ("paid", D("450.00"))
    assert s[old.number][0] == "overdue"


def test_vs_pays_oldest_first_partial_then_credit(session, make_customer, supplier):
    c = make_customer(number="3002")
    a = invoice(session, c, supplier, "300.00", days_ago=60)
    b = invoice(session, c, supplier, "300.00", days_ago=30)
    pair(session, payment(session, "400.00", vs="3002"))
    s = states(session, c)
    assert s[a.number] == ("paid", D("300.00"))
    assert s[b.number][1] == D("100.00") and s[b.number][0] == "overdue"
    pair(session, payment(session, "500.00", vs="3002"))
    s = states(session, c)
    assert s[b.number] == ("paid", D("300.00"))
    assert credit_available(session, c.id) == D("300.00")
    assert ledger.balance(session, c.id) == D("300.00")
    # credit pays the next invoice as soon as it is issued
    nxt = invoice(session, c, supplier, "250.00", days_ago=0)
    assert states(session, c)[nxt.number] == ("paid", D("250.00"))
    assert credit_available(session, c.id) == D("50.00")


def test_partly_paid_before_due(session, make_customer, supplier):
    c = make_customer(number="3003")
    inv = invoice(session, c, supplier, "450.00", days_ago=2)
    pair(session, payment(session, "200.00", vs="3003"))
    assert states(session, c)[inv.number] == ("partly_paid", D("200.00"))
    summary = account_summary(session, c.id, today())
    assert summary.balance == D("-250.00") and summary.open_total == D("250.00")
    assert summary.overdue_total == D("0.00")


def test_unknown_symbols_wait_for_an_operator(session, make_customer, supplier):
    c = make_customer(number="3004")
    inv = invoice(session, c, supplier, "450.00")
    tx = payment(session, "450.00", vs="999999")
    assert pair(session, tx) == "unmatched"
    assert unmatched(session) == [tx]
    assign(session, tx, c, actor="operator:test")
    assert tx.status == "matched"
    assert states(session, c)[inv.number][0] == "paid"
    assert unmatched(session) == []


def test_a_payment_in_another_currency_is_not_paired_even_by_hand(session, make_customer, supplier):
    c = make_customer(number="3006")
    inv = invoice(session, c, supplier, "450.00")
    tx = payment(session, "450.00", vs="3006")
    tx.currency = "EUR"
    assert pair(session, tx) == "unmatched"
    with pytest.raises(PairingError, match="is in EUR; invoices are paid in CZK"):
        assign(session, tx, c, actor="operator:test")
    assert (tx.status, tx.customer_id) == ("unmatched", None)
    assert states(session, c)[inv.number][0] == "overdue"
    assert ledger.balance(session, c.id) == D("-450.00")
    assert unmatched(session) == [tx]


def test_outgoing_is_recorded_not_paired(session, make_customer, supplier):
    c = make_customer(number="3005")
    invoice(session, c, supplier, "450.00")
    tx = payment(session, "-450.00", vs="3005")
    assert pair(session, tx) == "outgoing"
    assert ledger.balance(session, c.id) == D("-450.00")


def test_pairing_emits_overdue_debt_changed(session, make_customer, supplier):
    c = make_customer(number="3006")
    invoice(session, c, supplier, "100.00")
    seen = []

    def handler(s, customer_id):
        seen.append(customer_id)

    events.subscribe(events.OVERDUE_DEBT_CHANGED, handler)
    try:
        pair(session, payment(session, "100.00", vs="3006"))
    finally:
        events.unsubscribe(events.OVERDUE_DEBT_CHANGED, handler)
    assert seen == [c.id]


def test_allocations_never_exceed_either_side(session, make_customer, supplier):
    c = make_customer(number="3007")
    for days in (90, 60, 30):
        invoice(session, c, supplier, "333.33", days_ago=days)
    for amount in ("100.00", "500.00", "0.01", "999.99"):
        pair(session, payment(session, amount, vs="3007"))
    for st in customer_invoices(session, c.id, today()):
        assert st.paid <= st.invoice.total
    rows = session.execute(
        select(BankTransaction.amount, func.count(Allocation.id))
        .join(Allocation, Allocation.bank_transaction_id == BankTransaction.id)
        .group_by(BankTransaction.id, BankTransaction.amount)
    ).all()
    assert rows
    entries = session.scalars(select(LedgerEntry.amount).where(LedgerEntry.customer_id == c.id)).all()
    assert sum(entries) == ledger.balance(session, c.id)


def test_ledger_refuses_update_and_delete(session, make_customer, supplier):
    c = make_customer(number="3008")
    invoice(session, c, supplier, "100.00")
    session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("UPDATE ledger_entry SET amount = 0"))
    session.rollback()
    with pytest.raises(DatabaseError, match="append-only"):
        session.execute(text("DELETE FROM ledger_entry"))
    session.rollback()
    entry = session.scalars(select(LedgerEntry)).first()
    ledger.reverse(session, entry, "oprava")
    assert ledger.balance(session, c.id) == D("0.00")


def test_float_never_reaches_money(session, make_customer):
    c = make_customer(number="3009")
    with pytest.raises(Exception, match="float"):
        ledger.post(session, c.id, "payment", 1.5, booked_on=date(2026, 1, 1))


# -- the set-based PostgreSQL pairing gives what the Python loop gives -------------------------

step = hs.one_of(
    hs.tuples(hs.just("invoice"), amounts_st := hs.decimals("0.01", "900", places=2),
              hs.integers(0, 90)),
    hs.tuples(hs.just("pay"), hs.lists(hs.tuples(amounts_st, hs.integers(-1, 5)), min_size=1,
                                       max_size=4), hs.integers(0, 20)),
    hs.tuples(hs.just("credit"), hs.integers(0, 9), hs.sampled_from(["0.3", "1"])),
)


def _run(session, customer, supplier, steps, portable: bool, monkeypatch) -> list[tuple]:
    """Play ``steps`` for one customer; returns the allocations as (source, invoice, amount)
    with sources and invoices named by their position, so two customers compare."""
    from billing.bank import pairing as payments_module
    with monkeypatch.context() as m:
        if portable:
            m.setattr(payments_module, "_is_postgresql", lambda session: False)
        invoices, names = [], {}
        for kind, a, b in steps:
            if kind == "invoice":
                inv = invoice(session, customer, supplier, a, days_ago=b)
                names[("inv", inv.id)] = f"i{len(invoices)}"
                invoices.append(inv)
            elif kind == "pay":
                txs = []
                for amount, target in a:
                    ss = invoices[target].specific_symbol if 0 <= target < len(invoices) else None
                    tx = payment(session, amount, vs=customer.customer_number, ss=ss)
                    tx.booked_on = today() - timedelta(days=b)
                    txs.append(tx)
                session.flush()
                for tx in txs:
                    names[("tx", tx.id)] = f"p{len(names)}"
                payments_module.pair_many(session, txs)
            elif invoices:
                target = invoices[a % len(invoices)]
                credited = -sum((i.total for i in invoices if i.corrects_invoice_id == target.id), D(0))
                amount = ((target.total - credited) * D(b)).quantize(D("0.01"))
                if amount > 0:
                    note = issue_credit_note(
                        session, target, [LineInput("Sleva", D(-1), amount)], supplier, "sleva"
                    )
                    names[("cn", note.id)] = f"c{len(names)}"
                    invoices.append(note)
        session.flush()
    rows = session.execute(
        select(Allocation).join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(Invoice.customer_id == customer.id).order_by(Allocation.id)
    ).scalars()
    return [
        (names[("tx", a.bank_transaction_id)] if a.bank_transaction_id else names[("cn", a.credit_note_id)],
         names[("inv", a.invoice_id)], a.amount)
        for a in rows
    ]


def test_postgresql_pairing_equals_the_python_loop(need, engine, make_customer, supplier, monkeypatch):
    # compares the PostgreSQL set-based pairing with the portable Python loop
    need(engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    from core.db import make_session_factory

    factory = make_session_factory(engine)
    numbers = itertools.count(7001)

    @settings(max_examples=30, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    @given(hs.lists(step, min_size=1, max_size=10))
    def check(steps):
        session = factory()
        try:
            sql_customer = make_customer(number=str(next(numbers)), password=None)
            py_customer = make_customer(number=str(next(numbers)), password=None)
            sql_customer, py_customer = session.merge(sql_customer), session.merge(py_customer)
            by_sql = _run(session, sql_customer, supplier, steps, False, monkeypatch)
            by_python = _run(session, py_customer, supplier, steps, True, monkeypatch)
            assert by_sql == by_python
        finally:
            session.rollback()
            session.close()

    check()


def test_two_payments_settling_one_invoice_at_once_pay_it_once(need, engine, make_customer, supplier):
    """Two transactions pairing money of one customer at the same time (say a manual assign
    while a statement is imported): the invoice is paid once, the second payment becomes
    credit. The second settler waits for the first and then sees its allocation."""
    need(engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    import threading
    import time

    from sqlalchemy import func, select

    from billing.models import Allocation, Customer
    from core.db import make_session_factory

    factory = make_session_factory(engine)
    setup = factory()
    customer = setup.merge(make_customer(number="3901", password=None))
    inv = invoice(setup, customer, supplier, "450.00")
    txs = [payment(setup, "450.00") for _ in range(2)]
    setup.commit()
    customer_id, invoice_id, tx_ids = customer.id, inv.id, [t.id for t in txs]
    setup.close()

    first_settled = threading.Event()
    errors = []

    def pay(tx_id, hold):
        session = factory()
        try:
            tx = session.get(BankTransaction, tx_id)
            assign(session, tx, session.get(Customer, customer_id), actor="operator:test")
            if hold:
                first_settled.set()
                time.sleep(0.5)  # keep the transaction open: the other one must wait
            session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            session.close()

    first = threading.Thread(target=pay, args=(tx_ids[0], True))
    first.start()
    assert first_settled.wait(10)
    second = threading.Thread(target=pay, args=(tx_ids[1], False))
    second.start()
    first.join(20)
    second.join(20)
    assert not errors, errors
    check = factory()
    try:
        paid = check.scalar(select(func.sum(Allocation.amount))
                            .where(Allocation.invoice_id == invoice_id))
        assert paid == D("450.00")
        assert credit_available(check, customer_id) == D("450.00")
    finally:
        check.close()
