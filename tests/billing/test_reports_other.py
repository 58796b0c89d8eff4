"""Debtors by age (bucket edges, partial payments, as of a past day), the payments journal,
the CSV exports read back with the csv module, the Pohoda XML (well-formed, Stormware's
namespaces and element names) and the ``ispzone reports`` commands."""

from __future__ import annotations

import csv
import io
import itertools
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

import pytest

from billing.bank.pairing import pair
from billing.cash.payments import take_cash_payment
from billing.invoicing.issue import IssueOptions, issue_credit_note, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import LineInput
from billing.ledger.balances import open_invoices
from billing.models import Allocation, BankTransaction
from billing.reports import csv_export
from billing.reports.debtors import bucket_of, debtors_report
from billing.reports.payments import payments_journal
from billing.reports.period import Period, month_of
from billing.reports.pohoda import NS, PohodaExportError, pohoda_xml
from billing.reports.vat import vat_report
from core.clock import PRAGUE, today

D = Decimal
_ids = itertools.count(1)


def invoice(session, customer, supplier, price, issued, due, rate="21", kind="regular"):
    return issue_invoice(session, customer, [LineInput("Internet", D(1), D(price), vat_rate=D(rate))],
                         supplier, IssueOptions(kind=kind, issue_date=issued, due_date=due))


def payment(session, amount, on, vs=None, ss=None, **fields):
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id=f"REP{next(_ids)}",
                         booked_on=on, amount=D(amount), variable_symbol=vs,
                         specific_symbol=ss, **fields)
    session.add(tx)
    session.flush()
    pair(session, tx)
    return tx


# -- debtors by age -------------------------------------------------------------------------


def test_bucket_edges():
    assert [bucket_of(d) for d in (0, 1, 30, 31, 60, 61, 90, 91, 4000)] == [
        "0-30", "0-30", "0-30", "31-60", "31-60", "61-90", "61-90", "90+", "90+"]


def test_debtors_in_their_buckets_at_the_edges(session, make_customer, supplier):
    on = today()  # the payments are allocated now: as of today they count
    customer = make_customer(number="7201", name="Petr Dlužník")
    due_days = [0, 1, 30, 31, 60, 61, 90, 91]  # days past due on ``on``
    invoices = {days: invoice(session, customer, supplier, "100.00",
                              on - timedelta(days=days + 14), on - timedelta(days=days))
                for days in due_days}
    good = make_customer(number="7202", name="Platič")
    paid = invoice(session, good, supplier, "200.00", on - timedelta(days=50),
                   on - timedelta(days=36))
    payment(session, "200.00", on - timedelta(days=40), paid.variable_symbol, paid.specific_symbol)
    session.flush()

    report = debtors_report(session, on)

    (debtor,) = report.debtors  # the one who paid is no debtor
    assert debtor.customer_number == "7201"
    # due today is not overdue; 1 and 30 days: 0-30; 31, 60: 31-60; 61, 90: 61-90; 91: 90+
    assert [debtor.amount(b) for b in report.buckets] == [
        D("200.00"), D("200.00"), D("200.00"), D("100.00")]
    assert debtor.total == D("700.00") and report.total() == D("700.00")
    assert invoices[0].number not in {i.number for i in debtor.invoices}
    assert debtor.days_past_due == 91


def test_partial_payments_credit_notes_and_a_past_day(session, make_customer, supplier):
    on = today()
    customer = make_customer(number="7203")
    old = invoice(session, customer, supplier, "1000.00", on - timedelta(days=80),
                  on - timedelta(days=70))
    newer = invoice(session, customer, supplier, "500.00", on - timedelta(days=30),
                    on - timedelta(days=20))
    payment(session, "300.00", on - timedelta(days=2), customer.customer_number)  # the oldest first
    issue_credit_note(session, newer, [LineInput("Výpadek", D(-1), D("100.00"))], supplier,
                      "výpadek", issue_date=on)
    session.flush()

    report = debtors_report(session, on)
    (debtor,) = report.debtors
    assert debtor.amount("61-90") == D("700.00") and debtor.amount("0-30") == D("400.00")
    # as of today it is exactly what balances.open_invoices says is open and overdue
    states = open_invoices(session, customer.id, on)
    assert debtor.total == sum(s.open_amount for s in states if s.invoice.due_date < on)

    # a week ago neither the payment nor the credit note had come (both allocated today)
    week_ago = debtors_report(session, on - timedelta(days=7))
    (then,) = week_ago.debtors
    assert then.total == D("1500.00")
    assert {i.number: i.days_past_due for i in then.invoices} == {
        old.number: 63, newer.number: 13}


