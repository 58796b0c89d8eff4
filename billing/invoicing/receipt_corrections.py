"""Corrective tax documents for receipts of cancelled payments (opravný daňový doklad k
daňovému dokladu k přijaté platbě).

A tax document for a payment received on an advance invoice (billing.invoicing.receipts,
series ``DP``) is never changed or deleted. When the payment it was issued for turns out to
be a mistake (a cash receipt cancelled, billing/cash/cancellation.py; a bank payment put on the
wrong customer or reversed by the bank and unpaired, ``payments unassign`` in
billing/bank/queue.py), the received payment did not happen for this advance: :func:`correct_receipts` issues for each such receipt a corrective document
that reverses it (§ 42 and § 45 of the VAT act, docs/facts/credit-notes.md): per rate the
receipt's base, VAT and total negated to the haléř, naming the receipt's number, the reason,
the day of the correction (datum uskutečnění opravy: it belongs to that day's VAT period,
billing.reports.vat), and the operator. A receipt in a foreign currency is corrected in its
currency, and its VAT in CZK is stated at the receipt's own ČNB rate (the same CZK amount,
negated).

Numbered in a series of its own: ``ODP`` + year + 6 digits (``document_series`` key
``receipt-corr-YYYY``), which clashes with none of the others (``DP`` receipts, ``PPD``
cash receipts, ``SPD`` their cancellations, the invoices' digits-only series).

Refused (nothing written) where a correction would not be the whole story: a receipt already
deducted in a final invoice (billing.invoicing.settlement: correct that invoice with a credit
note first), or booked to a prepaid credit account (billing.credit.topups: the credit may be
spent). Functions flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, object_session

from billing.invoicing.issue import lock_series
from billing.invoicing.receipts import ReceiptDocument, payment_form
from billing.models import (
    AdvanceDeduction,
    Invoice,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptCorrectionVat,
)
from billing.models.credit import CreditReceipt
from core import audit
from core.errors import Conflict
from core.i18n import _l

PREFIX = "ODP"
SERIAL_DIGITS = 6
KIND = "advance_receipt_correction"


class CorrectionError(Conflict, ValueError):
    """A receipt that cannot be corrected as asked."""


def correction_of(session: Session, receipt_id: int) -> TaxReceiptCorrection | None:
    return session.scalar(select(TaxReceiptCorrection)
                          .where(TaxReceiptCorrection.receipt_id == receipt_id))


def corrections_of_cancellation(session: Session, cancellation_id: int
                                ) -> list[TaxReceiptCorrection]:
    """The corrective documents a cash receipt's cancellation issued, oldest first."""
    return list(session.scalars(
        select(TaxReceiptCorrection)
        .where(TaxReceiptCorrection.cash_cancellation_id == cancellation_id)
        .order_by(TaxReceiptCorrection.id)))


def corrections_of_payment(session: Session, bank_transaction_id: int
                           ) -> list[TaxReceiptCorrection]:
    """The corrective documents the unpairings of a bank payment issued, oldest first."""
    return list(session.scalars(
        select(TaxReceiptCorrection)
        .where(TaxReceiptCorrection.bank_transaction_id == bank_transaction_id)
        .order_by(TaxReceiptCorrection.id)))


def customer_correction(session: Session, customer_id: int, correction_id: int
                        ) -> TaxReceiptCorrection | None:
    """One of the customer's corrective documents (None for anyone else's)."""
    found = session.get(TaxReceiptCorrection, correction_id)
    return found if found is not None and found.customer_id == customer_id else None


def refusal(session: Session, receipts: list[TaxReceipt]) -> str | None:
    """Why ``receipts`` cannot be corrected (a message for the operator), or None."""
    for receipt in receipts:
        if correction_of(session, receipt.id) is not None:
            return _l("the tax document %(number)s is already corrected", number=receipt.number)
        deducted = session.execute(
            select(Invoice.number)
            .join(AdvanceDeduction, AdvanceDeduction.invoice_id == Invoice.id)
            .where(AdvanceDeduction.receipt_id == receipt.id)).scalar()
        if deducted is not None:
            return _l("the tax document %(number)s was deducted in the final invoice "
                      "%(invoice)s: correct that invoice with a credit note first",
                      number=receipt.number, invoice=deducted)
        if session.scalar(select(CreditReceipt.id)
                          .where(CreditReceipt.receipt_id == receipt.id)) is not None:
            return _l("the tax document %(number)s topped up a prepaid credit account, "
                      "which may have been spent", number=receipt.number)
    return None


