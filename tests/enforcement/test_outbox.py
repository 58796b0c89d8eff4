"""The outbox worker: claim with a lease, order per customer and router, retry with backoff,
give up with an audit event; the recording driver; the live session for a kick."""

from __future__ import annotations

import random
import socket
import time
from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from billing.models import AuditEvent
from core.clock import now
from core.db import make_session_factory
from enforcement import outbox
from enforcement.cases import enqueue
from enforcement.drivers.recording import read_state
from enforcement.models import RadiusSession, Router, RouterAction
from tests.enforcement.fake_routeros import FakeRouterOS


@pytest.fixture
def factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def settings(tmp_path):
    return outbox.OutboxSettings(driver_options={"directory": str(tmp_path / "routers"),
                                                 "timeout": 2},
                                 retry_base_seconds=5, retry_max_seconds=600, max_attempts=5)


def statuses(session):
    session.commit()  # a fresh snapshot: the worker wrote through its own connections
    return [(a.kind, a.list_name, a.status) for a in
            session.scalars(select(RouterAction).order_by(RouterAction.id))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_drain_applies_actions_to_the_recording_router(session, factory, settings, make_customer):
    customer = make_customer(internet_ip="10.30.0.1")
    customer.services[0].pppoe_username = "user1"
    session.add(RadiusSession(nas_ip="127.0.0.1", acct_session_id="S-77", username="user1",
                              framed_ip="10.30.0.1"))
    enqueue(session, customer.id, [("list_add", "blocked"), ("kick", None)], reason="disconnect")
    session.commit()

    report = outbox.drain(factory, settings)
    assert (report.done, report.retried, report.failed) == (2, 0, 0)
    assert statuses(session) == [("list_add", "blocked", "done"), ("kick", None, "done")]
    state = read_state(settings.driver_options["directory"], "default")
    assert state["lists"] == {"blocked": ["10.30.0.1"]}
    assert [e["result"] for e in state["log"]] == ["added", "kicked user1 (session S-77)"]

    enqueue(session, customer.id, [("list_add", "blocked")], reason="again")
    session.commit()
    outbox.drain(factory, settings)
    assert read_state(settings.driver_options["directory"], "default")["log"][-1]["result"] == \
        "already present"


def test_later_action_never_overtakes_one_waiting_for_a_retry(session, factory, settings,
                                                              make_customer):
    customer = make_customer(internet_ip="10.30.0.2")
    router = Router(name="edge", driver="routeros", host="127.0.0.1", port=free_port(),
                    username="api", secret="secret")
    session.add(router)
    customer.services[0].router_name = "edge"
    enqueue(session, customer.id, [("list_add", "blocked")], reason="disconnect")
    enqueue(session, customer.id, [("list_remove", "blocked")], reason="reconnect")
    session.commit()

    rng = random.Random(1)
    report = outbox.drain(factory, settings, rng=rng)  # router refuses connections
    assert (report.done, report.retried) == (0, 1)
    session.commit()
    first, second = session.scalars(select(RouterAction).order_by(RouterAction.id)).all()
    assert first.attempts == 1 and second.attempts == 0
    assert first.next_attempt_at > now() and first.last_error

    with FakeRouterOS() as fake:
        router = session.get(Router, router.id)
        router.port = fake.port
        session.commit()
        fake.down()
        fake.up()
        # the later action is due, the earlier one is not: nothing may be sent yet
        assert outbox.drain(factory, settings).done == 0
        assert fake.command_names() == []
        with time_machine.travel(now() + timedelta(seconds=6), tick=True):
            report = outbox.drain(factory, settings)
        assert report.done == 2
        assert [c for c in fake.command_names() if not c.endswith("print")] == [
            "/ip/firewall/address-list/add", "/ip/firewall/address-list/remove"]
        assert fake.entries("blocked") == set()


def test_backoff_is_exponential_with_jitter_and_capped():
    settings = outbox.OutboxSettings(retry_base_seconds=5, retry_max_seconds=600)
    rng = random.Random(7)
    delays = [outbox.backoff(n, settings, rng).total_seconds() for n in range(1, 12)]
    for n, delay in enumerate(delays, 1):
        full = min(600, 5 * 2 ** (n - 1))
        assert full / 2 <= delay <= full
    assert delays[-1] <= 600


def test_gives_up_after_max_attempts_with_an_audit_event(session, factory, settings,
                                                         make_customer):
    customer = make_customer(internet_ip="10.30.0.3")
    session.add(Router(name="dead", driver="routeros", host="127.0.0.1", port=free_port()))
    customer.services[0].router_name = "dead"
    enqueue(session, customer.id, [("list_add", "warned")], reason="warn")
    session.commit()
    moment = now()
    for attempt in range(settings.max_attempts):
        with time_machine.travel(moment + timedelta(hours=attempt), tick=True):
            outbox.drain(factory, settings)
    assert statuses(session) == [("list_add", "warned", "failed")]
    failed = session.scalar(select(AuditEvent).where(AuditEvent.action == "enforcement.action_failed"))
    assert failed.customer_id == customer.id and "gave up after 5 attempts" in failed.details


def test_unknown_driver_fails_at_once(session, factory, settings, make_customer):
    customer = make_customer(internet_ip="10.30.0.4")
    session.add(Router(name="odd", driver="carrier-pigeon"))
    customer.services[0].router_name = "odd"
    enqueue(session, customer.id, [("list_add", "warned")], reason="warn")
    session.commit()
    report = outbox.drain(factory, settings)
    assert report.failed == 1
    assert statuses(session) == [("list_add", "warned", "failed")]


def test_a_claimed_action_is_not_claimed_twice(session, factory, settings, make_customer):
    customer = make_customer(internet_ip="10.30.0.5")
    enqueue(session, customer.id, [("list_add", "warned")], reason="warn")
    session.commit()
    first = outbox.claim(factory, settings)
    assert len(first) == 1
    assert outbox.claim(factory, settings) == []  # another worker finds nothing
    with time_machine.travel(now() + timedelta(seconds=settings.lease_seconds + 1), tick=True):
        assert [a.id for a in outbox.claim(factory, settings)] == [first[0].id]  # lease over


def test_disabled_router_keeps_its_actions_waiting(session, factory, settings, make_customer):
    customer = make_customer(internet_ip="10.30.0.6")
    router = Router(name="off", driver="recording", enabled=False)
    session.add(router)
    customer.services[0].router_name = "off"
    enqueue(session, customer.id, [("list_add", "blocked")], reason="disconnect")
    session.commit()
    report = outbox.drain(factory, settings)
    assert (report.done, report.retried) == (0, 1) and "disabled" in report.errors[0]
    assert statuses(session) == [("list_add", "blocked", "pending")]
    router.enabled = True
    session.commit()
    with time_machine.travel(now() + timedelta(seconds=10), tick=True):
        assert outbox.drain(factory, settings).done == 1
    assert read_state(settings.driver_options["directory"], "off")["lists"] == {
        "blocked": ["10.30.0.6"]}


def test_radius_disconnect_and_reconnect_send_one_disconnect_request_each(
    session, factory, settings, make_customer
):
    """Disconnection queues "off the warned list", "on the blocked list" and a kick;
    reconnection two removals. On RADIUS each of them is the same Disconnect-Request for the
    customer's session: the NAS gets it once per step (a second one would cut the session the
    customer has just redialled), and every action is done."""
    from enforcement.policy import Policy
    from tests.enforcement.nas import TestNAS

    policy = Policy()
    with TestNAS(secret=b"s3cret") as nas:
        session.add(Router(name="nas1", driver="radius", host=nas.host, port=nas.port,
                           secret="s3cret"))
        customer = make_customer(internet_ip="10.30.0.9")
        customer.services[0].router_name = "nas1"
        customer.services[0].pppoe_username = "user9"
        session.add(RadiusSession(nas_ip="127.0.0.1", acct_session_id="S-9", username="user9",
                                  framed_ip="10.30.0.9"))
        enqueue(session, customer.id, [("list_remove", policy.list_warned),
                                       ("list_add", policy.list_blocked), ("kick", None)],
                reason="disconnect")
        session.commit()

        report = outbox.drain(factory, settings)
        assert (report.done, report.retried, report.failed) == (3, 0, 0)
        [got] = nas.wait_received(1)
        assert got.code == "Disconnect-Request"
        assert got.attrs["Acct-Session-Id"] == ["S-9"]

        nas.clear()
        enqueue(session, customer.id, [("list_remove", policy.list_blocked),
                                       ("list_remove", policy.list_warned)], reason="reconnect")
        session.commit()
        report = outbox.drain(factory, settings)
        assert (report.done, report.failed) == (2, 0)
        time.sleep(0.2)  # a second request, were one sent, would have arrived by now
        assert [g.code for g in nas.received] == ["Disconnect-Request"]
        assert [s for _, _, s in statuses(session)] == ["done"] * 5
        actions = session.scalars(select(RouterAction).order_by(RouterAction.id)).all()
        assert "Disconnect-ACK from nas1" in actions[0].result
        assert [a.result for a in actions[1:3]] == [
            f"the same request as action #{actions[0].id}: not sent again"] * 2
        assert [a.attempts for a in actions[:3]] == [1, 0, 0]
        assert "Disconnect-ACK from nas1" in actions[3].result
