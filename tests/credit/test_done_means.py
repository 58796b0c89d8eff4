"""Issue 15's "Done means", end to end through the client zone, the statement import and the
daily job: customer 1001, a newcomer, opens a credit account, tops up 500 Kč without VAT,
pays the request with a GPC statement, sees the credit and the tax document, lets a service
renew itself from credit, downloads the month's statement and a CSV; a VoIP call is refused
when the line's credit is gone."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from decimal import Decimal

from pypdf import PdfReader
from sqlalchemy import select

from billing.credit import CreditSettings, credit_balance
from billing.credit.topups import receipts_and_credit
from billing.ledger import postings
from billing.models import Invoice, Service, ServiceRenewal, TaxReceipt
from core.clock import PRAGUE, now, today
from tests.credit.conftest import gpc
from voip.cdr import import_cdr
from voip.demo import tariff_csv
from voip.tariff_import import import_tariff_csv

D = Decimal
NBSP = "\u00a0"


def _text(data: bytes) -> str:
    return " ".join(p.extract_text() for p in PdfReader(io.BytesIO(data)).pages).replace(NBSP, " ")


def _fresh(session):
    session.rollback()
    session.expire_all()


def test_issue_15_done_means(app, client, auth, session, make_customer, supplier):
    from billing.bank.importing import import_statement

    customer = make_customer("1001", name="Jan Novák")
    internet = customer.services[0] if customer.services else None
    assert internet is None
    internet = Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                       kind="internet", name="Internet 100", price=D("242.00"), period="month",
                       valid_from=date(2025, 1, 1), expires_on=today() + timedelta(days=5))
    line = Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind="voip",
                   name="Telefonní linka VoIP", price=D("50.00"), valid_from=date(2025, 1, 1),
                   phone_number="+420601234567")
    session.add_all([internet, line])
    session.commit()
    auth.login("1001", "secret-pass")

    # 1. a newcomer opens the account (consent to the terms) in the zone
    page = client.get("/credit").get_data(as_text=True)
    assert 'name="consent"' in page
    r = client.post("/credit/open", data={"currency": "CZK", "consent": "yes", "auto_pay": "yes"})
    assert r.status_code == 302

    # 2. tops up 500 Kč without VAT: a payment request of 605,00 Kč
    r = client.post("/credit/topup", data={"amount": "500"}, follow_redirects=True)
    assert f"605,00{NBSP}Kč" in r.get_data(as_text=True)
    _fresh(session)
    request = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).one()
    assert (request.kind, request.total) == ("advance", D("605.00"))

    # 3. pays it by a bank transfer, imported from a GPC statement (+ its after-commit job)
    import_statement(session, gpc([(request.specific_symbol, "605.00", today())], specific=True),
                     "vypis.gpc", "gpc", bank_code="2010")
    session.commit()
    receipts_and_credit(session, today(), actor="operator:ucetni", supplier=supplier,
                        settings=CreditSettings())
    session.commit()

    # 4. sees the credit and the tax document
    page = client.get("/credit").get_data(as_text=True)
    assert f"500,00{NBSP}Kč" in page
    receipt = session.scalars(select(TaxReceipt).where(TaxReceipt.customer_id == customer.id)).one()
    assert (receipt.total_net, receipt.total_vat) == (D("500.00"), D("105.00"))
    detail = client.get(f"/invoices/{request.id}").get_data(as_text=True)
    assert receipt.number in detail and f"/receipts/{receipt.id}.pdf" in detail
    text = _text(client.get(f"/receipts/{receipt.id}.pdf").data)
    assert "500,00 Kč" in text and "105,00 Kč" in text and receipt.number in text

    # 5. lets a service renew itself from credit: internet by kind, then the daily job
    client.post("/credit/services/kinds", data={"kind": ["internet"]})
    previous = internet.expires_on
    result = app.test_cli_runner().invoke(args=["credit", "daily", "--no-mail"])
    assert result.exit_code == 0, result.output
    _fresh(session)
    renewal = session.scalars(select(ServiceRenewal).where(
        ServiceRenewal.service_id == internet.id)).one()
    assert (renewal.previous_expiry, renewal.paid_from) == (previous, "credit")
    assert session.get(Service, internet.id).expires_on > previous
    assert credit_balance(session, customer.id) == D("300.00")  # 500 - 200 without VAT
    _fresh(session)
    assert f"300,00{NBSP}Kč" in client.get("/credit").get_data(as_text=True)

    # 6. downloads the month's statement and a CSV of the movements
    month = f"{today():%Y-%m}"
    statement = _text(client.get(f"/credit/statement.pdf?month={month}").data)
    assert "Vyúčtování kreditu" in statement and "300,00" in statement and "500,00" in statement
    r = client.get("/credit/export.csv")
    assert r.status_code == 200 and r.data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig")), delimiter=";"))
    amounts = [cell for row in rows[1:] for cell in row if re.fullmatch(r"-?\d+,\d\d", cell)]
    assert "500,00" in amounts and "-200,00" in amounts

    # 7. a VoIP call is refused when the line's credit is gone
    import_tariff_csv(session, io.StringIO(tariff_csv()), valid_from=today() - timedelta(days=1),
                      name="Ceník", actor="test")
    postings.post_opening_credit(session, line.id, D("10.00"), customer_id=customer.id)
    session.commit()
    app.config["VOIP_AUTHORIZE_TOKEN"] = "done-means"
    url = "/voip/authorize?caller=%2B420601234567&destination=004915123456789"
    answer = client.get(url, headers={"Authorization": "Bearer done-means"}).get_json()
    assert answer["allowed"] is True and 60 <= answer["seconds"] < 180, answer
    start = (now() - timedelta(minutes=30)).astimezone(PRAGUE)
    stop = start + timedelta(minutes=10, seconds=5)
    cdr = ",".join([
        "", "601234567", "004915123456789", "from-internal", '"Jan" <601234567>',
        "PJSIP/601234567-0001", "PJSIP/trunk-0001", "Dial", "PJSIP/trunk", f"{start:%Y-%m-%d %H:%M:%S}",
        f"{(start + timedelta(seconds=5)):%Y-%m-%d %H:%M:%S}", f"{stop:%Y-%m-%d %H:%M:%S}", "605",
        "600", "ANSWERED", "DOCUMENTATION", "done-means-1"]) + "\n"
    import_cdr(session, io.StringIO(cdr), actor="test")
    session.commit()
    answer = client.get(url, headers={"Authorization": "Bearer done-means"}).get_json()
    assert answer["allowed"] is False and answer["seconds"] == 0
    assert D(answer["credit"]) <= D("0.00")
