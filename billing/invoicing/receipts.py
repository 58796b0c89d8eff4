"""Tax documents for payments received on advance invoices (daňové doklady k přijaté platbě).

An advance invoice (zálohová faktura, a payment request) is not a tax document; the payment
received on it is a taxable supply on the day it comes, and the supplier must issue a tax
document for it within 15 days (docs/facts/advance-settlement.md). :func:`issue_receipts` issues
one for every bank payment allocated to an advance invoice that has none yet: run after a
statement import, a manual assignment, and daily (``ispzone invoices receipts``); running it
again issues nothing new.

The VAT of a payment that covers only part of an advance is split over the advance's rates
in proportion to their totals (the last rate takes the rounding rest), and computed from
the gross amount per rate as § 37 wants. Receipts have their own number series
(``DP`` + year + 6 digits).

A payment on an advance in a foreign currency (a EUR credit account's top-up) gets its
receipt once the ČNB rate of the day it came is stored (billing/rates.py: the
receipt states its VAT in CZK too); until then it waits (:func:`waiting_for_rate`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from billing.invoicing.issue import lock_series
from billing.invoicing.vat import VatSplit, money, vat_from_gross
from billing.models import (
    CASH_ACCOUNT,
    Allocation,
    BankTransaction,
    CashReceipt,
    CashReceiptCancellation,
    Invoice,
    InvoiceKind,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptVat,
)
from billing.rates import rate_for
from core import audit
from core.clock import today
from core.errors import Conflict

log = logging.getLogger(__name__)
PREFIX = "DP"
SERIAL_DIGITS = 6


class ReceiptError(Conflict, ValueError):
    """A receipt cannot be issued (e.g. its number series is full)."""


def split_payment(amount: Decimal, recap: list[tuple[Decimal, Decimal]]) -> list[VatSplit]:
    """``amount`` received on an advance whose per-rate totals are ``recap`` [(rate, total)]
    -> one VAT split per rate, summing exactly to ``amount``."""
    amount = money(amount)
    positive = sorted((Decimal(rate), money(total)) for rate, total in recap if money(total) > 0)
    if not positive:
        raise ReceiptError("the advance invoice has no VAT recap to split the payment by")
    whole = sum(total for _, total in positive)
    splits, given = [], Decimal("0.00")
    for index, (rate, total) in enumerate(positive):
        last = index == len(positive) - 1
        part = amount - given if last else money(amount * total / whole)
        given += part
        splits.append(vat_from_gross(part, rate))
    return splits


def pending(session: Session, *, lock: bool = False):
    """(allocation, advance invoice, booked_on) of bank payments on advances with no receipt.

    ``lock`` (issuing them): the allocations are locked FOR KEY SHARE on PostgreSQL, as the
    foreign key tax_receipt.allocation_id did until migration 0028: an unpairing or a cash
    cancellation removing one (billing.bank.queue.payment_allocations, FOR UPDATE) either
    runs first (the allocation is gone when this lock is granted: no receipt is issued for
    it) or waits for this commit (and then corrects the receipt issued)."""
    query = (
        select(Allocation, Invoice, BankTransaction.booked_on)
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .join(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
        # a corrected receipt's allocation was removed (a cancelled payment), and SQLite may
        # give its id to a later allocation: that one is still pending (migration 0028)
        .outerjoin(TaxReceipt, (TaxReceipt.allocation_id == Allocation.id)
                   & (TaxReceipt.advance_invoice_id == Allocation.invoice_id)
                   & ~TaxReceipt.correction.has())
        .where(Invoice.kind == InvoiceKind.ADVANCE, TaxReceipt.id.is_(None))
        .order_by(BankTransaction.booked_on, Allocation.id)
    )
    if lock:
        query = query.with_for_update(of=Allocation, read=True, key_share=True)
    return session.execute(query).all()


def issue_receipts(session: Session, on: date | None = None, actor: str = "system") -> list[TaxReceipt]:
    """Issue the missing receipts (caller commits); returns the new ones."""
    on = on or today()
    series = lock_series(session, f"receipt-{on.year}")
    issued = []
    for allocation, advance, received_on in pending(session, lock=True):
        if advance.currency != "CZK" and rate_for(session, advance.currency, received_on) is None:
            # its VAT must be stated in CZK at the ČNB rate of the day the payment came
            # (billing/rates.py): it waits until that rate is imported
            log.warning("receipt for %s waits for the ČNB %s rate of %s", advance.number,
                        advance.currency, received_on)
            continue
        if series.last_value + 1 >= 10**SERIAL_DIGITS:
            raise ReceiptError(f"the receipt series of {on.year} is full")
        series.last_value += 1
        splits = split_payment(allocation.amount, [(r.rate, r.total) for r in advance.vat_recap])
        receipt = TaxReceipt(
            number=f"{PREFIX}{on.year}{series.last_value:0{SERIAL_DIGITS}d}",
            customer_id=advance.customer_id,
            advance_invoice_id=advance.id,
            allocation_id=allocation.id,
            issue_date=on,
            received_on=received_on,
            total_net=sum((s.base for s in splits), Decimal("0.00")),
            total_vat=sum((s.vat for s in splits), Decimal("0.00")),
            total=money(allocation.amount),
            vat_recap=[TaxReceiptVat(rate=s.rate, base=s.base, vat=s.vat, total=s.total)
                       for s in splits],
        )
        session.add(receipt)
        session.flush()
        audit.record(
            session,
            "receipt.issued",
            actor=actor,
            customer_id=advance.customer_id,
            new_value=receipt.number,
            details={"advance": advance.number, "amount": str(receipt.total),
                     "received_on": received_on.isoformat()},
        )
        issued.append(receipt)
    session.flush()
    return issued


def waiting_for_rate(session: Session) -> list[tuple[str, str, date]]:
    """(advance number, currency, day received) of payments whose receipt waits for a ČNB
    rate."""
    return [(advance.number, advance.currency, received_on)
            for _allocation, advance, received_on in pending(session)
            if advance.currency != "CZK" and rate_for(session, advance.currency, received_on) is None]


def receipts_for(session: Session, customer_id: int, advance_invoice_id: int) -> list[TaxReceipt]:
    """The receipts of one of the customer's advance invoices, oldest first."""
    return list(session.scalars(
        select(TaxReceipt)
        .where(TaxReceipt.customer_id == customer_id,
               TaxReceipt.advance_invoice_id == advance_invoice_id)
        .order_by(TaxReceipt.id)
    ))


