"""What a customer sees and may change of their own account: contact details, services,
invoices with what paid them, and the history of their payments.

Functions flush; the caller commits. No Flask here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from functools import lru_cache

from sqlalchemy import Date, String, bindparam, literal, null, or_, select, type_coerce, union_all
from sqlalchemy.orm import Session, selectinload

from billing.bank.pairing import MATCHED
from billing.customers import validation
from billing.ledger.balances import ZERO, InvoiceState, line_credit_of, states_for
from billing.models import Allocation, BankTransaction, Contract, Customer, Invoice, Service
from core import audit
from core.clock import prague_date
from core.db import Money
from core.errors import Invalid

# -- contact details -------------------------------------------------------------------------

CONTACT_FIELDS = (
    "name",
    "contact_person",
    "street",
    "city",
    "postal_code",
    "email",
    "phone",
    "ico",
    "dic",
)
REQUIRED = frozenset({"name", "street", "city", "postal_code", "email", "phone"})
MAX_LENGTH = {"name": 200, "contact_person": 200, "street": 200, "city": 100}
NORMALISERS: dict[str, Callable[[str], str]] = {
    "postal_code": validation.postal_code,
    "email": validation.email,
    "phone": validation.phone,
    "ico": validation.ico,
    "dic": validation.dic,
}


@dataclass(frozen=True)
class Change:
    field: str
    old: str | None
    new: str | None


class ContactValidationError(Invalid, ValueError):
    """Some fields are not valid; ``errors`` maps each such field to a short English reason."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def clean_contact(changes: dict) -> dict[str, str | None]:
    """Validate and normalise the given fields (empty optional fields become None)."""
    unknown = set(changes) - set(CONTACT_FIELDS)
    if unknown:
        raise ValueError(f"not contact fields: {', '.join(sorted(unknown))}")
    cleaned: dict[str, str | None] = {}
    errors: dict[str, str] = {}
    for name in CONTACT_FIELDS:
        if name not in changes:
            continue
        value = " ".join((changes[name] or "").split())
        if not value:
            if name in REQUIRED:
                errors[name] = "required"
            else:
                cleaned[name] = None
            continue
        if name in MAX_LENGTH and len(value) > MAX_LENGTH[name]:
            errors[name] = f"at most {MAX_LENGTH[name]} characters"
            continue
        try:
            cleaned[name] = NORMALISERS[name](value) if name in NORMALISERS else value
        except validation.InvalidValue as exc:
            errors[name] = str(exc)
    if errors:
        raise ContactValidationError(errors)
    return cleaned


def update_contact(
    session: Session, customer: Customer, changes: dict, actor: str, ip: str | None
) -> list[Change]:
    """Apply validated contact changes; one audit event per changed field.

    Nothing is changed when any field is invalid (:class:`ContactValidationError`).
    """
    cleaned = clean_contact(changes)
    result = []
    for name, new in cleaned.items():
        old = getattr(customer, name)
        if (old or None) == new:
            continue
        setattr(customer, name, new)
        result.append(Change(name, old, new))
        audit.record(
            session,
            "contact.changed",
            actor=actor,
            customer_id=customer.id,
            field=name,
            old_value=old,
            new_value=new,
            ip=ip,
        )
    session.flush()
    return result


# -- services --------------------------------------------------------------------------------

SERVICE_ORDER = ("internet", "insurance", "voip", "other")


@dataclass(frozen=True)
class ServiceOverview:
    active: dict[str, list[Service]]  # kind -> services, kinds in SERVICE_ORDER
    ended: list[Service]
    # prepaid services that ran out unrenewed (valid_to = expires_on): the customer renews them
    expired: list[Service] = field(default_factory=list)


def is_expired(service: Service, on: date) -> bool:
    """A prepaid service that ran out unrenewed (billing/credit/renewals.py set its
    ``valid_to`` to its expiry); an ended one has ``valid_to`` before its expiry."""
    return (service.expires_on is not None and service.valid_to is not None
            and service.valid_to == service.expires_on and service.valid_to < on)


