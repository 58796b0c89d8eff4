"""The whole story with time travel: overdue -> reminders -> warned -> acknowledged -> +10 days
-> disconnected -> bank statement imported -> reconnected, observed on a fake RouterOS router
(real API protocol over TCP) and on a test NAS (real RADIUS Disconnect/CoA over UDP)."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pytest
import time_machine
from sqlalchemy import select

from billing.models import Service, ServiceAddress
from core.clock import PRAGUE, today
from core.db import make_session_factory
from core.mail import MailSettings
from enforcement import mailq, service
from enforcement import outbox as worker
from enforcement.cases import get_case
from enforcement.cli import flask_renderer
from enforcement.config import Policy
from enforcement.models import RadiusSession, Router
from tests.enforcement.fake_routeros import FakeRouterOS
from tests.enforcement.nas import TestNAS

P = Policy()
START = date(2026, 3, 2)  # due date; the timeline crosses the switch to summer time (29 March)


def at(day: date, hour: int = 7):
    return datetime.combine(day, time(hour), tzinfo=PRAGUE)


@pytest.fixture
def routers(session):
    with FakeRouterOS() as ros, TestNAS(secret=b"s3cret") as nas:
        nas.respond(default="ack")
        session.add_all([
            Router(name="ros1", driver="routeros", host=ros.host, port=ros.port,
                   username="api", secret="secret"),
            Router(name="nas1", driver="radius", host="127.0.0.1", port=nas.port,
                   secret="env:E3A_NAS_SECRET"),
        ])
        session.commit()
        yield ros, nas


@pytest.fixture
def customer(session, supplier, make_customer, monkeypatch):
    """One customer with two connections: PPPoE on a RouterOS router, and one on a RADIUS NAS."""
    monkeypatch.setenv("E3A_NAS_SECRET", "s3cret")
    c = make_customer(number="8001", internet_ip="10.40.0.1")
    first = c.services[0]
    first.router_name, first.pppoe_username = "ros1", "novak8001"
    second = Service(customer_id=c.id, contract_id=first.contract_id, kind="internet",
                     name="Internet 50", price=Decimal("350.00"), valid_from=date(2024, 1, 1),
                     router_name="nas1", pppoe_username="chata8001", location="Chata")
    second.addresses.append(ServiceAddress(address="10.40.0.2"))
    session.add(second)
    session.add(RadiusSession(nas_ip="127.0.0.1", acct_session_id="81000001",
                              username="chata8001", framed_ip="10.40.0.2"))
    session.commit()
    return c


def test_the_whole_timeline(owe, pay, app, session, engine, supplier, customer, routers, outbox, tmp_path):
    ros, nas = routers
    ros.add_ppp_session("novak8001", "10.40.0.1")
    factory = make_session_factory(engine)
    settings = worker.OutboxSettings.from_config(app.config, str(tmp_path))
    settings = dataclasses.replace(settings, driver_options={
        **settings.driver_options, "timeout": 1, "max_duration": 5})
    with time_machine.travel(at(START - timedelta(days=14)), tick=False):
        owe(session, supplier, customer, "605.00", START)

    def day(offset: int) -> list[str]:
        """Run the day's sweep and the worker; returns the e-mail subjects sent that day."""
        before = len(outbox.messages())
        with time_machine.travel(at(START + timedelta(days=offset)), tick=True):
            service.sweep(session, today(), P)
            session.commit()
            report = worker.drain(factory, settings)
            assert report.retried == 0 and report.failed == 0, report
            mailq.drain(factory, MailSettings.from_config(app.config), flask_renderer(app))
        return [m["Subject"] for m in outbox.messages()[before:]]

    def state() -> str:
        session.expire_all()
        return get_case(session, customer.id).state

    assert day(2) == [] and state() == "ok"  # within the grace days
    assert day(3) == ["Upomínka: faktura je po splatnosti"] and state() == "reminded"
    assert day(9) == []
    assert day(10) == ["Druhá upomínka: faktury stále nejsou uhrazeny"]
    assert day(16) == [] and ros.entries("warned") == set() and nas.received == []
    assert day(17) == ["Upozornění: vaše internetové připojení bude pozastaveno"]
    assert state() == "warned"
    assert ros.entries("warned") == {"10.40.0.1"}
    (coa,) = nas.wait_received(1)
    assert coa.code == "CoA-Request"
    assert coa.attrs["Mikrotik-Address-List"] == ["warned"]
    assert coa.attrs["Acct-Session-Id"] == ["81000001"] and coa.attrs["User-Name"] == ["chata8001"]

    with time_machine.travel(at(START + timedelta(days=18), 20), tick=True):  # the customer clicks
        acknowledge(session, customer.id)
        session.commit()
        worker.drain(factory, settings)
    assert state() == "acknowledged"
    assert get_case(session, customer.id).disconnect_due == START + timedelta(days=28)
    assert ros.entries("warned") == set()
    assert [r.code for r in nas.wait_received(2)] == ["CoA-Request", "Disconnect-Request"]

    assert day(27) == [] and state() == "acknowledged"
    assert ros.ppp_sessions and ros.entries("blocked") == set()
    assert day(28) == ["Vaše internetové připojení bylo pozastaveno"]  # ack + 10 days
    assert state() == "disconnected"
    assert ros.entries("blocked") == {"10.40.0.1"}
    assert ros.ppp_sessions == []  # kicked
    # RADIUS: "blocked" and the kick are both the same Disconnect-Request (the NAS re-asks
    # /radius/authorize, which answers "blocked" now): sent once, or it would cut the
    # session the customer redialled in between
    received = nas.wait_received(3)
    assert [r.code for r in received[2:]] == ["Disconnect-Request"]
    assert received[-1].attrs["Framed-IP-Address"] == ["10.40.0.2"]
    assert day(29) == [] and len(nas.received) == 3  # nothing is sent twice

    # the payment arrives on a bank statement: reconnected in the import's transaction
    with time_machine.travel(at(START + timedelta(days=30), 10), tick=True):
        pay(session, [("8001", "605.00", START + timedelta(days=30))])
        assert state() == "ok"
        worker.drain(factory, settings)
        mailq.drain(factory, MailSettings.from_config(app.config), flask_renderer(app))
    assert ros.entries("blocked") == set() and ros.entries("warned") == set()
    assert outbox.messages()[-1]["Subject"] == "Platba přijata, děkujeme"
    assert "obnoveno" in outbox.messages()[-1].get_body().get_content()
    assert [r.code for r in nas.wait_received(4)][3:] == ["Disconnect-Request"]
    assert day(31) == [] and state() == "ok" and len(nas.received) == 4
    assert len(outbox.messages()) == 5


