"""An expired prepaid internet service loses access the way a disconnection does (the
``blocked`` list + the session dropped, the RADIUS answer), shows as "služba vypršela" in the
zone, and gets access back the moment it is renewed, from credit or by a paid renewal request
(issue 15 item 4; enforcement/expiry.py)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.credit import open_account
from billing.credit.renewals import order_renewal, renew, run_renewals
from billing.credit.topups import receipts_and_credit
from billing.ledger import postings
from billing.models import AuditEvent, Invoice, RenewalSource, Service
from billing.models import TransactionKind as TK
from core.clock import today
from enforcement import outbox, service
from enforcement.models import EnforcementCase, RouterAction
from enforcement.radius.authorize import ACCEPT, EXPIRED, REJECT, Lists, answer_for
from tests.enforcement import freeradius_runner as fr

JOB = "system:credit-daily"


def prepaid(session, make_customer, number, ip, *, expires_in=-3, router="r1", user=None, state=None):
    """A customer whose internet service (PPPoE ``user``) is prepaid until ``expires_in`` days
    from today, with a credit account (empty)."""
    customer = make_customer(number, internet_ip=ip)
    svc = customer.services[0]
    svc.router_name = router
    svc.pppoe_username = user or f"u{number}"
    svc.pppoe_password = "pppoe-pass"
    svc.expires_on = today() + timedelta(days=expires_in)
    if state:
        session.add(EnforcementCase(customer_id=customer.id, state=state))
    open_account(session, customer, "CZK", actor="operator:test")
    session.commit()
    return customer, svc


def give_credit(session, customer, amount="2000.00"):
    postings.record(session, [postings.Posting(
        TK.OPENING, [(postings.account_key("credit", customer.id), Decimal("-" + amount)),
                     (postings.account_key("opening_balance"), Decimal(amount))],
        customer_id=customer.id)])
    session.commit()


def actions(session, customer_id, after=0):
    return [(a.kind, a.list_name, a.address, a.router_name, a.reason) for a in session.scalars(
        select(RouterAction).where(RouterAction.customer_id == customer_id, RouterAction.id > after)
        .order_by(RouterAction.id))]


def last_action_id(session):
    return session.scalar(select(RouterAction.id).order_by(RouterAction.id.desc()).limit(1)) or 0


def audits(session, customer_id, action):
    return [(e.actor, e.new_value) for e in session.scalars(
        select(AuditEvent).where(AuditEvent.customer_id == customer_id, AuditEvent.action == action)
        .order_by(AuditEvent.id))]


def settings(app):
    return outbox.OutboxSettings.from_config(app.config, app.instance_path)


def test_expiry_blocks_and_a_renewal_from_credit_restores(app, session, make_customer, supplier,
                                                          auth, client):
    customer, svc = prepaid(session, make_customer, "8101", "100.64.81.1")
    assert answer_for(session, "u8101", today()).outcome == ACCEPT  # before the job runs

    report = run_renewals(session, supplier, today(), actor=JOB)
    session.commit()
    assert report.expired == [svc.id]
    assert actions(session, customer.id) == [
        ("list_add", "blocked", "100.64.81.1", "r1", "expired"),
        ("kick", None, "100.64.81.1", "r1", "expired")]
    assert audits(session, customer.id, "enforcement.service_expired") == [(JOB, "Internet 100")]
    # the RADIUS answer: walled garden like a disconnection (or a reject, by the setting)
    answer = answer_for(session, "u8101", today())
    assert (answer.outcome, answer.state, answer.reply.get("Mikrotik-Address-List")) == (
        ACCEPT, EXPIRED, "blocked")
    rejected = answer_for(session, "u8101", today(), Lists(blocked_mode="reject"))
    assert rejected.outcome == REJECT and "expired" in rejected.reply["Reply-Message"]
    # reconcile wants the address in "blocked" although the case is ok
    assert outbox.desired_lists(session, settings(app))[("r1", "blocked")] == {
        "100.64.81.1": customer.id}
    # the job again: nothing new (expired once)
    assert run_renewals(session, supplier, today(), actor=JOB).expired == []
    session.commit()
    assert len(actions(session, customer.id)) == 2

    # the zone says "služba vypršela" with the renewal, not "pozastaveno"
    session.rollback()
    auth.login("8101", "secret-pass")
    page = client.get("/services").get_data(as_text=True)
    assert 'data-service-state="expired"' in page and "služba vypršela" in page
    assert "Prodloužit z kreditu" in page and 'data-service-state="suspended"' not in page
    detail = client.get(f"/services/{svc.id}").get_data(as_text=True)
    assert "služba vypršela" in detail and "ukončeno" not in detail
    warning = client.get("/warning").get_data(as_text=True)
    assert "Vaše služba vypršela" in warning and "/credit/services" in warning

    # renewed from credit in the zone: out of "blocked" at once, audited with the customer
    session.rollback()
    give_credit(session, customer)
    before = last_action_id(session)
    r = client.post(f"/credit/services/{svc.id}/renew", data={"how": "credit"})
    assert r.status_code == 302
    session.rollback()
    session.expire_all()
    assert actions(session, customer.id, before) == [
        ("list_remove", "blocked", "100.64.81.1", "r1", "renewed")]
    assert audits(session, customer.id, "enforcement.service_restored") == [
        ("customer:8101", "Internet 100")]
    svc = session.get(Service, svc.id)
    assert svc.valid_to is None and svc.expires_on > today()
    answer = answer_for(session, "u8101", today())
    assert answer.outcome == ACCEPT and "Mikrotik-Address-List" not in answer.reply
    assert ("r1", "blocked") not in outbox.desired_lists(session, settings(app))
    session.rollback()
    assert "služba vypršela" not in client.get("/services").get_data(as_text=True)


def test_a_paid_renewal_request_restores_the_moment_it_is_paired(app, session, make_customer,
                                                                 supplier, pay):
    customer, svc = prepaid(session, make_customer, "8102", "100.64.81.2")
    run_renewals(session, supplier, today(), actor=JOB)
    session.commit()
    order = order_renewal(session, svc, supplier, actor="customer:8102")
    session.commit()
    invoice = session.get(Invoice, order.invoice_id)
    before = last_action_id(session)
    pay(session, [(invoice.variable_symbol, str(invoice.total), today())])
    # the import's after-commit job (billing.jobs.issue_receipts_after_pairing)
    receipts_and_credit(session, today(), actor="operator:ucetni", supplier=supplier)
    session.commit()
    assert actions(session, customer.id, before) == [
        ("list_remove", "blocked", "100.64.81.2", "r1", "renewed")]
    assert audits(session, customer.id, "enforcement.service_restored") == [
        ("operator:ucetni", "Internet 100")]
    assert session.get(Service, svc.id).valid_to is None


def test_debt_and_expiry_do_not_undo_each_other(app, session, make_customer, supplier, owe):
    # disconnected for debt, then the service expires: already blocked, only the audit
    customer, svc = prepaid(session, make_customer, "8103", "100.64.81.3", state="disconnected")
    second = Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                     kind="internet", name="Internet chata", price=Decimal("300.00"),
                     valid_from=svc.valid_from, router_name="r1")
    session.add(second)
    session.flush()
    from billing.models import ServiceAddress
    session.add(ServiceAddress(service_id=second.id, address="100.64.81.33"))
    session.commit()
    run_renewals(session, supplier, today(), actor=JOB)
    session.commit()
    assert actions(session, customer.id) == []
    assert audits(session, customer.id, "enforcement.service_expired") == [(JOB, "Internet 100")]
    # the debt is forgiven: only the service in force leaves "blocked"; the expired one stays
    service.force_reconnect(session, customer.id, actor="operator:podpora", default_router="r1")
    session.commit()
    assert actions(session, customer.id) == [
        ("list_remove", "blocked", "100.64.81.33", "r1", "reconnect"),
        ("list_remove", "warned", "100.64.81.33", "r1", "reconnect")]
    wanted = outbox.desired_lists(session, settings(app))
    assert wanted[("r1", "blocked")] == {"100.64.81.3": customer.id}

    # a renewal while the customer is disconnected for a debt still unpaid keeps them blocked
    other, svc2 = prepaid(session, make_customer, "8104", "100.64.81.4", state="disconnected")
    owe(session, supplier, other, "968.00", today() - timedelta(days=40))
    run_renewals(session, supplier, today(), actor=JOB)
    session.commit()
    give_credit(session, other)
    renew(session, svc2, supplier, paid_from=RenewalSource.CREDIT, actor="operator:podpora")
    session.commit()
    assert actions(session, other.id) == []
    assert audits(session, other.id, "enforcement.service_restored") == [
        ("operator:podpora", "Internet 100")]
    assert answer_for(session, "u8104", today()).reply["Mikrotik-Address-List"] == "blocked"


def test_a_warned_customer_moves_from_warned_to_blocked_and_back(app, session, make_customer,
                                                                 supplier, owe):
    customer, svc = prepaid(session, make_customer, "8105", "100.64.81.5", state="warned")
    owe(session, supplier, customer, "968.00", today() - timedelta(days=30))  # still unpaid
    run_renewals(session, supplier, today(), actor=JOB)
    session.commit()
    assert actions(session, customer.id) == [
        ("list_remove", "warned", "100.64.81.5", "r1", "expired"),
        ("list_add", "blocked", "100.64.81.5", "r1", "expired"),
        ("kick", None, "100.64.81.5", "r1", "expired")]
    wanted = outbox.desired_lists(session, settings(app))
    assert "100.64.81.5" in wanted[("r1", "blocked")]
    assert "100.64.81.5" not in wanted.get(("r1", "warned"), {})
    give_credit(session, customer)
    before = last_action_id(session)
    renew(session, svc, supplier, paid_from=RenewalSource.CREDIT, actor="operator:podpora")
    session.commit()
    assert actions(session, customer.id, before) == [
        ("list_remove", "blocked", "100.64.81.5", "r1", "renewed"),
        ("list_add", "warned", "100.64.81.5", "r1", "renewed")]


def test_other_services_expire_without_router_actions(app, session, make_customer, supplier):
    customer = make_customer("8106")
    hosting = Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                      kind="other", name="Webhosting", price=Decimal("1210.00"), period="year",
                      valid_from=today() - timedelta(days=400),
                      expires_on=today() - timedelta(days=1))
    session.add(hosting)
    session.commit()
    assert run_renewals(session, supplier, today(), actor=JOB).expired == [hosting.id]
    session.commit()
    assert actions(session, customer.id) == []
    assert audits(session, customer.id, "enforcement.service_expired") == []


TOKEN = "expiry-radius-token_9"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "RADIUS_API_TOKEN": TOKEN}


def test_freeradius_walls_in_an_expired_service_and_lets_it_out_when_renewed(
        app, session, make_customer, supplier, need):
    need(fr.available(), "freeradius and radclient are not installed (Debian: freeradius, "
                         "freeradius-utils)")
    customer, svc = prepaid(session, make_customer, "8107", "100.64.81.7", user="expired7")
    request = {"User-Name": "expired7", "User-Password": "pppoe-pass",
               "NAS-IP-Address": "127.0.0.1"}
    with fr.serve_app(app) as url, fr.FreeRadius(url, TOKEN, tag="expiry") as radius:
        reply = radius.auth(request)
        assert reply.code == "Access-Accept" and "Mikrotik-Address-List" not in reply.attrs
        run_renewals(session, supplier, today(), actor=JOB)
        session.commit()
        reply = radius.auth(request)
        assert reply.code == "Access-Accept", radius.log
        assert reply.first("Mikrotik-Address-List") == "blocked"
        assert reply.first("Framed-IP-Address") == "100.64.81.7"
        app.config["RADIUS_BLOCKED_MODE"] = "reject"
        assert radius.auth(request).code == "Access-Reject"
        app.config["RADIUS_BLOCKED_MODE"] = "walled-garden"
        give_credit(session, customer)
        renew(session, svc, supplier, paid_from=RenewalSource.CREDIT, actor="operator:podpora")
        session.commit()
        reply = radius.auth(request)
        assert reply.code == "Access-Accept" and "Mikrotik-Address-List" not in reply.attrs
