"""Closing a credit account (docs/credit.md, "Closing"): the customer (or an operator)
asks for it with the bank account the unused credit goes back to; the account closes at
the start of a month when the previous month had no credit transactions (none since the
previous month began): the credit is moved to ``refunds`` and a refund record waits for
the operator, who sends the money and marks it sent (then the money leaves the bank
clearing account). Every step audited."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.credit.accounts import CreditConflict, CreditError, credit_balance, lock_account
from billing.credit.mail import queue
from billing.ledger import postings
from billing.models import AccountKind, LedgerAccount, LedgerLeg, LedgerTransaction
from billing.models import TransactionKind as TK
from billing.models.credit import CreditAccount, CreditRefund, RefundStatus
from core import audit
from core.clock import now, today
from core.i18n import _l

A = AccountKind
ZERO = Decimal("0.00")


def _check_bank_account(value: str) -> str:
    from stdnum import iban
    from stdnum.cz import bankaccount

    text_ = (value or "").strip().replace(" ", "")
    for module in (bankaccount, iban):
        if module.is_valid(text_):
            return module.compact(text_) if module is iban else text_
    raise CreditError(_l("%(value)s is not a bank account number (123456789/0800 or an "
                         "IBAN)", value=repr(value)))


def request_closing(session: Session, customer_id: int, bank_account: str, *,
                    actor: str) -> CreditAccount:
    """Ask for the account to be closed; the credit goes back to ``bank_account``."""
    bank_account = _check_bank_account(bank_account)
    account = lock_account(session, customer_id)
    if account is None or account.closed_at is not None:
        raise CreditConflict(_l("the customer has no open credit account"))
    account.close_requested_at = now()
    account.refund_bank_account = bank_account
    account.auto_pay = False
    session.flush()
    audit.record(session, "credit.close_requested", actor=actor, customer_id=customer_id,
                 new_value=bank_account)
    return account


def last_movement(session: Session, customer_id: int) -> date | None:
    return session.scalar(
        select(func.max(LedgerTransaction.booked_on))
        .join(LedgerLeg, LedgerLeg.transaction_id == LedgerTransaction.id)
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.kind == str(A.CREDIT), LedgerAccount.customer_id == customer_id))


def may_close_on(session: Session, customer_id: int, on: date) -> bool:
    """No credit transaction since the previous month began (so none in it)."""
    previous_start = (on.replace(day=1) - timedelta(days=1)).replace(day=1)
    last = last_movement(session, customer_id)
    return last is None or last < previous_start


def close_account(session: Session, customer_id: int, *, on: date | None = None,
                  actor: str) -> CreditRefund | None:
    """Close an account whose closing was asked for, if the rule allows it on ``on``;
    returns the refund (None when there was no credit left)."""
    on = on or today()
    account = lock_account(session, customer_id)
    if account is None or account.closed_at is not None or account.close_requested_at is None:
        raise CreditConflict(_l("no closing was asked for this credit account"))
    if not may_close_on(session, customer_id, on):
        raise CreditConflict(_l(
            "a credit account closes at the start of a month after a month without "
            "transactions"))
    balance = credit_balance(session, customer_id)
    refund = None
    if balance > 0:
        refund = CreditRefund(account_id=account.id, amount=balance, currency=account.currency,
                              bank_account=account.refund_bank_account,
                              status=RefundStatus.PENDING.value, created_at=now(),
                              created_by=actor)
        session.add(refund)
        session.flush()
        postings.record(session, [postings.Posting(
            TK.CREDIT_REFUND,
            [(postings.account_key(A.CREDIT, customer_id), balance),
             (postings.account_key(A.REFUNDS), -balance)],
            booked_on=on, actor=actor, description="Vrácení kreditu na účet "
            + account.refund_bank_account, customer_id=customer_id,
            reference=f"credit_refund:{refund.id}",
        )])
    account.closed_at = now()
    account.auto_pay = False
    session.flush()
    audit.record(session, "credit.closed", actor=actor, customer_id=customer_id,
                 old_value=str(balance), new_value="closed",
                 details={"refund": refund.id if refund else None,
                          "bank_account": account.refund_bank_account})
    queue(session, customer_id, "credit_closed", amount=str(balance), currency=account.currency,
          bank_account=account.refund_bank_account)
    return refund


def mark_refund_sent(session: Session, refund_id: int, *, actor: str) -> CreditRefund:
    """The operator sent the money: the refund leaves the bank clearing account."""
    refund = session.scalar(select(CreditRefund).where(CreditRefund.id == refund_id)
                            .with_for_update())
    if refund is None:
        raise CreditError(_l("no refund %(id)s", id=refund_id))
    if refund.status != RefundStatus.PENDING:
        raise CreditConflict(_l("refund %(id)s was already marked sent", id=refund_id))
    account = session.get(CreditAccount, refund.account_id)
    refund.status, refund.sent_at, refund.sent_by = RefundStatus.SENT.value, now(), actor
    session.flush()
    postings.record(session, [postings.Posting(
        TK.CREDIT_REFUND,
        [(postings.account_key(A.REFUNDS), refund.amount),
         (postings.account_key(A.BANK_CLEARING), -refund.amount)],
        actor=actor, description=f"Vrácení kreditu odesláno na {refund.bank_account}",
        customer_id=account.customer_id, reference=f"credit_refund:{refund.id}",
    )])
    audit.record(session, "credit.refund_sent", actor=actor, customer_id=account.customer_id,
                 new_value=str(refund.amount), details={"refund": refund.id,
                                                        "bank_account": refund.bank_account})
    return refund


def pending_refunds(session: Session) -> list[CreditRefund]:
    return list(session.scalars(select(CreditRefund).where(
        CreditRefund.status == RefundStatus.PENDING).order_by(CreditRefund.id)))


def daily_step(session: Session, ctx) -> dict:
    """Close the accounts whose closing was asked for and may close today."""
    ids = session.scalars(select(CreditAccount.customer_id).where(
        CreditAccount.close_requested_at.is_not(None), CreditAccount.closed_at.is_(None))).all()
    closed = 0
    for customer_id in ids:
        if may_close_on(session, customer_id, ctx.on):
            close_account(session, customer_id, on=ctx.on, actor=ctx.actor)
            closed += 1
    return {"closed": closed}
