"""A cash payment that leaves no overdue debt closes the enforcement case and queues the
reconnection in the same transaction, as a bank payment does (billing/cash/payments.py emits
OVERDUE_DEBT_CHANGED); one that leaves debt changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from billing.cash.payments import take_cash_payment
from billing.models import AuditEvent
from core.clock import today
from enforcement.cases import get_case, transition
from enforcement.models import EnforcementMail, RouterAction


def actions(session, customer_id):
    return [(a.router_name, a.kind, a.list_name, a.address) for a in session.scalars(
        select(RouterAction).where(RouterAction.customer_id == customer_id)
        .order_by(RouterAction.id))]


def mails(session, customer_id):
    return [m.kind for m in session.scalars(
        select(EnforcementMail).where(EnforcementMail.customer_id == customer_id)
        .order_by(EnforcementMail.id))]


def test_cash_payment_reconnects_at_once(app, session, supplier, debtor):
    customer = debtor("7130", "10.9.1.30", today() - timedelta(days=60), amount="968.00",
                      username="u7130")
    transition(session, get_case(session, customer.id), "disconnected", actor="test")
    session.commit()

    take_cash_payment(session, customer, "968", supplier, actor="operator:anna")
    session.commit()  # no sweep in between
    session.expire_all()
    case = get_case(session, customer.id)
    assert case.state == "ok" and case.reconnected_at is not None
    assert actions(session, customer.id) == [
        ("r1", "list_remove", "blocked", "10.9.1.30"), ("r1", "list_remove", "warned", "10.9.1.30")]
    assert mails(session, customer.id) == ["payment_received"]
    audit = [e.action for e in session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == customer.id).order_by(AuditEvent.id))]
    assert audit[-2:] == ["payment.cash", "enforcement.ok"]


def test_cash_payment_that_leaves_debt_changes_nothing(app, session, supplier, debtor):
    customer = debtor("7140", "10.9.1.40", today() - timedelta(days=60), amount="968.00")
    transition(session, get_case(session, customer.id), "disconnected", actor="test")
    session.commit()

    take_cash_payment(session, customer, "500", supplier, actor="operator:anna")
    session.commit()
    session.expire_all()
    assert get_case(session, customer.id).state == "disconnected"
    assert actions(session, customer.id) == []
    assert mails(session, customer.id) == []


def test_a_cancelled_cash_payment_is_debt_again_for_the_sweep(app, session, supplier, debtor):
    """As after unpairing a bank payment: the reopened overdue invoice is overdue debt again,
    and the next sweep chases it (the cancellation itself disconnects no one)."""
    from billing.cash.cancellation import cancel_cash_receipt
    from enforcement.config import Policy
    from enforcement.service import gather, sweep

    customer = debtor("7150", "10.9.1.50", today() - timedelta(days=60), amount="968.00")
    done = take_cash_payment(session, customer, "968", supplier, actor="operator:anna")
    session.commit()
    assert gather(session, today(), [customer.id]) == []
    cancel_cash_receipt(session, done.receipt, "zapsáno omylem", actor="operator:anna")
    session.commit()
    (row,) = gather(session, today(), [customer.id])
    assert str(row.debt) == "968.00"
    assert get_case(session, customer.id).state == "ok"  # nothing moved yet
    report = sweep(session, today(), Policy())
    session.commit()
    assert [c.customer_id for c in report.changes] == [customer.id]
    assert get_case(session, customer.id).state != "ok"
