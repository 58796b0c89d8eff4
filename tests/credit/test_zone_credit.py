"""The client zone's "Kredit" section: opening with consent, the top-up form (the minimum
refused with a message and nothing created), the request's auto-pay day and the
"Nestrhávat" tick, the switch, the CSV export (parsed back), in Czech."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select

from billing.credit import account_of, held
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import Invoice


def test_the_credit_section(client, auth, session, make_customer, supplier):
    customer = make_customer("3101")
    auth.login("3101", "secret-pass")
    page = client.get("/credit").get_data(as_text=True)
    assert "Založit kreditní účet" in page
    # without the consent: refused
    r = client.post("/credit/open", data={"currency": "CZK"})
    assert r.status_code == 302 and account_of(session, customer.id) is None
    session.rollback()
    r = client.post("/credit/open", data={"currency": "CZK", "consent": "yes", "auto_pay": "yes"})
    assert r.status_code == 302
    session.rollback()  # a new transaction: see what the requests committed
    account = account_of(session, customer.id)
    assert account.terms_version and account.auto_pay

    invoices = session.scalar(select(func.count()).select_from(Invoice))
    session.rollback()
    r = client.post("/credit/topup", data={"amount": "100"}, follow_redirects=True)
    assert "Nejmenší dobití je 500,00\u00a0Kč bez DPH. Nic nebylo vystaveno." in r.get_data(as_text=True)
    assert session.scalar(select(func.count()).select_from(Invoice)) == invoices
    session.rollback()
    r = client.post("/credit/topup", data={"amount": "500"})
    assert r.status_code == 302 and "/invoices/" in r.headers["Location"]
    session.rollback()
    request = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).one()
    assert request.total == Decimal("605.00") and request.kind == "advance"

    issued = date.today() - timedelta(days=2)
    service = issue_invoice(session, customer, [LineInput("Webhosting", Decimal(1), Decimal("121"))],
                            supplier, IssueOptions(issue_date=issued,
                                                   due_date=issued + timedelta(days=14)))
    session.commit()
    page = client.get("/credit").get_data(as_text=True)
    assert "Automaticky kreditem" in page and service.number in page
    assert f"{(issued + timedelta(days=10)).day}." in page
    client.post(f"/credit/requests/{service.id}/hold", data={"hold": "yes"})
    session.rollback()  # a new transaction: see what the requests committed
    assert held(session, service.id)
    client.post("/credit/auto-pay", data={"auto_pay": "off"})
    session.rollback()  # a new transaction: see what the requests committed
    assert not account_of(session, customer.id).auto_pay

    r = client.get("/credit/export.csv?from=2026-01-01&to=2026-12-31")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[0][0] == "Datum" and rows[1][1] == "Počáteční zůstatek"
    r = client.get("/credit/statement.pdf")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert client.get("/credit/statement.pdf?month=junk").status_code == 404
    # a period that is no date: refused in the page's language, with the value
    r = client.get("/credit/export.csv?from=x")
    assert r.status_code == 422
    assert "&#39;x&#39; není datum ve tvaru RRRR-MM-DD" in r.get_data(as_text=True)