def correct_receipts(session: Session, receipts: list[TaxReceipt], reason: str, *, on: date,
                     actor: str, cash_cancellation_id: int | None = None,
                     bank_transaction_id: int | None = None) -> list[TaxReceiptCorrection]:
    """Issue one corrective document per receipt (see the module's docstring), naming what
    called for it (a cash receipt's cancellation, or the unpaired bank payment); the caller
    checked :func:`refusal` first and commits."""
    if not receipts:
        return []
    series = lock_series(session, f"receipt-corr-{on.year}")
    issued = []
    for receipt in receipts:
        if series.last_value + 1 >= 10**SERIAL_DIGITS:
            raise CorrectionError(_l("the corrective documents' series of %(year)s is full",
                                     year=on.year))
        series.last_value += 1
        correction = TaxReceiptCorrection(
            number=f"{PREFIX}{on.year}{series.last_value:0{SERIAL_DIGITS}d}",
            receipt_id=receipt.id, customer_id=receipt.customer_id,
            cash_cancellation_id=cash_cancellation_id,
            bank_transaction_id=bank_transaction_id, issue_date=on, corrected_on=on,
            reason=reason, corrected_by=actor,
            total_net=-receipt.total_net, total_vat=-receipt.total_vat, total=-receipt.total,
            vat_recap=[TaxReceiptCorrectionVat(rate=r.rate, base=-r.base, vat=-r.vat,
                                               total=-r.total) for r in receipt.vat_recap],
        )
        session.add(correction)
        session.flush()
        audit.record(
            session, "receipt.corrected", actor=actor, customer_id=receipt.customer_id,
            old_value=receipt.number, new_value=correction.number,
            details={"receipt": receipt.number, "advance": receipt.advance.number,
                     "base": str(correction.total_net), "vat": str(correction.total_vat),
                     "total": str(correction.total), "reason": reason,
                     "corrected_on": on.isoformat(),
                     "why": "unassigned" if bank_transaction_id else "cash_cancelled"},
        )
        issued.append(correction)
    session.flush()
    return issued


@dataclass(frozen=True)
class _Czk:
    """What the CZK VAT is computed from: the receipt's currency, rates (its DUZP's ČNB
    rate) and the correction's per-rate VAT."""

    currency: str
    taxable_date: date
    vat_recap: list
    kind: str = KIND


@dataclass(frozen=True)
class CorrectionDocument(ReceiptDocument):
    """A corrective document in the receipt's layout (billing.documents.pdf): the advance's
    parties and symbols, one line per rate with the negated amounts, the receipt it
    corrects, the reason and the day of the correction."""

    correction: TaxReceiptCorrection | None = None
    kind: str = KIND

    @property
    def number(self) -> str:
        return self.correction.number

    @property
    def issue_date(self) -> date:
        return self.correction.issue_date

    @property
    def taxable_date(self) -> None:  # the day of the correction is printed as such
        return None

    @property
    def payment_form(self) -> str:
        return payment_form(object_session(self.correction), self.receipt, self.correction)

    @property
    def correction_reason(self) -> str:
        return self.correction.reason

    @property
    def note(self) -> str:
        what = ("přiřazení platby k zálohové faktuře č. {} bylo zrušeno (platba nepatří "
                "k této záloze)" if self.correction.bank_transaction_id is not None
                else "platba na zálohovou fakturu č. {} byla stornována")
        return (f"Opravný daňový doklad k daňovému dokladu k přijaté platbě č. "
                f"{self.receipt.number}: {what.format(self.advance.number)}. "
                f"Opravu provedl(a): {self.correction.corrected_by}.")

    @property
    def total_net(self) -> Decimal:
        return self.correction.total_net

    @property
    def total_vat(self) -> Decimal:
        return self.correction.total_vat

    @property
    def total(self) -> Decimal:
        return self.correction.total

    @property
    def vat_recap(self) -> list[TaxReceiptCorrectionVat]:
        return self.correction.vat_recap

    @property
    def czk_view(self) -> _Czk:
        # § 4 odst. 5: the CZK VAT at the rate the receipt used, so it nets to zero
        return _Czk(self.advance.currency, self.receipt.received_on, self.correction.vat_recap)

    @property
    def lines(self):
        from billing.invoicing.receipts import _Line

        return [
            _Line(f"Oprava přijaté platby k zálohové faktuře č. {self.advance.number}",
                  Decimal(1), "", r.base, r.rate, r.base, r.vat, r.total)
            for r in self.correction.vat_recap
        ]


def render_correction_pdf(correction: TaxReceiptCorrection) -> bytes:
    from billing.documents.pdf import render_invoice_pdf

    receipt = correction.receipt
    document = CorrectionDocument(receipt, receipt.advance, correction=correction)
    return render_invoice_pdf(document, Decimal("0.00"))


__all__ = [
    "PREFIX",
    "CorrectionDocument",
    "CorrectionError",
    "correct_receipts",
    "correction_of",
    "corrections_of_cancellation",
    "corrections_of_payment",
    "customer_correction",
    "refusal",
    "render_correction_pdf",
]
