"""The prepaid credit account itself: opening it, its permanent variable symbol, its
balance, the auto-pay switch (docs/credit.md). Flask-free; functions flush, the caller
commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, type_coerce
from sqlalchemy.orm import Session

from billing.models import AccountKind, Contract, Customer, LedgerAccount, LedgerLeg
from billing.models.credit import CreditAccount, CreditCurrency
from core import audit
from core.clock import now
from core.db import Money, next_serial_ids
from core.errors import Conflict, Invalid
from core.i18n import _l

ZERO = Decimal("0.00")
# the permanent VS: this prefix, the account id in 7 digits and a check digit (10 digits)
VS_PREFIX = "77"
VS_ID_DIGITS = 7


class CreditError(Invalid):
    """A credit request refused (nothing was written)."""


class CreditConflict(Conflict):
    """A credit request that the account's state refuses (closed, already open...)."""


@dataclass(frozen=True)
class CreditSettings:
    """The credit settings (``CREDIT_*``; web.credit_settings reads them from the app)."""

    topup_minimum: Decimal = Decimal("500")  # CZK, without VAT
    topup_minimum_eur: Decimal = Decimal("20")  # EUR, without VAT
    autopay_days: int = 10  # a request is paid from credit this many days after its issue
    terms_version: str = "2026-12"  # the version of the credit terms the zone shows
    topup_due_days: int = 14  # the due date of a top-up request
    vat_rate: Decimal = Decimal("21")  # the rate of a top-up (the services it pays for)

    @classmethod
    def from_config(cls, config) -> CreditSettings:
        defaults = cls()
        return cls(
            topup_minimum=Decimal(config.get("CREDIT_TOPUP_MINIMUM", defaults.topup_minimum)),
            topup_minimum_eur=Decimal(
                config.get("CREDIT_TOPUP_MINIMUM_EUR", defaults.topup_minimum_eur)),
            autopay_days=int(config.get("CREDIT_AUTOPAY_DAYS", defaults.autopay_days)),
            terms_version=str(config.get("CREDIT_TERMS_VERSION", defaults.terms_version)),
            topup_due_days=int(config.get("CREDIT_TOPUP_DUE_DAYS", defaults.topup_due_days)),
            vat_rate=Decimal(config.get("CREDIT_VAT_RATE", defaults.vat_rate)),
        )

    def minimum(self, currency: str) -> Decimal:
        return self.topup_minimum_eur if currency == CreditCurrency.EUR else self.topup_minimum


SETTINGS_DEFAULTS = {
    "CREDIT_TOPUP_MINIMUM": Decimal("500"),
    "CREDIT_TOPUP_MINIMUM_EUR": Decimal("20"),
    "CREDIT_AUTOPAY_DAYS": 10,
    "CREDIT_TERMS_VERSION": "2026-12",
    "CREDIT_TOPUP_DUE_DAYS": 14,
    "CREDIT_VAT_RATE": Decimal("21"),
}


# -- the permanent variable symbol ---------------------------------------------------------


def _check_digit(digits: str) -> str:
    """Luhn's check digit: a mistyped digit or two swapped neighbours give another one."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return str((10 - total % 10) % 10)


def variable_symbol_for(account_id: int) -> str:
    """``77`` + the account id in 7 digits + a check digit: ``7700000426`` for account 42."""
    if not 0 < account_id < 10**VS_ID_DIGITS:
        raise CreditError(_l("no variable symbol for credit account %(id)s", id=account_id))
    body = f"{VS_PREFIX}{account_id:0{VS_ID_DIGITS}d}"
    return body + _check_digit(body)


def is_credit_symbol(symbol: str | None) -> bool:
    """Whether ``symbol`` has the form of a credit account's VS (leading zeros ignored, as
    GPC pads them)."""
    symbol = (symbol or "").lstrip("0")
    return (len(symbol) == 2 + VS_ID_DIGITS + 1 and symbol.startswith(VS_PREFIX)
            and symbol.isdigit() and _check_digit(symbol[:-1]) == symbol[-1])


# -- opening ----------------------------------------------------------------------------------


def account_of(session: Session, customer_id: int) -> CreditAccount | None:
    """The customer's credit account (open or closed), or None."""
    return session.scalar(select(CreditAccount).where(CreditAccount.customer_id == customer_id))


def open_account_of(session: Session, customer_id: int) -> CreditAccount | None:
    account = account_of(session, customer_id)
    return account if account is not None and account.closed_at is None else None


def lock_account(session: Session, customer_id: int) -> CreditAccount | None:
    """The customer's account, locked until the transaction ends (SELECT ... FOR UPDATE; on
    SQLite the writer's lock): whatever changes the credit takes turns per account."""
    return session.scalar(
        select(CreditAccount).where(CreditAccount.customer_id == customer_id).with_for_update()
    )


