"""The sweep against a real database: facts from invoices and payments, cases, audit events,
router actions and e-mails written in bulk; reconnect the moment a payment is paired."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import event, select

from billing.invoicing.issue import issue_credit_note
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent, Invoice
from core.clock import today
from enforcement import service
from enforcement.cases import get_case, transition
from enforcement.config import Policy
from enforcement.models import EnforcementCase, EnforcementMail, RouterAction

P = Policy()


def actions(session, customer_id=None):
    stmt = select(RouterAction).order_by(RouterAction.id)
    if customer_id is not None:
        stmt = stmt.where(RouterAction.customer_id == customer_id)
    return [(a.router_name, a.kind, a.list_name, a.address) for a in session.scalars(stmt)]


def mails(session, customer_id):
    return [m.kind for m in session.scalars(
        select(EnforcementMail).where(EnforcementMail.customer_id == customer_id)
        .order_by(EnforcementMail.id))]


def audit_actions(session, customer_id):
    return [a.action for a in session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == customer_id,
                                 AuditEvent.action.like("enforcement.%")).order_by(AuditEvent.id))]


def test_sweep_moves_cases_by_the_calendar(session, debtor):
    t = today()
    fresh = debtor("7001", "10.9.0.1", t - timedelta(days=2))  # within grace
    late = debtor("7002", "10.9.0.2", t - timedelta(days=5))  # reminder 1
    long = debtor("7003", "10.9.0.3", t - timedelta(days=30), username="long7003")  # catch-up
    report = service.sweep(session, t, P)
    session.commit()

    assert {c.customer_number: c.new for c in report.changes} == {"7002": "reminded", "7003": "warned"}
    assert get_case(session, fresh.id).state == "ok"
    assert get_case(session, late.id).state == "reminded"
    case = get_case(session, long.id)
    assert case.state == "warned" and case.overdue_since == t - timedelta(days=30)
    assert case.reminder1_sent_at and case.reminder2_sent_at and case.warned_at
    assert mails(session, late.id) == ["reminder1"]
    assert mails(session, long.id) == ["reminder1", "reminder2", "warning"]
    assert actions(session) == [("r1", "list_add", "warned", "10.9.0.3")]
    assert audit_actions(session, long.id) == [
        "enforcement.reminded", "enforcement.reminder2", "enforcement.warned"]

    again = service.sweep(session, t, P)  # the same day again: nothing twice
    session.commit()
    assert again.changes == []
    assert mails(session, long.id) == ["reminder1", "reminder2", "warning"]
    assert len(actions(session)) == 1


def test_acknowledged_customer_is_disconnected_on_the_day(session, debtor):
    t = today()
    customer = debtor("7010", "10.9.0.10", t - timedelta(days=40), username="u7010")
    service.sweep(session, t - timedelta(days=11), P)
    case = get_case(session, customer.id)
    transition(session, case, "acknowledged", actor="customer:7010")
    case.acknowledged_at = case.state_since - timedelta(days=10)
    case.disconnect_due = t
    session.commit()

    service.sweep(session, t - timedelta(days=1), P)
    assert get_case(session, customer.id).state == "acknowledged"
    service.sweep(session, t, P)
    session.commit()
    assert get_case(session, customer.id).state == "disconnected"
    assert actions(session, customer.id)[-2:] == [
        ("r1", "list_add", "blocked", "10.9.0.10"), ("r1", "kick", None, "10.9.0.10")]
    assert mails(session, customer.id)[-1] == "disconnected"


def test_credit_note_and_partial_payment_count_like_billing(pay, session, supplier, debtor):
    t = today()
    customer = debtor("7020", "10.9.0.20", t - timedelta(days=20), amount="605.00")
    service.sweep(session, t, P)
    session.commit()
    assert get_case(session, customer.id).state == "warned"

    pay(session, [("7020", "300.00", t)])  # 305 still overdue: stays warned
    assert get_case(session, customer.id).state == "warned"
    invoice = session.scalar(select(Invoice).where(Invoice.customer_id == customer.id))
    lines = [LineInput("Sleva za výpadek", Decimal("-1"), Decimal("260.00"))]
    issue_credit_note(session, invoice, lines, supplier, "výpadek služby")
    session.commit()
    service.sweep(session, t, P)  # 45.00 left < 50.00 minimum: back to ok
    session.commit()
    assert get_case(session, customer.id).state == "ok"
    assert actions(session, customer.id)[-1] == ("r1", "list_remove", "warned", "10.9.0.20")
    assert mails(session, customer.id)[-1] == "payment_received"


def test_payment_reconnects_at_once_in_the_pairing_transaction(pay, app, session, debtor):
    t = today()
    customer = debtor("7030", "10.9.0.30", t - timedelta(days=60), amount="968.00",
                      username="u7030")
    case = get_case(session, customer.id)
    transition(session, case, "disconnected", actor="test")
    session.commit()

    report = pay(session, [("7030", "968.00", t)])  # no sweep in between
    assert report.matched == 1
    session.expire_all()
    case = get_case(session, customer.id)
    assert case.state == "ok" and case.reconnected_at is not None
    assert actions(session, customer.id) == [
        ("r1", "list_remove", "blocked", "10.9.0.30"), ("r1", "list_remove", "warned", "10.9.0.30")]
    assert mails(session, customer.id) == ["payment_received"]
    assert audit_actions(session, customer.id)[-1] == "enforcement.ok"


def test_a_payment_that_leaves_debt_changes_nothing(pay, app, session, debtor):
    t = today()
    customer = debtor("7040", "10.9.0.40", t - timedelta(days=60), amount="968.00")
    case = get_case(session, customer.id)
    transition(session, case, "disconnected", actor="test")
    session.commit()
    pay(session, [("7040", "500.00", t)])
    session.expire_all()
    assert get_case(session, customer.id).state == "disconnected"
    assert actions(session, customer.id) == []


def test_sweep_statement_count_does_not_grow(owe, session, supplier, make_customer):
    t = today()

    def count_statements(n_new: int) -> int:
        for _ in range(n_new):
            c = make_customer(internet_ip=None)
            owe(session, supplier, c, "605.00", t - timedelta(days=30))
        counter = {"n": 0}

        def before(*_args):
            counter["n"] += 1

        engine = session.get_bind()
        event.listen(engine, "before_cursor_execute", before)
        try:
            service.sweep(session, t, P)
            session.flush()
        finally:
            event.remove(engine, "before_cursor_execute", before)
        session.rollback()
        return counter["n"]

    small = count_statements(3)
    large = count_statements(30)  # 33 debtors now
    assert large == small, (small, large)
    assert small <= 15


def test_dry_run_changes_nothing(session, debtor):
    customer = debtor("7050", "10.9.0.50", today() - timedelta(days=30))
    report = service.sweep(session, today(), P, dry_run=True)
    session.commit()
    assert [str(c) for c in report.changes] == [
        "7050: ok -> warned, mail reminder1, mail reminder2, mail warning, list_add warned"]
    assert session.scalar(select(EnforcementCase).where(
        EnforcementCase.customer_id == customer.id)) is None
    assert actions(session) == [] and mails(session, customer.id) == []


def test_paying_customers_in_good_standing_costs_one_query(owe, pay, app, session, supplier, make_customer):
    """A big statement must not pay for the handler with a query per payment."""
    customers = [make_customer(internet_ip=None) for _ in range(6)]
    for c in customers:
        owe(session, supplier, c, "450.00", today() + timedelta(days=10))  # not even due
    seen = []

    def before(_conn, _cursor, statement, *_args):
        if "enforcement_case" in statement:
            seen.append(statement)

    event.listen(session.get_bind(), "before_cursor_execute", before)
    try:
        report = pay(session, [(c.customer_number, "450.00", today()) for c in customers])
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", before)
    assert report.matched == 6
    assert len(seen) == 1  # the customers with an open case, read once
