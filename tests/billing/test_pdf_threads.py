"""Invoice PDFs rendered by several threads of one process at once are the same bytes as
rendered one after another (docs/performance.md, "Thread safety": reportlab keeps a
process-wide font registry and per-document state in each font, and billing.documents.pdf_kit
caches font subsets and line breaks; this is what a gthread worker serving the PDF routes, or
a worker rendering in threads, relies on)."""

from __future__ import annotations

import dataclasses
import random
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from decimal import Decimal

import pytest
from reportlab import rl_config

from billing.documents.pdf import render_invoice_pdf
from billing.invoicing.issue import IssueOptions, issue_invoice
from billing.invoicing.vat import LineInput

ISSUED = date(2026, 12, 1)
VALID_BANK = {"account": "2001234561/2010", "iban": "CZ1520100000002001234561"}


@pytest.fixture
def invariant_pdfs(monkeypatch):
    """reportlab's invariant mode: no creation date, a fixed document id, so that two
    renders of one invoice can be compared byte for byte."""
    monkeypatch.setattr(rl_config, "invariant", 1)
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # threads switch often: the interleavings a race needs
    yield
    sys.setswitchinterval(old)


def _lines(n: int, rate: str = "21") -> list[LineInput]:
    return [LineInput(f"Položka č. {i} – připojení Žluťoučký kůň {i * 7}",
                      Decimal(i % 3 + 1), Decimal(f"{100 + i}.{i % 100:02d}"), Decimal(rate))
            for i in range(1, n + 1)]


def test_invoices_rendered_in_threads_are_the_serial_bytes(
        session, make_customer, supplier, invariant_pdfs):
    supplier = dataclasses.replace(supplier, **VALID_BANK)
    customers = [make_customer(name=name) for name in
                 ("Jan Novák", "Řehoř Šťastný", "Firma s.r.o.", "Ödön Müller")]
    invoices = []
    for i, customer in enumerate(customers):
        invoices.append(issue_invoice(session, customer, _lines(3) + _lines(2, "12"), supplier,
                                      IssueOptions(kind="goods", issue_date=ISSUED)))
        invoices.append(issue_invoice(session, customer, _lines(1), supplier,
                                      IssueOptions(kind="advance", issue_date=ISSUED)))
        if i == 0:  # a long one: several pages, many line breaks
            invoices.append(issue_invoice(session, customer, _lines(90), supplier,
                                          IssueOptions(kind="goods", issue_date=ISSUED)))
    # open amounts differ: with a QR Platba and without
    jobs = [(inv, inv.total if k % 2 else Decimal("0.00")) for k, inv in enumerate(invoices)]

    serial = [render_invoice_pdf(inv, due) for inv, due in jobs]
    assert serial == [render_invoice_pdf(inv, due) for inv, due in jobs], \
        "two serial renders differ: the comparison below would mean nothing"
    assert len(set(serial)) == len(serial)

    order = [k for k in range(len(jobs)) for _ in range(6)]
    random.Random(17).shuffle(order)
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda k: (k, render_invoice_pdf(*jobs[k])), order))
    wrong = [k for k, pdf in results if pdf != serial[k]]
    assert not wrong, f"{len(wrong)} of {len(results)} threaded renders differ"
