"""A customer's services through billing/customers/services.py: added, changed (a price from
a day, billed by the monthly run at the right price for each month), ended; PPPoE and VoIP
credentials; refusals name their field and write nothing; every change is audited with its
actor and no password reaches the audit trail."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.customers import services
from billing.invoicing.recurring import issue_month
from billing.models import AuditEvent, Contract, Invoice, Service, ServiceTariff
from core.passwords import verify_password

ACTOR = "operator:podpora"


def audit_rows(session, customer_id=None):
    stmt = select(AuditEvent).order_by(AuditEvent.id)
    if customer_id is not None:
        stmt = stmt.where(AuditEvent.customer_id == customer_id)
    return list(session.scalars(stmt))


def internet(session, customer, **fields):
    values = dict(kind="internet", name="Internet 100", price="450", valid_from=date(2026, 1, 1),
                  download_kbps=100_000, upload_kbps=20_000, ips=["100.64.5.1"],
                  actor=ACTOR)
    values.update(fields)
    added = services.add_service(session, customer, **values)
    session.commit()
    return added


def test_generated_password_is_readable_and_strong():
    passwords = {services.generate_password() for _ in range(200)}
    assert len(passwords) == 200
    for password in passwords:
        assert len(password) == 19 and password.count("-") == 3
        assert not set(password) & set("0O1lI")
        services.check_password(password)


def test_add_internet_with_generated_pppoe_credentials(session, make_customer):
    customer = make_customer(name="Jan Novák", number="4321")
    added = internet(session, customer, generate_pppoe=True, router_name="kolin-bras1")
    service = added.service
    assert service.pppoe_username == "novak4321"
    assert service.pppoe_password == added.pppoe_password
    assert [a.address for a in service.addresses] == ["100.64.5.1"]
    assert service.contract.number == "4321"  # the customer's one contract
    tariffs = session.scalars(select(ServiceTariff).where(ServiceTariff.service_id == service.id)).all()
    assert [(t.effective_from, t.name, t.price) for t in tariffs] == [
        (date(2026, 1, 1), "Internet 100", Decimal("450.00"))]
    event = audit_rows(session, customer.id)[-1]
    assert (event.action, event.actor) == ("service.added", ACTOR)
    assert added.pppoe_password not in event.details
    assert '"pppoe_password": "set"' in event.details


def test_pppoe_user_names_are_unique_and_suggestions_avoid_taken_ones(session, make_customer):
    first = make_customer(name="Jan Novák", number="4321")
    internet(session, first, pppoe_username="novak4321", pppoe_password="first-pass-1")
    second = make_customer(name="Eva Nováková", number="4322")
    with pytest.raises(services.ServiceConflict) as refused:
        internet(session, second, ips=["100.64.5.2"], pppoe_username="NOVAK4321",
                 pppoe_password="second-pass")
    assert refused.value.field == "pppoe_username"
    session.rollback()
    # the same customer, a second line: the suggestion steps past the taken name
    assert services.suggest_username(session, first) == "novak4321-2"


@pytest.mark.parametrize(("fields", "field"), [
    ({"price": "-1"}, "price"),
    ({"price": "12.345"}, "price"),
    ({"vat_rate": "15"}, "vat_rate"),
    ({"ips": ["10.0.0.300"]}, "ips"),
    ({"download_kbps": "fast"}, "download_kbps"),
    ({"pppoe_username": "bad name"}, "pppoe_username"),
    ({"pppoe_password": "short"}, "pppoe_password"),
    ({"pppoe_password": "žluťoučký-kůň"}, "pppoe_password"),
    ({"router_name": "nowhere", "known_routers": ["kolin-bras1"]}, "router_name"),
    ({"kind": "voip", "ips": [], "download_kbps": None, "upload_kbps": None}, "phone_number"),
    ({"kind": "other", "ips": [], "download_kbps": None, "upload_kbps": None,
      "phone_number": "601234567"}, "phone_number"),
    ({"kind": "other", "ips": [], "download_kbps": None, "upload_kbps": None,
      "generate_pppoe": True}, "pppoe_password"),
    ({"valid_to": date(2025, 1, 1)}, "valid_to"),
    ({"paid_until": date(2027, 1, 1)}, "paid_until"),
])
def test_refusals_name_the_field_and_write_nothing(session, make_customer, fields, field):
    customer = make_customer()
    before = (session.query(Service).count(), session.query(AuditEvent).count())
    with pytest.raises(services.ServiceError) as refused:
        services.add_service(session, customer, **{
            "kind": "internet", "name": "Internet 100", "price": "450",
            "valid_from": date(2026, 1, 1), "ips": ["100.64.5.9"], "actor": ACTOR, **fields})
    assert refused.value.field == field
    session.rollback()
    assert (session.query(Service).count(), session.query(AuditEvent).count()) == before


def test_an_address_of_another_service_is_a_conflict(session, make_customer):
    make_customer(internet_ip="100.64.5.1")
    other = make_customer()
    with pytest.raises(services.ServiceConflict) as refused:
        internet(session, other)
    assert refused.value.field == "ips"


def test_voip_line_with_password_hashed(session, make_customer):
    customer = make_customer()
    added = services.add_service(session, customer, kind="voip", name="VoIP Standard",
                                 price="99", valid_from=date(2026, 1, 1),
                                 phone_number="601 234 567", generate_voip=True, actor=ACTOR)
    session.commit()
    line = added.service
    assert line.phone_number == "+420601234567"
    assert verify_password(line.voip_password_hash, added.voip_password)
    new = services.set_voip_password(session, line, actor=ACTOR, password="nove-heslo-42")
    session.commit()
    assert new == "nove-heslo-42"
    assert verify_password(line.voip_password_hash, "nove-heslo-42")
    assert not verify_password(line.voip_password_hash, added.voip_password)
    event = audit_rows(session, customer.id)[-1]
    assert (event.action, event.field, event.old_value, event.new_value) == (
        "voip.password", "voip_password", None, None)
    assert "nove-heslo-42" not in event.details
    with pytest.raises(services.ServiceConflict):  # the number is this line's
        services.add_service(session, make_customer(), kind="voip", name="VoIP", price="99",
                             valid_from=date(2026, 1, 1), phone_number="+420601234567",
                             actor=ACTOR)


def test_insurance_paid_until_and_other(session, make_customer):
    customer = make_customer()
    insured = services.add_service(session, customer, kind="insurance", name="Pojištění",
                                   price="49", valid_from=date(2026, 1, 1),
                                   paid_until=date(2026, 12, 31), actor=ACTOR).service
    services.change_service(session, insured, actor=ACTOR, paid_until=date(2027, 12, 31))
    session.commit()
    assert insured.paid_until == date(2027, 12, 31)
    other = services.add_service(session, customer, kind="other", name="Veřejná IP",
                                 price="100", valid_from=date(2026, 1, 1), actor=ACTOR).service
    assert other.kind == "other"


def test_set_pppoe_password_never_reaches_the_audit(session, make_customer):
    customer = make_customer(internet_ip="100.64.5.3", name="Petr Svoboda", number="4400")
    service = customer.services[0]
    password = services.set_pppoe(session, service, actor=ACTOR, generate=True)
    session.commit()
    assert service.pppoe_username == "svoboda4400"
    assert service.pppoe_password == password
    services.set_pppoe(session, service, actor=ACTOR, password="typed-secret-77")
    session.commit()
    assert service.pppoe_password == "typed-secret-77"
    texts = " ".join(f"{e.old_value} {e.new_value} {e.details}" for e in audit_rows(session))
    assert password not in texts and "typed-secret-77" not in texts
    actions = [(e.action, e.actor) for e in audit_rows(session, customer.id)]
    assert actions == [("service.pppoe_username", ACTOR), ("service.pppoe_password", ACTOR),
                       ("service.pppoe_password", ACTOR)]


def test_price_change_from_a_day_is_billed_month_by_month(session, make_customer, supplier):
    customer = make_customer()
    service = internet(session, customer, valid_from=date(2026, 1, 1)).service
    # from March on 550; a planned change corrected: from May 600, then "no, 590"
    services.change_service(session, service, actor=ACTOR, price="550",
                            effective_from=date(2026, 3, 1))
    services.change_service(session, service, actor=ACTOR, name="Internet 300", price="600",
                            effective_from=date(2026, 5, 16))
    services.change_service(session, service, actor=ACTOR, price="590",
                            effective_from=date(2026, 5, 16))
    session.commit()
    assert (service.name, service.price) == ("Internet 300", Decimal("590.00"))

    def billed(month):
        issue_month(session, supplier, month, on=date(2026, 6, 30))
        session.commit()
        invoice = session.scalars(select(Invoice).where(Invoice.period_key == month)).one()
        return [(ln.description, ln.unit_price) for ln in invoice.lines]

    assert billed("2026-02") == [("Internet 100 – únor 2026", Decimal("450.00"))]
    assert billed("2026-03") == [("Internet 100 – březen 2026", Decimal("550.00"))]
    # May: 15 days at 550, 16 days at 590 (of 31)
    assert billed("2026-05") == [
        ("Internet 100 – květen 2026 (1.–15. 5., 15/31 dní)", Decimal("266.13")),
        ("Internet 300 – květen 2026 (16.–31. 5., 16/31 dní)", Decimal("304.52")),
    ]
    events = [e for e in audit_rows(session, customer.id) if e.action == "service.changed"]
    assert [(e.field, e.old_value, e.new_value) for e in events] == [
        ("price", "450.00", "550.00"), ("name", "Internet 100", "Internet 300"),
        ("price", "550.00", "600.00"), ("price", "600.00", "590.00")]
    assert all('"effective_from": "2026-05-16"' in e.details for e in events[1:])


def test_a_service_from_before_the_history_keeps_its_old_price_for_old_months(
        session, make_customer, supplier):
    customer = make_customer(internet_ip="100.64.5.4")  # a Service row written directly
    service = customer.services[0]
    services.change_service(session, service, actor=ACTOR, price="500",
                            effective_from=date(2026, 4, 1))
    session.commit()
    issue_month(session, supplier, "2026-03", on=date(2026, 4, 2))
    issue_month(session, supplier, "2026-04", on=date(2026, 4, 2))
    session.commit()
    totals = dict(session.execute(select(Invoice.period_key, Invoice.total)).all())
    assert totals == {"2026-03": Decimal("450.00"), "2026-04": Decimal("500.00")}


def test_speeds_router_and_addresses_change_now(session, make_customer):
    customer = make_customer(internet_ip="100.64.5.5")
    service = customer.services[0]
    result = services.change_service(session, service, actor=ACTOR, download_kbps="250000",
                                     upload_kbps=50_000, router_name="pecky-bras1",
                                     ips=["100.64.5.6", "100.64.5.5"])
    session.commit()
    assert set(result.fields) == {"download_kbps", "upload_kbps", "router_name", "ips"}
    assert [a.address for a in service.addresses] == ["100.64.5.6", "100.64.5.5"]
    assert services.change_service(session, service, actor=ACTOR, upload_kbps=50_000).fields == []


def test_end_service(session, make_customer):
    customer = make_customer(internet_ip="100.64.5.7")
    service = customer.services[0]
    with pytest.raises(services.ServiceError):
        services.end_service(session, service, date(2023, 12, 31), actor=ACTOR)
    services.end_service(session, service, date(2026, 6, 30), actor=ACTOR)
    session.commit()
    assert service.valid_to == date(2026, 6, 30)
    assert audit_rows(session, customer.id)[-1].action == "service.ended"


def test_a_customer_without_a_contract_gets_one(session, make_customer):
    customer = make_customer()
    for contract in list(customer.contracts):
        contract.ended_on = date(2025, 12, 31)
    session.commit()
    with pytest.raises(services.ServiceError) as refused:  # the number is the old contract's
        internet(session, customer)
    assert refused.value.field == "contract"
    session.rollback()
    session.execute(Contract.__table__.update().values(number="99" + customer.customer_number))
    session.commit()
    session.expire_all()
    added = internet(session, customer)
    assert added.service.contract.number == customer.customer_number


def test_find_service(session, make_customer):
    customer = make_customer(internet_ip="100.64.5.8", number="4500")
    service = customer.services[0]
    service.pppoe_username = "find4500"
    session.commit()
    assert services.find_service(session, "4500") is service
    assert services.find_service(session, "find4500") is service
    assert services.find_service(session, f"#{service.id}") is service
    with pytest.raises(services.ServiceError):
        services.find_service(session, "nobody")


def test_a_price_change_back_into_an_invoiced_month_is_refused(session, make_customer, supplier):
    customer = make_customer()
    service = internet(session, customer, valid_from=date(2026, 1, 1)).service
    issue_month(session, supplier, "2026-03", on=date(2026, 3, 1))
    session.commit()
    with pytest.raises(services.ServiceConflict) as refused:
        services.change_service(session, service, actor=ACTOR, price="500",
                                effective_from=date(2026, 2, 15))
    assert refused.value.field == "effective_from"
    assert "2026-03 is invoiced already" in refused.value.message
    session.rollback()
    services.change_service(session, service, actor=ACTOR, price="500",
                            effective_from=date(2026, 4, 1))
    session.commit()
    assert service.price == Decimal("500.00")
