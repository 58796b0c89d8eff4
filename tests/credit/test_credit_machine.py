"""A Hypothesis state machine over the credit account (issue 15): top-ups paid by their
symbols, payments to the permanent VS, payment requests, auto-pay days with time travel,
"Nestrhávat automaticky", paying by hand, closing with a refund. After every step: every
ledger transaction's legs sum to zero; the credit equals the model (booked receipts minus
payments minus refunds) and is never negative; no request is paid twice or over its total.

To extend it (credit-services: renewals, calls): subclass :class:`CreditMachine`, add
rules (``self.s`` is the session, ``self.day`` the simulated day, ``self.travel()`` the
time machine for it, ``self.expected`` the credit model per customer id), and run it with
:func:`run_machine`."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import func, select

from billing.bank.pairing import pair
from billing.credit import (
    CreditConflict,
    PayOutcome,
    account_of,
    closing,
    credit_balance,
    open_account,
    pay_from_credit,
    set_auto_pay,
    set_hold,
)
from billing.credit.accounts import CreditSettings
from billing.credit.autopay import run_autopay
from billing.credit.closing import close_account, may_close_on, request_closing
from billing.credit.daily import DailyContext
from billing.credit.topups import receipts_and_credit, request_topup
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import Allocation, BankTransaction, Customer, Invoice, LedgerLeg
from billing.models.credit import CreditPayment, CreditReceipt, CreditRefund, CreditTopUp
from core.db import make_session_factory, money_sum

ZERO = Decimal("0.00")
ids = itertools.count(1)
START = date(2026, 3, 2)


class CreditMachine(RuleBasedStateMachine):
    factory = None  # set by run_machine
    customer_ids: list[int] = []
    days = 10
    seen: dict[str, int] = {}  # what the examples reached (the test checks it is not vacuous)

    @initialize()
    def start(self):
        self.s = self.factory()
        self.supplier = Supplier()
        self.settings = CreditSettings()
        self.day = START

    def teardown(self):
        self.s.rollback()
        self.s.close()

    def travel(self):
        return time_machine.travel(datetime(self.day.year, self.day.month, self.day.day, 10,
                                            tzinfo=UTC), tick=False)

    def customer(self, i) -> Customer:
        return self.s.get(Customer, self.customer_ids[i % len(self.customer_ids)])

    def is_open(self, customer) -> bool:
        account = account_of(self.s, customer.id)
        return account is not None and account.closed_at is None

    def requests(self, customer_id):
        return self.s.scalars(
            select(Invoice).where(Invoice.customer_id == customer_id,
                                  Invoice.kind.in_(["regular", "advance"]),
                                  ~Invoice.id.in_(select(CreditTopUp.invoice_id)))
            .order_by(Invoice.id)).all()

    def _book(self):
        receipts_and_credit(self.s, self.day, actor="system:test", supplier=self.supplier,
                            settings=self.settings)

    # -- rules ----------------------------------------------------------------------------

    @rule(i=st.integers(0, 2), net=st.integers(500, 3000), pays=st.booleans())
    def top_up(self, i, net, pays):
        c = self.customer(i)
        if not self.is_open(c):
            return
        with self.travel():
            request = request_topup(self.s, c, Decimal(net), supplier=self.supplier,
                                    settings=self.settings, actor="customer:x", on=self.day)
            if pays:
                tx = BankTransaction(source_account="acc", bank_tx_id=f"T{next(ids)}",
                                     booked_on=self.day, amount=request.total,
                                     specific_symbol=request.specific_symbol)
                self.s.add(tx)
                self.s.flush()
                pair(self.s, tx)
                self._book()

    @rule(i=st.integers(0, 2), gross=st.integers(1, 5000))
    def standing_order(self, i, gross):
        c = self.customer(i)
        account = account_of(self.s, c.id)
        with self.travel():
            tx = BankTransaction(source_account="acc", bank_tx_id=f"V{next(ids)}",
                                 booked_on=self.day, amount=Decimal(gross),
                                 variable_symbol=account.variable_symbol)
            self.s.add(tx)
            self.s.flush()
            pair(self.s, tx)  # not a customer's symbol: left for the credit
            self._book()

    @rule(i=st.integers(0, 2), gross=st.integers(1, 3000), advance=st.booleans())
    def payment_request(self, i, gross, advance):
        c = self.customer(i)
        with self.travel():
            issue_invoice(self.s, c, [LineInput("Hosting", Decimal(1), Decimal(gross))],
                          self.supplier,
                          IssueOptions(kind="advance" if advance else "regular",
                                       issue_date=self.day, due_date=self.day + timedelta(days=14)))

    @rule(i=st.integers(0, 2), pick=st.integers(0, 50), hold=st.booleans())
    def nestrhavat(self, i, pick, hold):
        requests = self.requests(self.customer(i).id)
        if requests:
            set_hold(self.s, requests[pick % len(requests)], hold, actor="customer:x")

    @rule(i=st.integers(0, 2), on=st.booleans())
    def switch(self, i, on):
        c = self.customer(i)
        if self.is_open(c):
            set_auto_pay(self.s, c.id, on, actor="customer:x")

    @rule(n=st.integers(1, 45))
    def next_days(self, n):
        """The days pass, each with the daily job's auto-pay and closing steps."""
        for _ in range(n):
            self.day += timedelta(days=1)
            with self.travel():
                run_autopay(self.s, self.day, days=self.days, actor="system:test")
                closing.daily_step(self.s, DailyContext(self.day, self.settings,
                                                        actor="system:test"))

    @rule(i=st.integers(0, 2), pick=st.integers(0, 50))
    def pay_by_hand(self, i, pick):
        c = self.customer(i)
        requests = self.requests(c.id)
        if not requests or not self.is_open(c):
            return
        request = requests[pick % len(requests)]
        before = credit_balance(self.s, c.id)
        with self.travel():
            result = pay_from_credit(self.s, request, actor="customer:x", on=self.day)
        if result.outcome == PayOutcome.SHORT:
            assert credit_balance(self.s, c.id) == before

    @rule(i=st.integers(0, 2))
    def close_and_reopen(self, i):
        c = self.customer(i)
        if not self.is_open(c):
            with self.travel():
                open_account(self.s, c, account_of(self.s, c.id).currency, actor="operator:x")
            return
        with self.travel():
            request_closing(self.s, c.id, "19-2000145399/0800", actor="customer:x")
            if may_close_on(self.s, c.id, self.day):
                close_account(self.s, c.id, on=self.day, actor="operator:x")
                assert credit_balance(self.s, c.id) == ZERO
            else:
                try:
                    close_account(self.s, c.id, on=self.day, actor="operator:x")
                    raise AssertionError("closed without a quiet month")
                except CreditConflict:
                    pass

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def legs_sum_to_zero(self):
        if not hasattr(self, "s"):
            return
        unbalanced = self.s.execute(
            select(LedgerLeg.transaction_id).group_by(LedgerLeg.transaction_id)
            .having(func.sum(LedgerLeg.amount) != 0)).all()
        assert unbalanced == []

    @invariant()
    def credit_is_the_model_and_never_negative(self):
        if not hasattr(self, "s"):
            return
        for cid in self.customer_ids:
            account = account_of(self.s, cid)
            booked = self.s.scalar(select(money_sum(CreditReceipt.amount))
                                   .where(CreditReceipt.account_id == account.id))
            spent = self.s.scalar(select(money_sum(CreditPayment.credit_amount))
                                  .where(CreditPayment.account_id == account.id))
            refunded = self.s.scalar(select(money_sum(CreditRefund.amount))
                                     .where(CreditRefund.account_id == account.id))
            credit = credit_balance(self.s, cid)
            assert credit == booked - spent - refunded
            assert credit >= 0
            for name, amount in (("topped_up", booked), ("paid", spent), ("refunded", refunded)):
                if amount > 0:
                    self.seen[name] = self.seen.get(name, 0) + 1

    @invariant()
    def no_request_paid_twice(self):
        if not hasattr(self, "s"):
            return
        twice = self.s.execute(
            select(CreditPayment.invoice_id).group_by(CreditPayment.invoice_id)
            .having(func.count() > 1)).all()
        assert twice == []
        over = self.s.execute(
            select(Invoice.id).join(Allocation, Allocation.invoice_id == Invoice.id)
            .group_by(Invoice.id, Invoice.total)
            .having(func.sum(Allocation.amount) > Invoice.total)).all()
        assert over == []


def run_machine(machine: type[CreditMachine], factory, customer_ids, max_examples: int = 25):
    machine.factory = factory
    machine.customer_ids = customer_ids
    machine.seen = {}
    machine.TestCase.settings = settings(
        max_examples=max_examples, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
    machine.TestCase().runTest()


@pytest.fixture
def credit_machine(engine, session, make_customer):
    """(session factory, customer ids): three customers with CZK credit accounts, one of
    them paying automatically, committed."""
    customers = [make_customer(number=str(8101 + i)) for i in range(3)]
    for index, customer in enumerate(customers):
        open_account(session, customer, "CZK", actor="operator:test", auto_pay=index == 0)
    session.commit()
    return make_session_factory(engine), [c.id for c in customers]


def test_credit_invariants(credit_machine):
    factory, customer_ids = credit_machine
    run_machine(CreditMachine, factory, customer_ids)
    # the examples topped up, paid requests from credit and refunded on closing
    assert {"topped_up", "paid", "refunded"} <= set(CreditMachine.seen)