def customer_receipt(session: Session, customer_id: int, receipt_id: int) -> TaxReceipt | None:
    """One of the customer's receipts (None for anyone else's)."""
    receipt = session.get(TaxReceipt, receipt_id)
    return receipt if receipt is not None and receipt.customer_id == customer_id else None


# how a payment was made (Forma úhrady on the receipt and its correction, billing.documents.pdf)
BANK, CASH = "bank", "cash"


def receipt_payment(session: Session, receipt: TaxReceipt, correction=None
                    ) -> BankTransaction | None:
    """The payment (a bank movement, or a cash payment's movement on the till) a receipt was
    issued for. Its allocation is removed when the payment is undone, so a corrected receipt
    finds it through what called for the correction (the unpaired movement, or the cancelled
    cash receipt; ``correction`` is the receipt's, when the caller holds it)."""
    if correction is None:  # asked, not the relationship: it may predate the correction
        correction = session.scalar(select(TaxReceiptCorrection)
                                    .where(TaxReceiptCorrection.receipt_id == receipt.id))
    if correction is not None and correction.bank_transaction_id is not None:
        return session.get(BankTransaction, correction.bank_transaction_id)
    if correction is not None and correction.cash_cancellation_id is not None:
        cancellation = session.get(CashReceiptCancellation, correction.cash_cancellation_id)
        cash = session.get(CashReceipt, cancellation.receipt_id)
        return session.get(BankTransaction, cash.bank_transaction_id)
    allocation = session.get(Allocation, receipt.allocation_id)
    if (allocation is None or allocation.invoice_id != receipt.advance_invoice_id
            or allocation.bank_transaction_id is None):
        return None
    return session.get(BankTransaction, allocation.bank_transaction_id)


def payment_form(session: Session | None, receipt: TaxReceipt, correction=None) -> str:
    """``cash`` for a payment at the till, else ``bank`` (a receipt is issued only for a
    payment that came as a movement, billing.invoicing.receipts.pending)."""
    if session is None:
        return BANK
    with session.no_autoflush:  # read while printing: never flush what the caller holds
        tx = receipt_payment(session, receipt, correction)
    return CASH if tx is not None and tx.source_account == CASH_ACCOUNT else BANK


@dataclass(frozen=True)
class _Line:
    description: str
    quantity: Decimal
    unit: str
    unit_price_net: Decimal
    vat_rate: Decimal
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class ReceiptDocument:
    """A receipt in the shape billing.documents.pdf prints (the advance's parties and symbols, one
    line per VAT rate, no due date and nothing left to pay)."""

    receipt: TaxReceipt
    advance: Invoice
    kind: str = "advance_receipt"
    corrects_invoice_id: None = None

    def __getattr__(self, name: str):
        # supplier_* / customer_* snapshots, symbols and currency come from the advance
        return getattr(self.advance, name)

    @property
    def number(self) -> str:
        return self.receipt.number

    @property
    def issue_date(self) -> date:
        return self.receipt.issue_date

    @property
    def taxable_date(self) -> date:
        return self.receipt.received_on

    @property
    def due_date(self) -> None:
        return None

    @property
    def payment_form(self) -> str:
        """How the payment came (``cash`` or ``bank``), printed as "Forma úhrady"."""
        return payment_form(object_session(self.receipt), self.receipt)

    @property
    def note(self) -> str:
        return (f"Daňový doklad k platbě přijaté {self.receipt.received_on.day}. "
                f"{self.receipt.received_on.month}. {self.receipt.received_on.year} na zálohovou "
                f"fakturu č. {self.advance.number}. Záloha bude odečtena ve vyúčtování.")

    @property
    def total_net(self) -> Decimal:
        return self.receipt.total_net

    @property
    def total_vat(self) -> Decimal:
        return self.receipt.total_vat

    @property
    def total(self) -> Decimal:
        return self.receipt.total

    @property
    def vat_recap(self) -> list[TaxReceiptVat]:
        return self.receipt.vat_recap

    @property
    def lines(self) -> list[_Line]:
        return [
            _Line(f"Přijatá platba k zálohové faktuře č. {self.advance.number}", Decimal(1), "",
                  r.base, r.rate, r.base, r.vat, r.total)
            for r in self.receipt.vat_recap
        ]


def render_receipt_pdf(receipt: TaxReceipt) -> bytes:
    from billing.documents.pdf import render_invoice_pdf

    return render_invoice_pdf(ReceiptDocument(receipt, receipt.advance), Decimal("0.00"))