def open_account(session: Session, customer: Customer, currency: str, *, actor: str,
                 terms_version: str | None = None, consent: bool = False,
                 auto_pay: bool = False) -> CreditAccount:
    """Open the customer's credit account in ``currency`` (CZK or EUR, fixed for good).

    A customer (``actor`` ``customer:<number>``) must consent to the terms (``consent`` and
    the ``terms_version`` shown): the consent is recorded with its time and version. An
    operator opens it without. A closed account is opened again in its own currency."""
    try:
        currency = CreditCurrency(str(currency).upper())
    except ValueError:
        raise CreditError(_l("a credit account is kept in CZK or EUR, not %(currency)s",
                              currency=repr(currency))) from None
    by_customer = actor.startswith("customer:")
    if by_customer and not (consent and terms_version):
        raise CreditError(_l("the credit account opens only with consent to its terms"))
    existing = lock_account(session, customer.id)
    moment = now()
    if existing is not None:
        if existing.closed_at is None:
            raise CreditConflict(_l("the customer already has a credit account"))
        if existing.currency != currency:
            raise CreditConflict(_l(
                "the customer's credit account was kept in %(currency)s; it opens again only "
                "in %(currency)s", currency=existing.currency))
        existing.closed_at = None
        existing.close_requested_at = None
        existing.opened_at, existing.opened_by = moment, actor
        existing.terms_version = terms_version if by_customer else existing.terms_version
        existing.terms_accepted_at = moment if by_customer else existing.terms_accepted_at
        account = existing
    else:
        account = CreditAccount(
            customer_id=customer.id, currency=str(currency), variable_symbol="0", auto_pay=auto_pay,
            opened_at=moment, opened_by=actor,
            terms_version=terms_version if by_customer else None,
            terms_accepted_at=moment if by_customer else None,
        )
        session.add(account)
        session.flush()
        account.variable_symbol = variable_symbol_for(account.id)
        _refuse_symbol_clash(session, account.variable_symbol)
    session.flush()
    audit.record(
        session, "credit.opened", actor=actor, customer_id=customer.id,
        new_value=account.variable_symbol,
        details={"currency": str(currency), "terms_version": account.terms_version,
                 "consent_at": account.terms_accepted_at, "auto_pay": account.auto_pay},
    )
    return account


def _refuse_symbol_clash(session: Session, symbol: str) -> None:
    """A customer or contract number equal to the VS would make pairing ambiguous."""
    clash = session.scalar(select(func.count()).select_from(Customer)
                           .where(Customer.customer_number == symbol))
    clash = clash or session.scalar(select(func.count()).select_from(Contract)
                                    .where(Contract.number == symbol))
    if clash:
        raise CreditConflict(_l("variable symbol %(symbol)s is a customer or contract number",
                                symbol=symbol))


# -- balance ----------------------------------------------------------------------------------


def credit_of(customer_id):
    """SQL: the credit of customer ``customer_id`` (a value or a correlated column): minus
    the sum of the legs on their ``credit`` ledger account."""
    return (
        select(type_coerce(-func.coalesce(func.sum(LedgerLeg.amount), 0), Money()))
        .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
        .where(LedgerAccount.kind == str(AccountKind.CREDIT),
               LedgerAccount.customer_id == customer_id)
        .scalar_subquery()
    )


def credit_balance(session: Session, customer_id: int) -> Decimal:
    """The customer's credit (in the account's currency, without VAT): the sum of the legs
    of the ledger account ``credit:<customer id>``, sign turned (never negative)."""
    return session.scalar(select(credit_of(customer_id)))


def credit_balances(session: Session, customer_ids) -> dict[int, Decimal]:
    """Many customers' credit in one query (absent: 0)."""
    ids = sorted(set(customer_ids))
    if not ids:
        return {}
    from core.db import is_in

    rows = session.execute(
        select(LedgerAccount.customer_id, type_coerce(-func.sum(LedgerLeg.amount), Money()))
        .join(LedgerLeg, LedgerLeg.account_id == LedgerAccount.id)
        .where(LedgerAccount.kind == str(AccountKind.CREDIT),
               is_in(session, LedgerAccount.customer_id, ids))
        .group_by(LedgerAccount.customer_id)
    )
    found = dict(rows.all())
    return {cid: found.get(cid, ZERO) for cid in ids}


# -- the auto-pay switch -------------------------------------------------------------------


def auto_pay_enabled(session: Session, customer_id: int) -> bool:
    """Whether the customer's open credit account pays their requests automatically."""
    account = open_account_of(session, customer_id)
    return bool(account and account.auto_pay)


def set_auto_pay(session: Session, customer_id: int, on: bool, *, actor: str) -> CreditAccount:
    """"Automaticky kreditem" (on) or "Manuálně" (off)."""
    account = lock_account(session, customer_id)
    if account is None or account.closed_at is not None:
        raise CreditConflict(_l("the customer has no open credit account"))
    if account.auto_pay != on:
        old, account.auto_pay = account.auto_pay, on
        session.flush()
        audit.record(session, "credit.auto_pay", actor=actor, customer_id=customer_id,
                     field="auto_pay", old_value=old, new_value=on)
    return account


def opened_at(account: CreditAccount) -> datetime:
    return account.opened_at


def next_account_ids(session: Session, n: int) -> list[int]:  # pragma: no cover - bench aid
    """Ids for ``n`` accounts written with COPY (bench/credit.py; PostgreSQL)."""
    return next_serial_ids(session, "credit_account", n)
