"""All tables of the domain core. Import from here: ``from billing.models import Invoice``."""

from billing.models.audit import PasswordResetToken, SessionKind, UserSession
from billing.models.customers import (
    SERVICE_KINDS,
    Contract,
    Customer,
    Service,
    ServiceAddress,
    ServiceKind,
    ServicePeriod,
    TrafficDay,
)
from billing.models.invoices import (
    INVOICE_KINDS,
    DocumentSeries,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceVatRecap,
    TaxReceipt,
    TaxReceiptVat,
)
from billing.models.payments import (
    Allocation,
    BankTransaction,
    BankTransactionStatus,
    LedgerEntry,
    StatementImport,
)
from core.audit import AuditEvent
from core.db import Base

__all__ = [
    "INVOICE_KINDS",
    "SERVICE_KINDS",
    "Allocation",
    "AuditEvent",
    "BankTransaction",
    "BankTransactionStatus",
    "Base",
    "Contract",
    "Customer",
    "DocumentSeries",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceVatRecap",
    "LedgerEntry",
    "PasswordResetToken",
    "Service",
    "ServiceAddress",
    "ServiceKind",
    "ServicePeriod",
    "SessionKind",
    "StatementImport",
    "TaxReceipt",
    "TaxReceiptVat",
    "TrafficDay",
    "UserSession",
]