def test_allocations_after_the_day_do_not_count(session, make_customer, supplier):
    customer = make_customer(number="7204")
    inv = invoice(session, customer, supplier, "450.00", date(2026, 9, 1), date(2026, 9, 15))
    payment(session, "450.00", today(), inv.variable_symbol, inv.specific_symbol)
    session.flush()
    (allocation,) = session.query(Allocation).filter_by(invoice_id=inv.id).all()
    made = allocation.created_at.astimezone(PRAGUE).date()
    assert debtors_report(session, made).debtors == []
    assert debtors_report(session, made - timedelta(days=1)).total() == D("450.00")


# -- payments journal -------------------------------------------------------------------------


def test_payments_journal_lists_every_incoming_payment(session, make_customer, supplier):
    nov = month_of(date(2026, 11, 1))
    customer = make_customer(number="7301", name="Eva Malá")
    inv = invoice(session, customer, supplier, "450.00", date(2026, 11, 1), date(2026, 11, 15))
    paid = payment(session, "500.00", date(2026, 11, 5), inv.variable_symbol, inv.specific_symbol,
                   counter_account="123456789/0800", counter_name="MALA EVA", message="internet")
    stranger = payment(session, "77.00", date(2026, 11, 6), "999999")
    payment(session, "-120.00", date(2026, 11, 7))  # money out: not a payment received
    payment(session, "60.00", date(2026, 12, 1), customer.customer_number)  # next month
    walk_in = make_customer(number="7302", name="Petr Hotový")
    other = invoice(session, walk_in, supplier, "300.00", date(2026, 11, 2), date(2026, 11, 16))
    cash = take_cash_payment(session, walk_in, "300.00", supplier, actor="operator:pokladna",
                             invoice=other, on=date(2026, 11, 8))

    journal = payments_journal(session, nov)

    assert [p.id for p in journal.payments][:2] == [paid.id, stranger.id]
    first, second, at_the_till = journal.payments
    assert (at_the_till.source, at_the_till.document) == ("cash", cash.receipt.number)
    assert at_the_till.paid == [(other.number, D("300.00"))]
    assert journal.total_by("cash") == D("300.00") and journal.total_by("bank") == D("577.00")
    assert (first.customer_number, first.status, first.counter_name) == ("7301", "matched",
                                                                         "MALA EVA")
    assert first.paid == [(inv.number, D("450.00"))] and first.credit == D("50.00")
    assert second.status == "unmatched" and second.customer_number is None
    assert second.credit == D("0.00")
    assert journal.total == D("877.00") and journal.total_of("matched") == D("800.00")


# -- CSV --------------------------------------------------------------------------------------


def read_csv(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # UTF-8 with a BOM: Excel reads it as UTF-8
    text = data.decode("utf-8-sig")
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))


def czk(text: str) -> Decimal:
    assert "." not in text  # a decimal comma, no thousands separator
    return D(text.replace(",", "."))


def test_csv_exports_read_back(session, make_customer, supplier):
    nov = month_of(date(2026, 11, 1))
    customer = make_customer(number="7401", name='Firma "Síť; a spol."', dic="CZ27082440",
                             ico="27082440", is_company=True)
    big = invoice(session, customer, supplier, "12345.67", date(2026, 11, 3), date(2026, 11, 17))
    invoice(session, customer, supplier, "112.00", date(2026, 11, 4), date(2026, 11, 18), rate="12")
    payment(session, "1000.00", date(2026, 11, 20), big.variable_symbol, big.specific_symbol,
            message="platba; část")
    session.flush()

    report = vat_report(session, nov)
    rows = read_csv(csv_export.vat_csv(report))
    header, body = rows[0], rows[1:]
    assert header[:3] == ["Druh dokladu", "Číslo dokladu", "Opravuje doklad"]
    assert len(body) == 2 and all(len(row) == len(header) for row in body)
    first = dict(zip(header, body[0], strict=True))
    assert first["Odběratel"] == 'Firma "Síť; a spol."'  # quoted, read back whole
    assert first["DUZP"] == "03.11.2026" and first["Oddíl KH"] == "A.4"
    assert czk(first["Základ 21 %"]) + czk(first["DPH 21 %"]) == D("12345.67")
    assert sum(czk(dict(zip(header, r, strict=True))["DPH 21 %"]) for r in body) == report.total(21).vat

    kh = read_csv(csv_export.kh_csv(report))
    assert [r[0] for r in kh[1:]] == ["A.4", "A.5"]
    assert kh[1][1:3] == ["CZ27082440", big.number]

    debtors = read_csv(csv_export.debtors_csv(debtors_report(session, today())))
    assert debtors[0][5:9] == ["0-30 dní", "31-60 dní", "61-90 dní", "90+ dní"]
    (row,) = debtors[1:]
    assert row[0] == "7401" and czk(row[9]) == D("12345.67") - D("1000.00") + D("112.00")

    journal = read_csv(csv_export.payments_csv(payments_journal(session, nov)))
    (pay_row,) = journal[1:]
    record = dict(zip(journal[0], pay_row, strict=True))
    assert record["Zpráva"] == "platba; část" and czk(record["Částka"]) == D("1000.00")
    assert record["Uhrazené faktury"] == f"{big.number}:1000,00"
    assert record["Stav"] == "spárováno"  # as the Czech pages name it, not the stored code


