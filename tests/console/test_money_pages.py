"""The console's money pages (docs/money-acts.md) as an operator of role billing uses them:
a one-off invoice, a credit note choosing lines, a cash payment with its receipt PDF, the
statement upload with its summary and its refusals (line numbers), the unmatched queue,
resending an e-mail, the monthly run's preview and the run. Support and readonly operators
see the pages but every money POST is refused (403) and changes nothing. On SQLite and
PostgreSQL."""

from __future__ import annotations

import itertools
import json
from datetime import date, timedelta
from decimal import Decimal as D

import pytest
from sqlalchemy import func, select

from billing.bank.statements import ParsedStatement, ParsedTransaction
from billing.bank.statements.gpc_render import render_gpc
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput
from billing.ledger import postings as ledger
from billing.ledger.balances import states_for
from billing.models import (
    AuditEvent,
    BankTransaction,
    CashReceipt,
    Invoice,
    LedgerTransaction,
)
from core.clock import today

_ids = itertools.count(1)


def gpc(payments, account="2001234588/2010") -> bytes:
    txs = [ParsedTransaction(
        bank_tx_id=str(700000 + next(_ids)), booked_on=on, amount=D(amount), currency="CZK",
        variable_symbol=vs, specific_symbol=None, constant_symbol=None,
        counter_account="123456789/0800", counter_name="Plátce", message="platba", line=0)
        for vs, amount, on in payments]
    return render_gpc(ParsedStatement("gpc", account, txs))


def owe(session, supplier, customer, amount, days_ago=40):
    issued = today() - timedelta(days=days_ago)
    invoice = issue_invoice(session, customer, [LineInput("Internet", D(1), D(amount))], supplier,
                            IssueOptions(issue_date=issued, due_date=issued + timedelta(days=14)))
    session.commit()
    return invoice


def czech(client):
    """The money pages in Czech, the operators' default (the fixture's client reads English)."""
    client.post("/language", data={"lang": "cs"})
    return client


def audits(session, action):
    session.rollback()  # a fresh snapshot: the app's requests committed meanwhile
    return session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                           .order_by(AuditEvent.id)).all()


def count(session, model):
    session.rollback()
    return session.scalar(select(func.count()).select_from(model))


