"""Cash payments taken at the till, each with its receipt (příjmový pokladní doklad).

:func:`take_cash_payment` records one: the receipt (own number series ``PPD`` + year + 6
digits), the money's movement on the till's pseudo-account (billing/models/cash.py) so that
the bank payments' settlement applies it (a chosen invoice first, if the operator names one,
then the oldest open invoices by due date; the rest stays as the customer's credit), the
ledger posting (till to the customer's prepaid credit, then the allocations), the audit
event, and ``OVERDUE_DEBT_CHANGED`` (a customer whose overdue debt is gone is reconnected in
the same transaction, as after a bank payment).

Refused before anything is written: an amount that is not positive, one with haléře (the
smallest Czech coin is 1 Kč), more than the cash limit of 270,000 Kč a day from one payer
(zákon č. 254/2004 Sb. § 4; docs/facts/cash-payments.md), an unknown customer, an invoice
that is not the customer's, is a credit note or is paid. Functions flush; the caller commits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from billing.bank.pairing import MATCHED, settle
from billing.invoicing.issue import lock_series
from billing.invoicing.supplier import Supplier
from billing.ledger import postings as ledger
from billing.ledger.balances import ZERO
from billing.models import (
    CASH_ACCOUNT,
    Allocation,
    BankTransaction,
    CashReceipt,
    CashReceiptCancellation,
    Customer,
    Invoice,
    InvoiceKind,
)
from core import audit, events
from core.clock import today
from core.db import money_sum
from core.errors import Conflict, Invalid
from core.i18n import _l
from core.i18n import money as shown_money
from core.i18n import number as shown_number

_AMOUNT = re.compile(r"-?[0-9]{1,12}(?:\.[0-9]{1,2})?")
PREFIX = "PPD"
SERIAL_DIGITS = 6
# zákon č. 254/2004 Sb., o omezení plateb v hotovosti, § 4 odst. 1: more than this from one
# payer to one recipient in one calendar day must not be accepted in cash
DAILY_LIMIT = Decimal("270000.00")


class CashPaymentError(Invalid, ValueError):
    """A cash payment that cannot be taken as given."""


class CashLimitError(Conflict, ValueError):
    """Over the legal limit of cash payments a day."""


@dataclass(frozen=True)
class CashPayment:
    receipt: CashReceipt
    paid: list[tuple[str, Decimal]]  # (invoice number, amount applied)
    credit: Decimal  # what is left on the customer's credit


def parse_amount(text: str | Decimal) -> Decimal:
    """``"1 234,50"`` / ``"1234.50"`` / Decimal -> Decimal; refuses what is not an amount."""
    if isinstance(text, Decimal):
        return text
    cleaned = str(text).replace("\u00a0", "").replace(" ", "").replace(",", ".")
    cleaned = cleaned.removesuffix("Kč").removesuffix("CZK")
    # plain ASCII digits, a sign, at most two decimals: no exponent, NaN, "1_000" or other scripts
    if not _AMOUNT.fullmatch(cleaned):
        raise CashPaymentError(_l("not an amount: %(text)s", text=repr(text)), field="amount")
    try:
        return Decimal(cleaned)
    except InvalidOperation:  # pragma: no cover - the pattern admits only decimals
        raise CashPaymentError(_l("not an amount: %(text)s", text=repr(text)),
                               field="amount") from None


def check_amount(amount: Decimal) -> Decimal:
    if amount <= 0:
        raise CashPaymentError(_l("a cash payment must be a positive amount"), field="amount")
    if amount != amount.to_integral_value():
        raise CashPaymentError(
            _l("cash is taken in whole crowns (the smallest Czech coin is 1 Kč)"), field="amount"
        )
    if amount > DAILY_LIMIT:
        raise CashLimitError(_l(
            "more than %(limit)s Kč may not be taken in cash from one payer in one day "
            "(zákon č. 254/2004 Sb., § 4): ask for a bank transfer",
            limit=shown_number(DAILY_LIMIT, 0, text=f"{DAILY_LIMIT:,.0f}")), field="amount")
    return amount.quantize(Decimal("0.01"))


def take_cash_payment(
    session: Session,
    customer: Customer | None,
    amount: Decimal | str,
    supplier: Supplier,
    *,
    actor: str,
    invoice: Invoice | None = None,
    note: str | None = None,
    on: date | None = None,
) -> CashPayment:
    """Record cash received from ``customer`` (see the module's docstring)."""
    amount = check_amount(parse_amount(amount))
    if customer is None:
        raise CashPaymentError(_l("no such customer"), field="customer")
    on = on or today()
    if invoice is not None:
        _check_invoice(session, customer, invoice)
    # a receipt cancelled as recorded by mistake (billing/cash/cancellation.py) took nothing
    taken_today = session.scalar(
        select(money_sum(CashReceipt.amount)).where(
            CashReceipt.customer_id == customer.id, CashReceipt.received_on == on,
            ~exists().where(CashReceiptCancellation.receipt_id == CashReceipt.id),
        )
    )
    if taken_today + amount > DAILY_LIMIT:
        raise CashLimitError(_l(
            "the customer has paid %(taken)s Kč in cash today; with this payment it would be "
            "more than %(limit)s Kč (zákon č. 254/2004 Sb., § 4): ask for a bank transfer",
            taken=shown_money(taken_today, text=f"{taken_today:,.2f}"),
            limit=shown_number(DAILY_LIMIT, 0, text=f"{DAILY_LIMIT:,.0f}")), field="amount")
    number = _next_number(session, on.year)
    tx = BankTransaction(
        source_account=CASH_ACCOUNT, bank_tx_id=number, booked_on=on, amount=amount,
        currency="CZK", status=MATCHED, customer_id=customer.id,
        counter_name=customer.name[:140], message=f"Hotovost, příjmový pokladní doklad {number}",
    )
    session.add(tx)
    session.flush()
    ledger.post_cash_payment(session, tx, customer.id, number, actor)
    directed = {("tx", tx.id): invoice.id} if invoice is not None else {}
    settle(session, [customer.id], directed, actor=actor)
    paid = [
        (n, a) for n, a in session.execute(
            select(Invoice.number, Allocation.amount)
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .where(Allocation.bank_transaction_id == tx.id)
            .order_by(Allocation.id)
        )
    ]
    credit = amount - sum((a for _, a in paid), ZERO)
    receipt = CashReceipt(
        number=number, customer_id=customer.id, bank_transaction_id=tx.id, amount=amount,
        currency="CZK", received_on=on, received_by=actor, purpose=purpose_text(paid, credit),
        note=(note or "").strip() or None,
        supplier_name=supplier.name, supplier_address=supplier.address,
        supplier_ico=supplier.ico, supplier_dic=supplier.dic,
        customer_number=customer.customer_number, customer_name=customer.name,
        customer_address=customer.address,
    )
    session.add(receipt)
    session.flush()
    audit.record(
        session, "payment.cash", actor=actor, customer_id=customer.id, new_value=number,
        details={"amount": str(amount), "invoice": invoice.number if invoice else None,
                 "paid": [[n, str(a)] for n, a in paid], "credit": str(credit)},
    )
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=customer.id)
    return CashPayment(receipt, paid, credit)


