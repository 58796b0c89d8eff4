"""Prepaid credit accounts (docs/credit.md). Flask-free; functions take a Session, flush,
and leave the commit to the doors.

What other modules use (credit-services' renewals and notices, the zone, the console)::

    from billing.credit import credit_balance, pay_from_credit, auto_pay_enabled

* ``credit_balance(session, customer_id) -> Decimal``: the credit, without VAT, in the
  account's currency (0 without an account);
* ``credit_balances(session, customer_ids) -> {customer id: Decimal}``: many at once;
* ``account_of(session, customer_id)`` / ``open_account_of``: the ``CreditAccount`` row;
* ``pay_from_credit(session, invoice, actor=..., on=None) -> PayResult``: pay what is open on
  one request, all or nothing; ``result.outcome`` is ``PayOutcome.PAID``, ``SHORT`` (nothing
  deducted) or ``ALREADY_PAID``; refuses another currency, a closed account (CreditError /
  CreditConflict, nothing written);
* ``credit_amount_for(total, net, open)``: what paying a request would take from the credit;
* ``auto_pay_enabled(session, customer_id) -> bool`` and ``set_auto_pay``;
* ``held(session, invoice_id)`` / ``set_hold``: the "Nestrhávat automaticky" tick;
* ``mail.queue(session, customer_id, template, **context)``: an e-mail sent after commit;
* ``daily``: the daily job's steps (one line per step in ``daily._steps``).
"""

from billing.credit import mail
from billing.credit.accounts import (
    SETTINGS_DEFAULTS,
    CreditConflict,
    CreditError,
    CreditSettings,
    account_of,
    auto_pay_enabled,
    credit_balance,
    credit_balances,
    credit_of,
    is_credit_symbol,
    lock_account,
    open_account,
    open_account_of,
    set_auto_pay,
    variable_symbol_for,
)
from billing.credit.payments import (
    PayOutcome,
    PayResult,
    credit_amount_for,
    held,
    pay_from_credit,
    set_hold,
)

__all__ = [
    "SETTINGS_DEFAULTS",
    "CreditConflict",
    "CreditError",
    "CreditSettings",
    "PayOutcome",
    "PayResult",
    "account_of",
    "auto_pay_enabled",
    "credit_amount_for",
    "credit_balance",
    "credit_balances",
    "credit_of",
    "held",
    "is_credit_symbol",
    "lock_account",
    "mail",
    "open_account",
    "open_account_of",
    "pay_from_credit",
    "set_auto_pay",
    "set_hold",
    "variable_symbol_for",
]