# -- Pohoda XML -------------------------------------------------------------------------------

# the element names of Stormware's schema (invoice.xsd, type.xsd version 2) the file may use
HEADER = {"invoiceType", "number", "symVar", "date", "dateTax", "dateAccounting", "dateDue",
          "classificationVAT", "text", "partnerIdentity", "paymentType", "note"}
SUMMARY = {"roundingDocument", "roundingVAT", "homeCurrency"}
HOME = {"priceNone", "priceLow", "priceLowVAT", "priceLowSum", "priceHigh", "priceHighVAT",
        "priceHighSum", "price3", "price3VAT", "price3Sum"}
ADDRESS = {"company", "name", "city", "street", "zip", "ico", "dic"}


def local(element):
    uri, _, name = element.tag[1:].partition("}")
    return uri, name


def test_pohoda_xml_is_well_formed_and_namespaced(session, make_customer, supplier):
    nov = month_of(date(2026, 11, 1))
    firm = make_customer(number="7501", name="Stavby Novák s.r.o.", ico="27082440",
                         dic="CZ27082440", is_company=True)
    person = make_customer(number="7502", name="Jiří Šťastný")
    mixed = issue_invoice(session, firm, [LineInput("Připojení", D(1), D("1210.00")),
                                          LineInput("Kniha", D(1), D("112.00"), vat_rate=D(12))],
                          supplier, IssueOptions(issue_date=date(2026, 11, 2),
                                                 due_date=date(2026, 11, 16)))
    plain = invoice(session, person, supplier, "450.00", date(2026, 11, 3), date(2026, 11, 17))
    cn = issue_credit_note(session, plain, [LineInput("Výpadek", D(-1), D("121.00"))], supplier,
                           "výpadek", issue_date=date(2026, 11, 20))
    invoice(session, person, supplier, "999.00", date(2026, 11, 1), date(2026, 11, 15),
            kind="advance")  # a payment request: not exported
    session.flush()

    data = pohoda_xml(session, nov, supplier)

    assert data.startswith(b"<?xml version='1.0' encoding='windows-1250'?>")
    root = ET.fromstring(data)  # well-formed
    assert local(root) == (NS["dat"], "dataPack")
    assert root.get("version") == "2.0" and root.get("ico") == supplier.ico
    assert root.get("id") and root.get("application") and root.get("note")
    items = list(root)
    assert [local(i) for i in items] == [(NS["dat"], "dataPackItem")] * 3
    assert [i.get("id") for i in items] == [mixed.number, plain.number, cn.number]
    for element in root.iter():  # nothing outside Stormware's three namespaces
        assert local(element)[0] in NS.values()
    by_number = {}
    for item in items:
        assert item.get("version") == "2.0"
        (inv,) = list(item)
        assert local(inv) == (NS["inv"], "invoice") and inv.get("version") == "2.0"
        header, summary = list(inv)
        assert local(header) == (NS["inv"], "invoiceHeader")
        assert local(summary) == (NS["inv"], "invoiceSummary")
        assert {local(e)[1] for e in header} <= HEADER
        assert {local(e)[1] for e in summary} <= SUMMARY
        home = summary.find("inv:homeCurrency", NS)
        assert {local(e)[1] for e in home} <= HOME
        address = header.find("inv:partnerIdentity/typ:address", NS)
        assert {local(e)[1] for e in address} <= ADDRESS
        by_number[item.get("id")] = inv

    first = by_number[mixed.number]
    assert first.findtext("inv:invoiceHeader/inv:invoiceType", namespaces=NS) == "issuedInvoice"
    assert first.findtext("inv:invoiceHeader/inv:number/typ:numberRequested",
                          namespaces=NS) == mixed.number
    assert first.findtext("inv:invoiceHeader/inv:dateTax", namespaces=NS) == "2026-11-02"
    assert first.findtext("inv:invoiceHeader/inv:partnerIdentity/typ:address/typ:dic",
                          namespaces=NS) == "CZ27082440"
    home = first.find("inv:invoiceSummary/inv:homeCurrency", NS)
    assert home.findtext("typ:priceHigh", namespaces=NS) == "1000.00"
    assert home.findtext("typ:priceHighVAT", namespaces=NS) == "210.00"
    assert home.findtext("typ:priceLow", namespaces=NS) == "100.00"
    assert home.findtext("typ:priceLowVAT", namespaces=NS) == "12.00"

    corrective = by_number[cn.number]
    assert corrective.findtext("inv:invoiceHeader/inv:invoiceType",
                               namespaces=NS) == "issuedCorrectiveTax"
    assert plain.number in corrective.findtext("inv:invoiceHeader/inv:text", namespaces=NS)
    home = corrective.find("inv:invoiceSummary/inv:homeCurrency", NS)
    assert home.findtext("typ:priceHigh", namespaces=NS) == "-100.00"
    assert home.findtext("typ:priceHighVAT", namespaces=NS) == "-21.00"
    assert by_number[plain.number].findtext(
        "inv:invoiceHeader/inv:partnerIdentity/typ:address/typ:name",
        namespaces=NS) == "Jiří Šťastný"  # Czech letters survive windows-1250


