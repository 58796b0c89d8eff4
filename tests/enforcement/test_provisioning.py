"""Provisioning end to end: credentials set through billing/customers/services.py reach the
real FreeRADIUS (the shipped deploy/freeradius, queried with radclient), and moving a
suspended customer's address or router moves their router state through the outbox."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from billing.customers import services
from billing.models import AuditEvent, Customer
from core.db import make_session_factory
from enforcement import outbox
from enforcement.drivers.recording import read_state
from enforcement.models import EnforcementCase, RouterAction
from tests.enforcement import freeradius_runner as fr

TOKEN = "provisioning-radius-token_7"
ACTOR = "operator:podpora"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RADIUS_API_TOKEN": TOKEN}


def pap(user, password):
    return {"User-Name": user, "User-Password": password, "NAS-IP-Address": "127.0.0.1"}


def chap(user, password):
    return {"User-Name": user, "CHAP-Password": password, "NAS-IP-Address": "127.0.0.1"}


def new_customer(session, number="7301", name="Alena Malá"):
    customer = Customer(customer_number=number, name=name, street="Husova 5", city="Kolín",
                        postal_code="280 02", email="alena@example.cz")
    session.add(customer)
    session.flush()
    return customer


def test_a_new_customer_with_pppoe_credentials_is_accepted_by_freeradius(app, session, need):
    need(fr.available(), "freeradius and radclient are not installed")
    customer = new_customer(session)
    added = services.add_service(
        session, customer, kind="internet", name="Internet 100", price="450",
        valid_from=date(2024, 1, 1), download_kbps=100_000, upload_kbps=20_000,
        ips=["100.64.7.1"], router_name="kolin-bras1", generate_pppoe=True, actor=ACTOR)
    session.commit()
    user, first = added.service.pppoe_username, added.pppoe_password
    assert user == "mala7301"

    with fr.serve_app(app) as url, fr.FreeRadius(url, TOKEN, tag="prov") as radius:
        for request in (pap(user, first), chap(user, first)):
            reply = radius.auth(request)
            assert reply.code == "Access-Accept", radius.log
            assert reply.first("Framed-IP-Address") == "100.64.7.1"
            assert reply.first("Mikrotik-Rate-Limit") == "20000k/100000k"

        services.set_pppoe(session, added.service, actor=ACTOR, password="druhe-heslo-2")
        session.commit()
        assert radius.auth(pap(user, "druhe-heslo-2")).code == "Access-Accept"
        assert radius.auth(chap(user, "druhe-heslo-2")).code == "Access-Accept"
        assert radius.auth(pap(user, first)).code == "Access-Reject"
        assert radius.auth(chap(user, first)).code == "Access-Reject"

        # a new user name: the old one is unknown from the next dial-in
        services.set_pppoe(session, added.service, actor=ACTOR, username="alena.mala")
        session.commit()
        assert radius.auth(pap("alena.mala", "druhe-heslo-2")).code == "Access-Accept"
        assert radius.auth(pap(user, "druhe-heslo-2")).code == "Access-Reject"

        # ended yesterday: refused whatever the password
        services.end_service(session, added.service, date(2024, 1, 31), actor=ACTOR)
        session.commit()
        assert radius.auth(pap("alena.mala", "druhe-heslo-2")).code == "Access-Reject"


def test_a_service_without_a_password_is_rejected_until_one_is_set(app, session, need):
    need(fr.available(), "freeradius and radclient are not installed")
    customer = new_customer(session, "7302", "Karel Dlouhý")
    service = services.add_service(
        session, customer, kind="internet", name="Internet 50", price="350",
        valid_from=date(2024, 1, 1), ips=["100.64.7.2"], pppoe_username="dlouhy7302",
        actor=ACTOR).service
    session.commit()
    with fr.serve_app(app) as url, fr.FreeRadius(url, TOKEN, tag="prov") as radius:
        assert radius.auth(pap("dlouhy7302", "")).code == "Access-Reject"
        password = services.set_pppoe(session, service, actor=ACTOR, generate=True)
        session.commit()
        reply = radius.auth(chap("dlouhy7302", password))
        assert reply.code == "Access-Accept", radius.log
        assert reply.first("Framed-IP-Address") == "100.64.7.2"


@pytest.fixture
def worker(engine, app_config):
    settings = outbox.OutboxSettings(driver_options={
        "directory": app_config["ENFORCEMENT_RECORDING_DIR"]})
    factory = make_session_factory(engine)
    return lambda: outbox.drain(factory, settings)


def lists(app_config, router):
    return read_state(app_config["ENFORCEMENT_RECORDING_DIR"], router)["lists"]


def test_moving_a_disconnected_customer_moves_the_block(app, session, make_customer, worker,
                                                         app_config):
    customer = make_customer(internet_ip="100.64.8.1")
    service = customer.services[0]
    service.router_name = "r1"
    service.pppoe_username = "cut8001"
    session.add(EnforcementCase(customer_id=customer.id, state="disconnected"))
    session.commit()
    # what the disconnection had put there
    session.add(RouterAction(customer_id=customer.id, router_name="r1", kind="list_add",
                             list_name="blocked", address="100.64.8.1", reason="disconnect"))
    session.commit()
    worker()
    assert lists(app_config, "r1") == {"blocked": ["100.64.8.1"]}

    services.change_service(session, service, actor=ACTOR, ips=["100.64.8.2"])
    session.commit()
    worker()
    assert lists(app_config, "r1") == {"blocked": ["100.64.8.2"]}

    services.change_service(session, service, actor=ACTOR, router_name="r2")
    session.commit()
    worker()
    assert lists(app_config, "r1") == {"blocked": []}
    assert lists(app_config, "r2") == {"blocked": ["100.64.8.2"]}
    moved = session.scalars(select(AuditEvent).where(AuditEvent.action == "enforcement.moved")
                            .order_by(AuditEvent.id)).all()
    assert [(e.old_value, e.new_value, e.actor) for e in moved] == [
        ("r1:100.64.8.1", "r1:100.64.8.2", ACTOR), ("r1:100.64.8.2", "r2:100.64.8.2", ACTOR)]
    kinds = [(a.router_name, a.kind, a.list_name, a.address, a.reason) for a in session.scalars(
        select(RouterAction).where(RouterAction.reason == "moved").order_by(RouterAction.id))]
    assert kinds == [
        ("r1", "list_remove", "blocked", "100.64.8.1", "moved"),
        ("r1", "list_add", "blocked", "100.64.8.2", "moved"),
        ("r1", "kick", None, "100.64.8.2", "moved"),
        ("r1", "list_remove", "blocked", "100.64.8.2", "moved"),
        ("r2", "list_add", "blocked", "100.64.8.2", "moved"),
        ("r2", "kick", None, "100.64.8.2", "moved"),
    ]


def test_a_warned_customer_moves_in_the_warned_list_and_ok_customers_queue_nothing(
        app, session, make_customer, worker, app_config):
    warned = make_customer(internet_ip="100.64.9.1")
    session.add(EnforcementCase(customer_id=warned.id, state="warned"))
    fine = make_customer(internet_ip="100.64.9.5")
    session.commit()
    services.change_service(session, warned.services[0], actor=ACTOR, ips=["100.64.9.2"])
    services.change_service(session, fine.services[0], actor=ACTOR, ips=["100.64.9.6"],
                            router_name="elsewhere")
    session.commit()
    actions = session.scalars(select(RouterAction).order_by(RouterAction.id)).all()
    assert [(a.customer_id, a.router_name, a.kind, a.list_name, a.address) for a in actions] == [
        (warned.id, "default", "list_remove", "warned", "100.64.9.1"),
        (warned.id, "default", "list_add", "warned", "100.64.9.2"),
    ]
    worker()
    assert lists(app_config, "default") == {"warned": ["100.64.9.2"]}
