"""The console's renewals page (console/views_renewals.py): an operator sees a customer's
services with an expiry, renews one from the customer's credit (the expiry moves from the
previous expiry, the credit goes down, the audit names the operator), sets the expiry and
the automatic renewal; a forbidden role gets 403 and nothing changes. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from billing.credit import credit_balance, open_account
from billing.credit.renewals import add_months
from billing.ledger import postings
from billing.models import AuditEvent, Invoice, RenewalOrder, Service, ServiceRenewal
from billing.models import TransactionKind as TK
from core.clock import today

D = Decimal


def _prepaid(session, make_customer, number, *, credit="2000.00"):
    """A customer with a credit account holding ``credit`` (without VAT) and a yearly
    service (1 210 Kč with VAT) paid up to 20 days from today."""
    customer = make_customer(number)
    open_account(session, customer, "CZK", actor="operator:test")
    postings.record(session, [postings.Posting(
        TK.OPENING, [(postings.account_key("credit", customer.id), -D(credit)),
                     (postings.account_key("opening_balance"), D(credit))],
        customer_id=customer.id, description="test credit")])
    service = Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                      kind="other", name="Hosting", price=D("1210.00"), period="year",
                      valid_from=today() - timedelta(days=400),
                      expires_on=today() + timedelta(days=20))
    session.add(service)
    session.commit()
    return customer, service


def _fresh(session):
    """What the pages committed (the test's session keeps its objects across the requests)."""
    session.rollback()
    session.expire_all()


def _actions(session, customer, client):
    return set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.customer_id == customer.id,
        AuditEvent.actor == f"operator:{client.operator.login}")))


def test_a_billing_operator_renews_a_service_from_credit(console_client, session, make_customer):
    customer, service = _prepaid(session, make_customer, "5401")
    previous = service.expires_on
    client = console_client("billing")
    page = client.get(f"/console/customers/{customer.id}/renewals").get_data(as_text=True)
    assert "Hosting" in page and "Renew for one period" in page
    assert "Save the expiry" not in page  # support's form, not billing's
    card = client.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert "Services with an expiry" in card
    assert f"/console/customers/{customer.id}/renewals" in card

    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/renew",
                    data={"paid_from": "credit"})
    assert r.status_code == 302
    _fresh(session)
    service = session.get(Service, service.id)
    assert service.expires_on == add_months(previous, 12)  # from the previous expiry, not today
    assert credit_balance(session, customer.id) == D("1000.00")  # 1 210 with VAT, 1 000 without
    renewal = session.scalars(select(ServiceRenewal).where(ServiceRenewal.service_id == service.id)).one()
    assert renewal.previous_expiry == previous and renewal.paid_from == "credit"
    assert renewal.actor == f"operator:{client.operator.login}"
    assert {"service.renewed", "credit.paid"} <= _actions(session, customer, client)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "renewed" in page and client.operator.login in page  # the flash and the last renewals


def test_a_short_credit_is_refused_and_renews_nothing(console_client, session, make_customer):
    customer, service = _prepaid(session, make_customer, "5402", credit="100.00")
    previous = service.expires_on
    client = console_client("billing")
    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/renew",
                    data={"paid_from": "credit"})
    assert r.status_code == 409
    assert "credit" in r.get_data(as_text=True)
    _fresh(session)
    assert session.get(Service, service.id).expires_on == previous
    assert credit_balance(session, customer.id) == D("100.00")
    assert session.scalar(select(func.count()).select_from(ServiceRenewal)) == 0


def test_a_support_operator_sets_the_expiry_and_the_auto_renew(console_client, session,
                                                                make_customer):
    customer, service = _prepaid(session, make_customer, "5403")
    client = console_client("support")
    page = client.get(f"/console/customers/{customer.id}/renewals").get_data(as_text=True)
    assert "Save the expiry" in page and "Renew for one period" not in page
    new_day = today() + timedelta(days=90)
    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/expiry",
                    data={"expires_on": new_day.isoformat(), "months": "6"})
    assert r.status_code == 302
    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/auto-renew",
                    data={"auto_renew": "on"})
    assert r.status_code == 302
    _fresh(session)
    service = session.get(Service, service.id)
    assert service.expires_on == new_day and service.renewal_months == 6
    assert service.auto_renew is True
    assert {"service.expiry_set", "service.auto_renew"} <= _actions(session, customer, client)

    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/expiry",
                    data={"expires_on": "", "months": ""})  # off prepaid periods
    assert r.status_code == 302
    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/expiry",
                    data={"expires_on": "2026-13-40"})  # bad input: refused, nothing changes
    assert r.status_code == 422
    _fresh(session)
    assert session.get(Service, service.id).expires_on is None


