"""``ispzone credit ...``: the prepaid credit accounts (billing/credit/, docs/credit.md).

Each command is one unit of work through the CLI door; the e-mails the work queued are
sent after it committed (``send-mail`` sends what is still waiting)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from web.cli_door import cli_actor, read_only, run, sessions
from web.settings import apply


def init_app(app: Flask) -> None:
    from billing.credit import SETTINGS_DEFAULTS

    apply(app, SETTINGS_DEFAULTS)
    app.cli.add_command(credit_group)


def settings():
    from billing.credit import CreditSettings

    return CreditSettings.from_config(current_app.config)


def _supplier():
    from billing.invoicing.supplier import Supplier

    return Supplier.from_config(current_app.config)


def _customer(session, number: str):
    from sqlalchemy import select

    from billing.models import Customer
    from core.errors import Invalid

    customer = session.scalar(select(Customer).where(Customer.customer_number == number))
    if customer is None:
        raise Invalid(f"no customer {number}")
    return customer


def send_outbox() -> int:
    """Send the credit's queued e-mails (after the commit that queued them)."""
    from billing.credit.mail import send_pending
    from billing.credit.statements import statement_attachment
    from web.mail import send_template

    return send_pending(sessions(), send_template, statement_attachment(_supplier().name))


def _kc(amount, currency: str = "CZK") -> str:
    text = f"{Decimal(amount):,.2f}".replace(",", " ").replace(".", ",")
    return f"{text} {'Kč' if currency == 'CZK' else currency}"


@click.group("credit", cls=AppGroup, help="Prepaid credit accounts (docs/credit.md).")
def credit_group() -> None:
    pass


@credit_group.command("open")
@click.argument("customer_number")
@click.option("--currency", type=click.Choice(["CZK", "EUR"]), default="CZK", show_default=True)
@click.option("--auto-pay/--manual", default=False, help="Pay requests from credit automatically.")
def credit_open(customer_number: str, currency: str, auto_pay: bool) -> None:
    """Open a customer's credit account (as an operator: no consent form)."""
    from billing.credit import open_account

    def work(session):
        account = open_account(session, _customer(session, customer_number), currency,
                               actor=cli_actor(), auto_pay=auto_pay)
        return account.variable_symbol, account.currency

    vs, cur = run(work, refused=f"customer {customer_number}: {{error}}")
    click.echo(f"credit account of {customer_number} opened in {cur}; permanent VS {vs}")


@credit_group.command("show")
@click.argument("customer_number")
def credit_show(customer_number: str) -> None:
    """The account, its credit and its auto-pay switch."""
    from billing.credit import account_of, credit_balance

    with read_only() as session:
        customer = _customer(session, customer_number)
        account = account_of(session, customer.id)
        if account is None:
            raise click.ClickException(f"customer {customer_number} has no credit account")
        state = "closed" if account.closed_at else "open"
        click.echo(f"{customer_number}: {state}, {account.currency}, VS {account.variable_symbol}, "
                   f"credit {_kc(credit_balance(session, customer.id), account.currency)}, "
                   f"auto-pay {'on' if account.auto_pay else 'off'}")


@credit_group.command("topup")
@click.argument("customer_number")
@click.argument("amount")
def credit_topup(customer_number: str, amount: str) -> None:
    """Issue a top-up request of AMOUNT without VAT (e.g. 500 or 1250,50)."""
    from billing.credit.topups import request_topup
    from core.errors import Invalid

    try:
        value = Decimal(amount.replace(" ", "").replace(",", "."))
    except ArithmeticError:
        raise click.ClickException(f"{amount!r} is not an amount") from None
    del Invalid

    def work(session):
        invoice = request_topup(session, _customer(session, customer_number), value,
                                supplier=_supplier(), settings=settings(), actor=cli_actor())
        return invoice.number, invoice.total, invoice.currency

    number, total, cur = run(work, refused=f"customer {customer_number}: {{error}}")
    click.echo(f"top-up request {number}: {_kc(total, cur)} to pay")


