"""Coupon top-ups: credit at once, an invoice to pay, at most a cap per calendar month.

The invoice and the line's credit are one ledger transaction (billing.ledger.postings).

Coupon values include VAT (21 %): the top-up's invoice is the tax document for the coupon,
and calls later consume VAT-inclusive credit without being invoiced again (see docs/voip.md).

No Flask here. :func:`top_up` flushes; the caller commits (or rolls back on an error).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.models import Contract, Customer, Invoice, Service
from core import audit
from core.clock import now, prague_date
from core.db import money_sum
from core.errors import DomainError
from core.i18n import _l
from core.i18n import money as shown_money
from voip.lines import LineError, lock_line, month_start, next_month_start
from voip.models import TopUp

KEY_LENGTH = (16, 64)


class TopUpError(DomainError, ValueError):
    """A top-up that cannot be made; nothing was created."""


class UnknownLine(TopUpError):
    pass


class InvalidCoupon(TopUpError):
    pass


class InvalidRequestKey(TopUpError):
    pass


class CapExceeded(TopUpError):
    status = 409

    def __init__(self, cap: Decimal, spent: Decimal, amount: Decimal):
        self.cap, self.spent, self.amount = cap, spent, amount
        super().__init__(_l("top-up of %(amount)s would exceed the monthly cap %(cap)s (spent %(spent)s)",
                            amount=shown_money(amount, "CZK", text=str(amount)),
                            cap=shown_money(cap, "CZK", text=str(cap)),
                            spent=shown_money(spent, "CZK", text=str(spent))))

    @property
    def remaining(self) -> Decimal:
        return max(self.cap - self.spent, Decimal("0.00"))


@dataclass(frozen=True)
class CapState:
    cap: Decimal
    spent: Decimal

    @property
    def remaining(self) -> Decimal:
        return max(self.cap - self.spent, Decimal("0.00"))


def spent_in_month(session: Session, service_id: int, moment: datetime) -> Decimal:
    """The sum of the line's top-ups in ``moment``'s calendar month (Europe/Prague)."""
    day = prague_date(moment)
    return session.scalar(
        select(money_sum(TopUp.amount)).where(
            TopUp.service_id == service_id,
            TopUp.created_at >= month_start(day),
            TopUp.created_at < next_month_start(day),
        )
    )


def cap_state(session: Session, service: Service, cap_default: Decimal, moment: datetime | None = None) -> CapState:
    cap = service.topup_cap if service.topup_cap is not None else cap_default
    return CapState(cap, spent_in_month(session, service.id, moment or now()))


def find(session: Session, request_key: str) -> TopUp | None:
    return session.scalar(select(TopUp).where(TopUp.request_key == request_key))


def spaced(number: str) -> str:
    """+420601234567 -> +420 601 234 567 (as printed on the invoice)."""
    if number.startswith("+420") and len(number) == 13:
        return f"+420 {number[4:7]} {number[7:10]} {number[10:]}"
    return number


def invoice_line(service: Service, amount: Decimal, vat_rate: Decimal) -> LineInput:
    return LineInput(
        f"Dobití kreditu VoIP {spaced(service.phone_number)}",
        Decimal("1"),
        amount,
        vat_rate=vat_rate,
        unit="ks",
        service_id=service.id,
    )


def top_up(
    session: Session,
    service_id: int,
    amount: Decimal,
    request_key: str,
    *,
    actor: str,
    ip: str | None,
    cap_default: Decimal,
    supplier: Supplier,
    coupons: tuple[Decimal, ...] | None = None,
    vat_rate: Decimal = Decimal("21"),
    due_days: int = 14,
) -> TopUp:
    """Add a coupon's value to the line's credit and invoice it, in the caller's transaction.

    The line row is locked first, so concurrent top-ups of one line queue up and each
    sees the ones before it when it checks the monthly cap. A request key already used by
    this line returns its top-up unchanged (a re-submitted confirmation); two concurrent
    requests with one key meet the UNIQUE constraint, and the caller shows the first.

    Raises :class:`CapExceeded`, :class:`InvalidCoupon`, :class:`UnknownLine` or
    :class:`InvalidRequestKey`; then nothing has been written that the caller should keep.
    """
    amount = Decimal(amount)
    if amount <= 0 or (coupons is not None and amount not in coupons):
        raise InvalidCoupon(_l("no coupon of %(amount)s", amount=shown_money(amount, "CZK", text=f"{amount} CZK")))
    if not (KEY_LENGTH[0] <= len(request_key or "") <= KEY_LENGTH[1]):
        raise InvalidRequestKey(_l("malformed request key"))
    try:
        line = lock_line(session, service_id)  # first: see lock_line on SQLite
    except LineError as exc:
        raise UnknownLine(exc.args[0] if exc.args else str(exc)) from exc
    service = session.get(Service, service_id, populate_existing=True)  # its cap, fresh
    if service is None or service.kind != "voip":
        raise UnknownLine(_l("no VoIP service %(id)s", id=service_id))
    existing = find(session, request_key)
    if existing is not None:
        if existing.service_id != service_id:
            raise InvalidRequestKey(_l("the request key belongs to another line"))
        return existing

    moment = now()
    state = cap_state(session, service, cap_default, moment)
    if state.spent + amount > state.cap:
        raise CapExceeded(state.cap, state.spent, amount)

    customer = session.get(Customer, service.customer_id)
    contract = session.get(Contract, service.contract_id)
    issued = prague_date(moment)
    invoice: Invoice = issue_invoice(
        session,
        customer,
        [invoice_line(service, amount, vat_rate)],
        supplier,
        IssueOptions(
            kind="voip_topup",
            issue_date=issued,
            taxable_date=issued,
            due_date=issued + timedelta(days=due_days),
            prices_include_vat=True,
            actor=actor,
            credit_line=(service_id, amount),  # the coupon's credit, in the invoice's posting
        ),
        contract=contract,
    )
    topup = TopUp(
        service_id=service_id,
        customer_id=service.customer_id,
        amount=amount,
        invoice_id=invoice.id,
        created_at=moment,
        request_key=request_key,
        actor=actor,
        ip=ip,
    )
    session.add(topup)
    new_credit = line.credit  # the ledger's, with this coupon
    old_credit = new_credit - amount
    if line.low_credit_threshold is None or new_credit >= line.low_credit_threshold:
        line.low_credit_notified = False
    session.flush()  # the UNIQUE request key speaks here (IntegrityError) if raced
    audit.record(
        session,
        "voip.topup",
        actor=actor,
        customer_id=service.customer_id,
        field="credit",
        old_value=old_credit,
        new_value=new_credit,
        ip=ip,
        details={
            "number": service.phone_number,
            "amount": str(amount),
            "invoice": invoice.number,
            "month_total": str(state.spent + amount),
            "cap": str(state.cap),
        },
    )
    session.flush()
    return topup