def test_forbidden_roles_get_403_and_nothing_changes(console_client, session, make_customer):
    customer, service = _prepaid(session, make_customer, "5404")
    previous = service.expires_on
    support, billing, readonly = (console_client(r) for r in ("support", "billing", "readonly"))
    base = f"/console/customers/{customer.id}/renewals/{service.id}"
    assert support.post(f"{base}/renew", data={"paid_from": "credit"}).status_code == 403
    assert billing.post(f"{base}/expiry", data={"expires_on": "2030-01-01"}).status_code == 403
    assert billing.post(f"{base}/auto-renew", data={"auto_renew": "off"}).status_code == 403
    for path, data in ((f"{base}/renew", {"paid_from": "credit"}),
                       (f"{base}/expiry", {"expires_on": "2030-01-01"}),
                       (f"{base}/auto-renew", {"auto_renew": "off"})):
        assert readonly.post(path, data=data).status_code == 403
    assert readonly.get(f"/console/customers/{customer.id}/renewals").status_code == 200
    _fresh(session)
    service = session.get(Service, service.id)
    assert service.expires_on == previous and service.auto_renew is None
    assert credit_balance(session, customer.id) == D("2000.00")
    assert session.scalar(select(func.count()).select_from(ServiceRenewal)) == 0


def test_a_service_of_another_customer_is_not_found(console_client, session, make_customer):
    customer, service = _prepaid(session, make_customer, "5405")
    other = make_customer("5406")
    session.commit()
    client = console_client("admin")
    r = client.post(f"/console/customers/{other.id}/renewals/{service.id}/renew",
                    data={"paid_from": "credit"})
    assert r.status_code == 404
    _fresh(session)
    assert credit_balance(session, customer.id) == D("2000.00")


def test_a_renewal_by_transfer_waits_for_its_invoice(console_client, session, make_customer):
    customer, service = _prepaid(session, make_customer, "5407", credit="10.00")
    previous = service.expires_on
    client = console_client("billing")
    r = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/renew",
                    data={"paid_from": "transfer"})
    assert r.status_code == 302
    _fresh(session)
    order = session.scalars(select(RenewalOrder).where(RenewalOrder.service_id == service.id)).one()
    invoice = session.get(Invoice, order.invoice_id)
    assert invoice.total == D("1210.00") and order.renewal_id is None
    assert session.get(Service, service.id).expires_on == previous  # renewed once paid
    assert "service.renewal_ordered" in _actions(session, customer, client)
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert f"invoice #{invoice.id} unpaid" in page
    again = client.post(f"/console/customers/{customer.id}/renewals/{service.id}/renew",
                        data={"paid_from": "transfer"})
    assert again.status_code == 409  # ordered already: refused by the door
    _fresh(session)
    assert session.scalar(select(func.count()).select_from(RenewalOrder)) == 1


def test_a_support_operator_switches_auto_renew_by_kind_on_the_card(console_client, session,
                                                                     make_customer):
    """The per-customer "renew automatically by kind" the zone has, on the customer card
    (support and admin; audited with the operator); billing and readonly only see it."""
    from billing.credit.renewals import auto_renews
    from billing.models import CreditServiceSettings

    customer, service = _prepaid(session, make_customer, "5411")
    client = console_client("support")
    card = client.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert "Renew automatically from credit, by kind of service" in card
    r = client.post(f"/console/customers/{customer.id}/renewals/kinds",
                    data={"kind": ["other", "internet"], "back": "card"})
    assert r.status_code == 302 and f"/console/customers/{customer.id}" in r.headers["Location"]
    _fresh(session)
    assert session.get(CreditServiceSettings, customer.id).auto_renew_kinds == "internet,other"
    assert auto_renews(session, session.get(Service, service.id))  # follows its kind now
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "credit.auto_renew_kinds",
        AuditEvent.customer_id == customer.id)).one()
    assert (event.actor, event.old_value, event.new_value) == (
        "operator:" + client.operator.login, "", "internet,other")
    card = client.get(f"/console/customers/{customer.id}").get_data(as_text=True)
    assert 'name="kind" value="other" checked' in card
    assert 'name="kind" value="voip" checked' not in card
    # all off again from the renewals page
    client.post(f"/console/customers/{customer.id}/renewals/kinds", data={})
    _fresh(session)
    assert session.get(CreditServiceSettings, customer.id).auto_renew_kinds == ""
    # a kind that does not exist: refused, nothing changes
    r = client.post(f"/console/customers/{customer.id}/renewals/kinds", data={"kind": "tv"})
    assert r.status_code == 422
    # billing and readonly: 403, nothing changes; they see the setting, disabled
    for role in ("billing", "readonly"):
        other = console_client(role)
        assert other.post(f"/console/customers/{customer.id}/renewals/kinds",
                          data={"kind": "voip"}).status_code == 403
        page = other.get(f"/console/customers/{customer.id}").get_data(as_text=True)
        assert 'value="voip" disabled' in page
    _fresh(session)
    assert session.get(CreditServiceSettings, customer.id).auto_renew_kinds == ""
    assert session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "credit.auto_renew_kinds")) == 2