@lru_cache(maxsize=1)
def _contracts_query():
    return (
        select(Contract.number, Contract.signed_on, Contract.ended_on)
        .where(Contract.customer_id == bindparam("customer_id"))
        .order_by(Contract.id)
    )


def contract_list(session: Session, customer_id: int) -> list:
    """The customer's contracts as rows (number, signed_on, ended_on), oldest first: the
    overview page lists them on every visit, so no ORM objects are built."""
    return session.connection().execute(_contracts_query(), {"customer_id": customer_id}).all()


@dataclass(frozen=True)
class OverviewLists:
    """The two lists of the client zone's overview, as rows: the contracts (``number``,
    ``signed_on``, ``ended_on``; oldest first) and the VoIP lines in force (``id``, ``name``,
    ``phone_number``, ``credit``: the ledger's; in the order of the services list)."""

    contracts: list
    voip_lines: list


@lru_cache(maxsize=1)
def _overview_query():
    """One statement for both lists (UNION ALL, ``part`` tells the rows apart): the page
    is shown on every visit and a statement costs more in the app than in the database."""
    customer_id, on = bindparam("customer_id"), bindparam("on", type_=Date)
    contracts = select(
        literal("contract").label("part"), Contract.id.label("id"),
        Contract.number.label("number"), Contract.signed_on.label("signed_on"),
        Contract.ended_on.label("ended_on"), type_coerce(null(), String).label("name"),
        type_coerce(null(), String).label("phone_number"),
        type_coerce(null(), Money()).label("credit"), type_coerce(null(), Date).label("since"),
    ).where(Contract.customer_id == customer_id)
    lines = select(
        literal("voip"), Service.id, null(), null(), null(), Service.name, Service.phone_number,
        line_credit_of(Service.id), Service.valid_from,
    ).where(
        Service.customer_id == customer_id, Service.kind == "voip", Service.valid_from <= on,
        or_(Service.valid_to.is_(None), Service.valid_to >= on),
    )
    return union_all(contracts, lines).order_by("part", "since", "id")


def overview_lists(session: Session, customer_id: int, on: date) -> OverviewLists:
    """The overview's contracts and the VoIP lines in force on ``on``, in one query."""
    rows = session.connection().execute(
        _overview_query(), {"customer_id": customer_id, "on": on}).all()
    return OverviewLists([r for r in rows if r.part == "contract"],
                         [r for r in rows if r.part == "voip"])


def customer_services(session: Session, customer_id: int) -> list[Service]:
    return list(
        session.scalars(
            select(Service)
            .where(Service.customer_id == customer_id)
            .options(selectinload(Service.addresses), selectinload(Service.contract))
            .order_by(Service.valid_from, Service.id)
        )
    )


def services_overview(session: Session, customer_id: int, on: date) -> ServiceOverview:
    """Services in force (or not yet started) grouped by kind, and the ended ones."""
    active: dict[str, list[Service]] = {kind: [] for kind in SERVICE_ORDER}
    ended, expired = [], []
    for service in customer_services(session, customer_id):
        if is_expired(service, on):
            expired.append(service)
        elif service.valid_to is not None and service.valid_to < on:
            ended.append(service)
        else:
            active.setdefault(service.kind, []).append(service)
    ended.sort(key=lambda s: s.valid_to, reverse=True)
    return ServiceOverview({k: v for k, v in active.items() if v}, ended, expired)


def customer_service(session: Session, customer_id: int, service_id: int) -> Service | None:
    """The customer's own service, or None (also when it belongs to someone else)."""
    return session.scalar(
        select(Service)
        .where(Service.id == service_id, Service.customer_id == customer_id)
        .options(selectinload(Service.addresses), selectinload(Service.contract))
    )


