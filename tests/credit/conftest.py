"""Fixtures of the prepaid credit tests: a customer with an open credit account, GPC
statements paying symbols (as ``ispzone payments import`` then its after-commit job)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest

from billing.bank.importing import import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.credit import CreditSettings, open_account
from billing.credit.topups import receipts_and_credit

_ids = itertools.count(1)
ACCOUNT = "2001234588/2010"


def gpc(payments: list[tuple[str, str, date]], *, specific: bool = False) -> bytes:
    """A GPC statement of incoming CZK payments ``(symbol, amount, booked on)``; the symbol
    is the VS, or the SS when ``specific``."""
    txs = [
        ParsedTransaction(
            bank_tx_id=str(700000 + next(_ids)), booked_on=on, amount=Decimal(amount),
            currency="CZK", variable_symbol=None if specific else symbol,
            specific_symbol=symbol if specific else None, constant_symbol=None,
            counter_account="123456789/0800", counter_name="Zákazník", message="platba", line=0,
        )
        for symbol, amount, on in payments
    ]
    return render_gpc(ParsedStatement("gpc", ACCOUNT, txs))


@pytest.fixture
def credit_settings():
    return CreditSettings()


@pytest.fixture
def gpc_pay(session, supplier, credit_settings):
    """``gpc_pay(payments, specific=False, on=None)``: import a GPC statement, commit, then
    the after-commit job (receipts and the credit), commit."""

    def pay(payments, *, specific: bool = False, on: date | None = None):
        report = import_statement(session, gpc(payments, specific=specific), "vypis.gpc", "gpc",
                                  bank_code="2010")
        session.commit()
        receipts_and_credit(session, on, actor="operator:test", supplier=supplier,
                            settings=credit_settings)
        session.commit()
        return report

    return pay


@pytest.fixture
def credit_customer(session, make_customer):
    """``credit_customer(number=None, currency="CZK", auto_pay=False, **fields)``: a customer
    with an open credit account (opened by an operator), committed."""

    def factory(number: str | None = None, currency: str = "CZK", auto_pay: bool = False,
                **fields):
        customer = make_customer(number, **fields)
        open_account(session, customer, currency, actor="operator:test", auto_pay=auto_pay)
        session.commit()
        return customer

    return factory
