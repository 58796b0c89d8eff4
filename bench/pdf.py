"""CPU cost of one invoice PDF (billing/documents/pdf.py render_invoice_pdf), as the monthly
run's workers pay it (docs/monthly-run.md; target: <= 7 ms per PDF).

    .venv/bin/python bench/pdf.py            # 500 invoices
    .venv/bin/python bench/pdf.py -n 2000 --profile 30   # and the top 30 of cProfile
    .venv/bin/python bench/pdf.py --out /tmp/inv   # also write one open and one paid PDF

Typical invoices of a monthly run: 1-4 lines (internet, a TV package, a router rental, a
discount), the supplier's bank account (so an open invoice carries a QR Platba), every
invoice its own number and symbols (so the QR of each is encoded anew, as in the run) and a
customer name and address of its own among ~1000 (so the characters come in many orders). Half
are open (QR), half paid ("UHRAZENO", no QR). The invoices are transient ORM objects (no
database: the renderer reads only the invoice's snapshot). CPU time is time.process_time()
of this process, which other processes' load does not inflate much; the load average is
printed beside it.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from billing.documents.pdf import render_invoice_pdf  # noqa: E402
from billing.models import Invoice, InvoiceLine, InvoiceVatRecap  # noqa: E402

CATALOGUE = [
    ("Internet Optik 300/300 Mb/s – měsíční paušál", Decimal("1"), "měs.", Decimal("590.00")),
    ("IPTV balíček Standard", Decimal("1"), "měs.", Decimal("249.00")),
    ("Pronájem Wi-Fi routeru", Decimal("1"), "měs.", Decimal("49.00")),
    ("Veřejná IPv4 adresa", Decimal("1"), "měs.", Decimal("100.00")),
    ("Sleva za věrnost (12 měsíců)", Decimal("1"), "ks", Decimal("-50.00")),
]
FIRST = ["Žaneta", "Jiří", "Petra", "Šimon", "Ondřej", "Tereza", "Lukáš", "Věra", "Adam",
         "Kateřina", "Matěj"]
LAST = ["Řeháková", "Dvořák", "Nováková", "Čermák", "Kůs", "Horák", "Ševčíková", "Beneš",
        "Pokorná", "Zedník", "Fiala", "Jelínková", "Kučera"]
STREETS = ["Šafaříkova", "Husova", "Náměstí Míru", "Žižkova", "Lidická", "Vrchlického",
           "Komenského", "U Nádraží"]
TOWNS = ["286 01 Čáslav", "110 00 Praha 1", "120 00 Praha 2", "586 01 Jihlava",
         "602 00 Brno", "370 01 České Budějovice", "779 00 Olomouc"]
RATE = Decimal("21")


def make_invoice(i: int) -> Invoice:
    issued = date(2026, 12, 1)
    picks = [CATALOGUE[(i + k) % len(CATALOGUE)] for k in range(1 + i % 4)]
    lines, net_sum, vat_sum, gross_sum = [], Decimal(0), Decimal(0), Decimal(0)
    for pos, (desc, qty, unit, price) in enumerate(picks, 1):
        gross = (qty * price).quantize(Decimal("0.01"))
        vat = (gross * RATE / (100 + RATE)).quantize(Decimal("0.01"))
        net = gross - vat
        lines.append(InvoiceLine(position=pos, description=desc, quantity=qty, unit=unit,
                                 unit_price=price, prices_include_vat=True, vat_rate=RATE,
                                 net=net, vat=vat, gross=gross))
        net_sum, vat_sum, gross_sum = net_sum + net, vat_sum + vat, gross_sum + gross
    number = f"2026{i + 1:06d}"
    return Invoice(
        number=number, kind="regular", issue_date=issued, taxable_date=issued,
        due_date=issued + timedelta(days=14), variable_symbol=number,
        specific_symbol=f"{100000 + i}", currency="CZK", total_net=net_sum,
        total_vat=vat_sum, total=gross_sum, note=None, correction_reason=None,
        corrects_invoice_id=None,
        supplier_name="Příkladnet s.r.o.",
        supplier_address="Vinohradská 1511/230, 100 00 Praha 10",
        supplier_ico="27074358", supplier_dic="CZ27074358",
        supplier_account="2001234561/2010", supplier_iban="CZ1520100000002001234561",
        supplier_register="zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345",
        customer_name=f"{FIRST[i % len(FIRST)]} {LAST[i % len(LAST)]}",
        customer_address=f"{STREETS[i % len(STREETS)]} {1 + i % 97}, {TOWNS[i % len(TOWNS)]}",
        customer_ico=None, customer_dic=None,
        lines=lines,
        vat_recap=[InvoiceVatRecap(rate=RATE, base=net_sum, vat=vat_sum, total=gross_sum)],
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", type=int, default=500, help="invoices to render (default 500)")
    ap.add_argument("--profile", type=int, default=0, metavar="TOP",
                    help="run under cProfile and print the TOP functions (tottime, cumulative)")
    ap.add_argument("--out", help="write <out>-open.pdf and <out>-paid.pdf")
    args = ap.parse_args()

    jobs = [(make_invoice(i), None) for i in range(args.n)]
    jobs = [(inv, inv.total if i % 2 == 0 else Decimal("0.00")) for i, (inv, _) in enumerate(jobs)]
    warm = render_invoice_pdf(*jobs[0])  # fonts, imports: once per worker process
    if args.out:
        Path(f"{args.out}-open.pdf").write_bytes(warm)
        Path(f"{args.out}-paid.pdf").write_bytes(render_invoice_pdf(*jobs[1]))

    profiler = cProfile.Profile() if args.profile else None
    load_before = os.getloadavg()
    sizes = {True: [], False: []}
    if profiler:
        profiler.enable()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for invoice, open_amount in jobs:
        sizes[open_amount > 0].append(len(render_invoice_pdf(invoice, open_amount)))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if profiler:
        profiler.disable()
    load_after = os.getloadavg()

    n = len(jobs)
    print(f"invoices rendered: {n} (open with QR Platba: {len(sizes[True])}, "
          f"paid: {len(sizes[False])})")
    print(f"CPU per PDF:  {cpu / n * 1000:.2f} ms  (process_time; target <= 7 ms)"
          + ("  [under cProfile: inflated]" if profiler else ""))
    print(f"wall per PDF: {wall / n * 1000:.2f} ms")
    for label, key in (("open", True), ("paid", False)):
        if sizes[key]:
            print(f"PDF size {label}: mean {sum(sizes[key]) / len(sizes[key]) / 1024:.1f} kB")
    print("load average: before {:.2f} {:.2f} {:.2f}, after {:.2f} {:.2f} {:.2f} "
          "(2 cores, shared)".format(*load_before, *load_after))
    if profiler:
        stats = pstats.Stats(profiler)
        stats.sort_stats("tottime").print_stats(args.profile)
        stats.sort_stats("cumulative").print_stats(args.profile)


if __name__ == "__main__":
    main()
