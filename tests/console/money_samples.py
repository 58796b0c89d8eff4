"""Sample values for the money pages' URL parameters (tests/console/test_role_matrix.py):
the demo has invoices, customers and bank movements, but no cash receipt and no statement
upload; one of each is made."""

from __future__ import annotations

from sqlalchemy import select

from billing.models import BankTransaction, CashReceipt, Customer, Invoice, StatementUpload


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


def statement_upload_id(session) -> int:
    """An upload of the demo's kind (its import already done: the row alone, no job)."""
    found = session.scalar(select(StatementUpload.id).order_by(StatementUpload.id))
    if found is not None:
        return found
    upload = StatementUpload(filename="vypis.gpc", file_format="gpc", account="2001234588/2010",
                             movements=0, size=0, sha256="0" * 64, content=None,
                             uploaded_by="operator:test")
    session.add(upload)
    session.commit()
    return upload.id


def receipt_correction_id(session) -> int:
    """A corrective tax document: a cash payment on an advance, its tax document, the storno."""
    from datetime import timedelta
    from decimal import Decimal

    from billing.cash.cancellation import cancel_cash_receipt
    from billing.cash.payments import take_cash_payment
    from billing.invoicing.issue import IssueOptions, issue_invoice
    from billing.invoicing.receipts import issue_receipts
    from billing.invoicing.supplier import Supplier
    from billing.invoicing.vat import LineInput
    from billing.models import TaxReceiptCorrection
    from core.clock import today

    found = session.scalar(select(TaxReceiptCorrection.id).order_by(TaxReceiptCorrection.id))
    if found is not None:
        return found
    customer = session.scalar(select(Customer).where(Customer.customer_number == "1001"))
    advance = issue_invoice(session, customer, [LineInput("Router", Decimal(1), Decimal("1210"))],
                            Supplier(), IssueOptions(kind="advance", issue_date=today(),
                                                     due_date=today() + timedelta(days=14)))
    done = take_cash_payment(session, customer, "1210", Supplier(), actor="operator:test",
                             invoice=advance)
    issue_receipts(session, actor="operator:test")
    (correction,) = cancel_cash_receipt(session, done.receipt, "omyl",
                                        actor="operator:test").corrections
    session.commit()
    return correction.id