def acknowledge(session, customer_id):
    """e3b's acknowledgement (as the /warning button does it)."""
    from enforcement.acknowledge import acknowledge as ack

    ack(session, customer_id, ip="10.40.0.1", actor="customer:8001", policy=P)


def test_timeline_audit_trail(owe, pay, app, session, supplier, customer, routers):
    """Every transition is an audit event, in order."""
    from billing.models import AuditEvent

    with time_machine.travel(at(START - timedelta(days=14)), tick=False):
        owe(session, supplier, customer, "605.00", START)
    for offset in (3, 10, 17):
        with time_machine.travel(at(START + timedelta(days=offset)), tick=True):
            service.sweep(session, today(), P)
            session.commit()
    with time_machine.travel(at(START + timedelta(days=18)), tick=True):
        acknowledge(session, customer.id)
        session.commit()
    with time_machine.travel(at(START + timedelta(days=28)), tick=True):
        service.sweep(session, today(), P)
        session.commit()
        pay(session, [("8001", "605.00", START + timedelta(days=28))])
    events = [e.action for e in session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == customer.id,
                                 AuditEvent.action.like("enforcement.%")).order_by(AuditEvent.id))]
    assert events == ["enforcement.reminded", "enforcement.reminder2", "enforcement.warned",
                      "enforcement.acknowledged", "enforcement.disconnected", "enforcement.ok"]