# -- invoices --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppliedAmount:
    """Money applied to an invoice: a payment (booked_on) or a credit note (its number)."""

    amount: Decimal
    booked_on: date
    credit_note_id: int | None = None
    credit_note_number: str | None = None


@dataclass(frozen=True)
class InvoiceRef:
    id: int
    number: str


@dataclass(frozen=True)
class InvoiceDetail:
    state: InvoiceState
    applied: list[AppliedAmount]
    corrects: InvoiceRef | None  # for a credit note: the invoice it corrects
    corrected_by: list[InvoiceRef] = field(default_factory=list)  # credit notes of an invoice

    @property
    def invoice(self) -> Invoice:
        return self.state.invoice


def invoice_detail(
    session: Session, customer_id: int, invoice_id: int, on: date
) -> InvoiceDetail | None:
    """One of the customer's invoices with its state and what paid it; None if not theirs."""
    invoice = session.scalar(
        select(Invoice)
        .where(Invoice.id == invoice_id, Invoice.customer_id == customer_id)
        .options(selectinload(Invoice.lines), selectinload(Invoice.vat_recap))
    )
    if invoice is None:
        return None
    credit_note = Invoice.__table__.alias("credit_note")
    rows = session.execute(
        select(Allocation, BankTransaction.booked_on, credit_note.c.number)
        .outerjoin(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
        .outerjoin(credit_note, credit_note.c.id == Allocation.credit_note_id)
        .where(Allocation.invoice_id == invoice.id)
        .order_by(Allocation.created_at, Allocation.id)
    ).all()
    applied = [
        AppliedAmount(
            amount=a.amount,
            booked_on=booked_on or prague_date(a.created_at),
            credit_note_id=a.credit_note_id,
            credit_note_number=cn_number,
        )
        for a, booked_on, cn_number in rows
    ]
    related = session.execute(
        select(Invoice.id, Invoice.number, Invoice.corrects_invoice_id).where(
            Invoice.customer_id == customer_id,
            (Invoice.id == invoice.corrects_invoice_id)
            | (Invoice.corrects_invoice_id == invoice.id),
        )
    ).all()
    corrects = next(
        (InvoiceRef(i, n) for i, n, _c in related if i == invoice.corrects_invoice_id), None
    )
    corrected_by = [InvoiceRef(i, n) for i, n, c in related if c == invoice.id]
    return InvoiceDetail(states_for(session, [invoice], on)[0], applied, corrects, corrected_by)


# -- payments --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaidInvoice:
    invoice_id: int
    number: str
    amount: Decimal


@dataclass(frozen=True)
class PaymentRecord:
    transaction: BankTransaction
    paid: list[PaidInvoice]

    @property
    def unapplied(self) -> Decimal:
        """What of this payment has not paid any invoice yet (the customer's credit)."""
        return max(self.transaction.amount - sum((p.amount for p in self.paid), ZERO), ZERO)


def payment_history(session: Session, customer_id: int) -> list[PaymentRecord]:
    """The customer's matched payments, newest first, each with the invoices it paid.

    Two queries whatever the number of payments.
    """
    transactions = list(
        session.scalars(
            select(BankTransaction)
            .where(BankTransaction.customer_id == customer_id, BankTransaction.status == MATCHED)
            .order_by(BankTransaction.booked_on.desc(), BankTransaction.id.desc())
        )
    )
    paid: dict[int, list[PaidInvoice]] = {tx.id: [] for tx in transactions}
    if transactions:
        rows = session.execute(
            select(Allocation.bank_transaction_id, Invoice.id, Invoice.number, Allocation.amount)
            .join(Invoice, Invoice.id == Allocation.invoice_id)
            .where(
                Allocation.bank_transaction_id.in_(list(paid)),
                Invoice.customer_id == customer_id,
            )
            .order_by(Allocation.id)
        )
        for tx_id, invoice_id, number, amount in rows:
            paid[tx_id].append(PaidInvoice(invoice_id, number, amount))
    return [PaymentRecord(tx, paid[tx.id]) for tx in transactions]
