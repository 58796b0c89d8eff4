"""The payments journal: every payment received in a period, with its customer, its symbols
and what it paid.

A payment is an incoming movement on one of our bank accounts (``bank_transaction`` with a
positive amount) booked in the period, whatever became of it: paired to a customer
(``matched``), waiting in the unmatched queue, or put aside by an operator (``dismissed``),
so that the journal's total is what the bank statements say came in; and every cash payment
taken at the till, which the cash desk carries into settlement as a movement on the till's
pseudo-account (``billing.models.cash.CASH_ACCOUNT``, its id the receipt's number). "What it
paid" is the invoices its allocations settle (as they stand now); the rest of a paired
payment is the customer's prepaid credit. Outgoing movements are not payments received.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billing.models import Allocation, BankTransaction, Customer, Invoice
from billing.models.cash import CASH_ACCOUNT
from billing.reports.period import Period

ZERO = Decimal("0.00")
SOURCE_BANK, SOURCE_CASH = "bank", "cash"


@dataclass
class PaymentRow:
    id: int
    source: str  # "bank" or "cash"
    document: str  # the bank's movement id, or the cash receipt's number
    received_on: date
    amount: Decimal
    currency: str
    status: str  # BankTransactionStatus
    customer_number: str | None
    customer_name: str | None
    variable_symbol: str | None
    specific_symbol: str | None
    constant_symbol: str | None
    counter_account: str | None
    counter_name: str | None
    message: str | None
    bank_account: str
    paid: list[tuple[str, Decimal]] = field(default_factory=list)  # (invoice number, amount)

    @property
    def allocated(self) -> Decimal:
        return sum((amount for _, amount in self.paid), ZERO)

    @property
    def credit(self) -> Decimal:
        """What of a paired payment settles no invoice (the customer's prepaid credit)."""
        return self.amount - self.allocated if self.customer_number else ZERO


@dataclass
class PaymentsJournal:
    period: Period
    payments: list[PaymentRow]

    @property
    def total(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    def total_of(self, status: str) -> Decimal:
        return sum((p.amount for p in self.payments if p.status == status), ZERO)

    def total_by(self, source: str) -> Decimal:
        return sum((p.amount for p in self.payments if p.source == source), ZERO)


def payments_journal(session, period: Period) -> PaymentsJournal:
    """The period's incoming payments, oldest first, with the invoices each one paid."""
    rows = session.execute(
        select(BankTransaction, Customer.customer_number, Customer.name)
        .outerjoin(Customer, Customer.id == BankTransaction.customer_id)
        .where(
            BankTransaction.amount > 0,
            BankTransaction.booked_on >= period.start,
            BankTransaction.booked_on <= period.end,
        )
        .order_by(BankTransaction.booked_on, BankTransaction.id)
    ).all()
    payments = [
        PaymentRow(
            id=tx.id, source=SOURCE_CASH if tx.source_account == CASH_ACCOUNT else SOURCE_BANK,
            document=tx.bank_tx_id, received_on=tx.booked_on, amount=tx.amount,
            currency=tx.currency, status=tx.status, customer_number=number,
            customer_name=name, variable_symbol=tx.variable_symbol,
            specific_symbol=tx.specific_symbol, constant_symbol=tx.constant_symbol,
            counter_account=tx.counter_account, counter_name=tx.counter_name,
            message=tx.message, bank_account=tx.source_account,
        )
        for tx, number, name in rows
    ]
    by_id = {p.id: p for p in payments}
    ids = list(by_id)
    for start in range(0, len(ids), 5000):  # IN lists of bounded size
        chunk = ids[start:start + 5000]
        for tx_id, number, amount in session.execute(
            select(Allocation.bank_transaction_id, Invoice.number, Allocation.amount)
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .where(Allocation.bank_transaction_id.in_(chunk))
            .order_by(Allocation.id)
        ):
            by_id[tx_id].paid.append((number, amount))
    return PaymentsJournal(period, payments)
