"""Tax documents for payments received on advance invoices (daňové doklady k přijaté platbě):
one per payment, DUZP = the day it came, VAT split by the advance's rates, issued once, shown
and downloadable in the client zone only to their customer."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as hs
from pypdf import PdfReader
from sqlalchemy import func, select

from billing.bank.pairing import pair
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.receipts import issue_receipts, render_receipt_pdf, split_payment
from billing.invoicing.vat import LineInput, vat_from_gross
from billing.models import AuditEvent, BankTransaction, TaxReceipt
from core.clock import today

D = Decimal


def advance(session, customer, supplier, lines):
    issued = today() - timedelta(days=20)
    return issue_invoice(
        session, customer, [LineInput(desc, D(1), D(price), vat_rate=D(rate))
                            for desc, price, rate in lines],
        supplier,
        IssueOptions(kind="advance", issue_date=issued, due_date=issued + timedelta(days=14)),
    )


def pay(session, inv, amount, days_ago=3, n=[0]):  # noqa: B006 - a counter on purpose
    n[0] += 1
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"R{n[0]}",
                         booked_on=today() - timedelta(days=days_ago), amount=D(amount),
                         variable_symbol=inv.variable_symbol, specific_symbol=inv.specific_symbol)
    session.add(tx)
    session.flush()
    assert pair(session, tx) == "matched"
    return tx


def test_single_rate_split_follows_section_37():
    (split,) = split_payment(D("1000.00"), [(D("21"), D("1210.00"))])
    assert (split.base, split.vat, split.total) == (D("826.45"), D("173.55"), D("1000.00"))


@given(hs.integers(1, 10**7), hs.lists(hs.tuples(hs.sampled_from(["0", "12", "21"]),
                                                 hs.integers(1, 10**7)), min_size=1, max_size=3,
                                       unique_by=lambda t: t[0]))
def test_splits_add_up_to_the_payment_exactly(cents, recap):
    amount = D(cents) / 100
    splits = split_payment(amount, [(D(rate), D(total) / 100) for rate, total in recap])
    assert sum(s.total for s in splits) == amount
    for s in splits:
        assert s == vat_from_gross(s.total, s.rate)  # VAT from the gross amount per rate


def test_each_payment_on_an_advance_gets_one_receipt(session, make_customer, supplier):
    customer = make_customer(number="3301")
    inv = advance(session, customer, supplier, [("Router", "1210.00", "21"),
                                                ("Instalace", "605.00", "21"),
                                                ("Kniha", "112.00", "12")])
    first = pay(session, inv, "1000.00", days_ago=5)
    regular = issue_invoice(session, customer, [LineInput("Internet", D(1), D(450))], supplier,
                            IssueOptions())
    pay(session, regular, "450.00")  # a regular invoice's payment needs no receipt

    (r1,) = issue_receipts(session)
    assert r1.number == f"DP{today().year}000001" and r1.total == D("1000.00")
    assert r1.received_on == first.booked_on and r1.issue_date == today()
    assert [(v.rate, v.total) for v in r1.vat_recap] == [(D("12.00"), D("58.12")),
                                                         (D("21.00"), D("941.88"))]
    assert r1.total_net + r1.total_vat == r1.total
    assert issue_receipts(session) == []  # once

    pay(session, inv, "927.00", days_ago=1)  # the rest
    (r2,) = issue_receipts(session)
    assert r2.number == f"DP{today().year}000002"
    assert r1.total + r2.total == inv.total
    audits = session.scalars(select(AuditEvent.new_value)
                             .where(AuditEvent.action == "receipt.issued")).all()
    assert audits == [r1.number, r2.number]

    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(render_receipt_pdf(r2))).pages)
    assert "Daňový doklad k přijaté platbě č. " + r2.number in text
    assert inv.number in text and "Přijatá platba" in text and "Uhrazeno" in text
    assert "Datum splatnosti" not in text and "QR Platba" not in text


def test_the_customer_sees_and_downloads_the_receipts(auth, app, client, session, make_customer,
                                                       supplier):
    customer = make_customer(number="3302", password="secret-pass")
    other = make_customer(number="3303", password="other-pass")
    inv = advance(session, customer, supplier, [("Router", "2420.00", "21")])
    pay(session, inv, "1000.00")
    (receipt,) = issue_receipts(session)
    session.commit()

    assert auth.login("3302", "secret-pass").status_code == 302
    page = client.get(f"/invoices/{inv.id}").get_data(as_text=True)
    assert "Daňové doklady k přijatým platbám" in page and receipt.number in page
    assert "1\u00a0000,00\u00a0Kč" in page
    pdf = client.get(f"/receipts/{receipt.id}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert f"danovy-doklad-{receipt.number}.pdf" in pdf.headers["Content-Disposition"]

    client.post("/logout")
    other_client = app.test_client()
    assert auth.login("3303", "other-pass", client=other_client).status_code == 302
    assert other.id != customer.id
    assert other_client.get(f"/receipts/{receipt.id}.pdf").status_code == 404


def test_a_statement_import_issues_the_receipts(app, session, make_customer, supplier, tmp_path):
    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc

    customer = make_customer(number="3304")
    inv = advance(session, customer, supplier, [("Router", "1210.00", "21")])
    session.commit()
    statement = tmp_path / "s.gpc"
    payment = ParsedTransaction(
        bank_tx_id="7001", booked_on=today(), amount=D("1210.00"), currency="CZK",
        variable_symbol=inv.variable_symbol, specific_symbol=inv.specific_symbol,
        constant_symbol=None, counter_account="123456789/0800", counter_name="Jan Novák",
        message=None, line=0)
    statement.write_bytes(render_gpc(
        ParsedStatement("gpc", "2001234588/2010", [payment], D("0.00"))))
    result = app.test_cli_runner().invoke(args=["payments", "import", str(statement)])
    assert result.exit_code == 0, result.output
    assert "1 tax documents for received advance payments issued: DP" in result.output
    session.rollback()
    assert session.scalar(select(func.count()).select_from(TaxReceipt)) == 1
    again = app.test_cli_runner().invoke(args=["invoices", "receipts"])
    assert "0 tax documents" in again.output
