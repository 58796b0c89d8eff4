"""The console's reports (/console/reports): what a billing operator checks - the period's
VAT with the A.4 row of the big invoice, the downloads (CSV that reads back, Pohoda XML),
debtors and payments; readonly may read, support may not."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.models import BankTransaction
from core.clock import today

SPAN = "from=2026-11-01&to=2026-11-30"


def seed(session, make_customer, supplier):
    firm = make_customer(number="7801", name="Stavby Novák s.r.o.", ico="27082440",
                         dic="CZ27082440", is_company=True)
    person = make_customer(number="7802", name="Jana Dvořáková")
    big = issue_invoice(session, firm, [LineInput("Připojení", Decimal(1), Decimal("24200.00"))],
                        supplier, IssueOptions(issue_date=date(2026, 11, 2),
                                               due_date=date(2026, 11, 16)))
    small = issue_invoice(session, person, [LineInput("Internet", Decimal(1), Decimal("605.00"))],
                          supplier, IssueOptions(issue_date=date(2026, 11, 3),
                                                 due_date=date(2026, 11, 17)))
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id="PAGES1",
                         booked_on=date(2026, 11, 10), amount=Decimal("605.00"),
                         variable_symbol=small.variable_symbol,
                         specific_symbol=small.specific_symbol)
    session.add(tx)
    session.flush()
    pair(session, tx)
    session.commit()
    return big, small


def test_billing_sees_the_vat_report_with_the_kh_split(session, make_customer, supplier,
                                                       console_client):
    big, small = seed(session, make_customer, supplier)
    client = console_client("billing")
    page = client.get(f"/console/reports?{SPAN}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    a4 = html.split('class="kh-a4"')[1].split("</table>")[0]
    assert big.number in a4 and "CZ27082440" in a4 and small.number not in a4
    documents = html.split('class="documents"')[1]
    assert big.number in documents and small.number in documents


def test_downloads_read_back(session, make_customer, supplier, console_client):
    big, small = seed(session, make_customer, supplier)
    client = console_client("readonly")  # readonly may read the money reports

    response = client.get(f"/console/reports/vat.csv?{SPAN}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data().decode("utf-8-sig")), delimiter=";"))
    assert [r[1] for r in rows[1:]] == [big.number, small.number]

    kh = client.get(f"/console/reports/kh.csv?{SPAN}").get_data().decode("utf-8-sig")
    assert f"A.4;CZ27082440;{big.number}" in kh

    xml = client.get(f"/console/reports/pohoda.xml?{SPAN}")
    assert xml.status_code == 200
    root = ET.fromstring(xml.get_data())
    assert root.tag == "{http://www.stormware.cz/schema/version_2/data.xsd}dataPack"
    assert [i.get("id") for i in root] == [big.number, small.number]

    debtors = client.get(f"/console/reports/debtors?on={today().isoformat()}").get_data(as_text=True)
    assert "7801" in debtors and "7802" not in debtors.split('class="debtors"')[1]
    payments = client.get(f"/console/reports/payments?{SPAN}").get_data(as_text=True)
    assert small.number in payments.split('class="payments"')[1]
    csv_payments = client.get(f"/console/reports/payments.csv?{SPAN}")
    assert csv_payments.get_data().startswith(b"\xef\xbb\xbf")


def test_support_may_not_read_money_reports_and_bad_dates_are_refused(console_client):
    assert console_client("support").get(f"/console/reports?{SPAN}").status_code == 403
    billing = console_client("billing")
    response = billing.get("/console/reports?from=2026-11-30&to=2026-11-01")
    assert response.status_code == 422
    assert "before it starts" in response.get_data(as_text=True)
    assert billing.get("/console/reports?from=31.11.2026").status_code == 422


def test_long_reports_are_paginated(session, make_customer, supplier, console_client,
                                    monkeypatch):
    import console.views_reports as views

    big, small = seed(session, make_customer, supplier)
    monkeypatch.setattr(views, "PER_PAGE", 1)
    client = console_client("billing")
    first = client.get(f"/console/reports?{SPAN}").get_data(as_text=True)
    second = client.get(f"/console/reports?{SPAN}&page=2").get_data(as_text=True)
    listed = [html.split('class="documents"')[1].split("</table>")[0] for html in (first, second)]
    assert big.number in listed[0] and small.number not in listed[0]
    assert small.number in listed[1] and big.number not in listed[1]
    assert 'rel="next"' in first and 'rel="prev"' in second
    # the totals and the A.4 rows stay whole on every page
    assert big.number in second.split('class="kh-a4"')[1].split("</table>")[0]
