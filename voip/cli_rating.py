"""``ispzone voip tariffs import`` and ``ispzone voip cdr import``."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from web.cli_door import cli_actor, run, unit_of_work


@click.group("tariffs", help="VoIP price lists.")
def tariffs_group() -> None:
    pass


@click.group("cdr", help="Asterisk call records.")
def cdr_group() -> None:
    pass


@tariffs_group.command("import")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--valid-from", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="First day the tariff applies (YYYY-MM-DD; default today, may be in the future).")
@click.option("--name", default=None, help="The tariff's name (default: the file name).")
@click.option("--replace", is_flag=True, help="Replace the tariff already valid from that day.")
def tariffs_import(file: Path, valid_from, name: str | None, replace: bool) -> None:
    """Import a price list CSV (see docs/voip-tariffs.md); all rows or nothing."""
    from voip.tariff_import import import_tariff_csv

    day: date | None = valid_from.date() if valid_from else None

    def work(session) -> str:
        tariff = import_tariff_csv(
            session, file, valid_from=day, name=name, actor=cli_actor(), replace=replace
        )
        return f"tariff {tariff.name!r} valid from {tariff.valid_from}: {len(tariff.rates)} prefixes"

    click.echo(run(work, refused=f"{file}:\n{{error}}\n(nothing was imported)"))


@cdr_group.command("import")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--skip-unrated", is_flag=True,
              help="Import the file even if some calls match no tariff prefix (they are skipped).")
def cdr_import(file: Path, skip_unrated: bool) -> None:
    """Rate and store the answered calls of an Asterisk Master.csv; deduct them from credit."""
    from voip.cdr import import_cdr

    tz = current_app.config.get("VOIP_CDR_TIMEZONE", "Europe/Prague")
    result = run(
        lambda session: import_cdr(
            session, file, actor=cli_actor(), skip_unrated=skip_unrated, timezone=tz
        ),
        refused=f"{file}:\n{{error}}\n(nothing was imported)",
    )
    click.echo(result)
    if result.low_credit:
        sent = send_low_credit_mails(result.low_credit)
        click.echo(f"low-credit e-mails sent: {sent} of {len(result.low_credit)}")


def send_low_credit_mails(service_ids: list[int]) -> int:
    """One e-mail per line whose credit fell below its threshold, in the customer's
    language. The flag was set in the import's transaction, so a re-run sends nothing; when
    the mail cannot be sent the flag is cleared again, so the next import retries."""
    from billing.models import Customer, Service
    from voip.models import VoipLine
    from web.mail import send_template

    sent = 0
    public = current_app.config.get("PUBLIC_URL")
    link = f"{public.rstrip('/')}/voip/" if public else None
    with unit_of_work() as session:
        for service_id in service_ids:
            service = session.get(Service, service_id)
            line = session.get(VoipLine, service_id)
            customer = session.get(Customer, service.customer_id)
            if not customer.email:
                continue
            if send_template(customer.email, "voip_low_credit", lang=customer.language or "cs",
                             customer=customer, service=service, line=line, link=link):
                sent += 1
            else:
                line.low_credit_notified = False
    return sent
