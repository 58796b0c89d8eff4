"""Operators' customers and contracts (billing/customers/register.py): numbering, the zone's
validation, audit, append-only notes; "view as" sessions (billing/customers/view_as.py)."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from billing.customers import register, view_as
from billing.models import AuditEvent, Contract, Customer, UserSession

GOOD = register.CustomerInput(name="Jana Nováková", street="Husova 5", city="Kolín",
                              postal_code="28002", email="jana@example.cz", phone="601234567")


def test_numbers_start_at_1001_and_follow_the_highest(session, make_customer):
    first = register.create_customer(session, GOOD, actor="operator:eva")
    assert first.customer_number == "1001" and first.contracts[0].number == "1001"
    make_customer("5000", password=None)  # imported with a higher number
    assert register.create_customer(session, GOOD, actor="operator:eva").customer_number == "5001"


def test_numbers_skip_a_contract_number_in_use(session, make_customer):
    owner = make_customer("1001", password=None)
    session.add(Contract(customer_id=owner.id, number="1002", signed_on=date(2025, 1, 1)))
    session.flush()
    new = register.create_customer(session, GOOD, actor="operator:eva")
    assert new.customer_number == "1003"
    contract = register.add_contract(session, new, signed_on=date(2026, 1, 1),
                                     actor="operator:eva")
    assert contract.number == "1004"


def test_a_bad_field_writes_nothing(session):
    with pytest.raises(register.CustomerInvalid) as refused:
        register.create_customer(session, register.CustomerInput(
            name="X", street="", city="Kolín", postal_code="1", email="x", phone="1",
            is_company=True, language="de"), actor="operator:eva")
    assert set(refused.value.errors) == {"street", "postal_code", "email", "phone", "ico",
                                         "language"}
    session.flush()
    assert session.scalar(select(Customer.id)) is None
    assert session.scalar(select(AuditEvent.id)) is None


def test_update_audits_each_changed_field(session, make_customer):
    customer = make_customer("1001", name="Jan Novák", password=None)
    data = register.CustomerInput(name="Jan Novák", street="Husova 5", city="Kutná Hora",
                                  postal_code="280 02", email="jana@example.cz",
                                  phone="+420777123456")
    assert register.update_customer(session, customer, data, actor="operator:eva") == ["city"]
    assert register.update_customer(session, customer, data, actor="operator:eva") == []
    events = session.scalars(select(AuditEvent).where(AuditEvent.action == "customer.changed"))
    assert [(e.field, e.old_value, e.new_value, e.actor) for e in events] == [
        ("city", "Kolín", "Kutná Hora", "operator:eva")]


def test_notes_need_text(session, make_customer):
    customer = make_customer("1001", password=None)
    for bad in ("", "   ", "x" * 4001, "a\x00b"):
        with pytest.raises(register.NoteInvalid):
            register.add_note(session, customer, bad, actor="operator:eva")
    note = register.add_note(session, customer, "  ok  ", actor="operator:eva")
    assert (note.text, note.author) == ("ok", "operator:eva")


def test_view_as_is_an_operators_own_session(session, make_customer):
    customer = make_customer("1001", password=None)
    with pytest.raises(ValueError):
        view_as.start(session, customer, actor="customer:1001")
    token = view_as.start(session, customer, actor="operator:eva")
    row = session.scalar(select(UserSession))
    assert row.viewed_by == "operator:eva" and token not in row.token_hash
    view_as.end(session, token, customer_id=customer.id, actor="operator:eva")
    assert session.scalar(select(UserSession)) is None
    assert [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
        "customer.viewed_as", "customer.view_as_ended"]
