"""One definition of an invoice's open amount (billing.ledger.balances.open_amounts): the
console's invoice list (billing/invoicing/listing.py) and the customer's account summary
say what InvoiceState says of each invoice, whatever its state: unpaid, partly paid, paid,
overdue, credited, a credit note. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

from billing.cash.payments import take_cash_payment
from billing.invoicing.issue import CreditLine, IssueOptions, credit_invoice, issue_invoice
from billing.invoicing.listing import invoice_query
from billing.invoicing.vat import LineInput
from billing.ledger.balances import account_summary, states_for
from core.clock import today


def issue(session, customer, supplier, amount, days_ago):
    issued = today() - timedelta(days=days_ago)
    return issue_invoice(session, customer, [LineInput("Internet", D(1), D(amount))], supplier,
                         IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)))


def test_the_list_and_the_summary_agree_with_each_invoices_state(session, make_customer,
                                                                 supplier):
    customer = make_customer(number="6900")
    paid = issue(session, customer, supplier, "300.00", 90)
    partly = issue(session, customer, supplier, "605.00", 60)
    credited = issue(session, customer, supplier, "450.00", 45)
    unpaid = issue(session, customer, supplier, "121.00", 5)  # not due yet
    take_cash_payment(session, customer, "500", supplier, actor="operator:anna")
    note = credit_invoice(session, credited, [CreditLine(credited.lines[0].id, amount=D("50"))],
                          supplier, "sleva", actor="operator:anna")
    session.commit()
    invoices = [paid, partly, credited, unpaid, note]
    states = {s.invoice.id: s for s in states_for(session, invoices, today())}
    expected = {i.number: states[i.id].open_amount for i in invoices}
    assert expected == {paid.number: D("0.00"), partly.number: D("405.00"),
                        credited.number: D("400.00"), unpaid.number: D("121.00"),
                        note.number: D("0.00")}

    def listed(status=""):
        rows = session.execute(invoice_query(q="6900", status=status, today=today())).all()
        return {inv.number: (paid_amount, open_amount)
                for inv, _number, paid_amount, open_amount in rows}

    everything = listed()
    assert {n: o for n, (_p, o) in everything.items()} == expected
    assert {n: p for n, (p, _o) in everything.items()} == {
        i.number: states[i.id].paid for i in invoices}
    assert set(listed("open")) == {partly.number, credited.number, unpaid.number}
    assert set(listed("overdue")) == {partly.number, credited.number}
    assert set(listed("paid")) == {paid.number}

    summary = account_summary(session, customer.id, today())
    assert summary.open_total == sum(expected.values()) == D("926.00")
    assert summary.overdue_total == D("805.00")
    assert summary.oldest_overdue_due == partly.due_date
