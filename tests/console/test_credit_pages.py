"""The console's credit pages: a billing operator opens a customer's credit account, issues
a top-up request, switches auto-pay, pays a request from credit and asks for closing, all
audited with the operator; readonly only reads. SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from billing.credit import account_of, credit_balance
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings
from billing.models import AuditEvent, Invoice
from billing.models import TransactionKind as TK


def test_a_billing_operator_runs_a_credit_account(console_client, session, make_customer,
                                                  supplier):
    customer = make_customer("5301")
    client = console_client("billing")
    page = client.get(f"/console/customers/{customer.id}/credit").get_data(as_text=True)
    assert "5301" in page
    r = client.post(f"/console/customers/{customer.id}/credit/open",
                    data={"currency": "CZK", "auto_pay": "yes"})
    assert r.status_code == 302
    session.rollback()
    account = account_of(session, customer.id)
    assert account.auto_pay and account.opened_by == f"operator:{client.operator.login}"

    r = client.post(f"/console/customers/{customer.id}/credit/topup", data={"amount": "1000"})
    assert r.status_code == 302
    session.rollback()
    request = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id)).one()
    assert request.total == Decimal("1210.00")

    # some credit (as if a top-up was paid) and a request to pay from it
    postings.record(session, [postings.Posting(
        TK.OPENING, [(postings.account_key("credit", customer.id), Decimal("-300.00")),
                     (postings.account_key("opening_balance"), Decimal("300.00"))],
        customer_id=customer.id)])
    issued = date.today() - timedelta(days=1)
    service = issue_invoice(session, customer, [LineInput("Hosting", Decimal(1), Decimal("242"))],
                            supplier, IssueOptions(issue_date=issued,
                                                   due_date=issued + timedelta(days=14)))
    session.commit()
    page = client.get(f"/console/customers/{customer.id}/credit").get_data(as_text=True)
    assert service.number in page and "300,00" in page
    r = client.post(f"/console/customers/{customer.id}/credit/pay",
                    data={"invoice_id": str(service.id)})
    assert r.status_code == 302
    session.rollback()
    assert credit_balance(session, customer.id) == Decimal("100.00")
    actions = set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.customer_id == customer.id, AuditEvent.actor == f"operator:{client.operator.login}")))
    assert {"credit.opened", "credit.topup_requested", "credit.paid"} <= actions

    r = client.get(f"/console/customers/{customer.id}/credit/export.csv?from=2020-01-01&to=2099-12-31")
    rows = list(csv.reader(io.StringIO(r.data.decode("utf-8-sig")), delimiter=";"))
    assert rows[-1][3:] == ["-200,00", "100,00"]
    r = client.get(f"/console/customers/{customer.id}/credit/statement.pdf?month={date.today():%Y-%m}")
    assert r.status_code == 200 and r.data.startswith(b"%PDF")
    assert "5301" in client.get("/console/credit?q=5301").get_data(as_text=True)

    readonly = console_client("readonly")
    assert readonly.get(f"/console/customers/{customer.id}/credit").status_code == 200
    assert readonly.post(f"/console/customers/{customer.id}/credit/auto-pay",
                         data={"auto_pay": "off"}).status_code == 403
