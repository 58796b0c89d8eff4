"""Nothing is lost and nothing is done twice: a router down for an hour, a worker dying
before or after it talked to the router, a hand-made change on the router, SMTP down."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from sqlalchemy import select

from core.clock import now, today
from core.db import make_session_factory
from core.mail import MailSettings
from enforcement import mailq, service
from enforcement import outbox as worker
from enforcement.cases import get_case, transition
from enforcement.cli import flask_renderer
from enforcement.config import Policy
from enforcement.models import EnforcementMail, Router, RouterAction
from tests.enforcement.fake_routeros import FakeRouterOS

P = Policy()
ADD = "/ip/firewall/address-list/add"


@pytest.fixture
def ros(session):
    with FakeRouterOS() as router:
        session.add(Router(name="ros1", driver="routeros", host=router.host, port=router.port,
                           username="api", secret="secret"))
        session.commit()
        yield router


@pytest.fixture
def factory(engine):
    return make_session_factory(engine)


@pytest.fixture
def settings(tmp_path):
    return worker.OutboxSettings(driver_options={"timeout": 1}, retry_base_seconds=5,
                                 retry_max_seconds=600, lease_seconds=120)


def acknowledged_debtors(session, debtor, count: int):
    """``count`` customers on ros1 whose disconnection day is today."""
    customers = []
    for n in range(count):
        c = debtor(f"82{n:02d}", f"10.41.0.{n + 1}", today() - timedelta(days=40),
                   router="ros1", username=f"user82{n:02d}")
        case = get_case(session, c.id)
        transition(session, case, "acknowledged", actor="test")
        case.overdue_since = today() - timedelta(days=40)
        case.disconnect_due = today()
        customers.append(c)
    session.commit()
    return customers


def adds(router) -> list[str]:
    return [w for words in router.commands if words[0] == ADD for w in words
            if w.startswith("=address=")]


def pending(session) -> int:
    session.commit()  # a fresh snapshot: the worker wrote through its own connections
    return len(session.scalars(select(RouterAction).where(RouterAction.status == "pending")).all())


def test_router_down_for_an_hour(session, debtor, ros, factory, settings):
    acknowledged_debtors(session, debtor, 5)
    ros.down()
    start = now()
    service.sweep(session, today(), P)
    session.commit()
    assert pending(session) == 10  # blocked + kick for each

    for minute in range(0, 61, 5):  # the worker keeps trying every five minutes
        with time_machine.travel(start + timedelta(minutes=minute), tick=True):
            report = worker.drain(factory, settings)
            assert report.done == 0 and report.failed == 0
    assert pending(session) == 10
    ros.up()
    with time_machine.travel(start + timedelta(minutes=75), tick=True):  # backoff <= 10 min
        report = worker.drain(factory, settings)
    assert (report.done, report.failed) == (10, 0)
    assert pending(session) == 0
    assert ros.entries("blocked") == {f"10.41.0.{n}" for n in range(1, 6)}
    assert sorted(adds(ros)) == sorted(f"=address=10.41.0.{n}" for n in range(1, 6))  # once each
    with time_machine.travel(start + timedelta(minutes=90), tick=True):
        assert worker.drain(factory, settings).done == 0


def test_crash_after_commit_before_send(session, debtor, ros, factory, settings):
    acknowledged_debtors(session, debtor, 1)
    service.sweep(session, today(), P)
    session.commit()
    claimed = worker.claim(factory, settings)  # the worker took them ... and died here
    assert len(claimed) == 2
    assert pending(session) == 2
    assert worker.drain(factory, settings).done == 0  # someone else's lease: left alone
    with time_machine.travel(now() + timedelta(seconds=settings.lease_seconds + 1), tick=True):
        assert worker.drain(factory, settings).done == 2
    assert ros.entries("blocked") == {"10.41.0.1"}
    assert len(adds(ros)) == 1


def test_crash_after_send_before_marking_done(session, debtor, ros, factory, settings, monkeypatch):
    acknowledged_debtors(session, debtor, 1)
    service.sweep(session, today(), P)
    session.commit()

    def die(*_args, **_kwargs):
        raise SystemExit("killed between the router's answer and the database")

    with monkeypatch.context() as patch:
        patch.setattr(worker, "_done", die)
        with pytest.raises(SystemExit):
            worker.drain(factory, settings)
    assert ros.entries("blocked") == {"10.41.0.1"}  # the router did it
    assert pending(session) == 2  # but we never wrote it down
    with time_machine.travel(now() + timedelta(seconds=settings.lease_seconds + 1), tick=True):
        assert worker.drain(factory, settings).done == 2  # sent again, harmlessly
    assert [r["address"] for r in ros.entry_rows("blocked")] == ["10.41.0.1"]  # one entry


def test_manual_change_on_the_router_is_reverted_by_reconcile(session, debtor, ros, factory,
                                                              settings, make_customer):
    acknowledged_debtors(session, debtor, 2)
    service.sweep(session, today(), P)
    session.commit()
    worker.drain(factory, settings)
    assert ros.entries("blocked") == {"10.41.0.1", "10.41.0.2"}

    ros.remove_entry("blocked", "10.41.0.1")  # someone "helped" the customer by hand
    paid = make_customer(number="8299", internet_ip="10.41.0.99")
    paid.services[0].router_name = "ros1"
    session.commit()
    ros.add_entry("blocked", "10.41.0.99", comment=f"ispzone customer {paid.id}")  # stale, ours
    ros.add_entry("blocked", "192.0.2.7", comment="manual")  # the operator's own: not ours

    report = worker.reconcile(session, settings)
    session.commit()
    assert report.added == [("ros1", "blocked", "10.41.0.1")]
    assert report.removed == [("ros1", "blocked", "10.41.0.99")]
    assert worker.drain(factory, settings).done == 2
    assert ros.entries("blocked") == {"10.41.0.1", "10.41.0.2", "192.0.2.7"}
    again = worker.reconcile(session, settings)
    session.commit()
    assert again.added == [] and again.removed == [] and again.checked == ["ros1"]


def test_smtp_down_reminders_retried_not_lost_not_duplicated(app, session, debtor, factory, smtp):
    for n in range(3):
        debtor(f"83{n:02d}", f"10.42.0.{n + 1}", today() - timedelta(days=5),
               email=f"customer{n}@example.cz")
    service.sweep(session, today(), P)
    session.commit()
    mail = MailSettings(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_timeout=2,
                        sender="Příkladnet <zona@priklad.net>")
    render = flask_renderer(app)
    smtp.stop()
    start = now()
    for minute in (0, 1, 3, 10):
        with time_machine.travel(start + timedelta(minutes=minute), tick=True):
            report = mailq.drain(factory, mail, render, retry_base_seconds=30)
            assert report.sent == 0
    session.commit()
    rows = session.scalars(select(EnforcementMail).order_by(EnforcementMail.id)).all()
    assert [r.status for r in rows] == ["pending"] * 3
    assert all(r.attempts >= 1 and "SMTP" in r.last_error for r in rows)

    smtp.start()  # the same port again
    with time_machine.travel(start + timedelta(hours=2), tick=True):
        assert mailq.drain(factory, mail, render).sent == 3
        assert mailq.drain(factory, mail, render).sent == 0
    assert sorted(m["To"] for m in smtp.messages) == [
        "customer0@example.cz", "customer1@example.cz", "customer2@example.cz"]
    assert {m["Subject"] for m in smtp.messages} == {"Upomínka: faktura je po splatnosti"}


def test_dry_run_changes_and_sends_nothing(session, debtor, ros, factory, settings):
    acknowledged_debtors(session, debtor, 1)
    report = service.sweep(session, today(), P, dry_run=True)
    session.commit()
    assert [c.new for c in report.changes] == ["disconnected"]
    assert get_case(session, report.changes[0].customer_id).state == "acknowledged"
    assert worker.drain(factory, settings).done == 0
    assert ros.entries("blocked") == set() and ros.command_names() == []


