"""``ispzone rates import FILE | --fetch``: ČNB's daily exchange rates, by which a tax
document in a foreign currency states its VAT in CZK (billing/rates.py,
docs/credit.md "EUR tax documents")."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    app.cli.add_command(rates_group)


@click.group("rates", help="ČNB exchange rates (the VAT in CZK of foreign-currency tax documents).")
def rates_group() -> None:
    pass


@rates_group.command("import")
@click.argument("file", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--fetch", is_flag=True, help="Download the file from ČNB (CNB_RATES_URL) instead.")
@click.option("--date", "day", help="With --fetch: the day's file (YYYY-MM-DD; default the latest).")
@with_appcontext
def import_command(file: Path | None, fetch: bool, day: str | None) -> None:
    """Store ČNB's daily file ("denni_kurz.txt"): all or nothing, a bad line refused with its
    number; a day already stored is kept (another rate for it is refused)."""
    from datetime import date

    from billing import rates
    from billing.invoicing.receipts import waiting_for_rate
    from web.cli_door import cli_actor, run

    if bool(file) == bool(fetch):
        raise click.UsageError("give the FILE or --fetch (one of them)")
    if fetch:
        try:
            wanted = date.fromisoformat(day) if day else None
        except ValueError:
            raise click.BadParameter(f"{day!r} is not a date (YYYY-MM-DD)") from None
        url = current_app.config.get("CNB_RATES_URL") or rates.CNB_URL
        try:
            text = rates.fetch_cnb(wanted, url=url)
        except OSError as exc:
            raise click.ClickException(f"ČNB's rates could not be downloaded from {url}: {exc}") from None
        source = url
    else:
        raw = file.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("cp1250")
        source = str(file)
    report = run(lambda s: rates.import_rates(s, text, source=source, actor=cli_actor()))
    click.echo(str(report))
    waiting = run(waiting_for_rate)
    for number, currency, received in waiting:
        click.echo(f"  still waiting for the {currency} rate of {received.isoformat()}: "
                   f"the receipt of advance invoice {number}")
    if report.stored and not waiting:
        click.echo("  run `ispzone invoices receipts` (or the daily credit job) to issue the "
                   "receipts that waited for it")
