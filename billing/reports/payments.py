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

A cash receipt cancelled as recorded by mistake (billing/cash/cancellation.py) stays in the
period it was taken, with the status ``cancelled``; its cancelling document is a row of its
own, in the period of the cancellation, with the amount negated (``cancels`` names the
receipt): the journal's total is the cash really received, and a period closed before the
cancellation keeps its total.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from billing.models import (
    Allocation,
    BankTransaction,
    BankTransactionStatus,
    CashReceipt,
    CashReceiptCancellation,
    Customer,
    Invoice,
)
from billing.models.cash import CASH_ACCOUNT
from billing.reports.period import Period

ZERO = Decimal("0.00")
SOURCE_BANK, SOURCE_CASH = "bank", "cash"
CANCELLED = BankTransactionStatus.CANCELLED.value


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
    # a cancelling document's row: the receipt it cancels; a cancelled receipt's: its storno
    cancels: str | None = None
    cancelled_by: str | None = None

    @property
    def allocated(self) -> Decimal:
        return sum((amount for _, amount in self.paid), ZERO)

    @property
    def credit(self) -> Decimal:
        """What of a paired payment settles no invoice (the customer's prepaid credit)."""
        if self.status == CANCELLED:
            return ZERO
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
    tx = BankTransaction
    in_period = (tx.amount > 0, tx.booked_on >= period.start, tx.booked_on <= period.end)
    rows = session.execute(
        select(tx.id, tx.source_account, tx.bank_tx_id, tx.booked_on, tx.amount, tx.currency,
               tx.status, tx.variable_symbol, tx.specific_symbol, tx.constant_symbol,
               tx.counter_account, tx.counter_name, tx.message,
               Customer.customer_number, Customer.name)
        .outerjoin(Customer, Customer.id == BankTransaction.customer_id)
        .where(*in_period)
        .order_by(BankTransaction.booked_on, BankTransaction.id)
    ).all()
    payments = [
        PaymentRow(
            id=id_, source=SOURCE_CASH if account == CASH_ACCOUNT else SOURCE_BANK,
            document=movement, received_on=booked, amount=amount, currency=currency,
            status=status, customer_number=number, customer_name=name,
            variable_symbol=vs, specific_symbol=ss, constant_symbol=ks,
            counter_account=counter, counter_name=counter_name, message=message,
            bank_account=account,
        )
        for (id_, account, movement, booked, amount, currency, status, vs, ss, ks, counter,
             counter_name, message, number, name) in rows
    ]
    by_id = {p.id: p for p in payments}
    for tx_id, number, amount in session.execute(
        select(Allocation.bank_transaction_id, Invoice.number, Allocation.amount)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
        .where(*in_period)
        .order_by(Allocation.id)
    ):
        by_id[tx_id].paid.append((number, amount))
    _cancellations(session, period, payments, by_id)
    return PaymentsJournal(period, payments)


def _cancellations(session, period: Period, payments: list[PaymentRow], by_id: dict) -> None:
    """The period's cancelling documents as rows of their own (sorted in by date), and the
    storno's number on each cancelled receipt listed."""
    storno = CashReceiptCancellation
    rows = session.execute(
        select(storno.number, storno.cancelled_on, storno.amount, storno.currency,
               CashReceipt.number, Customer.customer_number, Customer.name, storno.id)
        .join(CashReceipt, CashReceipt.id == storno.receipt_id)
        .join(Customer, Customer.id == storno.customer_id)
        .where(storno.cancelled_on >= period.start, storno.cancelled_on <= period.end)
        .order_by(storno.cancelled_on, storno.id)
    ).all()
    for number, day, amount, currency, receipt, customer, name, storno_id in rows:
        payments.append(PaymentRow(
            id=-storno_id, source=SOURCE_CASH, document=number, received_on=day, amount=-amount,
            currency=currency, status=CANCELLED, customer_number=customer,
            customer_name=name, variable_symbol=None, specific_symbol=None,
            constant_symbol=None, counter_account=None, counter_name=None,
            message=f"Storno pokladního dokladu {receipt}", bank_account=CASH_ACCOUNT,
            cancels=receipt))
    cancelled = [p.id for p in by_id.values() if p.status == CANCELLED]
    if cancelled:
        for tx_id, number in session.execute(
            select(CashReceipt.bank_transaction_id, storno.number)
            .join(storno, storno.receipt_id == CashReceipt.id)
            .where(CashReceipt.bank_transaction_id.in_(cancelled))
        ):
            by_id[tx_id].cancelled_by = number
    if rows:
        payments.sort(key=lambda p: (p.received_on, p.cancels is not None, abs(p.id)))
