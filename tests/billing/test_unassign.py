"""Undoing a pairing (``payments unassign``): a payment put on the wrong customer, by hand or
by a mistyped variable symbol, or one the bank reversed. The customer's money adds up
afterwards exactly as if the payment had never been theirs; refusals change nothing."""
from __future__ import annotations

import getpass
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.bank.pairing import PairingError, credit_available, pair
from billing.bank.queue import assign, unmatched
from billing.customers.self_service import payment_history
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts, pending
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import customer_invoices
from billing.models import Allocation, AuditEvent, BankTransaction, LedgerEntry, TaxReceipt
from billing.unpairing import unassign
from core import events
from core.clock import today

D = Decimal
_seq = iter(range(1, 10**6))


def invoice(session, customer, supplier, amount, days_ago=30, kind="regular"):
    issued = today() - timedelta(days=days_ago)
    return issue_invoice(
        session, customer, [LineInput("Internet 100", D(1), D(amount))], supplier,
        IssueOptions(kind=kind, issue_date=issued, due_date=issued + timedelta(days=14)),
    )


def payment(session, amount, vs=None, ss=None, days_ago=0):
    tx = BankTransaction(
        source_account="2001234567/2010", bank_tx_id=f"U{next(_seq)}",
        booked_on=today() - timedelta(days=days_ago), amount=D(amount),
        variable_symbol=vs, specific_symbol=ss,
    )
    session.add(tx)
    session.flush()
    return tx


def money_state(session, customer):
    """Everything about a customer's money that must come out the same: the balance, the
    sum of the ledger, the credit, and each invoice's (total, paid, status) oldest first."""
    entries = session.scalars(select(LedgerEntry.amount)
                              .where(LedgerEntry.customer_id == customer.id)).all()
    invoices = sorted(customer_invoices(session, customer.id, today()),
                      key=lambda s: (s.invoice.issue_date, s.invoice.id))
    return {
        "balance": ledger.balance(session, customer.id),
        "ledger_sum": sum(entries, D("0.00")),
        "credit": credit_available(session, customer.id),
        "invoices": [(s.invoice.total, s.paid, s.status) for s in invoices],
    }


def snapshot(session, tx):
    """What a refusal must leave alone."""
    session.flush()
    return (
        session.scalar(select(BankTransaction.status).where(BankTransaction.id == tx.id)),
        session.scalar(select(BankTransaction.customer_id).where(BankTransaction.id == tx.id)),
        session.scalar(select(func.count()).select_from(Allocation)),
        session.scalar(select(func.sum(Allocation.amount))),
        session.scalar(select(func.count()).select_from(LedgerEntry)),
        session.scalar(select(func.sum(LedgerEntry.amount))),
        session.scalar(select(func.count()).select_from(AuditEvent)),
    )


def audits(session, action):
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)).all()


