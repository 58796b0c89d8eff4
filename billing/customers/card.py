"""The customer card's billing side, read in one call (the console's customer page).

Everything is read by the customer's id on indexed columns and limited (the newest
invoices, payments, ledger entries, audit events and notes), so a customer with ten years
of history loads as fast as a new one (bench/console.py). The enforcement case and the VoIP
lines are read by their own packages (``enforcement.cases.case_overview``,
``voip.lines.customer_lines``): billing imports neither. Flask-free; reads only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session, selectinload

from billing.customers.register import notes_of
from billing.ledger.balances import (
    AccountSummary,
    InvoicePage,
    account_summary,
    invoice_page,
)
from billing.models import (
    CASH_ACCOUNT,
    AccountKind,
    AuditEvent,
    BankTransaction,
    CashReceipt,
    CashReceiptCancellation,
    Contract,
    Customer,
    CustomerNote,
    LedgerAccount,
    LedgerEntry,
    LedgerLeg,
    Service,
)
from core.db import Money

PAYMENTS_SHOWN = 20
LEDGER_SHOWN = 30
AUDIT_SHOWN = 50


@dataclass(frozen=True)
class LedgerLine:
    entry: LedgerEntry
    balance_after: Decimal  # the customer's balance after this entry (negative = debt)


@dataclass(frozen=True)
class CardData:
    customer: Customer
    contracts: list[Contract]
    services: list[Service]
    summary: AccountSummary  # balance, open, overdue, oldest overdue due date
    receivable: Decimal  # the receivable account's balance (+ = invoiced, not settled)
    prepaid_credit: Decimal  # paid or credited, not yet applied (shown as a positive sum)
    invoices: InvoicePage
    payments: list[BankTransaction]
    payments_count: int
    # the cash payments among ``payments``: tx id -> (receipt id, receipt number, the number
    # of its cancelling document or None)
    cash_documents: dict[int, tuple[int, str, str | None]]
    ledger: list[LedgerLine]
    ledger_count: int
    audit: list[AuditEvent]
    audit_count: int
    notes: list[CustomerNote]


def _account_sum(customer_id: int, kind: AccountKind):
    """The sum of the legs of one of the customer's accounts (0 when never used)."""
    return type_coerce(
        select(func.coalesce(func.sum(LedgerLeg.amount), 0))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.customer_id == customer_id, LedgerAccount.kind == str(kind))
        .scalar_subquery(), Money())


def _cash_documents(session: Session, payments: list[BankTransaction]) -> dict:
    """The receipts (and cancellations) of the cash payments shown: one query, none when the
    page shows no cash payment."""
    cash = [tx.id for tx in payments if tx.source_account == CASH_ACCOUNT]
    if not cash:
        return {}
    rows = session.execute(
        select(CashReceipt.bank_transaction_id, CashReceipt.id, CashReceipt.number,
               CashReceiptCancellation.number)
        .outerjoin(CashReceiptCancellation, CashReceiptCancellation.receipt_id == CashReceipt.id)
        .where(CashReceipt.bank_transaction_id.in_(cash)))
    return {tx_id: (receipt_id, number, storno) for tx_id, receipt_id, number, storno in rows}


def customer_by_number(session: Session, number: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.customer_number == number))


def card(session: Session, customer: Customer, on: date, *, invoice_page_no: int = 1,
         per_page: int = 20) -> CardData:
    cid = customer.id
    contracts = list(session.scalars(
        select(Contract).where(Contract.customer_id == cid).order_by(Contract.id)))
    services = list(session.scalars(
        select(Service).where(Service.customer_id == cid)
        .options(selectinload(Service.addresses))
        .order_by(Service.valid_from, Service.id)))
    summary = account_summary(session, cid, on)
    payments = list(session.scalars(
        select(BankTransaction).where(BankTransaction.customer_id == cid)
        .order_by(BankTransaction.booked_on.desc(), BankTransaction.id.desc())
        .limit(PAYMENTS_SHOWN)))
    entries = list(session.scalars(
        select(LedgerEntry).where(LedgerEntry.customer_id == cid)
        .order_by(LedgerEntry.booked_on.desc(), LedgerEntry.id.desc()).limit(LEDGER_SHOWN)))
    running = summary.balance
    ledger = []
    for entry in entries:  # newest first: each balance is the one after that entry
        ledger.append(LedgerLine(entry, running))
        running -= entry.amount
    audit = list(session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == cid)
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(AUDIT_SHOWN)))
    # the three counts and the two account balances in one round trip
    payments_count, ledger_count, audit_count, receivable, prepaid = session.execute(
        select(
            select(func.count()).select_from(BankTransaction)
            .where(BankTransaction.customer_id == cid).scalar_subquery(),
            select(func.count()).select_from(LedgerEntry)
            .where(LedgerEntry.customer_id == cid).scalar_subquery(),
            select(func.count()).select_from(AuditEvent)
            .where(AuditEvent.customer_id == cid).scalar_subquery(),
            _account_sum(cid, AccountKind.RECEIVABLE),
            _account_sum(cid, AccountKind.PREPAID_CREDIT),
        )
    ).one()
    return CardData(
        customer=customer,
        contracts=contracts,
        services=services,
        summary=summary,
        receivable=receivable,
        prepaid_credit=-prepaid,
        invoices=invoice_page(session, cid, on, page=invoice_page_no, per_page=per_page),
        payments=payments,
        payments_count=payments_count or 0,
        cash_documents=_cash_documents(session, payments),
        ledger=ledger,
        ledger_count=ledger_count or 0,
        audit=audit,
        audit_count=audit_count or 0,
        notes=notes_of(session, cid),
    )
