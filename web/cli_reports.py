"""``ispzone reports``: the VAT report with the kontrolní hlášení split, debtors by age, the
payments journal (each printed, and as CSV with ``--csv FILE``) and the Pohoda XML of a
period's invoices. The commands only read (``read_only``); the domain is billing/reports/.
docs/reports.md explains each report."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import click
from flask import Flask
from flask.cli import AppGroup

from billing.reports import csv_export
from billing.reports.period import Period, month_of
from core.clock import today
from core.errors import DomainError
from web.cli_door import read_only, refusal

DATE = click.DateTime(["%Y-%m-%d"])


def init_app(app: Flask) -> None:
    app.cli.add_command(reports_group)


@click.group("reports", cls=AppGroup, help="Reports: VAT, debtors, payments, Pohoda export.")
def reports_group() -> None:
    pass


def _period(start, end) -> Period:
    """--from/--to (Prague dates, both included); without them the previous month."""
    if start is None and end is None:
        return month_of(today().replace(day=1) - timedelta(days=1))
    if start is None or end is None:
        raise click.UsageError("give both --from and --to (or neither: the previous month)")
    try:
        return Period(start.date(), end.date())
    except DomainError as exc:
        raise refusal(exc) from exc


def _write(path: Path | None, data: bytes, what: str) -> None:
    if path is None:
        return
    path.write_bytes(data)
    click.echo(f"{what} written to {path} ({len(data)} bytes)")


def _money(value) -> str:
    return f"{value:>14,.2f}".replace(",", " ")


period_options = [
    click.option("--from", "start", type=DATE, default=None, help="First day (YYYY-MM-DD)."),
    click.option("--to", "end", type=DATE, default=None, help="Last day, included."),
]


def with_period(fn):
    for option in reversed(period_options):
        fn = option(fn)
    return fn


@reports_group.command("vat")
@with_period
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the period's tax documents as CSV.")
@click.option("--kh-csv", "kh_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the kontrolní hlášení A.4 rows and A.5 sums as CSV.")
def reports_vat(start, end, csv_path: Path | None, kh_path: Path | None) -> None:
    """VAT per rate from every tax document of the period (invoices, credit notes, tax
    documents for received advance payments), with the kontrolní hlášení A.4/A.5 split."""
    from billing.reports.vat import vat_report

    period = _period(start, end)
    with read_only() as session:
        report = vat_report(session, period)
    click.echo(f"VAT {period.start.isoformat()} .. {period.end.isoformat()}: "
               f"{len(report.documents)} tax documents")
    click.echo(f"{'rate':>6} {'base':>14} {'VAT':>14}")
    for rate in report.rates:
        amounts = report.total(rate)
        click.echo(f"{rate:>5} % {_money(amounts.base)} {_money(amounts.vat)}")
    click.echo(f"{'total':>7} {_money(report.total_base)} {_money(report.total_vat)}")
    click.echo(f"kontrolní hlášení A.4: {len(report.a4)} documents")
    for doc in report.a4:
        parts = "  ".join(f"{r} %: {doc.amounts(r).base} / {doc.amounts(r).vat}"
                          for r in report.taxed_rates if doc.amounts(r).base or doc.amounts(r).vat)
        click.echo(f"  {doc.dic:<14} {doc.number:<12} {doc.taxable_date.isoformat()}  {parts}")
    click.echo("kontrolní hlášení A.5: " + "  ".join(
        f"{r} %: {report.a5_amounts(r).base} / {report.a5_amounts(r).vat}"
        for r in report.taxed_rates))
    _write(csv_path, csv_export.vat_csv(report), "tax documents")
    _write(kh_path, csv_export.kh_csv(report), "kontrolní hlášení")


@reports_group.command("debtors")
@click.option("--on", "--to", "on", type=DATE, default=None,
              help="As of this day (default today, Prague).")
@click.option("--from", "_start", type=DATE, default=None, hidden=True)
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the report as CSV.")
def reports_debtors(on, _start, csv_path: Path | None) -> None:
    """Customers with open overdue invoices, their debt by days past due (0-30, 31-60,
    61-90, 90+), as of a day."""
    from billing.reports.debtors import debtors_report

    day: date = on.date() if on else today()
    with read_only() as session:
        report = debtors_report(session, day)
    click.echo(f"debtors as of {day.isoformat()}: {len(report.debtors)} customers, "
               f"{report.total()} CZK overdue")
    click.echo(f"{'customer':<10} " + " ".join(f"{b:>12}" for b in report.buckets)
               + f" {'total':>12}  name")
    for d in report.debtors:
        click.echo(f"{d.customer_number:<10} "
                   + " ".join(f"{d.amount(b):>12}" for b in report.buckets)
                   + f" {d.total:>12}  {d.name}")
    click.echo(f"{'total':<10} " + " ".join(f"{report.total(b):>12}" for b in report.buckets)
               + f" {report.total():>12}")
    _write(csv_path, csv_export.debtors_csv(report), "debtors")


@reports_group.command("payments")
@with_period
@click.option("--csv", "csv_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the journal as CSV.")
def reports_payments(start, end, csv_path: Path | None) -> None:
    """Every payment received in the period: customer, symbols, what it paid."""
    from billing.reports.payments import payments_journal

    period = _period(start, end)
    with read_only() as session:
        journal = payments_journal(session, period)
    click.echo(f"payments {period.start.isoformat()} .. {period.end.isoformat()}: "
               f"{len(journal.payments)} received, {journal.total} CZK")
    for p in journal.payments:
        paid = ", ".join(f"{number} {amount}" for number, amount in p.paid) or "-"
        click.echo(f"{p.received_on.isoformat()} {p.amount:>12} {p.status:<9} "
                   f"{p.customer_number or '-':<10} VS {p.variable_symbol or '-':<10} "
                   f"SS {p.specific_symbol or '-':<10} paid: {paid}")
    _write(csv_path, csv_export.payments_csv(journal), "payments journal")


@reports_group.command("pohoda")
@with_period
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def reports_pohoda(start, end, file: Path) -> None:
    """Write the period's invoices and credit notes (by DUZP) as a Pohoda XML import file."""
    from billing.reports.pohoda import period_documents, pohoda_xml
    from web.cli import supplier

    period = _period(start, end)
    with read_only() as session:
        try:
            data = pohoda_xml(session, period, supplier())
        except DomainError as exc:
            raise refusal(exc, "{error} (nothing was written)") from exc
        count = len(period_documents(session, period))
    file.write_bytes(data)
    click.echo(f"{count} documents written to {file} (Pohoda XML, {len(data)} bytes)")
