"""Import of customers, services and historic invoices: good files, and every kind of bad row
rejected with its row and field while nothing at all is written."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.customers.credentials import authenticate
from billing.invoicing.issue import next_number
from billing.ledger.balances import customer_invoices
from billing.legacy_import import writer as importer
from billing.legacy_import.writer import ImportFileError, import_file
from billing.models import (
    Allocation,
    AuditEvent,
    BankTransaction,
    Contract,
    Customer,
    Invoice,
    InvoiceLine,
    LedgerEntry,
    Service,
    ServiceAddress,
)
from core.clock import today

SAMPLES = Path(__file__).parent / "samples"
GOOD_JSON = SAMPLES / "import_good.json"
GOOD_CSV = SAMPLES / "import_good.csv"
TABLES = (Customer, Contract, Service, ServiceAddress, Invoice, InvoiceLine, LedgerEntry,
          BankTransaction, Allocation, AuditEvent)


def counts(session) -> dict[str, int]:
    return {t.__tablename__: session.scalar(select(func.count()).select_from(t)) for t in TABLES}


def customer(session, number: str) -> Customer:
    return session.scalar(select(Customer).where(Customer.customer_number == number))


def invoices_by_number(session, who: Customer) -> dict:
    return {s.invoice.number: s for s in customer_invoices(session, who.id, today())}


# -- good files ------------------------------------------------------------------------------


def test_good_json(session, supplier):
    result = import_file(session, GOOD_JSON, supplier)
    session.commit()
    assert (result.customers, result.contracts, result.services, result.invoices) == (3, 3, 5, 3)
    assert str(result) == (
        "3 customers, 3 contracts, 5 services, 3 invoices imported (2 payments recorded)"
    )
    riha = customer(session, "2001")
    assert riha.name == "Zdeněk Říha"
    assert riha.phone == "+420777123456"
    assert riha.postal_code == "280 02"
    assert authenticate(session, "2001", "Heslo-z-importu-2001") is not None
    internet = riha.services[0]
    assert [a.address for a in internet.addresses] == ["10.30.0.5"]
    states = invoices_by_number(session, riha)
    assert states["2024000101"].invoice.total == Decimal("499.00")
    assert states["2024000101"].status == "paid"
    assert states["2024000102"].paid == Decimal("200.00")
    assert states["2024000102"].open_amount == Decimal("299.00")
    assert states["2024000102"].invoice.variable_symbol == "2001"

    firm = customer(session, "2002")
    assert firm.is_company and firm.ico == "25196472" and firm.dic == "CZ25196472"
    by_kind = {s.kind: s for s in firm.services}
    assert sorted(a.address for a in by_kind["internet"].addresses) == ["10.30.1.10", "10.30.1.11"]
    assert by_kind["voip"].phone_number == "+420327512346"
    fv = invoices_by_number(session, firm)["FV-2024-0103"]
    assert fv.invoice.specific_symbol == "2024000103"
    assert fv.invoice.total_net == Decimal("623.45")  # prices without VAT
    assert fv.invoice.total == Decimal("754.37")
    assert fv.paid == 0

    old = customer(session, "2003")
    assert old.language == "en" and old.phone == "+420603987654"
    assert authenticate(session, "2003", "stare-heslo-2003") is not None  # the old hash
    assert old.contracts[0].ended_on is not None
    # every invoice is in the ledger, every old payment is a paired import transaction
    assert session.scalar(select(func.count()).select_from(LedgerEntry)
                          .where(LedgerEntry.kind == "invoice")) == 3
    txs = session.scalars(select(BankTransaction)).all()
    assert {(t.source_account, t.bank_tx_id, t.status) for t in txs} == {
        ("import", "import-2024000101", "matched"),
        ("import", "import-2024000102", "matched"),
    }
    assert {t.specific_symbol for t in txs} == {"2024000101", "2024000102"}


def test_imported_numbers_advance_the_series(session, supplier):
    import_file(session, GOOD_JSON, supplier)
    # 2024000103 is taken as the SS of FV-2024-0103
    assert next_number(session, 2024) == "2024000104"


def test_good_csv(session, supplier):
    result = import_file(session, GOOD_CSV, supplier)
    session.commit()
    assert str(result) == (
        "3 customers, 3 contracts, 5 services, 3 invoices imported (2 payments recorded)"
    )
    cizek = customer(session, "3001")
    assert cizek.name == "Bohumil Čížek" and cizek.phone == "+420602111222"
    assert authenticate(session, "3001", "Heslo-z-importu-3001") is not None
    assert cizek.contracts[0].signed_on.isoformat() == "2020-04-01"
    states = invoices_by_number(session, cizek)
    assert len(states["2024000201"].invoice.lines) == 2
    assert states["2024000201"].status == "paid"
    assert states["2024000202"].paid == Decimal("150.00")
    assert states["2024000202"].open_amount == Decimal("349.00")

    firm = customer(session, "3002")
    assert firm.is_company and firm.contact_person == "Jiří Žďárský"
    internet = next(s for s in firm.services if s.kind == "internet")
    assert sorted(a.address for a in internet.addresses) == ["10.30.3.1", "10.30.3.2"]
    # no contract row: the contract is created from the services, signed on the earliest
    assert firm.contracts[0].number == "3002"
    assert firm.contracts[0].signed_on.isoformat() == "2022-05-01"
    assert invoices_by_number(session, firm)["2024000203"].invoice.total == Decimal("650.00")
    assert customer(session, "3003").phone == "+420725333111"


def test_both_samples_into_one_database(session, supplier):
    import_file(session, GOOD_JSON, supplier)
    import_file(session, GOOD_CSV, supplier)
    assert counts(session)["customer"] == 6


def test_comma_delimited_csv_with_bom(session, supplier, tmp_path):
    text = GOOD_CSV.read_text(encoding="utf-8")
    rows = [line.split(";") for line in text.splitlines()]
    body = "\n".join(",".join(f'"{c}"' if "," in c else c for c in row) for row in rows)
    path = tmp_path / "comma.csv"
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert import_file(session, path, supplier).customers == 3


# -- bad files: the row and field are named, and nothing is written ---------------------------


def csv_with(tmp_path, line: int, old: str, new: str, everywhere: bool = False) -> Path:
    lines = GOOD_CSV.read_text(encoding="utf-8").splitlines()
    assert old in lines[line - 1], (line, old)
    if everywhere:
        lines = [text.replace(old, new) for text in lines]
    else:
        lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def json_with(tmp_path, change) -> Path:
    data = json.loads(GOOD_JSON.read_text(encoding="utf-8"))
    change(data["customers"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8")
    return path


def rejected(session, supplier, path: Path) -> ImportFileError:
    """Import ``path`` expecting an error; check that nothing was written."""
    before = counts(session)
    with pytest.raises(ImportFileError) as info:
        import_file(session, path, supplier)
    session.rollback()  # what the CLI does
    assert counts(session) == before
    return info.value


NUL = "contains a NUL character (U+0000)"
# (line, old text, new text, field, part of the reason)
CSV_CASES = {
    "bad e-mail": (2, "bohumil.cizek@centrum.cz", "bohumil.cizek@@centrum", "email",
                   "not a valid e-mail address"),
    "bad IČO": (10, "08623147;CZ", "08623148;CZ", "ico", "IČO"),
    "bad DIČ": (10, "CZ08623147", "CZ08623148", "dic", "DIČ"),
    "bad date": (3, "2020-04-01", "2020-13-01", "signed_on", "YYYY-MM-DD"),
    "Czech date": (5, "2020-04-01", "1.4.2020", "valid_from", "YYYY-MM-DD"),
    "non-numeric amount": (4, "450,00", "čtyřista", "price", "not a number"),
    "amount with 3 decimals": (6, "450,00;21", "450,001;21", "line_unit_price", "2 decimal"),
    "paid with 3 decimals": (6, "499,00", "499,005", "paid", "2 decimal"),
    "duplicate customer number": (10, "customer;3002", "customer;3001", "customer_number",
                                  "duplicate customer number (also on row 2)"),
    "duplicate IP": (11, "10.30.3.1 10.30.3.2", "10.30.3.1 10.30.2.20", "ips",
                     "duplicate IP address 10.30.2.20 in the file (row 4, field ips)"),
    "duplicate PPPoE username": (16, "stastna3003", "cizek3001", "pppoe_username",
                                 "duplicate PPPoE username"),
    "unknown service kind": (4, "internet", "tv", "kind", "unknown service kind 'tv'"),
    "invalid IP": (4, "10.30.2.20", "10.30.2.300", "ips", "not a valid IP address"),
    "missing street": (2, "Jiráskova 512", "", "street", "required"),
    "missing price": (16, "350,00", "", "price", "required"),
    "bad phone": (15, "(+420) 725-333-111", "725 333", "phone", "phone"),
    "bad postal code": (15, "281 26", "2812", "postal_code", "postal code"),
    "bad VAT rate": (6, "450,00;21", "450,00;15", "line_vat_rate", "21, 12 or 0"),
    "due before issue": (8, "2024-11-15", "2024-10-15", "due_date", "before issue_date"),
    "paid more than total": (6, "499,00", "500,00", "paid", "between 0"),
    "unknown record": (16, "service;3003", "tarif;3003", "record", "unknown record type"),
    "service of unknown customer": (16, "service;3003", "service;3009", "customer_number",
                                    "no customer row"),
    "column not for this record": (2, "Heslo-z-importu-3001;;", "Heslo-z-importu-3001;;tv",
                                   "kind", "does not apply to a customer row"),
    "phone number on internet": (11, "10.30.3.2;;", "10.30.3.2;+420 327 000 999;",
                                 "phone_number", "only voip"),
    "continuation row differs": (7, "2024000201;;", "2024000201;Internet;", "name",
                                 "does not apply"),
    # PostgreSQL text cannot hold U+0000: refused here, not as a database error
    "NUL in a name": (2, "Bohumil Čížek", "Bohumil\x00Čížek", "name", NUL),
    "NUL in a service location": (4, "Jiráskova 512, Pečky", "Jiráskova 512,\x00Pečky",
                                  "location", NUL),
    "NUL in an IP address": (4, "10.30.2.20", "10.30.2.20\x00", "ips", NUL),
    "NUL in an invoice line": (7, "Pojištění zařízení", "Pojištění\x00zařízení",
                               "line_description", NUL),
    "NUL in a contract row's customer number": (3, "contract;3001", "contract;30\x0001",
                                                "customer_number", NUL),
}


@pytest.mark.parametrize("case", sorted(CSV_CASES))
def test_bad_csv_row(session, supplier, tmp_path, case):
    line, old, new, field, reason = CSV_CASES[case]
    error = rejected(session, supplier, csv_with(tmp_path, line, old, new))
    assert (error.row, error.field) == (line, field), str(error)
    assert str(error).startswith(f"row {line}, field {field}: ")
    assert reason in error.reason


def test_csv_customer_number_with_leading_zero(session, supplier, tmp_path):
    path = csv_with(tmp_path, 15, ";3003;", ";03003;", everywhere=True)
    error = rejected(session, supplier, path)
    assert (error.row, error.field) == (15, "customer_number")
    assert "must not start with 0" in error.reason


def test_csv_duplicate_invoice_number(session, supplier, tmp_path):
    path = csv_with(tmp_path, 13, "2024000203", "2024000201", everywhere=True)
    error = rejected(session, supplier, path)
    assert (error.row, error.field) == (13, "invoice_number")
    assert "duplicate invoice number 2024000201 in the file (row 6" in error.reason


def test_csv_invoice_rows_must_agree(session, supplier, tmp_path):
    error = rejected(session, supplier, csv_with(tmp_path, 9, ";;;;Pojištění", ";;;1,00;Pojištění"))
    assert (error.row, error.field) == (9, "paid")
    assert "differs from the invoice's first row" in error.reason


def test_csv_row_numbers_are_physical_lines(session, supplier, tmp_path):
    lines = GOOD_CSV.read_text(encoding="utf-8").splitlines()
    # a quoted value spanning two lines: later rows keep their physical line numbers
    lines[1] = lines[1].replace("Jiráskova 512", '"Jiráskova 512\nvchod ze dvora"')
    lines[14] = lines[14].replace("ruzena.stastna@post.cz", "ruzena.stastna")
    path = tmp_path / "multiline.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    error = rejected(session, supplier, path)
    assert (error.row, error.field) == (16, "email")


def test_csv_unknown_column(session, supplier, tmp_path):
    error = rejected(session, supplier, csv_with(tmp_path, 1, ";email;", ";e-mail;"))
    assert (error.row, error.field) == (1, "e-mail")
    assert error.reason == "unknown column"


def drop(mapping: dict, key: str) -> None:
    del mapping[key]


def services(customers: list, i: int) -> list:
    return customers[i]["contracts"][0]["services"]


# change to the JSON sample -> (customer #, field path, part of the reason)
JSON_CASES = {
    "bad e-mail": (lambda c: c[1].update(email="objednavky@"), 2, "email", "e-mail"),
    "bad IČO": (lambda c: c[1].update(ico="25196473"), 2, "ico", "check digit"),
    "bad date": (lambda c: c[0]["invoices"][1].update(due_date="15.11.2024"), 1,
                 "invoices[1].due_date", "YYYY-MM-DD"),
    "impossible date": (lambda c: c[0]["contracts"][0].update(signed_on="2021-02-30"), 1,
                        "contracts[0].signed_on", "not a date"),
    "non-numeric amount": (lambda c: services(c, 0)[0].update(price="450 Kč"), 1,
                           "contracts[0].services[0].price", "not a number"),
    "amount with 3 decimals": (lambda c: c[0]["invoices"][0]["lines"][1].update(unit_price=49.001),
                               1, "invoices[0].lines[1].unit_price", "at most 2 decimal places"),
    "boolean amount": (lambda c: c[0]["invoices"][0].update(paid=True), 1, "invoices[0].paid",
                       "not a number"),
    "duplicate customer number": (lambda c: c[2].update(customer_number="2001"), 3,
                                  "customer_number", "duplicate customer number 2001 in the "
                                  "file (customer #1, field customer_number)"),
    "duplicate contract number": (lambda c: c[2]["contracts"][0].update(number="2002"), 3,
                                  "contracts[0].number", "duplicate contract number"),
    "contract number of another customer": (
        lambda c: (c[1]["contracts"][0].update(number="2202"),
                   c[2]["contracts"][0].update(number="2002")),
        3, "contracts[0].number", "contract number 2002 is the customer number of another"),
    "duplicate IP": (lambda c: services(c, 1)[0]["ips"].__setitem__(1, "10.30.0.5"), 2,
                     "contracts[0].services[0].ips[1]", "duplicate IP address 10.30.0.5 in the "
                     "file (customer #1, field contracts[0].services[0].ips[0])"),
    "unknown service kind": (lambda c: services(c, 2)[0].update(kind="tv"), 3,
                             "contracts[0].services[0].kind", "unknown service kind"),
    "invalid IP": (lambda c: services(c, 0)[0].update(ips=["10.30.0.256"]), 1,
                   "contracts[0].services[0].ips[0]", "not a valid IP address"),
    "ips not a list": (lambda c: services(c, 0)[0].update(ips=5), 1,
                       "contracts[0].services[0].ips", "list of IP addresses"),
    "missing required field": (lambda c: drop(c[1], "name"), 2, "name", "required"),
    "missing line": (lambda c: c[1]["invoices"][0].update(lines=[]), 2, "invoices[0].lines",
                     "at least one line"),
    "unknown field": (lambda c: c[0].update(emial="x@y.cz"), 1, "emial", "unknown field"),
    "text where a number belongs": (lambda c: services(c, 0)[0].update(download_kbps="fast"), 1,
                                    "contracts[0].services[0].download_kbps", "whole number"),
    "foreign contract on invoice": (lambda c: c[0]["invoices"][0].update(contract="2002"), 1,
                                    "invoices[0].contract", "not one of this customer's"),
    "unusable invoice number": (lambda c: c[1]["invoices"][0].pop("specific_symbol"), 2,
                                "invoices[0].specific_symbol", "required when"),
    "password and hash": (lambda c: c[2].update(password="nove-heslo-1234"), 3, "password_hash",
                          "not both"),
    "bad password hash": (lambda c: c[2].update(password_hash="md5:abc"), 3, "password_hash",
                          "argon2"),
    "service kind as number": (lambda c: services(c, 0)[1].update(kind=1), 1,
                               "contracts[0].services[1].kind", "must be text"),
    "NUL in a name": (lambda c: c[1].update(name="Vinařství\x00Žďárský s.r.o."), 2, "name", NUL),
    "NUL in a service description": (
        lambda c: services(c, 0)[1].update(description="po\x00jištění"), 1,
        "contracts[0].services[1].description", NUL),
    "NUL in an IP address": (lambda c: services(c, 1)[0]["ips"].__setitem__(1, "10.30.0.6\x00"),
                             2, "contracts[0].services[0].ips[1]", NUL),
    "NUL in an invoice line": (
        lambda c: c[0]["invoices"][0]["lines"][1].update(description="Poji\x00štění"), 1,
        "invoices[0].lines[1].description", NUL),
}


@pytest.mark.parametrize("case", sorted(JSON_CASES))
def test_bad_json_customer(session, supplier, tmp_path, case):
    change, number, field, reason = JSON_CASES[case]
    error = rejected(session, supplier, json_with(tmp_path, change))
    assert (error.row, error.field) == (number, field), str(error)
    assert str(error).startswith(f"customer #{number}, field {field}: ")
    assert reason in error.reason


def test_customer_number_already_in_database(session, supplier, make_customer, tmp_path):
    make_customer(number="3003")
    error = rejected(session, supplier, GOOD_CSV)
    assert (error.row, error.field) == (15, "customer_number")
    assert "customer number 3003 already exists in the database" in error.reason
    make_customer(number="2002")
    error = rejected(session, supplier, GOOD_JSON)
    assert str(error).startswith("customer #2, field customer_number: customer number 2002")


def test_ip_already_in_database(session, supplier, make_customer):
    make_customer(number="4001", internet_ip="10.30.2.20")
    error = rejected(session, supplier, GOOD_CSV)
    assert (error.row, error.field) == (4, "ips")
    assert "IP address 10.30.2.20 is already assigned in the database" in error.reason


def test_voip_number_already_in_database(session, supplier, tmp_path):
    import_file(session, GOOD_JSON, supplier)
    session.commit()
    path = csv_with(tmp_path, 12, "+420 327 000 302", "+420 327 512 346")
    error = rejected(session, supplier, path)
    assert (error.row, error.field) == (12, "phone_number")
    assert "already taken in the database" in error.reason


def test_same_file_twice(session, supplier):
    import_file(session, GOOD_JSON, supplier)
    session.commit()
    error = rejected(session, supplier, GOOD_JSON)
    assert error.row == 1 and error.field == "customer_number"


@pytest.mark.parametrize("sample", [GOOD_CSV, GOOD_JSON])
def test_bad_encoding(session, supplier, tmp_path, sample):
    path = tmp_path / f"latin2{sample.suffix}"
    path.write_bytes(sample.read_text(encoding="utf-8").encode("cp1250"))
    error = rejected(session, supplier, path)
    assert error.row is None and error.field is None
    assert "not UTF-8" in str(error)


def test_invalid_json(session, supplier, tmp_path):
    lines = GOOD_JSON.read_text(encoding="utf-8").splitlines()
    index = lines.index('      "city": "Kolín",')
    lines[index] = lines[index].rstrip(",")  # a missing comma, noticed on the next line
    path = tmp_path / "broken.json"
    path.write_text("\n".join(lines), encoding="utf-8")
    error = rejected(session, supplier, path)
    assert (error.row, error.field) == (index + 2, None)
    assert str(error).startswith(f"line {index + 2}: invalid JSON: Expecting ',' delimiter")


@pytest.mark.parametrize(
    "name, content, reason",
    [
        ("x.json", '{"customers": []}', "no customers"),
        ("x.json", "[]", '"customers" list'),
        ("x.json", '{"customers": [], "extra": 1}', "unknown top-level key"),
        ("x.json", '{"customers": [{"customer_number": NaN}]}', "invalid JSON"),
        ("x.csv", "", "empty"),
        ("x.json", '{"customers": [{"na\\u0000me": "x"}]}',
         "customer #1: the field name 'na\\x00me' contains a NUL character (U+0000)"),
        ("x.json", '{"customers": [{"contracts": [{"n\\u0000": 1}]}]}',
         "customer #1: the field name 'contracts[0].n\\x00' contains a NUL character"),
        ("x.csv", "record;na\x00me\n",
         "row 1: the column name 'na\\x00me' contains a NUL character (U+0000)"),
        ("x.xlsx", "whatever", "unsupported file type"),
    ],
)
def test_unusable_files(session, supplier, tmp_path, name, content, reason):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    assert reason in str(rejected(session, supplier, path))


def test_database_error_leaves_nothing(session, supplier, make_customer, monkeypatch):
    """Even when the database refuses a row that validation let through, nothing stays."""
    make_customer(number="4001", internet_ip="10.30.4.7")  # the IP of customer 3003
    monkeypatch.setattr(importer, "_check_database", lambda *args: None)
    before = counts(session)
    with pytest.raises(ImportFileError) as info:
        import_file(session, GOOD_CSV, supplier)
    assert "database refused" in str(info.value)
    assert info.value.row == 15  # the customer being written
    assert counts(session) == before  # the savepoint is rolled back, even before the caller's
    session.rollback()
    assert counts(session) == before
    monkeypatch.undo()
    session.commit()
    assert customer(session, "4001") is not None


def test_caller_rollback_undoes_a_successful_import(session, supplier):
    """The import only flushes inside a savepoint; the caller decides (on SQLite too)."""
    before = counts(session)
    import_file(session, GOOD_JSON, supplier)
    assert counts(session)["customer"] == before["customer"] + 3
    session.rollback()
    assert counts(session) == before


def test_invoice_number_formats_and_a_full_series(session):
    """A provider with more than 999,999 invoices a year switches to YY + 8 digits; a full
    series refuses to issue (never a number that does not fit the specific symbol)."""
    from billing.invoicing.issue import InvoicingError
    from billing.invoicing.supplier import Supplier
    from billing.models import DocumentSeries

    assert next_number(session, 2031, "YYNNNNNNNN") == "3100000001"
    assert next_number(session, 2031, "YYYYNNNNNN") == "2031000002"  # one counter per year
    session.add(DocumentSeries(key="invoice-2032", last_value=999_999))
    session.flush()
    with pytest.raises(InvoicingError, match="YYNNNNNNNN"):
        next_number(session, 2032)
    assert next_number(session, 2032, "YYNNNNNNNN") == "3201000000"
    for bad in ("YYYYNNNNNNN", "NNNNYYYY", "YYYY", ""):
        with pytest.raises(ValueError, match="invoice number format"):
            Supplier(invoice_number_format=bad)


def test_the_supplier_format_numbers_issued_invoices(session, make_customer):
    from dataclasses import replace

    from billing.invoicing.issue import IssueOptions, issue_invoice
    from billing.invoicing.supplier import Supplier
    from billing.invoicing.vat import LineInput

    customer = make_customer()
    supplier = replace(Supplier(), invoice_number_format="YYNNNNNNNN")
    inv = issue_invoice(session, customer, [LineInput("Internet", Decimal(1), Decimal(450))],
                        supplier, IssueOptions(issue_date=today()))
    assert inv.number == f"{today().year % 100}{1:08d}" and inv.specific_symbol == inv.number