def test_one_off_invoice_from_the_browser(console_client, session, make_customer, outbox):
    customer = make_customer(number="6601", email="pavel@example.cz")
    billing = czech(console_client("billing"))
    page = billing.get(f"/console/customers/{customer.id}/invoices/new")
    assert page.status_code == 200 and "6601" in page.get_data(as_text=True)
    response = billing.post(f"/console/customers/{customer.id}/invoices/new", data={
        "description_1": "Výjezd technika", "quantity_1": "1", "price_1": "605", "rate_1": "21",
        "unit_1": "ks", "description_2": "Kabel", "quantity_2": "2,5", "price_2": "49,90",
        "rate_2": "12", "unit_2": "m", "kind": "goods", "due_days": "7", "email": "1"})
    assert response.status_code == 302
    session.rollback()
    (invoice,) = session.scalars(select(Invoice).where(Invoice.customer_id == customer.id))
    assert invoice.kind == "goods" and invoice.total == D("729.75")
    assert invoice.due_date == today() + timedelta(days=7)
    assert response.headers["Location"].endswith(f"/console/invoices/{invoice.id}")
    (event,) = audits(session, "invoice.issued")
    assert event.actor == f"operator:{billing.operator.login}"
    assert len(outbox.messages()) == 1  # after the commit, with its PDF
    detail = billing.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert invoice.number in detail and "Kabel" in detail
    pdf = billing.get(f"/console/invoices/{invoice.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    # a bad line: the form again with the message, nothing issued
    response = billing.post(f"/console/customers/{customer.id}/invoices/new", data={
        "description_1": "X", "quantity_1": "1", "price_1": "100", "rate_1": "15"})
    assert response.status_code == 422
    # the refusal in the operator's language (core.i18n._l: the msgid, then its parameters)
    assert "položka 1: sazba DPH 15 % není žádná z 21 %, 12 %, 0 %" in \
        response.get_data(as_text=True)
    assert count(session, Invoice) == 1


def test_credit_note_from_the_browser(console_client, session, make_customer, supplier, outbox):
    customer = make_customer(number="6602")
    invoice = issue_invoice(session, customer, [
        LineInput("Router", D(1), D("1210.00")), LineInput("Kabel", D(2), D("49.90"), D("12"), "m")],
        supplier, IssueOptions())
    session.commit()
    router, cable = invoice.lines
    billing = czech(console_client("billing"))
    form = billing.get(f"/console/invoices/{invoice.id}/credit-note").get_data(as_text=True)
    assert f"mode_{router.id}" in form and "99,80" in form
    response = billing.post(f"/console/invoices/{invoice.id}/credit-note", data={
        f"mode_{router.id}": "all", f"mode_{cable.id}": "quantity", f"value_{cable.id}": "1",
        "reason": "Router vrácen", "email": "0"})
    assert response.status_code == 302, response.get_data(as_text=True)
    session.rollback()
    note = session.scalar(select(Invoice).where(Invoice.corrects_invoice_id == invoice.id))
    assert note.total == D("-1259.90") and note.total_vat == D("-215.34")
    assert note.correction_reason == "Router vrácen"
    assert outbox.messages() == []  # the operator unticked the e-mail
    # more than is left: the form again with the message, nothing issued
    response = billing.post(f"/console/invoices/{invoice.id}/credit-note", data={
        f"mode_{cable.id}": "amount", f"value_{cable.id}": "49,91", "reason": "x"})
    assert response.status_code == 422
    assert "49,91\u00a0Kč je více než zbývajících 49,90\u00a0Kč" in response.get_data(as_text=True)
    response = billing.post(f"/console/invoices/{invoice.id}/credit-note", data={
        f"mode_{cable.id}": "all", "reason": ""})
    assert response.status_code == 422
    assert "opravný daňový doklad potřebuje důvod opravy" in response.get_data(as_text=True)
    assert session.scalar(select(func.count()).where(Invoice.corrects_invoice_id == invoice.id)) == 1
    # a credit note of a credit note is refused
    assert billing.get(f"/console/invoices/{note.id}/credit-note").status_code == 400


def test_cash_payment_from_the_browser(console_client, session, make_customer, supplier):
    customer = make_customer(number="6603")
    old = owe(session, supplier, customer, "605.00", days_ago=60)
    new = owe(session, supplier, customer, "450.00", days_ago=30)
    billing = czech(console_client("billing"))
    page = billing.get(f"/console/customers/{customer.id}/cash").get_data(as_text=True)
    assert old.number in page and new.number in page
    response = billing.post(f"/console/customers/{customer.id}/cash",
                            data={"amount": "1 000", "note": "na pobočce"})
    assert response.status_code == 302
    session.rollback()
    (receipt,) = session.scalars(select(CashReceipt))
    assert response.headers["Location"].endswith(f"/console/cash-receipts/{receipt.id}")
    assert receipt.amount == D("1000.00")
    assert receipt.received_by == f"operator:{billing.operator.login}"
    first, second = states_for(session, [old, new], today())
    assert first.open_amount == D("0.00") and second.open_amount == D("55.00")
    assert ledger.balance(session, customer.id) == D("-55.00")
    page = billing.get(f"/console/cash-receipts/{receipt.id}").get_data(as_text=True)
    assert receipt.number in page
    pdf = billing.get(f"/console/cash-receipts/{receipt.id}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    listed = billing.get("/console/payments?source=cash").get_data(as_text=True)
    assert receipt.number in listed or f"/console/cash-receipts/{receipt.id}" in listed
    # refusals: the form again with the message; nothing written
    before = (count(session, CashReceipt), count(session, LedgerTransaction))
    for amount, message in (("0", "musí být kladná částka"), ("10,50", "v celých korunách"),
                            ("300000", "254/2004"), ("abc", "není to částka: &#39;abc&#39;")):
        response = billing.post(f"/console/customers/{customer.id}/cash", data={"amount": amount})
        assert response.status_code in (409, 422), amount
        assert message in response.get_data(as_text=True)
    assert (count(session, CashReceipt), count(session, LedgerTransaction)) == before
    (event,) = audits(session, "payment.cash")
    assert event.actor == f"operator:{billing.operator.login}"


def test_statement_upload_and_the_queue(app, console_client, session, make_customer, supplier):
    payer = make_customer(number="6604")
    owe(session, supplier, payer, "450.00")
    other = make_customer(number="6605")
    billing = czech(console_client("billing"))
    on = today() - timedelta(days=1)
    data = gpc([("6604", "450.00", on), ("99999", "300.00", on), ("88888", "120.00", on)])
    response = billing.post("/console/payments/upload", data={
        "statement": (__import__("io").BytesIO(data), "vypis.gpc"), "format": "gpc"},
        content_type="multipart/form-data")
    # checked, queued; the import runs as a job and its page shows the summary
    # (tests/console/test_statement_upload_jobs.py)
    assert response.status_code == 302, response.get_data(as_text=True)
    from console.views_upload import join_worker

    join_worker(app)
    page = billing.get(response.headers["Location"]).get_data(as_text=True)
    assert "vypis.gpc" in page
    summary = {"Spárováno": "1", "Nespárováno": "2", "Již dříve naimportováno": "0"}
    for label, value in summary.items():
        assert f"<dt>{label}</dt><dd class=\"num\">{value}</dd>" in page, label
    # the same file again: already imported, nothing new
    response = billing.post("/console/payments/upload", data={
        "statement": (__import__("io").BytesIO(data), "vypis.gpc")},
        content_type="multipart/form-data")
    join_worker(app)
    again = billing.get(response.headers["Location"]).get_data(as_text=True)
    assert "<dt>Již dříve naimportováno</dt><dd class=\"num\">3</dd>" in again
    # a broken file: the line number, nothing imported
    broken = data.replace(b"\r\n075", b"\r\n07X", 1)
    response = billing.post("/console/payments/upload", data={
        "statement": (__import__("io").BytesIO(broken), "zly.gpc"), "format": "gpc"},
        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "řádek 2: " in response.get_data(as_text=True)
    # another bank's account: refused
    response = billing.post("/console/payments/upload", data={
        "statement": (__import__("io").BytesIO(gpc([("1", "1.00", on)], "19-123457/0100")),
                      "cizi.gpc")}, content_type="multipart/form-data")
    assert response.status_code == 422 and "který není náš" in response.get_data(as_text=True)

    queue = billing.get("/console/payments/unmatched").get_data(as_text=True)
    session.rollback()
    first, second = session.scalars(select(BankTransaction).where(
        BankTransaction.status == "unmatched").order_by(BankTransaction.id)).all()
    assert f"/console/payments/{first.id}/assign" in queue
    response = billing.post(f"/console/payments/{first.id}/assign", data={"customer": "6605"},
                            follow_redirects=True)
    assert "spárována se zákazníkem 6605" in response.get_data(as_text=True)
    assert billing.post(f"/console/payments/{second.id}/dismiss",
                        data={"reason": "vráceno plátci"}).status_code == 302
    assert "vráceno" not in billing.get("/console/payments/unmatched").get_data(as_text=True)
    assert billing.post(f"/console/payments/{second.id}/restore").status_code == 302
    # refused: a dismissal without a reason, an unknown customer (flashed, back to the queue)
    response = billing.post(f"/console/payments/{second.id}/dismiss", data={"reason": ""},
                            follow_redirects=True)
    assert "uveďte důvod pro odložení platby" in response.get_data(as_text=True)
    response = billing.post(f"/console/payments/{second.id}/assign", data={"customer": "1"},
                            follow_redirects=True)
    assert "zákazník &#39;1&#39; neexistuje" in response.get_data(as_text=True)
    assert billing.post(f"/console/payments/{first.id}/unassign",
                        data={"reason": "špatný zákazník", "back": "payments"}).status_code == 302
    session.rollback()
    assert session.get(BankTransaction, first.id).status == "unmatched"
    assert session.get(BankTransaction, second.id).status == "unmatched"
    assert ledger.balance(session, other.id) == D("0.00")
    actor = f"operator:{billing.operator.login}"
    for action in ("payment.assigned", "payment.dismissed", "payment.restored",
                   "payment.unassigned"):
        assert [e.actor for e in audits(session, action)] == [actor], action


def test_resend_and_the_monthly_run(console_client, session, make_customer, supplier, outbox):
    customer = make_customer(number="6606", email="eva@example.cz", internet_ip="10.7.0.1")
    invoice = owe(session, supplier, customer, "450.00")
    silent = make_customer(number="6607", email=None)
    quiet = owe(session, supplier, silent, "100.00")
    billing = czech(console_client("billing"))
    assert billing.post(f"/console/invoices/{invoice.id}/resend").status_code == 302
    (message,) = outbox.messages()
    assert message["To"] == "eva@example.cz"
    (event,) = audits(session, "invoice.email_resent")
    assert json.loads(event.details) == {"to": "eva@example.cz", "sent": True}
    response = billing.post(f"/console/invoices/{quiet.id}/resend", follow_redirects=True)
    assert "no e-mail address" in response.get_data(as_text=True)
    assert len(outbox.messages()) == 1

    month = f"{(today().replace(day=1) + timedelta(days=32)):%Y-%m}"
    before = count(session, Invoice)
    page = billing.get(f"/console/invoices/run?month={month}").get_data(as_text=True)
    assert "6606" in page and "450,00" in page
    assert count(session, Invoice) == before  # the preview wrote nothing
    response = billing.post("/console/invoices/run", data={"month": month, "email": "0"})
    assert response.status_code == 302
    session.rollback()
    (issued,) = session.scalars(select(Invoice).where(Invoice.period_key == month))
    assert issued.total == D("450.00")
    listed = billing.get("/console/invoices?q=6606&sort=total&dir=asc").get_data(as_text=True)
    assert issued.number in listed and invoice.number in listed
    assert issued.number not in billing.get("/console/invoices?q=6606&status=overdue").get_data(
        as_text=True)


@pytest.mark.parametrize("role", ["support", "readonly"])
def test_money_posts_are_refused_to_support_and_readonly(console_client, session, make_customer,
                                                         supplier, role):
    customer = make_customer(number="6608")
    invoice = owe(session, supplier, customer, "450.00")
    client = console_client(role)
    # they see the pages
    for url in ("/console/invoices", f"/console/invoices/{invoice.id}", "/console/payments",
                "/console/payments/unmatched"):
        assert client.get(url).status_code == 200, url
    # but not the forms of the money acts they could not submit
    for url in (f"/console/customers/{customer.id}/cash",
                f"/console/customers/{customer.id}/invoices/new",
                f"/console/invoices/{invoice.id}/credit-note"):
        assert client.get(url).status_code == 403, url
    before = (count(session, Invoice), count(session, CashReceipt), count(session, AuditEvent))
    posts = [
        (f"/console/customers/{customer.id}/cash", {"amount": "450"}),
        (f"/console/customers/{customer.id}/invoices/new",
         {"description_1": "X", "quantity_1": "1", "price_1": "100"}),
        (f"/console/invoices/{invoice.id}/credit-note",
         {f"mode_{invoice.lines[0].id}": "all", "reason": "x"}),
        (f"/console/invoices/{invoice.id}/resend", {}),
        ("/console/invoices/run", {"month": f"{date.today():%Y-%m}"}),
    ]
    for url, data in posts:
        assert client.post(url, data=data).status_code == 403, url
    assert (count(session, Invoice), count(session, CashReceipt), count(session, AuditEvent)) \
        == before
    # no money buttons for them
    page = client.get(f"/console/invoices/{invoice.id}").get_data(as_text=True)
    assert "/resend" not in page and "/credit-note" not in page
