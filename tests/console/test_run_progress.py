"""The console's monthly run as jobs (docs/monthly-run.md): the run's POST plans it and, by
default, runs its jobs after the commit; the progress page and its JSON show issued /
rendered / mailed; an invoice e-mail that the SMTP server refused shows on the dashboard
and in the list of failed e-mails, and "send again" sends it and clears it. Real SMTP
(aiosmtpd on loopback)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from billing.models import InvoiceMail, Service
from core.clock import today


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port}


def test_the_run_page_starts_the_jobs_and_shows_their_progress_and_failed_mails(
        console_client, session, make_customer, smtp):
    month = f"{(today().replace(day=1) + timedelta(days=32)):%Y-%m}"
    good = make_customer(number="6701", email="dobry@example.cz")
    bad = make_customer(number="6702", email="spatny@example.cz")
    for customer in (good, bad):
        session.add(Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                            kind="internet", name="Internet 100", price=Decimal("450.00"),
                            valid_from=date(2025, 1, 1)))
    session.commit()
    smtp.refuse = {"spatny@example.cz"}
    billing = console_client("billing")
    assert billing.post("/language", data={"lang": "en"}).status_code in (200, 302)

    response = billing.post("/console/invoices/run", data={"month": month, "email": "1"})
    assert response.status_code == 302
    assert f"/console/invoices/run/progress?month={month}" in response.headers["Location"]
    page = billing.get(f"/console/invoices/run/progress?month={month}").get_data(as_text=True)
    assert "The run is finished." in page and "http-equiv=\"refresh\"" not in page
    figures = billing.get(f"/console/invoices/run/status.json?month={month}").get_json()
    assert figures["issued"] == 2 and figures["mailed"] == 1 and figures["mail_failed"] == 1
    assert figures["finished"] is True
    assert smtp.recipients == ["dobry@example.cz"]

    dashboard = billing.get("/console/").get_data(as_text=True)
    tile = dashboard[dashboard.index('id="tile-invoice-mails"'):]
    assert "1 failed" in tile[:600]
    listing = billing.get("/console/invoices/mail-failed").get_data(as_text=True)
    session.rollback()
    row = session.scalars(select(InvoiceMail).where(InvoiceMail.state == "failed")).one()
    assert "spatny@example.cz" in listing and "550" in listing

    smtp.refuse = set()  # the mailbox exists again: send again
    assert billing.post(f"/console/invoices/{row.invoice_id}/resend").status_code == 302
    assert smtp.recipients == ["dobry@example.cz", "spatny@example.cz"]
    session.rollback()
    assert session.get(InvoiceMail, row.invoice_id).state == "sent"
    dashboard = billing.get("/console/").get_data(as_text=True)
    tile = dashboard[dashboard.index('id="tile-invoice-mails"'):]
    assert "0 failed" in tile[:600]
    assert "No invoice e-mail failed." in billing.get(
        "/console/invoices/mail-failed").get_data(as_text=True)
