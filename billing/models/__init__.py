"""All tables of the domain core. Import from here: ``from billing.models import Invoice``."""

import billing.models.credit  # noqa: F401  (prepaid credit tables: billing/credit/)
from billing.models.audit import PasswordResetToken, SessionKind, UserSession
from billing.models.cash import CASH_ACCOUNT, CashReceipt, CashReceiptCancellation  # noqa: F401
from billing.models.credit_gaps import CreditReturn, ExchangeRate  # noqa: F401  (issue 15 gaps)
from billing.models.credit_services import (  # issue 15: credit services
    AdvanceDeduction,
    CreditNotice,
    CreditServiceSettings,
    NoticeKind,
    NoticeStatus,
    RenewalOrder,
    RenewalSource,
    RenewalTariff,
    ServiceRenewal,
)
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
from billing.models.invoice_mail import InvoiceMail, MailState  # noqa: F401  (migration 0020)
from billing.models.invoices import (
    INVOICE_KINDS,
    DocumentSeries,
    Invoice,
    InvoiceKind,
    InvoiceLine,
    InvoiceVatRecap,
    TaxReceipt,
    TaxReceiptCorrection,
    TaxReceiptCorrectionVat,
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
from billing.models.notes import CustomerNote
from billing.models.operators import Operator, OperatorRecoveryCode, OperatorRole, OperatorSession  # noqa: F401
from billing.models.payments import (
    Allocation,
    BankTransaction,
    BankTransactionStatus,
    StatementImport,
)
from billing.models.services import ServiceTariff
from billing.models.statement_upload import StatementUpload  # noqa: F401  (migration 0023)
from core.audit import AuditEvent
from core.db import Base
from core.jobs import Job  # noqa: F401  (the job table, migration 0020)

__all__ = [
    "AccountKind",
    "INVOICE_KINDS",
    "SERVICE_KINDS",
    "Allocation",
    "AuditEvent",
    "BankTransaction",
    "BankTransactionStatus",
    "Base",
    "Contract",
    "Customer",
    "CustomerNote",
    "DocumentSeries",
    "Invoice",
    "InvoiceKind",
    "InvoiceLine",
    "InvoiceVatRecap",
    "LedgerAccount",
    "LedgerEntry",
    "LedgerLeg",
    "LedgerTransaction",
    "PasswordResetToken",
    "Service",
    "ServiceAddress",
    "ServiceKind",
    "ServicePeriod",
    "ServiceTariff",
    "SessionKind",
    "StatementImport",
    "TaxReceipt",
    "TaxReceiptCorrection",
    "TaxReceiptCorrectionVat",
    "TaxReceiptVat",
    "TrafficDay",
    "TransactionKind",
    "UserSession",
    # issue 15: credit services
    "AdvanceDeduction",
    "CreditNotice",
    "CreditServiceSettings",
    "NoticeKind",
    "NoticeStatus",
    "RenewalOrder",
    "RenewalSource",
    "RenewalTariff",
    "ServiceRenewal",
]
