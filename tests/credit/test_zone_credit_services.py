"""The zone's "Služby a prodlužování" page (issue 15 items 4 and 5): prepaid services with
their expiry and renewal price, renewing from credit and by bank transfer, the switches, the
notice settings; in Czech."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from billing.credit import open_account
from billing.ledger import postings
from billing.models import CreditServiceSettings, Invoice, RenewalOrder, Service
from billing.models import TransactionKind as TK
from core.clock import today


def test_services_and_renewals_page(client, auth, session, make_customer):
    customer = make_customer("3201")
    open_account(session, customer, "CZK", actor="operator:test")
    postings.record(session, [postings.Posting(
        TK.OPENING, [(postings.account_key("credit", customer.id), Decimal("-1500.00")),
                     (postings.account_key("opening_balance"), Decimal("1500.00"))],
        customer_id=customer.id)])
    expiry = today() + timedelta(days=20)
    hosting, domain = (
        Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind="other",
                name=name, price=Decimal(price), period="year", valid_from=date(2025, 1, 1),
                expires_on=expiry)
        for name, price in (("Webhosting", "1210.00"), ("Doména priklad.cz", "242.00")))
    session.add_all([hosting, domain])
    session.commit()
    auth.login("3201", "secret-pass")
    page = client.get("/credit/services").get_data(as_text=True)
    assert "Služby a prodlužování" in page and "Webhosting" in page and "1\u00a0210,00\u00a0Kč" in page
    assert f"{expiry.day}.\u00a0{expiry.month}.\u00a0{expiry.year}" in page

    r = client.post(f"/credit/services/{hosting.id}/renew", data={"how": "credit"},
                    follow_redirects=True)
    new = date(expiry.year + 1, expiry.month, expiry.day)
    assert f"Služba Webhosting je prodloužena do {new.day}.\u00a0{new.month}.\u00a0{new.year}." in r.get_data(as_text=True)
    session.rollback()
    session.expire_all()  # see what the requests committed
    assert session.get(Service, hosting.id).expires_on == new
    # the credit (500 left) does not cover another year of hosting: refused, nothing issued
    invoices = session.scalars(select(Invoice.id)).all()
    session.rollback()
    session.expire_all()  # see what the requests committed
    r = client.post(f"/credit/services/{hosting.id}/renew", data={"how": "credit"},
                    follow_redirects=True)
    assert "Kredit na prodloužení nestačí; nic jsme nevystavili." in r.get_data(as_text=True)
    assert session.scalars(select(Invoice.id)).all() == invoices
    session.rollback()
    session.expire_all()  # see what the requests committed

    r = client.post(f"/credit/services/{domain.id}/renew", data={"how": "transfer"})
    assert r.status_code == 302 and "/invoices/" in r.headers["Location"]
    session.rollback()
    session.expire_all()  # see what the requests committed
    order = session.scalars(select(RenewalOrder)).one()
    assert order.service_id == domain.id and session.get(Service, domain.id).expires_on == expiry
    session.rollback()
    session.expire_all()  # see what the requests committed
    assert "Čeká na úhradu faktury" in client.get("/credit/services").get_data(as_text=True)

    client.post(f"/credit/services/{domain.id}/auto-renew", data={"auto_renew": "on"})
    client.post("/credit/services/kinds", data={"kind": ["internet", "insurance"]})
    client.post("/credit/notices", data={"low_credit": "yes", "threshold": "300"})
    session.rollback()
    session.expire_all()  # see what the requests committed
    assert session.get(Service, domain.id).auto_renew is True
    settings = session.get(CreditServiceSettings, customer.id)
    assert settings.auto_renew_kinds == "insurance,internet"
    assert (settings.low_credit_notices, settings.low_credit_threshold,
            settings.payment_request_emails) == (True, Decimal("300.00"), False)
    # the form shows the threshold as Czech people write it, and takes it back as it is shown
    page = client.get("/credit/services").get_data(as_text=True)
    assert 'name="threshold" inputmode="decimal" value="300,00"' in page
    client.post("/credit/notices", data={"low_credit": "yes", "threshold": "1\u00a0200,00"})
    session.rollback()
    session.expire_all()
    assert session.get(CreditServiceSettings, customer.id).low_credit_threshold == Decimal("1200.00")
    # someone else's service is not found
    other = make_customer("3202")
    theirs = Service(customer_id=other.id, contract_id=other.contracts[0].id, kind="other",
                     name="Cizí", price=Decimal("1"), period="year", valid_from=date(2025, 1, 1),
                     expires_on=expiry)
    session.add(theirs)
    session.commit()
    assert client.post(f"/credit/services/{theirs.id}/renew", data={"how": "credit"}).status_code == 404
