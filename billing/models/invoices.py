"""Invoices as issued documents. An issued invoice is never changed; a credit note corrects it."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Boolean, Date, ForeignKey, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from core.clock import now
from core.db import Base


class InvoiceKind(StrEnum):
    """``invoice.kind``. Only an advance invoice is not a tax document
    (docs/facts/tax-documents.md); a credit note has a negative total."""

    REGULAR = "regular"
    GOODS = "goods"
    VOIP_TOPUP = "voip_topup"
    ADVANCE = "advance"  # a payment request (zálohová faktura): no DUZP
    CREDIT_NOTE = "credit_note"


INVOICE_KINDS = tuple(kind.value for kind in InvoiceKind)


class Invoice(Base):
    __tablename__ = "invoice"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    contract_id: Mapped[int | None] = mapped_column(ForeignKey("contract.id"))
    number: Mapped[str] = mapped_column(String(20), unique=True)
    kind: Mapped[str] = mapped_column(String(16), default=InvoiceKind.REGULAR.value)  # InvoiceKind
    issue_date: Mapped[date] = mapped_column(Date)
    taxable_date: Mapped[date | None] = mapped_column(Date)  # DUZP; None for advance invoices
    due_date: Mapped[date] = mapped_column(Date)
    variable_symbol: Mapped[str] = mapped_column(String(10), index=True)
    specific_symbol: Mapped[str] = mapped_column(String(10), unique=True)
    currency: Mapped[str] = mapped_column(String(3), default="CZK")
    total_net: Mapped[Decimal] = mapped_column()
    total_vat: Mapped[Decimal] = mapped_column()
    total: Mapped[Decimal] = mapped_column()
    corrects_invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoice.id"))
    period_key: Mapped[str | None] = mapped_column(String(7))  # YYYY-MM of recurring runs
    note: Mapped[str | None] = mapped_column(Text)
    # a credit note's reason for the correction (§ 45 of the VAT act; migration 0015)
    correction_reason: Mapped[str | None] = mapped_column(Text)
    # What was printed: snapshots of both parties (§ 29, docs/facts/tax-documents.md).
    supplier_name: Mapped[str] = mapped_column(String(200))
    supplier_address: Mapped[str] = mapped_column(String(300))
    supplier_ico: Mapped[str | None] = mapped_column(String(8))
    supplier_dic: Mapped[str | None] = mapped_column(String(14))
    supplier_account: Mapped[str | None] = mapped_column(String(40))
    supplier_iban: Mapped[str | None] = mapped_column(String(34))
    # the commercial-register entry (§ 435 of the Civil Code: on every business document of
    # a registered company); NULL on invoices issued before it was snapshotted
    supplier_register: Mapped[str | None] = mapped_column(String(300))
    customer_name: Mapped[str] = mapped_column(String(200))
    customer_address: Mapped[str] = mapped_column(String(300))
    customer_ico: Mapped[str | None] = mapped_column(String(8))
    customer_dic: Mapped[str | None] = mapped_column(String(14))
    created_at: Mapped[datetime] = mapped_column(default=now)

    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.position", cascade="all, delete-orphan"
    )
    vat_recap: Mapped[list[InvoiceVatRecap]] = relationship(
        order_by="InvoiceVatRecap.rate", cascade="all, delete-orphan"
    )

    __table_args__ = (
        UniqueConstraint("customer_id", "period_key", "kind", name="uq_invoice_period"),
    )


class InvoiceLine(Base):
    __tablename__ = "invoice_line"

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[Decimal] = mapped_column(Numeric(12, 3))
    unit: Mapped[str] = mapped_column(String(10), default="ks")
    unit_price: Mapped[Decimal] = mapped_column()  # as entered
    prices_include_vat: Mapped[bool] = mapped_column(Boolean, default=True)
    vat_rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    net: Mapped[Decimal] = mapped_column()
    vat: Mapped[Decimal] = mapped_column()
    gross: Mapped[Decimal] = mapped_column()
    service_id: Mapped[int | None] = mapped_column(ForeignKey("service.id"))
    # a credit note's line: the line of the corrected invoice it credits (migration 0015; a
    # plain id like bank_transaction.duplicate_of: a key would make SQLite rebuild the table)
    corrects_line_id: Mapped[int | None] = mapped_column(Integer)

    invoice: Mapped[Invoice] = relationship(back_populates="lines")

    @property
    def unit_price_net(self) -> Decimal:
        """Unit price without VAT, as § 29 wants it printed."""
        from billing.invoicing.vat import net_unit_price

        return net_unit_price(self.unit_price, self.vat_rate, self.prices_include_vat)


class InvoiceVatRecap(Base):
    """The per-rate recap as printed: base, VAT and total for one rate."""

    __tablename__ = "invoice_vat_recap"
    __table_args__ = (UniqueConstraint("invoice_id", "rate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"))
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    base: Mapped[Decimal] = mapped_column()
    vat: Mapped[Decimal] = mapped_column()
    total: Mapped[Decimal] = mapped_column()


class DocumentSeries(Base):
    """The last number used in a number series (e.g. invoices of 2026)."""

    __tablename__ = "document_series"

    key: Mapped[str] = mapped_column(String(20), primary_key=True)
    last_value: Mapped[int] = mapped_column(Integer, default=0)


class TaxReceipt(Base):
    """Daňový doklad k přijaté platbě: the tax document for a payment received on an advance
    invoice (which is not one). One per payment allocated to the advance; the day the
    payment came is its DUZP. Issued once, never changed (billing.invoicing.receipts)."""

    __tablename__ = "tax_receipt"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    advance_invoice_id: Mapped[int] = mapped_column(ForeignKey("invoice.id"), index=True)
    # the allocation it was issued for; a plain id since migration 0028 (no key, not unique):
    # cancelling a cash payment removes its allocations while its receipts stay (corrected by
    # a TaxReceiptCorrection), and SQLite may give a later allocation the same id again
    allocation_id: Mapped[int] = mapped_column(Integer, index=True)
    issue_date: Mapped[date] = mapped_column(Date)
    received_on: Mapped[date] = mapped_column(Date)  # DUZP: the day the payment came
    total_net: Mapped[Decimal] = mapped_column()
    total_vat: Mapped[Decimal] = mapped_column()
    total: Mapped[Decimal] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=now)

    advance: Mapped[Invoice] = relationship()
    vat_recap: Mapped[list[TaxReceiptVat]] = relationship(
        order_by="TaxReceiptVat.rate", cascade="all, delete-orphan"
    )
    correction: Mapped[TaxReceiptCorrection | None] = relationship(
        back_populates="receipt", uselist=False, viewonly=True
    )


class TaxReceiptVat(Base):
    """The per-rate split of a received payment: base, VAT and total for one rate."""

    __tablename__ = "tax_receipt_vat"
    __table_args__ = (UniqueConstraint("receipt_id", "rate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("tax_receipt.id"))
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    base: Mapped[Decimal] = mapped_column()
    vat: Mapped[Decimal] = mapped_column()
    total: Mapped[Decimal] = mapped_column()


class TaxReceiptCorrection(Base):
    """Opravný daňový doklad k daňovému dokladu k přijaté platbě: reverses a receipt whose
    payment was cancelled or unpaired (billing.invoicing.receipt_corrections). Its base, VAT
    and total are the receipt's negated, per rate; it belongs to the VAT period of ``corrected_on`` (the day
    of the correction). One per receipt; issued once, never changed (migration 0028)."""

    __tablename__ = "tax_receipt_correction"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    receipt_id: Mapped[int] = mapped_column(ForeignKey("tax_receipt.id"), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customer.id"), index=True)
    # the cancellation of the cash receipt that called for it
    cash_cancellation_id: Mapped[int | None] = mapped_column(
        ForeignKey("cash_receipt_cancellation.id"), index=True
    )
    # or the bank payment whose unpairing called for it (payments unassign, migration 0029)
    bank_transaction_id: Mapped[int | None] = mapped_column(
        ForeignKey("bank_transaction.id"), index=True
    )
    issue_date: Mapped[date] = mapped_column(Date)
    corrected_on: Mapped[date] = mapped_column(Date)  # datum uskutečnění opravy
    reason: Mapped[str] = mapped_column(Text)
    corrected_by: Mapped[str] = mapped_column(String(64))  # operator:<login>
    total_net: Mapped[Decimal] = mapped_column()  # negative
    total_vat: Mapped[Decimal] = mapped_column()  # negative
    total: Mapped[Decimal] = mapped_column()  # negative
    created_at: Mapped[datetime] = mapped_column(default=now)

    receipt: Mapped[TaxReceipt] = relationship(back_populates="correction")
    vat_recap: Mapped[list[TaxReceiptCorrectionVat]] = relationship(
        order_by="TaxReceiptCorrectionVat.rate", cascade="all, delete-orphan"
    )


class TaxReceiptCorrectionVat(Base):
    """The per-rate differences of a correction: the receipt's base, VAT and total negated."""

    __tablename__ = "tax_receipt_correction_vat"
    __table_args__ = (UniqueConstraint("correction_id", "rate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    correction_id: Mapped[int] = mapped_column(ForeignKey("tax_receipt_correction.id"))
    rate: Mapped[Decimal] = mapped_column(Numeric(5, 2))
    base: Mapped[Decimal] = mapped_column()
    vat: Mapped[Decimal] = mapped_column()
    total: Mapped[Decimal] = mapped_column()
