"""Paying a payment request (an invoice) from the credit account: one request at a time
(:func:`pay_from_credit`, for renewals and the zone) and the "Nestrhávat automaticky" tick.
The daily auto-pay (set-based) is billing.credit.autopay.

Postings (docs/credit.md): the credit holds money without VAT whose VAT was declared on
the top-up's tax document, so a request is paid by taking its amount WITHOUT VAT from the
credit:

* an advance invoice (a payment request, not a tax document): receivable ``-open``,
  advances ``+open``, credit ``+net``, revenue ``-net``;
* a tax document (regular, goods): receivable ``-open``, credit ``+net``, output_vat
  ``+vat`` (its VAT was already declared on the top-up's tax document; the final document,
  billing.credit's advance settlement, deducts it).

An allocation row (source ``credit_payment_id``) marks the request paid, like a bank
payment's, so every reader of paid amounts sees it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.credit.accounts import CreditConflict, CreditError, credit_balance, lock_account
from billing.ledger import postings
from billing.ledger.balances import paid_amounts
from billing.models import AccountKind, Allocation, Invoice, InvoiceKind
from billing.models import TransactionKind as TK
from billing.models.credit import CreditHold, CreditPayment, CreditTopUp
from core import audit, events
from core.clock import now, today
from core.i18n import _l

ZERO = Decimal("0.00")
CENT = Decimal("0.01")
A = AccountKind
# the kinds of requests the credit pays (a credit note is no request; a VoIP coupon's
# invoice carries the line's credit of its own)
PAYABLE_KINDS = (InvoiceKind.REGULAR, InvoiceKind.GOODS, InvoiceKind.ADVANCE)


class PayOutcome(StrEnum):
    PAID = "paid"  # paid from credit now
    SHORT = "short"  # the credit does not cover it: nothing was deducted
    ALREADY_PAID = "already_paid"  # nothing open on it


@dataclass(frozen=True)
class PayResult:
    outcome: PayOutcome
    invoice_id: int
    amount: Decimal = ZERO  # settled on the request (with VAT)
    credit_amount: Decimal = ZERO  # taken from the credit (without VAT)
    balance: Decimal = ZERO  # the credit afterwards (or now, when short)

    @property
    def paid(self) -> bool:
        return self.outcome == PayOutcome.PAID


def credit_amount_for(invoice_total: Decimal, invoice_net: Decimal, open_amount: Decimal) -> Decimal:
    """What paying ``open_amount`` of a request takes from the credit: its part without VAT
    (all of ``invoice_net`` when nothing was paid; in proportion otherwise, to the haléř)."""
    if open_amount >= invoice_total:
        return invoice_net
    return (invoice_net * open_amount / invoice_total).quantize(CENT, rounding=ROUND_HALF_UP)


def payment_legs(customer_id: int, kind: str, open_amount: Decimal,
                 credit_amount: Decimal) -> list[tuple[str, Decimal]]:
    """The legs of paying ``open_amount`` of a request of ``kind`` from the credit."""
    key = postings.account_key
    legs = [(key(A.RECEIVABLE, customer_id), -open_amount),
            (key(A.CREDIT, customer_id), credit_amount)]
    if kind == InvoiceKind.ADVANCE:
        legs += [(key(A.ADVANCES), open_amount), (key(A.REVENUE), -credit_amount)]
    else:
        legs += [(key(A.OUTPUT_VAT), open_amount - credit_amount)]
    return legs


def pay_from_credit(session: Session, invoice: Invoice, *, actor: str,
                    on: date | None = None) -> PayResult:
    """Pay what is open on ``invoice`` from its customer's credit account, all or nothing.

    Refused (``CreditError``/``CreditConflict``, nothing written): no open credit account,
    another currency than the account's, a credit note or a top-up request. Returns
    ``PAID`` (the credit taken, an allocation and a ledger posting written, audited),
    ``SHORT`` (the credit does not cover it: nothing deducted, the request stays open) or
    ``ALREADY_PAID``. The account row is locked first, so payers of one account queue up;
    the unique ``credit_payment.invoice_id`` makes a second payment of a request impossible.
    """
    on = on or today()
    account = lock_account(session, invoice.customer_id)
    if account is None or account.closed_at is not None:
        raise CreditConflict(_l("the customer has no open credit account"))
    if invoice.currency != account.currency:
        raise CreditError(_l(
            "invoice %(number)s is in %(currency)s; the credit account is kept in %(account)s "
            "and never pays another currency", number=invoice.number,
            currency=invoice.currency, account=account.currency))
    if invoice.kind not in PAYABLE_KINDS:
        raise CreditError(_l("invoice %(number)s is not a payment request the credit pays",
                             number=invoice.number))
    if session.scalar(select(CreditTopUp.id).where(CreditTopUp.invoice_id == invoice.id)):
        raise CreditError(_l("invoice %(number)s is a top-up of the credit itself",
                             number=invoice.number))
    _lock_settlers(session, invoice.customer_id)
    balance = credit_balance(session, invoice.customer_id)
    already = session.scalar(select(CreditPayment.id).where(CreditPayment.invoice_id == invoice.id))
    open_amount = invoice.total - paid_amounts(session, [invoice.id]).get(invoice.id, ZERO)
    if already is not None or open_amount <= 0:
        return PayResult(PayOutcome.ALREADY_PAID, invoice.id, balance=balance)
    take = credit_amount_for(invoice.total, invoice.total_net, open_amount)
    if take > balance:
        return PayResult(PayOutcome.SHORT, invoice.id, balance=balance)
    payment = CreditPayment(account_id=account.id, invoice_id=invoice.id, amount=open_amount,
                            credit_amount=take, paid_on=on, actor=actor, created_at=now())
    session.add(payment)
    session.flush()
    allocation = Allocation(invoice_id=invoice.id, credit_payment_id=payment.id,
                            amount=open_amount, created_at=now())
    session.add(allocation)
    session.flush()
    postings.record(session, [postings.Posting(
        TK.CREDIT_PAYMENT, payment_legs(invoice.customer_id, invoice.kind, open_amount, take),
        booked_on=on, actor=actor, description=f"Úhrada z kreditu: {invoice.number}",
        customer_id=invoice.customer_id, invoice_id=invoice.id, allocation_id=allocation.id,
        reference=f"credit_payment:{payment.id}",
    )])
    audit.record(session, "credit.paid", actor=actor, customer_id=invoice.customer_id,
                 new_value=invoice.number,
                 details={"amount": str(open_amount), "credit_amount": str(take),
                          "credit_before": str(balance), "credit_after": str(balance - take)})
    events.emit(session, events.OVERDUE_DEBT_CHANGED, customer_id=invoice.customer_id)
    return PayResult(PayOutcome.PAID, invoice.id, open_amount, take, balance - take)


def _lock_settlers(session: Session, customer_id: int) -> None:
    """The settlers' lock on the customer (PostgreSQL): no bank settlement of theirs runs
    between our reading what is open and our allocation."""
    if session.get_bind().dialect.name == "postgresql":
        from billing.bank.pairing_pg import lock_customers

        lock_customers(session, [customer_id])


# -- "Nestrhávat automaticky" ---------------------------------------------------------------


def held(session: Session, invoice_id: int) -> bool:
    """Whether the customer ticked "Nestrhávat automaticky" on this request (latest tick)."""
    return bool(session.scalar(
        select(CreditHold.hold).where(CreditHold.invoice_id == invoice_id)
        .order_by(CreditHold.id.desc()).limit(1)))


def set_hold(session: Session, invoice: Invoice, hold: bool, *, actor: str) -> None:
    """Tick (``hold``) or untick "Nestrhávat automaticky" on one of the customer's requests."""
    if invoice.kind not in PAYABLE_KINDS:
        raise CreditError(_l("invoice %(number)s is not a payment request",
                             number=invoice.number))
    if held(session, invoice.id) == hold:
        return
    session.add(CreditHold(invoice_id=invoice.id, hold=hold, actor=actor, created_at=now()))
    session.flush()
    audit.record(session, "credit.hold", actor=actor, customer_id=invoice.customer_id,
                 field=invoice.number, old_value=not hold, new_value=hold)
