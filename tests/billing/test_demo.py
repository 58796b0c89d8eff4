"""The demo ISP: idempotent, current, and the fixed accounts are exactly as documented."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from billing import demo
from billing.bank.pairing import credit_available
from billing.bank.queue import unmatched
from billing.customers import validation
from billing.customers.credentials import authenticate
from billing.ledger.balances import customer_invoices, open_invoices
from billing.models import (
    BankTransaction,
    Contract,
    Customer,
    Invoice,
    LedgerEntry,
    Service,
    ServiceAddress,
    TrafficDay,
)
from core.clock import today
from core.passwords import verify_password

COUNTED = (Customer, Contract, Service, ServiceAddress, Invoice, BankTransaction, LedgerEntry,
           TrafficDay)


def counts(session) -> dict[str, int]:
    return {m.__tablename__: session.scalar(select(func.count()).select_from(m)) for m in COUNTED}


def customer(session, number: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.customer_number == number))


# Loading takes seconds (argon2 hashes), so each of the two tests below loads once and
# checks several things.


def test_load_twice_changes_nothing(session, supplier):
    report = demo.load(session, supplier)
    session.commit()
    assert "33 customers" in report
    assert demo.has_customers(session)
    before = counts(session)
    report = demo.load(session, supplier)
    session.commit()
    assert "nothing changed" in report
    assert counts(session) == before
    check_size_and_realism(session)


def test_has_customers_on_empty_database(session):
    assert not demo.has_customers(session)


def check_size_and_realism(session) -> None:
    numbers = session.scalars(select(Customer.customer_number)).all()
    assert len(numbers) >= 30
    assert all(len(c.contracts) == 1 and c.contracts[0].number == c.customer_number
               for c in session.scalars(select(Customer)))
    companies = session.scalars(select(Customer).where(Customer.is_company)).all()
    assert len(companies) >= 3
    for company in companies:
        assert validation.ico(company.ico) == company.ico
        assert validation.dic(company.dic) == company.dic == f"CZ{company.ico}"
    for c in session.scalars(select(Customer)):
        assert validation.phone(c.phone) == c.phone
        assert validation.email(c.email) == c.email
    ended = session.scalars(select(Service).where(Service.valid_to < today())).all()
    assert len(ended) == 1
    assert len(unmatched(session)) == 1
    overpaid = customer(session, "1010")
    assert credit_available(session, overpaid.id) > 0
    partly = [
        s for number in ("1012", "1019")
        for s in customer_invoices(session, customer(session, number).id, today())
        if 0 < s.paid < s.invoice.total
    ]
    assert len(partly) == 2


def test_fixed_accounts(session, supplier):
    demo.load(session, supplier)
    session.commit()
    check_1001(session)
    check_traffic_of_1001(session)
    for number, days in (("1002", 20), ("1003", 40), ("1004", 60)):
        check_overdue_account(session, number, days)


def check_1001(session) -> None:
    jan = authenticate(session, "1001", "demo1001")
    assert jan is not None and jan.name == "Jan Novák"
    assert authenticate(session, "1001", "demo1002") is None
    by_kind = {s.kind: s for s in jan.services}
    internet = by_kind["internet"]
    assert internet.name == "Internet 100"
    assert [a.address for a in internet.addresses] == ["10.20.0.11"]
    assert by_kind["insurance"].name == "Pojištění zařízení"
    assert by_kind["insurance"].paid_until > today()
    voip = by_kind["voip"]
    assert voip.phone_number == "+420601234567"
    assert verify_password(voip.voip_password_hash, "voip1001")
    assert open_invoices(session, jan.id, today()) == []
    states = customer_invoices(session, jan.id, today())
    assert len(states) == 3 and all(s.status == "paid" for s in states)
    for s in states:
        assert s.invoice.issue_date.day == 1
        assert s.invoice.due_date == s.invoice.issue_date + timedelta(days=14)
        assert len(s.invoice.lines) == 3  # internet, VoIP, insurance


def check_traffic_of_1001(session) -> None:
    jan = customer(session, "1001")
    internet = next(s for s in jan.services if s.kind == "internet")
    days = session.scalars(
        select(TrafficDay).where(TrafficDay.service_id == internet.id).order_by(TrafficDay.day)
    ).all()
    assert len(days) == 60
    assert days[0].day == today() - timedelta(days=60)
    assert days[-1].day == today() - timedelta(days=1)
    assert all(d.bytes_down > d.bytes_up > 0 for d in days)
    assert sum(d.bytes_down for d in days) > 60 * 10**9  # several GB a day


def check_overdue_account(session, number: str, days: int) -> None:
    who = customer(session, number)
    assert authenticate(session, number, f"demo{number}") is not None
    opened = open_invoices(session, who.id, today())
    assert len(opened) == 1
    state = opened[0]
    assert state.status == "overdue"
    assert state.open_amount > 0
    assert state.invoice.due_date == today() - timedelta(days=days)
    assert state.invoice.issue_date == state.invoice.due_date - timedelta(days=14)
    assert sum(1 for s in customer_invoices(session, who.id, today()) if s.status == "paid") >= 3


def test_refuses_to_mix_with_foreign_numbers(session, supplier, make_customer):
    make_customer(number="1005")
    with pytest.raises(demo.DemoError, match="1005"):
        demo.load(session, supplier)
