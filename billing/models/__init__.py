"""All tables of the domain core. Import from here: ``from billing.models import Invoice``."""

from billing.models.audit import PasswordResetToken, UserSession
from billing.models.customers import (
    SERVICE_KINDS,
    Contract,
    Customer,
    Service,
    ServiceAddress,
    TrafficDay,
)
from billing.models.invoices import (
    INVOICE_KINDS,
    DocumentSeries,
    Invoice,
    InvoiceLine,
    InvoiceVatRecap,
    TaxReceipt,
    TaxReceiptVat,
)
from billing.models.ledger import (
    AccountKind,
    LedgerAccount,
    LedgerEntry,
    LedgerLeg,
    LedgerTransaction,
    TransactionKind,
)
from billing.models.payments import Allocation, BankTransaction, StatementImport
from core.audit import AuditEvent
from core.db import Base

__all__ = [
    "AccountKind",
    "INVOICE_KINDS",
    "SERVICE_KINDS",
    "Allocation",
    "AuditEvent",
    "BankTransaction",
    "Base",
    "Contract",
    "Customer",
    "DocumentSeries",
    "Invoice",
    "InvoiceLine",
    "InvoiceVatRecap",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerLeg",
    "LedgerTransaction",
    "PasswordResetToken",
    "Service",
    "ServiceAddress",
    "StatementImport",
    "TaxReceipt",
    "TaxReceiptVat",
    "TrafficDay",
    "TransactionKind",
    "UserSession",
]
