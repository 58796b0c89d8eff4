"""The operator's read side of enforcement (enforcement/overview.py): cases filtered by state,
router and overdue debt; routers with their health; actions with the routers' answers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import select

from core.clock import now, today
from enforcement import service
from enforcement.config import Policy
from enforcement.models import ActionStatus, Router, RouterAction
from enforcement.overview import action_list, case_list, router_health

P = Policy()


def test_cases_filtered_by_state_router_and_overdue(session, debtor, days_ago):
    a = debtor("7701", "10.9.0.1", days_ago(40), router="r1")  # long overdue: warned
    b = debtor("7702", "10.9.0.2", days_ago(6), router="r2")  # reminded
    debtor("7703", "10.9.0.3", days_ago(-5), router="r1")  # not due yet: no case
    service.sweep(session, today(), P, default_router="r1")
    session.commit()

    every = case_list(session, today())
    assert {r.customer_number for r in every.rows} == {"7701", "7702"} and every.total == 2
    assert {r.customer_number: r.overdue for r in every.rows} == {
        "7701": Decimal("605.00"), "7702": Decimal("605.00")}
    assert [r.customer_number for r in case_list(session, today(), router="r2").rows] == ["7702"]
    by_state = {r.state for r in every.rows}
    state = next(iter(by_state))
    assert all(r.state == state for r in case_list(session, today(), state=state).rows)
    assert case_list(session, today(), overdue=False).rows == []
    assert case_list(session, today(), overdue=True).total == 2
    assert case_list(session, today(), search="7701").rows[0].customer_id == a.id
    page = case_list(session, today(), per_page=1, page=2, sort="number")
    assert page.pages == 2 and [r.customer_id for r in page.rows] == [b.id]


def test_router_health_and_actions(session, debtor, days_ago):
    session.add(Router(name="r1", driver="recording"))
    debtor("7711", "10.9.1.1", days_ago(40), router="r1")
    service.sweep(session, today(), P)
    session.flush()
    actions = session.scalars(select(RouterAction).order_by(RouterAction.id)).all()
    assert actions, "the warned customer's router was asked to do something"
    done, *rest = actions
    done.status, done.result, done.done_at = ActionStatus.DONE, "added to warned", now()
    failed = RouterAction(customer_id=None, router_name="r9", kind="list_add", list_name="warned",
                          address="10.9.9.9", status=ActionStatus.FAILED, attempts=200,
                          last_error="connection refused", next_attempt_at=now())
    session.add(failed)
    for action in rest:
        action.last_error = "timeout"
        action.attempts = 1
    session.commit()

    health = {h.name: h for h in router_health(session)}
    assert health["r1"].driver == "recording" and health["r1"].customers == 1
    assert health["r1"].last_contact is not None
    assert health["r1"].last_contact > now() - timedelta(minutes=5)
    assert health["r1"].pending == len(rest)
    assert health["r9"].failed == 1 and health["r9"].driver is None and not health["r9"].healthy

    listed = action_list(session, router="r1")
    assert listed.total == len(actions)
    answers = {row.action.id: row.answer for row in listed.rows}
    assert answers[done.id] == "added to warned"
    assert action_list(session, status="failed").rows[0].answer == "connection refused"
