"""The console's enforcement pages: cases filtered, the case's timeline, exempt (with its
reason) / clear / force reconnect audited with the operator, refusals changing nothing, the
next sweep's preview writing nothing, routers' health, actions with the routers' answers,
reconcile now."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import AuditEvent, Customer
from core.clock import now, today
from enforcement import service
from enforcement.config import Policy
from enforcement.models import ActionStatus, EnforcementCase, EnforcementMail, RouterAction


def overdue_customer(session, make_customer, supplier, number, ip, days, router="r1"):
    customer = make_customer(number=number, internet_ip=ip)
    customer.services[0].router_name = router
    due = today() - timedelta(days=days)
    issue_invoice(session, customer, [LineInput("Internet", Decimal(1), Decimal("605.00"))],
                  supplier, IssueOptions(issue_date=due - timedelta(days=14), due_date=due))
    session.commit()
    return customer


def swept(session, make_customer, supplier):
    warned = overdue_customer(session, make_customer, supplier, "7901", "10.8.0.1", 40, "r1")
    reminded = overdue_customer(session, make_customer, supplier, "7902", "10.8.0.2", 6, "r2")
    service.sweep(session, today(), Policy(), default_router="r1")
    session.commit()
    return warned, reminded


def test_cases_list_filters_and_the_timeline(session, make_customer, supplier, console_client):
    warned, reminded = swept(session, make_customer, supplier)
    client = console_client("readonly")
    html = client.get("/console/enforcement").get_data(as_text=True)
    assert "7901" in html and "7902" in html
    only_r2 = client.get("/console/enforcement?router=r2").get_data(as_text=True)
    assert "7902" in only_r2 and "7901" not in only_r2
    typed = client.get("/console/enforcement?q=7902", headers={"HX-Request": "true"})
    table = typed.get_data(as_text=True).split('id="cases"')[1]  # what htmx swaps in
    assert "7902" in table and "7901" not in table
    paid_meanwhile = client.get("/console/enforcement?overdue=no").get_data(as_text=True)
    assert "7901" not in paid_meanwhile
    case = client.get(f"/console/enforcement/cases/{warned.id}").get_data(as_text=True)
    timeline = case.split('class="timeline"')[1]
    assert ">warned<" in timeline and "first reminder" in timeline and "system:" in timeline
    assert f"/console/enforcement/cases/{warned.id}/exempt" not in case  # readonly: no forms
    assert f"/console/enforcement/cases/{warned.id}/exempt" in console_client("support").get(
        f"/console/enforcement/cases/{warned.id}").get_data(as_text=True)


def test_support_exempts_with_a_reason_clears_and_reconnects(session, make_customer, supplier,
                                                            console_client):
    warned, _ = swept(session, make_customer, supplier)
    client = console_client("support")
    login = client.operator.login
    until = today() + timedelta(days=10)

    response = client.post(f"/console/enforcement/cases/{warned.id}/exempt",
                           data={"mode": "until", "until": until.isoformat(),
                                 "reason": "splátkový kalendář"})
    assert response.status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Customer, warned.id).enforcement_exempt_until == until
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "enforcement.exempt")
                            .order_by(AuditEvent.id.desc())).first()
    assert event.actor == f"operator:{login}"
    assert json.loads(event.details)["reason"] == "splátkový kalendář"
    page = client.get(f"/console/enforcement/cases/{warned.id}").get_data(as_text=True)
    assert "splátkový kalendář" in page and f"operator:{login}" in page
    # the timeline in the page's language: states, reasons and days as words and Czech dates
    client.post("/language", data={"lang": "cs"})
    page = client.get(f"/console/enforcement/cases/{warned.id}").get_data(as_text=True)
    timeline = page[page.index('class="timeline"'):]
    assert f"→ {until.day}.\u00a0{until.month}.\u00a0{until.year}" in timeline
    assert "upozorněn" in timeline and ": varování" in timeline
    assert "ok → reminded" not in timeline and ": overdue" not in timeline
    assert until.isoformat() not in timeline

    assert client.post(f"/console/enforcement/cases/{warned.id}/clear").status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(Customer, warned.id).enforcement_exempt_until is None

    assert client.post(f"/console/enforcement/cases/{warned.id}/reconnect").status_code == 302
    session.rollback()
    session.expire_all()
    assert session.get(EnforcementCase, warned.id).state == "ok"
    forced = session.scalars(select(AuditEvent).where(AuditEvent.customer_id == warned.id,
                                                      AuditEvent.action == "enforcement.ok")
                             .order_by(AuditEvent.id.desc())).first()
    assert forced is not None and forced.actor == f"operator:{login}"
    assert json.loads(forced.details)["forced"] is True
    # nothing was paid: no "payment received, thank you" notice is queued
    assert session.scalar(select(func.count()).select_from(EnforcementMail).where(
        EnforcementMail.customer_id == warned.id,
        EnforcementMail.kind == "payment_received")) == 0


def test_refusals_change_nothing(session, make_customer, supplier, console_client):
    warned, _ = swept(session, make_customer, supplier)
    readonly, support = console_client("readonly"), console_client("support")
    events = session.scalar(select(func.count(AuditEvent.id)))
    assert readonly.post(f"/console/enforcement/cases/{warned.id}/exempt",
                         data={"mode": "never", "reason": "x"}).status_code == 403
    assert readonly.post(f"/console/enforcement/cases/{warned.id}/reconnect").status_code == 403
    no_reason = support.post(f"/console/enforcement/cases/{warned.id}/exempt",
                             data={"mode": "never", "reason": ""})
    assert no_reason.status_code == 422
    assert "Say why" in no_reason.get_data(as_text=True) or "Uveďte" in no_reason.get_data(as_text=True)
    past = support.post(f"/console/enforcement/cases/{warned.id}/exempt",
                        data={"mode": "until", "until": "2020-01-01", "reason": "x"})
    assert past.status_code == 422
    session.rollback()
    session.expire_all()
    customer = session.get(Customer, warned.id)
    assert not customer.enforcement_exempt and customer.enforcement_exempt_until is None
    assert session.get(EnforcementCase, warned.id).state != "ok"
    assert session.scalar(select(func.count(AuditEvent.id))) == events


def test_the_next_sweep_preview_writes_nothing(session, make_customer, supplier, console_client):
    overdue_customer(session, make_customer, supplier, "7911", "10.8.1.1", 40)
    client = console_client("readonly")
    html = client.get("/console/enforcement/preview").get_data(as_text=True)
    assert "7911" in html.split('class="preview"')[1]
    session.rollback()
    session.expire_all()
    assert session.scalar(select(func.count()).select_from(EnforcementCase)) == 0
    assert session.scalar(select(func.count(RouterAction.id))) == 0


def test_routers_actions_and_reconcile(session, make_customer, supplier, console_client):
    warned, _ = swept(session, make_customer, supplier)
    action = session.scalars(select(RouterAction).where(RouterAction.customer_id == warned.id)
                             ).first()
    action.status, action.result, action.done_at = ActionStatus.DONE, "added to warned", now()
    session.commit()
    client = console_client("readonly")
    routers = client.get("/console/enforcement/routers").get_data(as_text=True)
    assert "r1" in routers and "r2" in routers and "Reconcile now" not in routers \
        and "Sladit" not in routers
    actions = client.get("/console/enforcement/actions?router=r1").get_data(as_text=True)
    assert "added to warned" in actions

    support = console_client("support")
    done = support.post("/console/enforcement/reconcile")
    assert done.status_code == 200
    assert "r1" in done.get_data(as_text=True)
