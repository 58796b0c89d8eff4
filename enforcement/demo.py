"""The enforcement part of ``ispzone demo`` (runs after billing's demo, in its transaction).

Billing's demo leaves 1002 / 1003 / 1004 with one unpaid invoice each, due 20 / 40 / 60 days
ago. Here their cases are played through the real service, with a history that matches the
dates, on the recording driver (one JSON file per router in the instance folder):

* 1002 warned (3 days ago): in the routers' ``warned`` list, the ``/warning`` page shows;
* 1003 acknowledged 11 days ago: the disconnection day was yesterday, so the next
  ``ispzone enforcement run`` disconnects them;
* 1004 disconnected (20 days ago): in ``blocked``. ``demo/statement.gpc`` holds their payment
  (VS 1004, 968,00 Kč, the invoice of 2 x 484,00 Kč, whatever the day the demo is loaded):
  ``ispzone payments import demo/statement.gpc`` pairs it and reconnects them at once.

The notices of this history are recorded as sent (they are the past), and the router actions
are applied to the recording driver right away, so the routers agree with the cases.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import select

from billing.models import Customer
from core.clock import PRAGUE, today
from enforcement import service
from enforcement.config import Policy
from enforcement.models import EnforcementCase, EnforcementMail, Router, RouterAction

ACTOR = "operator:demo"
ROUTERS = ("kolin-bras1", "kh-bras1", "pdb-bras1")
# customer -> days ago it acknowledged the warning (None: not yet)
ACKNOWLEDGED = {"1002": None, "1003": 11, "1004": 30}


def _at(days_ago: int, hour: int) -> datetime:
    return datetime.combine(today() - timedelta(days=days_ago), time(hour), tzinfo=PRAGUE)


def load(session, supplier, config, instance_path: str | None = None) -> str:
    """The demo's enforcement part; ``instance_path`` is the app's instance folder, where
    the recording driver keeps its files (None: the default folder)."""
    from enforcement.acknowledge import acknowledge
    from enforcement.drivers import RouterConfig, driver_for
    from enforcement.outbox import OutboxSettings

    policy = Policy.from_config(config)
    default_router = config.get("ENFORCEMENT_DEFAULT_ROUTER") or "default"
    for name in ROUTERS:
        if session.scalar(select(Router).where(Router.name == name)) is None:
            session.add(Router(name=name, driver="recording"))
    customers = {c.customer_number: c for c in session.scalars(
        select(Customer).where(Customer.customer_number.in_(list(ACKNOWLEDGED))))}
    ids = [c.id for c in customers.values()]
    service.sweep(session, today(), policy, customer_ids=ids, actor=ACTOR,
                  default_router=default_router)  # all three catch up to "warned"
    for number, days_ago in ACKNOWLEDGED.items():
        if days_ago is not None:
            acknowledge(session, customers[number].id, ip="10.20.0." + str(int(number) - 990),
                        actor=f"customer:{number}", policy=policy, at=_at(days_ago, 19),
                        default_router=default_router)
    session.flush()
    service.sweep(session, today(), policy, customer_ids=[customers["1004"].id], actor=ACTOR,
                  default_router=default_router)  # 1004's day has come (1003's is tomorrow's run)
    _backdate(session, customers)

    settings = OutboxSettings.from_config(config, instance_path)
    actions = session.scalars(select(RouterAction).where(
        RouterAction.customer_id.in_(ids), RouterAction.status == "pending")
        .order_by(RouterAction.id)).all()
    drivers = {}
    for action in actions:
        if action.router_name not in drivers:
            drivers[action.router_name] = driver_for(
                RouterConfig(name=action.router_name, driver="recording"), **settings.driver_options)
        drivers[action.router_name].apply(action)
        action.status, action.done_at, action.attempts = "done", action.created_at, 1
    session.flush()
    states = ", ".join(f"{n} {session.get(EnforcementCase, customers[n].id).state}"
                       for n in ACKNOWLEDGED)
    return (f"enforcement: {states}; {len(actions)} router actions recorded in "
            f"{settings.driver_options['directory']}")


def _backdate(session, customers) -> None:
    """Give the cases the history their due dates imply (the sweep wrote "now")."""
    for customer in customers.values():
        case = session.get(EnforcementCase, customer.id)
        due_ago = (today() - case.overdue_since).days
        case.reminder1_sent_at = _at(due_ago - 3, 8)
        case.reminder2_sent_at = _at(due_ago - 10, 8)
        case.warned_at = _at(due_ago - 17, 8)
        if case.state == "disconnected":
            case.disconnected_at = _at((today() - case.disconnect_due).days, 8)
        case.state_since = {"warned": case.warned_at, "acknowledged": case.acknowledged_at,
                            "disconnected": case.disconnected_at}[case.state]
        sent = {"reminder1": case.reminder1_sent_at, "reminder2": case.reminder2_sent_at,
                "warning": case.warned_at, "disconnected": case.disconnected_at}
        for mail in session.scalars(select(EnforcementMail).where(
                EnforcementMail.customer_id == customer.id)):
            mail.status, mail.sent_at = "sent", sent.get(mail.kind)
            mail.created_at = mail.next_attempt_at = mail.sent_at or mail.created_at
        for action in session.scalars(select(RouterAction).where(
                RouterAction.customer_id == customer.id)):
            moment = case.warned_at if action.reason == "warn" else (
                case.acknowledged_at if action.reason == "ack" else case.disconnected_at)
            action.created_at = action.next_attempt_at = moment or action.created_at
    session.flush()

