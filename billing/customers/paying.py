"""Pay everything due with one transfer (issue 16, "pay in one tap").

One QR Platba for all the customer's open invoices: the amount is their sum, the variable
symbol is the customer's (the contract number their invoices carry, else the customer
number) and there is no specific symbol, so pairing by VS settles the invoices oldest first
(billing/bank/pairing.py; docs/facts/payment-symbols.md). Paying exactly this amount leaves
nothing due. Flask-free: the zone's ``/pay`` page calls :func:`pay_all`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.documents import qrplatba
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import InvoiceState, open_invoices
from billing.models import Customer

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class PayAll:
    """What one transfer paying everything due needs."""

    amount: Decimal  # the total of the open invoices (0: nothing to pay)
    overdue: Decimal  # of that, past its due date
    variable_symbol: str
    account: str | None  # the bank account, Czech format (for people)
    iban: str | None
    spayd: str | None  # the QR Platba, None when nothing is due or no IBAN is known
    invoices: list[InvoiceState]  # the open invoices, oldest first (the order they are paid)

    @property
    def due(self) -> bool:
        return self.amount > 0


def variable_symbol(session: Session, customer_id: int, invoices: list[InvoiceState]) -> str:
    """The VS of all the open invoices when they share one (the contract number), else the
    customer number: either pairs the payment to this customer (pairing.py ``_resolve``)."""
    symbols = {s.invoice.variable_symbol for s in invoices if s.invoice.variable_symbol}
    if len(symbols) == 1:
        return symbols.pop()
    return session.scalar(select(Customer.customer_number).where(Customer.id == customer_id))


def pay_all(session: Session, customer_id: int, on: date, supplier: Supplier) -> PayAll:
    """The one payment that settles every open invoice of the customer on day ``on``."""
    invoices = open_invoices(session, customer_id, on)
    amount = sum((s.open_amount for s in invoices), ZERO)
    overdue = sum((s.open_amount for s in invoices if s.invoice.due_date < on), ZERO)
    vs = variable_symbol(session, customer_id, invoices)
    newest = invoices[-1].invoice if invoices else None
    account = (newest.supplier_account if newest else None) or supplier.account
    iban = (newest.supplier_iban if newest else None) or supplier.iban
    spayd = None
    if amount > 0 and iban:
        currency = (newest.currency if newest else None) or "CZK"
        spayd = qrplatba.build_spayd(
            iban, amount, vs=vs, message=f"Platba zakaznik {vs}", currency=currency
        )
    return PayAll(amount=amount, overdue=overdue, variable_symbol=vs, account=account,
                  iban=iban, spayd=spayd, invoices=invoices)
