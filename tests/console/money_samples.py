"""Sample values for the money pages' URL parameters (tests/console/test_role_matrix.py):
the demo has invoices, customers and bank movements, but no cash receipt; one is taken."""

from __future__ import annotations

from sqlalchemy import select

from billing.models import BankTransaction, CashReceipt, Customer, Invoice


def invoice_id(session) -> int:
    return session.scalar(select(Invoice.id).where(Invoice.kind == "regular").order_by(Invoice.id))


def customer_id(session) -> int:
    return session.scalar(select(Customer.id).where(Customer.customer_number == "1001"))


def tx_id(session) -> int:
    return session.scalar(select(BankTransaction.id).order_by(BankTransaction.id))


def cash_receipt_id(session) -> int:
    from billing.cash.payments import take_cash_payment
    from billing.invoicing.supplier import Supplier

    found = session.scalar(select(CashReceipt.id).order_by(CashReceipt.id))
    if found is not None:
        return found
    customer = session.scalar(select(Customer).where(Customer.customer_number == "1001"))
    done = take_cash_payment(session, customer, "100", Supplier(), actor="operator:test")
    session.commit()
    return done.receipt.id