def test_wrong_customer_undone_then_right_one_equals_right_one_first(session, make_customer,
                                                                     supplier):
    wrong, right = make_customer(number="4101"), make_customer(number="4102")
    wrong_ref, right_ref = make_customer(number="4103"), make_customer(number="4104")
    for w, r in ((wrong, right), (wrong_ref, right_ref)):
        invoice(session, w, supplier, "300.00", days_ago=60)
        invoice(session, w, supplier, "300.00", days_ago=30)
        invoice(session, r, supplier, "200.00", days_ago=30)
    # the reference: the payment goes to the right customer at once
    ref = payment(session, "450.00", vs="999001")
    assert pair(session, ref) == "unmatched"
    assign(session, ref, right_ref, actor="operator:test")

    tx = payment(session, "450.00", vs="999002")
    assert pair(session, tx) == "unmatched"
    assign(session, tx, wrong, actor="operator:test")
    assert [s[1] for s in money_state(session, wrong)["invoices"]] == [D("300.00"), D("150.00")]
    done = unassign(session, tx, "operator:test", "paid by 4102, not 4101")
    assert (done.amount, done.customer_number, done.reapplied) == (D("450.00"), "4101", D("0.00"))
    assert [a for _, a in done.reopened] == [D("300.00"), D("150.00")]
    assert (tx.status, tx.customer_id) == ("unmatched", None)
    assert unmatched(session) == [tx]
    assign(session, tx, right, actor="operator:test")

    assert money_state(session, wrong) == money_state(session, wrong_ref)
    assert money_state(session, right) == money_state(session, right_ref)
    assert money_state(session, wrong)["balance"] == D("-600.00")
    assert money_state(session, right)["credit"] == D("250.00")
    # the wrong customer's ledger: the payment and its reversal, nothing deleted
    entries = session.scalars(select(LedgerEntry).where(LedgerEntry.customer_id == wrong.id,
                                                        LedgerEntry.bank_transaction_id == tx.id)
                              .order_by(LedgerEntry.id)).all()
    assert [(e.kind, e.amount) for e in entries] == [("payment", D("450.00")),
                                                      ("reversal", D("-450.00"))]
    assert entries[1].reverses_id == entries[0].id
    assert [e.customer_id for e in audits(session, "payment.assigned")] == [
        right_ref.id, wrong.id, right.id]
    (undone,) = audits(session, "payment.unassigned")
    assert (undone.actor, undone.customer_id) == ("operator:test", wrong.id)
    details = json.loads(undone.details)
    assert details["tx"] == tx.id and details["amount"] == "450.00"
    assert details["reason"] == "paid by 4102, not 4101"
    assert [i["amount"] for i in details["invoices"]] == ["300.00", "150.00"]
    assert [i["invoice"] for i in details["invoices"]] == [n for n, _ in done.reopened]


def test_an_automatic_pairing_undone(session, make_customer, supplier):
    customer = make_customer(number="4201")
    inv = invoice(session, customer, supplier, "450.00", days_ago=30)
    tx = payment(session, "450.00", vs="4201")  # someone else typed 4201
    assert pair(session, tx) == "matched"
    assert ledger.balance(session, customer.id) == D("0.00")
    seen = []

    def handler(_session, customer_id):
        seen.append(customer_id)

    events.subscribe(events.OVERDUE_DEBT_CHANGED, handler)
    try:
        done = unassign(session, tx, "operator:test", "VS typed by another customer")
    finally:
        events.unsubscribe(events.OVERDUE_DEBT_CHANGED, handler)
    assert seen == [customer.id]
    assert done.reopened == [(inv.number, D("450.00"))]
    (state,) = customer_invoices(session, customer.id, today())
    assert (state.status, state.paid) == ("overdue", D("0.00"))
    assert ledger.balance(session, customer.id) == D("-450.00")
    assert credit_available(session, customer.id) == D("0.00")
    assert unmatched(session) == [tx]
    assert payment_history(session, customer.id) == []
    assert session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_the_customers_other_credit_pays_the_reopened_invoice(session, make_customer, supplier):
    customer = make_customer(number="4301")
    inv = invoice(session, customer, supplier, "450.00", days_ago=30)
    wrong = payment(session, "450.00", vs="4301", ss=inv.specific_symbol, days_ago=2)
    assert pair(session, wrong) == "matched"
    own = payment(session, "300.00", vs="4301", days_ago=1)
    assert pair(session, own) == "matched"
    assert credit_available(session, customer.id) == D("300.00")

    done = unassign(session, wrong, "operator:test", "the bank reversed the payment")
    assert done.reapplied == D("300.00")
    (state,) = customer_invoices(session, customer.id, today())
    assert (state.status, state.paid) == ("overdue", D("300.00"))
    assert credit_available(session, customer.id) == D("0.00")
    assert ledger.balance(session, customer.id) == D("-150.00")
    paid_by = session.execute(select(Allocation.bank_transaction_id, Allocation.amount)).all()
    assert paid_by == [(own.id, D("300.00"))]