def test_pohoda_refuses_without_invoices_or_an_ico(session):
    empty = Period(date(2020, 1, 1), date(2020, 1, 31))
    with pytest.raises(PohodaExportError, match="no invoices"):
        pohoda_xml(session, empty, Supplier())
    with pytest.raises(PohodaExportError, match="IČO"):
        pohoda_xml(session, empty, Supplier(ico=None))


# -- the commands -----------------------------------------------------------------------------


def test_reports_commands(app, session, make_customer, supplier, tmp_path):
    customer = make_customer(number="7601", dic="CZ27082440", ico="27082440", is_company=True)
    inv = invoice(session, customer, supplier, "24200.00", date(2026, 11, 2), date(2026, 11, 16))
    payment(session, "200.00", date(2026, 11, 10), inv.variable_symbol, inv.specific_symbol)
    session.commit()
    runner = app.test_cli_runner()
    span = ["--from", "2026-11-01", "--to", "2026-11-30"]

    result = runner.invoke(args=["reports", "vat", *span, "--csv", str(tmp_path / "vat.csv"),
                                 "--kh-csv", str(tmp_path / "kh.csv")])
    assert result.exit_code == 0, result.output
    assert "1 tax documents" in result.output and "A.4: 1 documents" in result.output
    assert read_csv((tmp_path / "vat.csv").read_bytes())[1][1] == inv.number
    assert read_csv((tmp_path / "kh.csv").read_bytes())[1][2] == inv.number

    result = runner.invoke(args=["reports", "debtors", "--on", today().isoformat(),
                                 "--csv", str(tmp_path / "d.csv")])
    assert result.exit_code == 0, result.output
    assert "24000.00" in result.output

    result = runner.invoke(args=["reports", "payments", *span])
    assert result.exit_code == 0 and inv.number in result.output

    result = runner.invoke(args=["reports", "pohoda", *span, str(tmp_path / "p.xml")])
    assert result.exit_code == 0, result.output
    assert ET.fromstring((tmp_path / "p.xml").read_bytes()).get("ico") == supplier.ico
    assert "1 documents written" in result.output

    result = runner.invoke(args=["reports", "vat", "--from", "2026-11-30", "--to", "2026-11-01"])
    assert result.exit_code == 1 and "before it starts" in result.output
    result = runner.invoke(args=["reports", "pohoda", "--from", "2020-01-01", "--to",
                                 "2020-01-31", str(tmp_path / "none.xml")])
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert not (tmp_path / "none.xml").exists()