def _check_invoice(session: Session, customer: Customer, invoice: Invoice) -> None:
    from billing.ledger.balances import states_for

    if invoice.customer_id != customer.id:
        raise CashPaymentError(_l("invoice %(number)s is not customer %(customer)s's",
                                  number=invoice.number, customer=customer.customer_number),
                               field="invoice")
    if invoice.kind == InvoiceKind.CREDIT_NOTE:
        raise CashPaymentError(_l("%(number)s is a credit note: nothing to pay",
                                  number=invoice.number), field="invoice")
    if states_for(session, [invoice], today())[0].open_amount <= 0:
        raise CashPaymentError(_l("invoice %(number)s is paid", number=invoice.number),
                               field="invoice")


def _next_number(session: Session, year: int) -> str:
    series = lock_series(session, f"cash-{year}")
    if series.last_value + 1 >= 10**SERIAL_DIGITS:
        raise CashLimitError(_l("the cash receipt series of %(year)s is full", year=year))
    series.last_value += 1
    session.flush()
    return f"{PREFIX}{year}{series.last_value:0{SERIAL_DIGITS}d}"


def _kc(amount: Decimal) -> str:
    grouped = f"{amount:,.2f}".replace(",", "\u00a0").replace(".", ",")
    return f"{grouped}\u00a0Kč"


def purpose_text(paid: list[tuple[str, Decimal]], credit: Decimal) -> str:
    """What the receipt says the money paid (Czech, as printed)."""
    parts = [f"úhrada faktury {n}: {_kc(a)}" for n, a in paid]
    if credit > 0:
        parts.append(f"kredit na další platby: {_kc(credit)}")
    return "; ".join(parts)


def receipts_of(session: Session, customer_id: int | None = None, limit: int = 200):
    """Cash receipts, newest first (one customer's when given)."""
    query = select(CashReceipt).order_by(CashReceipt.id.desc()).limit(limit)
    if customer_id is not None:
        query = query.where(CashReceipt.customer_id == customer_id)
    return list(session.scalars(query))


__all__ = [
    "DAILY_LIMIT",
    "CashLimitError",
    "CashPayment",
    "CashPaymentError",
    "check_amount",
    "parse_amount",
    "purpose_text",
    "receipts_of",
    "take_cash_payment",
]
