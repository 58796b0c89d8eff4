"""Shared enforcement fixtures: customers who owe money (``owe``, ``debtor``), paying them by a
GPC statement (``pay``) and PPPoE customers
(the test SMTP server, ``smtp``, is tests/conftest.py's)."""

from __future__ import annotations

import itertools
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.bank.importing import import_statement
from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import Service
from enforcement.models import EnforcementCase

_tx_ids = itertools.count(1)


def _owe(session, supplier, customer, amount: str, due: date):
    """Issue an invoice of ``amount`` (VAT included) due on ``due``."""
    invoice = issue_invoice(
        session, customer, [LineInput("Výjezd technika", Decimal("1"), Decimal(amount))],
        supplier, IssueOptions(issue_date=min(due, date.today()), due_date=due),
    )
    session.commit()
    return invoice


def statement(payments: list[tuple[str, str, date]], account: str = "2001234588/2010") -> bytes:
    """A GPC statement with incoming payments ``(variable symbol, amount, booked on)``."""
    txs = [
        ParsedTransaction(
            bank_tx_id=str(900000 + next(_tx_ids)), booked_on=on, amount=Decimal(amount),
            currency="CZK", variable_symbol=vs, specific_symbol=None, constant_symbol=None,
            counter_account="123456789/0800", counter_name="Zákazník", message="platba", line=0,
        )
        for vs, amount, on in payments
    ]
    return render_gpc(ParsedStatement("gpc", account, txs))


def _pay(session, payments, account: str = "2001234588/2010"):
    """Import a GPC statement paying ``payments`` and commit (as ``ispzone payments import``)."""
    report = import_statement(session, statement(payments, account), "vypis.gpc", "gpc",
                              bank_code="2010")
    session.commit()
    return report


@pytest.fixture
def owe():
    """``owe(session, supplier, customer, amount, due)``: issue an invoice of ``amount`` (VAT
    included) due on ``due``, and commit."""
    return _owe


@pytest.fixture
def pay():
    """``pay(session, payments[, account])``: import a GPC statement paying ``payments``
    (``(variable symbol, amount, booked on)``) and commit."""
    return _pay


@pytest.fixture
def app_config(app_config, tmp_path):
    """The recording driver writes into the test's folder, not the instance folder."""
    return {**app_config, "ENFORCEMENT_RECORDING_DIR": str(tmp_path / "recording-routers")}


@pytest.fixture
def debtor(session, supplier, make_customer):
    """A customer with an internet service on ``router`` and one invoice due on ``due``."""

    def factory(number: str, ip: str, due: date, amount: str = "605.00", *, router: str = "r1",
                username: str | None = None, **fields):
        customer = make_customer(number=number, internet_ip=ip, **fields)
        service = customer.services[0]
        service.router_name = router
        service.pppoe_username = username
        session.commit()
        _owe(session, supplier, customer, amount, due)
        return customer

    return factory


@pytest.fixture
def pppoe(session, make_customer):
    """A customer with an internet service that dials in as PPPoE user ``name``."""

    def factory(name="alice", password="pppoe-pass", ip="100.64.0.10", state=None, **fields):
        customer = make_customer(internet_ip=ip, password="zone-pass")
        service = session.scalars(select(Service).where(Service.customer_id == customer.id)).one()
        service.pppoe_username = name
        service.pppoe_password = password
        for key, value in fields.items():
            setattr(service, key, value)
        if state:
            session.add(EnforcementCase(customer_id=customer.id, state=state))
        session.commit()
        return customer

    return factory
