"""CSV exports of the reports that open right in Czech Excel: UTF-8 with a byte order mark
(Excel otherwise reads ANSI and breaks the diacritics), ``;`` between fields (the list
separator of the Czech locale, where ``,`` is the decimal mark), numbers with a decimal
comma and no thousands separator (``-1234,50``), dates as ``06.12.2026`` (Excel recognises
them as dates in the Czech locale), CRLF line ends. Headers in Czech.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal

from billing.reports.debtors import DebtorsReport
from billing.reports.payments import PaymentsJournal
from billing.reports.vat import A4, A5, DocumentKind, VatReport

BOM = "\ufeff"
DELIMITER = ";"

KIND_LABELS = {
    DocumentKind.INVOICE: "faktura",
    DocumentKind.CREDIT_NOTE: "opravný daňový doklad",
    DocumentKind.ADVANCE_RECEIPT: "daňový doklad k přijaté platbě",
    DocumentKind.RECEIPT_CORRECTION: "opravný daňový doklad k přijaté platbě",
}


def number(value: Decimal | None) -> str:
    """``Decimal("-1234.5")`` -> ``-1234,50``."""
    if value is None:
        return ""
    return f"{Decimal(value).quantize(Decimal('0.01'))}".replace(".", ",")


def day(value: date | None) -> str:
    return value.strftime("%d.%m.%Y") if value else ""


def rate_label(rate: Decimal) -> str:
    return f"{rate} %".replace(".", ",")


def write(header: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    """The CSV file's bytes: BOM, header, rows."""
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv.writer(buffer, delimiter=DELIMITER, lineterminator="\r\n",
                        quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
    return buffer.getvalue().encode("utf-8")


def vat_csv(report: VatReport) -> bytes:
    """One row per tax document of the period: its recap per rate and its KH section."""
    rates = report.rates
    header = ["Druh dokladu", "Číslo dokladu", "Opravuje doklad", "Číslo zákazníka",
              "Odběratel", "DIČ", "DUZP", "Datum vystavení", "Oddíl KH"]
    for rate in rates:
        header += [f"Základ {rate_label(rate)}", f"DPH {rate_label(rate)}"]
    header.append("Celkem s DPH")
    rows = []
    for doc in report.documents:
        row = [KIND_LABELS[doc.kind], doc.number, doc.corrects or "", doc.customer_number,
               doc.customer_name, doc.dic or "", day(doc.taxable_date), day(doc.issue_date),
               doc.section or ""]
        for rate in rates:
            amounts = doc.amounts(rate)
            row += [number(amounts.base), number(amounts.vat)]
        row.append(number(doc.total))
        rows.append(row)
    return write(header, rows)


def kh_csv(report: VatReport) -> bytes:
    """The kontrolní hlášení's sections A.4 (a row per document) and A.5 (one row of sums)."""
    rates = report.taxed_rates
    header = ["Oddíl", "DIČ odběratele", "Evidenční číslo dokladu", "DPPD"]
    for rate in rates:
        header += [f"Základ {rate_label(rate)}", f"DPH {rate_label(rate)}"]
    header.append("Kód režimu plnění")
    rows = []
    for doc in report.a4:
        row = [A4, doc.dic or "", doc.number, day(doc.taxable_date)]
        for rate in rates:
            amounts = doc.amounts(rate)
            row += [number(amounts.base), number(amounts.vat)]
        rows.append(row + ["0"])
    row = [A5, "", "", ""]
    for rate in rates:
        amounts = report.a5_amounts(rate)
        row += [number(amounts.base), number(amounts.vat)]
    rows.append(row + [""])
    return write(header, rows)


def debtors_csv(report: DebtorsReport) -> bytes:
    header = (["Číslo zákazníka", "Zákazník", "E-mail", "Nejstarší splatnost",
               "Dní po splatnosti"]
              + [f"{label} dní" for label in report.buckets] + ["Celkem", "Faktury"])
    rows = [
        [d.customer_number, d.name, d.email or "", day(d.oldest_due), str(d.days_past_due)]
        + [number(d.amount(b)) for b in report.buckets]
        + [number(d.total), " ".join(i.number for i in d.invoices)]
        for d in report.debtors
    ]
    return write(header, rows)


# a payment's state as the console's Czech pages name it (web.labels "payment")
PAYMENT_STATES = {"matched": "spárováno", "unmatched": "nespárováno", "outgoing": "odchozí",
                  "dismissed": "odloženo", "cancelled": "stornováno"}


def payments_csv(journal: PaymentsJournal) -> bytes:
    header = ["Datum", "Částka", "Měna", "Zdroj", "Doklad", "Stav", "Číslo zákazníka",
              "Zákazník",
              "VS", "SS", "KS", "Protiúčet", "Název protiúčtu", "Zpráva", "Náš účet",
              "Uhrazené faktury", "Uhrazeno fakturám", "Přeplatek (kredit)"]
    rows = [
        [day(p.received_on), number(p.amount), p.currency,
         "hotovost" if p.source == "cash" else "banka", p.document,
         PAYMENT_STATES.get(p.status, p.status),
         p.customer_number or "", p.customer_name or "", p.variable_symbol or "",
         p.specific_symbol or "", p.constant_symbol or "", p.counter_account or "",
         p.counter_name or "", p.message or "", p.bank_account,
         " ".join(f"{inv}:{number(amount)}" for inv, amount in p.paid),
         number(p.allocated), number(p.credit)]
        for p in journal.payments
    ]
    return write(header, rows)