def test_an_overpayment_that_only_was_credit(session, make_customer, supplier):
    customer = make_customer(number="4401")
    tx = payment(session, "500.00", vs="4401")
    assert pair(session, tx) == "matched"
    done = unassign(session, tx, "operator:test", "wrong customer")
    assert done.reopened == [] and done.reapplied == D("0.00")
    assert ledger.balance(session, customer.id) == D("0.00")
    assert credit_available(session, customer.id) == D("0.00")
    # the credit is gone: the next invoice stays open
    nxt = invoice(session, customer, supplier, "100.00", days_ago=0)
    assert customer_invoices(session, customer.id, today())[0].invoice.id == nxt.id
    assert customer_invoices(session, customer.id, today())[0].status == "unpaid"


def test_refusals_change_nothing(session, make_customer, supplier):
    customer = make_customer(number="4501")
    invoice(session, customer, supplier, "450.00")
    waiting = payment(session, "450.00", vs="999999")
    assert pair(session, waiting) == "unmatched"
    outgoing = payment(session, "-450.00", vs="4501")
    assert pair(session, outgoing) == "outgoing"
    paired = payment(session, "450.00", vs="4501")
    assert pair(session, paired) == "matched"

    before = snapshot(session, waiting)
    with pytest.raises(PairingError, match=f"transaction {waiting.id} is unmatched, not matched"):
        unassign(session, waiting, "operator:test", "why not")
    with pytest.raises(PairingError, match=f"transaction {outgoing.id} is outgoing, not matched"):
        unassign(session, outgoing, "operator:test", "why not")
    with pytest.raises(PairingError, match="give a reason"):
        unassign(session, paired, "operator:test", "  ")
    assert snapshot(session, waiting) == before

    unassign(session, paired, "operator:test", "wrong customer")
    after = snapshot(session, paired)
    with pytest.raises(PairingError, match="is unmatched, not matched"):
        unassign(session, paired, "operator:test", "again")
    assert snapshot(session, paired) == after
    assert len(audits(session, "payment.unassigned")) == 1


def test_a_payment_with_a_tax_document_is_unpaired_and_the_document_corrected(
        session, make_customer, supplier):
    """The tax document is never deleted: a corrective document reverses it
    (tests/billing/test_unassign_corrections.py has the details)."""
    customer = make_customer(number="4601")
    adv = invoice(session, customer, supplier, "1210.00", days_ago=10, kind="advance")
    tx = payment(session, "1210.00", vs=adv.variable_symbol, ss=adv.specific_symbol)
    assert pair(session, tx) == "matched"
    (receipt,) = issue_receipts(session)

    done = unassign(session, tx, "operator:test", "wrong customer")
    (correction,) = done.corrections
    assert correction[1] == receipt.number
    assert session.scalar(select(func.count()).select_from(TaxReceipt)) == 1
    assert session.get(TaxReceipt, receipt.id).correction.total == D("-1210.00")
    assert tx.status == "unmatched" and pending(session) == []


def test_a_payment_on_an_advance_before_its_tax_document(session, make_customer, supplier):
    """Unpaired before the daily receipts run: no tax document is due for it any more."""
    customer = make_customer(number="4701")
    adv = invoice(session, customer, supplier, "1210.00", days_ago=10, kind="advance")
    tx = payment(session, "1210.00", vs=adv.variable_symbol, ss=adv.specific_symbol)
    assert pair(session, tx) == "matched"
    assert len(pending(session)) == 1
    unassign(session, tx, "operator:test", "wrong customer")
    assert pending(session) == []
    assert issue_receipts(session) == []


