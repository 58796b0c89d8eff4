"""``ispzone renewals ...``: services with an expiry (issue 15 items 4 and 5; helper
credit-services). The same steps run in credit-core's daily job (billing/credit/daily.py)
once it runs; these commands work on their own meanwhile and for an operator's hand."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask, current_app
from flask.cli import with_appcontext


def init_app(app: Flask) -> None:
    app.cli.add_command(renewals_group)


@click.group("renewals", help="Services with an expiry: renewals from credit, expiry, notices.")
def renewals_group() -> None:
    pass


def _day(text: str | None) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a date (YYYY-MM-DD)") from None


def _supplier():
    from billing.invoicing.supplier import Supplier

    return Supplier.from_config(current_app.config)


@renewals_group.command("run")
@click.option("--date", "on", help="The day to run as (YYYY-MM-DD; default today).")
@with_appcontext
def run_command(on: str | None) -> None:
    """The daily step: renewal orders paid by transfer, automatic renewals from credit
    (CREDIT_RENEW_DAYS_BEFORE, 11 days ahead), the expiry of what was not renewed, the
    low-credit and expiry notices (CREDIT_EXPIRY_NOTICE_DAYS, 15); then the e-mails."""
    from billing.credit import mail
    from billing.credit.notices import EXPIRY_NOTICE_DAYS, run_notices
    from billing.credit.renewals import RENEW_DAYS_BEFORE, run_renewals
    from core.clock import today
    from web.cli_door import cli_actor, run, sessions
    from web.mail import send_template

    day = _day(on) or today()
    config = current_app.config
    days = int(config.get("CREDIT_RENEW_DAYS_BEFORE", RENEW_DAYS_BEFORE))
    notice_days = int(config.get("CREDIT_EXPIRY_NOTICE_DAYS", EXPIRY_NOTICE_DAYS))
    actor = f"system:renewals ({cli_actor()})"
    supplier = _supplier()
    renewed = run(lambda s: run_renewals(s, supplier, day, days_before=days, actor=actor))
    click.echo(f"{day}: {renewed.as_dict()}")
    notices = run(lambda s: run_notices(s, day, expiry_days=notice_days))
    click.echo(f"{day}: notices {notices.as_dict()}")
    sent = mail.send_pending(sessions(), send_template)
    click.echo(f"{sent} e-mails sent")


@renewals_group.command("renew")
@click.argument("service_id", type=int)
@click.option("--transfer", is_flag=True, help="Issue the invoice now; renew when it is paid.")
@click.option("--operator", "by_operator", is_flag=True,
              help="Renew now and leave the invoice to be paid as usual.")
@with_appcontext
def renew_command(service_id: int, transfer: bool, by_operator: bool) -> None:
    """Renew one service for one period from its expiry: from the customer's credit (the
    default), by bank transfer, or by an operator's decision."""
    from billing.credit.renewals import order_renewal, renew
    from billing.models import RenewalSource, Service
    from web.cli_door import cli_actor, unit_of_work

    supplier = _supplier()
    with unit_of_work(refused="{error} (nothing was renewed)") as session:
        service = session.get(Service, service_id)
        if service is None:
            raise click.ClickException(f"no service {service_id}")
        if transfer:
            order = order_renewal(session, service, supplier, actor=cli_actor())
            click.echo(f"service {service_id}: renewal ordered, invoice id {order.invoice_id}")
            return
        source = RenewalSource.OPERATOR if by_operator else RenewalSource.CREDIT
        renewal = renew(session, service, supplier, paid_from=source, actor=cli_actor())
        click.echo(f"service {service_id}: {renewal.previous_expiry} -> {renewal.new_expiry} "
                   f"({renewal.amount} CZK, {renewal.paid_from})")


@renewals_group.command("set-expiry")
@click.argument("service_id", type=int)
@click.argument("expires_on")
@click.option("--months", type=int, help="Months per renewal (default: by the service's period).")
@with_appcontext
def set_expiry_command(service_id: int, expires_on: str, months: int | None) -> None:
    """Put a service on prepaid periods: paid up to and including EXPIRES_ON (YYYY-MM-DD, or
    'none' to take it off)."""
    from billing.credit.renewals import set_expiry
    from web.cli_door import cli_actor, unit_of_work

    day = None if expires_on.lower() == "none" else _day(expires_on)
    with unit_of_work(refused="{error} (nothing was changed)") as session:
        service = set_expiry(session, service_id, day, actor=cli_actor(), months=months)
        click.echo(f"service {service.id}: expires on {service.expires_on or '-'}")
