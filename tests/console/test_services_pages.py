"""The console's services pages: an operator of support adds an internet service with a
generated PPPoE password and the real FreeRADIUS (shipped config) accepts the customer with
their Framed-IP-Address; a password changed in the console is the one FreeRADIUS accepts
next. The PPPoE password is shown to admin and support, masked for billing and readonly;
every act is audited with the operator; a suspended customer's moved address moves on the
routers; a VoIP password is shown once and stored hashed."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import func, select

from billing.models import AuditEvent, Contract, Customer, Service
from core.passwords import verify_password
from enforcement.models import EnforcementCase, Router, RouterAction
from tests.enforcement import freeradius_runner as fr

TOKEN = "console-radius-token_9"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RADIUS_API_TOKEN": TOKEN}


@pytest.fixture
def customer(session):
    found = Customer(customer_number="7701", name="Marie Horáková", street="Husova 5",
                     city="Kolín", postal_code="280 02", email="marie@example.cz")
    session.add(found)
    session.flush()
    session.add(Contract(customer_id=found.id, number="7701", signed_on=date(2024, 1, 1)))
    session.add(Router(name="kolin-bras1", driver="recording"))
    session.commit()
    return found


def fresh(session, service_id):
    session.commit()
    session.expire_all()
    return session.get(Service, service_id)


def add_internet(client, customer, **extra):
    data = {"kind": "internet", "name": "Internet 100", "price": "450", "vat_rate": "21",
            "period": "month", "valid_from": "2024-01-01", "download_kbps": "100000",
            "upload_kbps": "20000", "ips": "100.64.20.1", "router_name": "kolin-bras1",
            "pppoe_mode": "generate", **extra}
    response = client.post(f"/console/customers/{customer.id}/services/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def pap(user, password):
    return {"User-Name": user, "User-Password": password, "NAS-IP-Address": "127.0.0.1"}


def test_console_provisioning_reaches_freeradius(app, session, console_client, customer, need):
    need(fr.available(), "freeradius and radclient are not installed")
    client = console_client("support")
    service_id = add_internet(client, customer)
    page = client.get(f"/console/services/{service_id}").get_data(as_text=True)
    user = re.search(r'<code class="pppoe-user">([^<]+)</code>', page).group(1)
    first = re.search(r'<code class="pppoe-password">([^<]+)</code>', page).group(1)
    assert user == "horakova7701" and len(first) == 19

    with fr.serve_app(app) as url, fr.FreeRadius(url, TOKEN, tag="console") as radius:
        reply = radius.auth(pap(user, first))
        assert reply.code == "Access-Accept", radius.log
        assert reply.first("Framed-IP-Address") == "100.64.20.1"
        assert reply.first("Mikrotik-Rate-Limit") == "20000k/100000k"

        response = client.post(f"/console/services/{service_id}/pppoe", data={
            "pppoe_username": user, "pppoe_mode": "typed", "pppoe_password": "konzole-heslo-5"})
        assert response.status_code == 302
        assert radius.auth(pap(user, "konzole-heslo-5")).code == "Access-Accept"
        assert radius.auth(pap(user, first)).code == "Access-Reject"

    events = session.scalars(select(AuditEvent).where(AuditEvent.customer_id == customer.id)
                             .order_by(AuditEvent.id)).all()
    assert [(e.action, e.actor) for e in events] == [
        ("service.added", client.operator.actor), ("service.pppoe_password", client.operator.actor)]
    assert all("konzole-heslo-5" not in (e.details or "") and first not in (e.details or "")
               for e in events)


def test_password_shown_to_support_and_admin_masked_for_billing_and_readonly(
        app, session, console_client, customer):
    service_id = add_internet(console_client("support"), customer,
                              pppoe_mode="typed", pppoe_password="viditelne-heslo")
    for role, visible in (("admin", True), ("support", True), ("billing", False),
                          ("readonly", False)):
        client = console_client(role)
        for url in (f"/console/services/{service_id}",
                    f"/console/customers/{customer.id}/services"):
            html = client.get(url).get_data(as_text=True)
            assert ("viditelne-heslo" in html) is visible, (role, url)
            assert ("••••••••" in html) is not visible, (role, url)
        assert (f"/console/services/{service_id}/pppoe" in html or
                "Add a service" in html or "Přidat službu" in html) is visible


def test_billing_cannot_change_services(app, session, console_client, customer):
    service_id = add_internet(console_client("support"), customer,
                              pppoe_mode="typed", pppoe_password="puvodni-heslo")
    client = console_client("billing")
    assert client.post(f"/console/services/{service_id}/pppoe", data={
        "pppoe_mode": "generate"}).status_code == 403
    assert fresh(session, service_id).pppoe_password == "puvodni-heslo"


def test_change_price_from_a_day_and_move_a_disconnected_customer(app, session, console_client,
                                                                  customer):
    client = console_client("support")
    client.post("/language", data={"lang": "cs"})  # the operator reads Czech (the fixture: English)
    service_id = add_internet(client, customer)
    session.add(EnforcementCase(customer_id=customer.id, state="disconnected"))
    session.add(Router(name="pecky-bras1", driver="recording"))
    session.commit()
    response = client.post(f"/console/services/{service_id}/change", data={
        "price": "550", "effective_from": "2026-03-01", "download_kbps": "100000",
        "upload_kbps": "20000", "ips": "100.64.20.2", "router_name": "pecky-bras1"})
    assert response.status_code == 302
    service = fresh(session, service_id)
    assert (service.price, service.router_name) == (550, "pecky-bras1")
    assert [a.address for a in service.addresses] == ["100.64.20.2"]
    moved = [(a.router_name, a.kind, a.address) for a in session.scalars(
        select(RouterAction).where(RouterAction.reason == "moved").order_by(RouterAction.id))]
    assert moved == [("kolin-bras1", "list_remove", "100.64.20.1"),
                     ("pecky-bras1", "list_add", "100.64.20.2"),
                     ("pecky-bras1", "kick", "100.64.20.2")]
    history = client.get(f"/console/services/{service_id}").get_data(as_text=True)
    assert "<td>1.\u00a03.\u00a02026</td><td>Internet 100</td>" in history  # the tariff history

    # an unknown router is refused with its reason, nothing changes
    response = client.post(f"/console/services/{service_id}/change",
                           data={"router_name": "nowhere"})
    assert response.status_code == 422
    assert fresh(session, service_id).router_name == "pecky-bras1"


def test_voip_line_password_shown_once_and_hashed(app, session, console_client, customer):
    client = console_client("support")
    response = client.post(f"/console/customers/{customer.id}/services/new", data={
        "kind": "voip", "name": "VoIP Standard", "price": "99", "valid_from": "2024-01-01",
        "phone_number": "601 777 888", "voip_mode": "generate"})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    password = re.search(r'<code class="secret voip-password">([^<]+)</code>',
                         response.get_data(as_text=True)).group(1)
    line = session.scalars(select(Service).where(Service.kind == "voip")).one()
    assert verify_password(line.voip_password_hash, password)
    response = client.post(f"/console/services/{line.id}/voip-password",
                           data={"voip_mode": "typed", "voip_password": "nove-voip-heslo"})
    assert response.status_code == 302
    assert verify_password(fresh(session, line.id).voip_password_hash, "nove-voip-heslo")
    assert password not in client.get(f"/console/services/{line.id}").get_data(as_text=True)


def test_a_refused_password_is_explained_in_czech_and_changes_nothing(app, session,
                                                                      console_client, customer):
    client = console_client("support")
    client.post("/language", data={"lang": "cs"})  # the operator reads Czech (the fixture: English)
    service_id = add_internet(client, customer, pppoe_mode="typed",
                              pppoe_password="puvodni-heslo")
    before = session.scalar(select(func.count(AuditEvent.id)))
    response = client.post(f"/console/services/{service_id}/pppoe", data={
        "pppoe_mode": "typed", "pppoe_password": "kratke"})
    assert response.status_code == 422
    assert "heslo musí mít 8 až 64 znaků" in response.get_data(as_text=True)
    assert fresh(session, service_id).pppoe_password == "puvodni-heslo"
    assert session.scalar(select(func.count(AuditEvent.id))) == before