def test_unpairing_takes_the_settlers_lock(need, engine, make_customer, supplier):
    """On PostgreSQL the customer's row is locked (FOR NO KEY UPDATE, as pairing does) until
    the unpairing commits: a concurrent assign waits and then pays the reopened invoice once."""
    need(engine.dialect.name == "postgresql", "TEST_DATABASE_URL (PostgreSQL) is not set")
    import threading
    import time

    from sqlalchemy import text
    from sqlalchemy.exc import OperationalError

    from billing.models import Customer
    from core.db import make_session_factory

    factory = make_session_factory(engine)
    setup = factory()
    customer = setup.merge(make_customer(number="4801", password=None))
    inv = invoice(setup, customer, supplier, "450.00")
    first = payment(setup, "450.00", vs="4801")
    assert pair(setup, first) == "matched"
    second = payment(setup, "450.00", vs="999999")
    assert pair(setup, second) == "unmatched"
    setup.commit()
    customer_id, invoice_id, first_id, second_id = customer.id, inv.id, first.id, second.id
    setup.close()

    undoer = factory()
    unassign(undoer, undoer.get(BankTransaction, first_id), "operator:test", "wrong customer")
    with engine.connect() as other:
        with pytest.raises(OperationalError, match="could not obtain lock"):
            other.execute(text("SELECT id FROM customer WHERE id = :id FOR NO KEY UPDATE NOWAIT"),
                          {"id": customer_id})
    errors, done = [], threading.Event()

    def assign_second():
        session = factory()
        try:
            tx = session.get(BankTransaction, second_id)
            assign(session, tx, session.get(Customer, customer_id), actor="operator:test")
            session.commit()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            done.set()
            session.close()

    thread = threading.Thread(target=assign_second)
    thread.start()
    time.sleep(0.5)
    assert not done.is_set()  # waiting for the unpairing
    undoer.commit()
    undoer.close()
    thread.join(20)
    assert not errors, errors
    check = factory()
    try:
        paid = check.execute(select(Allocation.bank_transaction_id, Allocation.amount)
                             .where(Allocation.invoice_id == invoice_id)).all()
        assert paid == [(second_id, D("450.00"))]
        assert ledger.balance(check, customer_id) == D("0.00")
        assert check.get(BankTransaction, first_id).status == "unmatched"
    finally:
        check.close()


# -- the command --------------------------------------------------------------------------------

def cli(app, *args, code=0):
    result = app.test_cli_runner().invoke(args=list(args))
    assert result.exit_code == code, result.output + repr(result.exception)
    return result.output


def test_payments_unassign_command(app, session, make_customer, supplier):
    wrong, right = make_customer(number="4901"), make_customer(number="4902")
    inv = invoice(session, wrong, supplier, "450.00")
    tx = payment(session, "450.00", vs="999999")
    assert pair(session, tx) == "unmatched"
    session.commit()
    tx_id, number = tx.id, inv.number

    assert f"transaction {tx_id} paired with customer 4901" in cli(
        app, "payments", "assign", str(tx_id), "4901")
    cli(app, "payments", "unassign", str(tx_id), code=2)  # --reason is required
    output = cli(app, "payments", "unassign", str(tx_id), "--reason", "paid by 4902")
    assert output == (f"transaction {tx_id} (450,00 Kč) unpaired from customer 4901: "
                      f"invoice {number} 450,00 Kč reopened\n")
    assert f"{tx_id:>8}" in cli(app, "payments", "unmatched")
    assert f"transaction {tx_id} is unmatched, not matched" in cli(
        app, "payments", "unassign", str(tx_id), "--reason", "again", code=1)
    assert "no bank transaction 999999" in cli(
        app, "payments", "unassign", "999999", "--reason", "x", code=1)
    cli(app, "payments", "assign", str(tx_id), "4902")

    session.expire_all()
    (event,) = audits(session, "payment.unassigned")
    assert event.actor == f"operator:{getpass.getuser()}"  # no --as: the Unix user
    assert json.loads(event.details)["reason"] == "paid by 4902"
    assert ledger.balance(session, wrong.id) == D("-450.00")
    assert ledger.balance(session, right.id) == D("450.00")
    assert customer_invoices(session, wrong.id, today())[0].status == "overdue"
