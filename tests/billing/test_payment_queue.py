"""Taking a movement that is no customer's payment out of the unmatched queue, and back."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.bank.importing import import_statement
from billing.bank.pairing import PairingError
from billing.bank.queue import assign, dismiss, restore, unmatched
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.models import Allocation, AuditEvent, BankTransaction, LedgerEntry
from billing.unpairing import unassign
from core.clock import today

D = Decimal


def movement(n: int, amount: str, vs: str | None = None, currency: str = "CZK"):
    return ParsedTransaction(str(7000 + n), today() - timedelta(days=1), D(amount), currency, vs,
                             None, None, "123456789/0800", "Jan Novák", None, 0)


def statement(*txs) -> bytes:
    return render_gpc(ParsedStatement("gpc", "2001234567/2010", list(txs), D("0.00")))


def money(session):
    return (session.scalar(select(func.count(LedgerEntry.id))),
            session.scalar(select(func.count(Allocation.id))))


def test_dismissed_leaves_the_queue_books_nothing_and_stays_out_on_reimport(session,
                                                                           make_customer):
    customer = make_customer(number="6001")
    data = statement(movement(1, "120.00", currency="EUR"), movement(2, "450.00", vs="999"))
    import_statement(session, data, "eur.gpc")
    eur, unknown = unmatched(session)
    before = money(session)

    dismiss(session, eur, actor="operator:test", reason="EUR, booked by hand")
    assert unmatched(session) == [unknown]
    assert unmatched(session, dismissed=True) == [eur]
    assert money(session) == before  # nothing booked
    (event,) = session.scalars(select(AuditEvent).where(AuditEvent.action == "payment.dismissed"))
    assert json.loads(event.details)["reason"] == "EUR, booked by hand"
    assert event.actor == "operator:test"

    report = import_statement(session, data, "eur.gpc")  # the same statement again
    assert report.new == 0 and eur.status == "dismissed"
    assert unmatched(session) == [unknown]

    restore(session, eur, actor="operator:test")
    assert unmatched(session) == [eur, unknown] and unmatched(session, dismissed=True) == []
    with pytest.raises(PairingError, match="is in EUR"):
        assign(session, eur, customer, actor="operator:test")


def test_a_czk_payment_restored_can_be_assigned(session, make_customer, supplier):
    customer = make_customer(number="6002")
    issue_invoice(session, customer, [LineInput("Internet", D(1), D("450.00"))], supplier,
                  IssueOptions(issue_date=today() - timedelta(days=30)))
    import_statement(session, statement(movement(3, "450.00", vs="999")), "a.gpc")
    (tx,) = unmatched(session)
    dismiss(session, tx, actor="operator:test", reason="looked like a refund")
    with pytest.raises(PairingError, match="dismissed, not unmatched"):
        assign(session, tx, customer, actor="operator:test")
    restore(session, tx, actor="operator:test")
    assign(session, tx, customer, actor="operator:test")
    assert ledger.balance(session, customer.id) == D("0.00")


def test_refusals_change_nothing(session, make_customer):
    customer = make_customer(number="6003")
    import_statement(session, statement(movement(4, "450.00", vs="6003"),
                                        movement(5, "-99.00"), movement(6, "10.00", vs="999")),
                     "b.gpc")
    matched, outgoing, waiting = session.scalars(
        select(BankTransaction).order_by(BankTransaction.id)).all()
    before = (money(session), [t.status for t in (matched, outgoing, waiting)])
    for tx in (matched, outgoing):
        with pytest.raises(PairingError, match="not unmatched"):
            dismiss(session, tx, actor="operator:test", reason="x")
    with pytest.raises(PairingError, match="give a reason"):
        dismiss(session, waiting, actor="operator:test", reason="  ")
    with pytest.raises(PairingError, match="not dismissed"):
        restore(session, waiting, actor="operator:test")
    assert (money(session), [t.status for t in (matched, outgoing, waiting)]) == before
    # a matched payment leaves the queue the other way: unpaired, then dismissed
    unassign(session, matched, actor="operator:test", reason="a refund, not a payment")
    dismiss(session, matched, actor="operator:test", reason="returned to the payer")
    assert ledger.balance(session, customer.id) == D("0.00")
    assert unmatched(session) == [waiting]


def test_the_commands(app, session):
    import_statement(session, statement(replace(movement(7, "80.00"), currency="EUR")), "c.gpc")
    session.commit()
    (tx,) = unmatched(session)
    runner = app.test_cli_runner()

    def cli(*args, code=0):
        result = runner.invoke(args=list(args))
        assert result.exit_code == code, result.output + repr(result.exception)
        return result.output

    cli("payments", "dismiss", str(tx.id), code=2)  # --reason is required
    assert cli("payments", "dismiss", str(tx.id), "--reason", "EUR account") == (
        f"transaction {tx.id} (80.00 EUR) dismissed from the unmatched queue\n")
    assert cli("payments", "unmatched") == "no unmatched payments\n"
    assert f"{tx.id:>8}" in cli("payments", "unmatched", "--dismissed")
    assert "not unmatched" in cli("payments", "dismiss", str(tx.id), "--reason", "x", code=1)
    assert cli("payments", "restore", str(tx.id)) == (
        f"transaction {tx.id} is back in the unmatched queue\n")
    assert f"{tx.id:>8}" in cli("payments", "unmatched")
    assert "no bank transaction 999999" in cli("payments", "restore", "999999", code=1)