@credit_group.command("auto-pay")
@click.argument("customer_number")
@click.argument("state", type=click.Choice(["on", "off"]))
def credit_auto_pay(customer_number: str, state: str) -> None:
    """Switch automatic payment from credit on or off."""
    from billing.credit import set_auto_pay

    run(lambda session: set_auto_pay(session, _customer(session, customer_number).id,
                                     state == "on", actor=cli_actor()),
        refused=f"customer {customer_number}: {{error}}")
    click.echo(f"auto-pay of {customer_number}: {state}")


@credit_group.command("daily")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="The day to run for (default today, Prague).")
@click.option("--step", "steps", multiple=True, help="Only these steps (repeatable).")
@click.option("--no-mail", is_flag=True, help="Leave the e-mails queued.")
def credit_daily(on, steps, no_mail: bool) -> None:
    """The daily credit job: top-ups, auto-pay, statements, closings (and what plugs in)."""
    from billing.credit.daily import DailyContext, run_daily
    from core.clock import today

    day = on.date() if on else today()
    ctx = DailyContext(day, settings(), actor=cli_actor(), supplier=_supplier())
    report = run_daily(sessions(), ctx, list(steps) or None)
    for name, result in report.steps.items():
        click.echo(f"{name}: " + ", ".join(f"{k} {v}" for k, v in result.items()))
    for name, message in report.refused.items():
        click.echo(f"{name}: refused: {message}", err=True)
    if not no_mail:
        click.echo(f"e-mails sent: {send_outbox()}")


@credit_group.command("send-mail")
def credit_send_mail() -> None:
    """Send the queued credit e-mails."""
    click.echo(f"e-mails sent: {send_outbox()}")


@credit_group.command("close")
@click.argument("customer_number")
@click.option("--bank-account", required=True, help="Where the unused credit goes back.")
def credit_close(customer_number: str, bank_account: str) -> None:
    """Ask for closing; the account closes at the start of a month after a month without
    transactions (the daily job does it, or at once when that holds today)."""
    from billing.credit.closing import close_account, may_close_on, request_closing
    from core.clock import today

    def work(session):
        customer = _customer(session, customer_number)
        request_closing(session, customer.id, bank_account, actor=cli_actor())
        if may_close_on(session, customer.id, today()):
            refund = close_account(session, customer.id, actor=cli_actor())
            return "closed" + (f"; refund #{refund.id} of {_kc(refund.amount, refund.currency)} "
                               f"to {refund.bank_account}" if refund else "")
        return "closing requested (closes at the start of a month after a quiet month)"

    click.echo(f"{customer_number}: " + run(work, refused=f"customer {customer_number}: {{error}}"))
    send_outbox()


@credit_group.command("refunds")
def credit_refunds() -> None:
    """Refunds waiting for the operator to send the money."""
    from billing.credit.closing import pending_refunds

    with read_only() as session:
        for refund in pending_refunds(session):
            click.echo(f"#{refund.id}\t{_kc(refund.amount, refund.currency)}\t{refund.bank_account}")


@credit_group.command("refund-sent")
@click.argument("refund_id", type=int)
def credit_refund_sent(refund_id: int) -> None:
    """Mark a refund sent (after the bank transfer)."""
    from billing.credit.closing import mark_refund_sent

    run(lambda session: mark_refund_sent(session, refund_id, actor=cli_actor()),
        refused=f"refund {refund_id}: {{error}}")
    click.echo(f"refund #{refund_id} marked sent")


@credit_group.command("export")
@click.argument("customer_number")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]), required=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), required=True)
@click.option("--pdf", is_flag=True, help="A PDF statement instead of CSV.")
def credit_export(customer_number: str, start, end, output: Path, pdf: bool) -> None:
    """The credit movements of a period as CSV (or a PDF statement)."""
    from billing.credit.statements import export_csv, period, render_statement_pdf

    with read_only() as session:
        customer = _customer(session, customer_number)
        data = period(session, customer.id, start.date(), end.date())
        output.write_bytes(render_statement_pdf(data, customer, _supplier().name) if pdf
                           else export_csv(data))
    click.echo(f"{len(data.movements)} movements written to {output}")


def _today() -> date:  # pragma: no cover
    from core.clock import today

    return today()
