"""A Hypothesis state machine: random invoices, payments, credit notes, statement imports and
payments unpaired (and paired again by hand) keep every money invariant after each step."""

from __future__ import annotations

import itertools
from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy import select

from billing.bank.importing import store_statement
from billing.bank.pairing import MATCHED, UNMATCHED, credit_available, pair
from billing.bank.queue import assign
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.invoicing.issue import IssueOptions, issue_credit_note, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import customer_invoices
from billing.models import Allocation, BankTransaction, Invoice, LedgerEntry
from billing.unpairing import unassign
from core.clock import today
from core.db import make_session_factory, money_sum

amounts = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("2000"), places=2)
ids = itertools.count(1)


@pytest.fixture
def machine_session(engine, make_customer):
    customers = [make_customer(number=str(6001 + i)) for i in range(2)]
    factory = make_session_factory(engine)
    return factory, [c.id for c in customers]


def test_money_invariants(machine_session):
    factory, customer_ids = machine_session

    class Money(RuleBasedStateMachine):
        @initialize()
        def start(self):
            self.s = factory()
            self.supplier = Supplier()
            self.expected = {cid: Decimal("0.00") for cid in customer_ids}
            self.stored: set[str] = set()  # bank ids imported so far

        def teardown(self):
            self.s.rollback()
            self.s.close()

        def customer(self, i):
            from billing.models import Customer

            return self.s.get(Customer, customer_ids[i % len(customer_ids)])

        @rule(i=st.integers(0, 1), amount=amounts, days=st.integers(0, 90))
        def issue(self, i, amount, days):
            c = self.customer(i)
            issued = today() - timedelta(days=days)
            inv = issue_invoice(
                self.s, c, [LineInput("Služba", Decimal(1), amount)], self.supplier,
                IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)),
            )
            self.expected[c.id] -= inv.total

        @rule(i=st.integers(0, 1), amount=amounts, use_ss=st.booleans(), pick=st.integers(0, 50))
        def pay(self, i, amount, use_ss, pick):
            c = self.customer(i)
            invoices = self.s.scalars(
                select(Invoice).where(Invoice.customer_id == c.id, Invoice.kind != "credit_note")
            ).all()
            ss = invoices[pick % len(invoices)].specific_symbol if (use_ss and invoices) else None
            tx = BankTransaction(
                source_account="acc", bank_tx_id=f"p{next(ids)}", booked_on=today(),
                amount=amount, variable_symbol=c.customer_number, specific_symbol=ss,
            )
            self.s.add(tx)
            self.s.flush()
            pair(self.s, tx)
            self.expected[c.id] += amount

        @rule(i=st.integers(0, 1), pick=st.integers(0, 50), fraction=st.sampled_from(["0.1", "0.5", "1"]))
        def credit_note(self, i, pick, fraction):
            c = self.customer(i)
            invoices = self.s.scalars(
                select(Invoice).where(Invoice.customer_id == c.id, Invoice.kind != "credit_note")
            ).all()
            if not invoices:
                return
            inv = invoices[pick % len(invoices)]
            credited = -self.s.scalar(
                select(money_sum(Invoice.total)).where(Invoice.corrects_invoice_id == inv.id)
            )
            room = inv.total - credited
            amount = (room * Decimal(fraction)).quantize(Decimal("0.01"))
            if amount <= 0:
                return
            note = issue_credit_note(
                self.s, inv, [LineInput("Sleva", Decimal(-1), amount)], self.supplier, "sleva"
            )
            self.expected[c.id] -= note.total

        @rule(txs=st.lists(st.tuples(st.integers(0, 1), amounts, st.integers(0, 30)), min_size=1, max_size=5))
        def import_statement(self, txs):
            parsed = ParsedStatement("gpc", "2001234567/2010", [])
            for i, amount, key in txs:
                c = self.customer(i)
                parsed.transactions.append(
                    ParsedTransaction(
                        f"s{key}", today(), amount, "CZK", c.customer_number, None, None,
                        None, None, None, 1,
                    )
                )
            store_statement(self.s, parsed, "x.gpc", "0" * 64)
            # the model: each bank id counts once, the first time it is seen (in this file
            # or an earlier one); every VS here is a customer's, so every new one is paired
            for (i, amount, _key), parsed_tx in zip(txs, parsed.transactions, strict=True):
                if parsed_tx.bank_tx_id not in self.stored:
                    self.stored.add(parsed_tx.bank_tx_id)
                    self.expected[self.customer(i).id] += amount

        def movement(self, status, pick):
            """The ``pick``-th stored movement (cyclically) in ``status``, or None."""
            found = self.s.scalars(select(BankTransaction).where(BankTransaction.status == status)
                                   .order_by(BankTransaction.id)).all()
            return found[pick % len(found)] if found else None

        @rule(pick=st.integers(0, 50))
        def unassign_payment(self, pick):
            tx = self.movement(MATCHED, pick)
            if tx is None:
                return
            customer_id = tx.customer_id
            unassign(self.s, tx, "operator:test", "wrong customer")
            self.expected[customer_id] -= tx.amount

        @rule(i=st.integers(0, 1), pick=st.integers(0, 50))
        def assign_by_hand(self, i, pick):
            tx, c = self.movement(UNMATCHED, pick), self.customer(i)
            if tx is None:
                return
            assign(self.s, tx, c, "operator:test")
            self.expected[c.id] += tx.amount

        @invariant()
        def balances(self):
            for cid in customer_ids:
                entries = self.s.scalars(
                    select(LedgerEntry.amount).where(LedgerEntry.customer_id == cid)
                ).all()
                assert ledger.balance(self.s, cid) == sum(entries, Decimal("0.00"))
                assert ledger.balance(self.s, cid) == self.expected[cid]

        @invariant()
        def allocations_within_both_sides(self):
            for inv, paid in self.s.execute(
                select(Invoice, money_sum(Allocation.amount))
                .join(Allocation, Allocation.invoice_id == Invoice.id)
                .group_by(Invoice.id)
            ):
                assert Decimal("0") < paid <= inv.total
            for tx, used in self.s.execute(
                select(BankTransaction, money_sum(Allocation.amount))
                .join(Allocation, Allocation.bank_transaction_id == BankTransaction.id)
                .group_by(BankTransaction.id)
            ):
                assert used <= tx.amount

        @invariant()
        def ledger_agrees_with_allocations(self):
            """Balance = unapplied payments and credit notes - what is open on invoices."""
            for cid in customer_ids:
                open_total = sum(
                    (s.open_amount for s in customer_invoices(self.s, cid, today())),
                    Decimal("0.00"),
                )
                assert ledger.balance(self.s, cid) == credit_available(self.s, cid) - open_total
            for note, used in self.s.execute(
                select(Invoice, money_sum(Allocation.amount))
                .join(Allocation, Allocation.credit_note_id == Invoice.id)
                .group_by(Invoice.id)
            ):
                assert Decimal("0") < used <= -note.total

        @invariant()
        def no_negative_open_amount_and_credit_is_used(self):
            for cid in customer_ids:
                states = customer_invoices(self.s, cid, today())
                assert all(s.open_amount >= 0 for s in states)
                if credit_available(self.s, cid) > 0:
                    assert not any(s.is_open for s in states)

    Money.TestCase.settings = settings(
        max_examples=25,
        stateful_step_count=12,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    Money.TestCase().runTest()
