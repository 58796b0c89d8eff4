"""The money acts as commands (docs/money-acts.md), added to the ``invoices`` and
``payments`` groups of web/cli.py:

    ispzone invoices preview --month YYYY-MM
    ispzone invoices one-off CUSTOMER --line "Popis;množství;cena;sazba[;jednotka]" ... [--goods]
    ispzone invoices credit-note NUMBER --reason R (--all | --line POS[=quantity|=amount Kč]...)
    ispzone invoices resend NUMBER
    ispzone invoices pdf NUMBER OUT
    ispzone payments cash CUSTOMER AMOUNT [--invoice NUMBER] [--note N] [--receipt OUT]
    ispzone payments cash-cancel RECEIPT --reason R [--document OUT]

Each runs one domain function through the CLI door (``web.cli_door``) with the operator of
``ispzone --as LOGIN`` as the audit actor; e-mails go after the commit (billing.jobs).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from billing.invoicing.supplier import Supplier
from web.cli_door import cli_actor, read_only, refusal, run, sessions

invoices_commands: list[click.Command] = []
payments_commands: list[click.Command] = []


def add_commands(invoices_group: click.Group, payments_group: click.Group) -> None:
    """Add the money acts to web/cli.py's ``invoices`` and ``payments`` groups."""
    for command in invoices_commands:
        invoices_group.add_command(command)
    for command in payments_commands:
        payments_group.add_command(command)


def _invoices(name: str):
    def wrap(fn):
        command = click.command(name)(with_appcontext(fn))
        invoices_commands.append(command)
        return command
    return wrap


def _payments(name: str):
    def wrap(fn):
        command = click.command(name)(with_appcontext(fn))
        payments_commands.append(command)
        return command
    return wrap


def supplier() -> Supplier:
    return Supplier.from_config(current_app.config)


def send_invoices(invoice_ids: list[int]) -> tuple[int, int]:
    """E-mail issued invoices with their PDF (billing.jobs); (sent, without an address)."""
    from billing.jobs import send_invoice_emails
    from web.mail import send_template

    report = send_invoice_emails(sessions(), invoice_ids, send_template)
    for number in report.failed:
        click.echo(f"invoice {number}: not sent (see the log)", err=True)
    return report.sent, report.without_email


def _issue_receipts() -> None:
    """Tax documents for payments on advance invoices, after the commit (billing.jobs)."""
    from billing.jobs import issue_receipts_after_pairing
    from core.errors import DomainError

    try:
        issued = issue_receipts_after_pairing(sessions(), actor=cli_actor())
    except DomainError as exc:  # reported; the committed payment stands
        click.echo(f"tax documents for received advance payments: not issued: {exc}", err=True)
        return
    if issued:
        click.echo(f"{len(issued)} tax documents for received advance payments issued: "
                   + ", ".join(issued))


def _customer(session, number: str):
    from billing.customers.credentials import find_customer

    customer = find_customer(session, number)
    if customer is None:
        raise click.ClickException(f"no customer {number}")
    return customer


def _invoice(session, number: str):
    from sqlalchemy import select

    from billing.models import Invoice

    invoice = session.scalar(select(Invoice).where(Invoice.number == number.strip()))
    if invoice is None:
        raise click.ClickException(f"no invoice {number}")
    return invoice


@_invoices("preview")
@click.option("--month", required=True, help="YYYY-MM")
def invoices_preview(month: str) -> None:
    """Who the month's run would invoice and how much (per customer, totals per VAT rate),
    issuing and writing nothing."""
    from billing.invoicing.preview import preview_month
    from core.clock import today

    with read_only() as session:
        try:
            preview = preview_month(session, month, today())
        except ValueError as exc:
            raise click.ClickException(str(exc)) from exc
        for item in preview.invoices:
            click.echo(f"{item.customer_number:>10}  {item.customer_name[:40]:<40} "
                       f"{item.total:>12} CZK  ({len(item.document.lines)} lines)")
        click.echo(preview)


def _parse_cli_line(text: str):
    from billing.invoicing.one_off import OneOffLine

    parts = [p.strip() for p in text.split(";")]
    if len(parts) < 3 or len(parts) > 5:
        raise click.BadParameter(f"{text!r}: give 'description;quantity;unit price[;VAT rate[;unit]]'")
    return OneOffLine(parts[0], parts[1], parts[2], parts[3] if len(parts) > 3 else "21",
                      parts[4] if len(parts) > 4 else "ks")


@_invoices("one-off")
@click.argument("customer_number")
@click.option("--line", "lines", multiple=True, required=True,
              help="'description;quantity;unit price with VAT;VAT rate;unit' (rate 21, unit ks "
                   "by default); repeat for more lines.")
@click.option("--goods", is_flag=True, help="A goods invoice (a router sold...).")
@click.option("--without-vat", is_flag=True, help="The unit prices are without VAT.")
@click.option("--due-days", type=int, default=14, show_default=True)
@click.option("--note", default=None)
@click.option("--no-email", is_flag=True, help="Issue only; e-mail nothing.")
def invoices_one_off(customer_number, lines, goods, without_vat, due_days, note, no_email):
    """Issue a one-off (or goods) invoice for a customer and e-mail it with its PDF."""
    from billing.invoicing.one_off import issue_one_off

    parsed = [_parse_cli_line(text) for text in lines]

    def work(session):
        invoice = issue_one_off(
            session, _customer(session, customer_number), parsed, supplier(), actor=cli_actor(),
            kind="goods" if goods else "regular", prices_include_vat=not without_vat,
            due_days=due_days, note=note)
        return invoice.id, invoice.number, invoice.total

    invoice_id, number, total = run(work)
    click.echo(f"invoice {number} issued: {total} CZK")
    if not no_email:
        sent, _ = send_invoices([invoice_id])
        click.echo("e-mailed" if sent else "not e-mailed (no address or the send failed)")


def _parse_credit_line(text: str, by_position: dict):
    from billing.invoicing.issue import CreditLine

    position, _, rest = text.partition("=")
    line = by_position.get(position.strip())
    if line is None:
        raise click.BadParameter(f"{text!r}: the invoice has no line {position.strip()}")
    rest = rest.strip().replace(",", ".")
    if not rest:
        return CreditLine(line.id)
    try:
        if rest.lower().endswith("kč"):
            return CreditLine(line.id, amount=Decimal(rest[:-2].strip()))
        return CreditLine(line.id, quantity=Decimal(rest))
    except ArithmeticError:
        raise click.BadParameter(f"{text!r}: not a number") from None


@_invoices("credit-note")
@click.argument("invoice_number")
@click.option("--reason", required=True, help="Why (printed on the credit note, § 45).")
@click.option("--all", "whole", is_flag=True, help="Credit every line (what is left of it).")
@click.option("--line", "lines", multiple=True,
              help="POS (all that is left of line POS), POS=QUANTITY, or POS=AMOUNTKč "
                   "(e.g. 2=150Kč); repeat for more lines.")
@click.option("--no-email", is_flag=True)
def invoices_credit_note(invoice_number, reason, whole, lines, no_email):
    """Issue a credit note (opravný daňový doklad) for an invoice's lines, with the reason."""
    from billing.invoicing.issue import CreditLine, credit_invoice, line_remainders

    if whole == bool(lines):
        raise click.UsageError("give --all or one or more --line")

    def work(session):
        invoice = _invoice(session, invoice_number)
        if whole:
            left = line_remainders(session, invoice)
            selections = [CreditLine(ln.id) for ln in invoice.lines if left[ln.id] > 0]
        else:
            by_position = {str(ln.position): ln for ln in invoice.lines}
            selections = [_parse_credit_line(text, by_position) for text in lines]
        note = credit_invoice(session, invoice, selections, supplier(), reason, actor=cli_actor())
        return note.id, note.number, note.total

    note_id, number, total = run(work)
    click.echo(f"credit note {number} issued: {total} CZK")
    if not no_email:
        sent, _ = send_invoices([note_id])
        click.echo("e-mailed" if sent else "not e-mailed (no address or the send failed)")


@_invoices("resend")
@click.argument("invoice_number")
def invoices_resend(invoice_number: str) -> None:
    """E-mail an issued invoice again with its PDF (audited)."""
    from billing.jobs import resend_invoice_email
    from core.errors import DomainError
    from web.mail import send_template

    with read_only() as session:
        invoice_id = _invoice(session, invoice_number).id
    try:
        report = resend_invoice_email(sessions(), invoice_id, send_template, actor=cli_actor())
    except DomainError as exc:
        raise refusal(exc) from exc
    if not report.sent:
        raise click.ClickException(f"invoice {invoice_number}: not sent (see the log)")
    click.echo(f"invoice {invoice_number} e-mailed again")


@_invoices("pdf")
@click.argument("invoice_number")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
def invoices_pdf(invoice_number: str, out: Path) -> None:
    """Write an invoice's (or credit note's) PDF to OUT."""
    from billing.documents.pdf import render_invoice_pdf
    from billing.ledger.balances import states_for
    from core.clock import today

    with read_only() as session:
        invoice = _invoice(session, invoice_number)
        state = states_for(session, [invoice], today())[0]
        out.write_bytes(render_invoice_pdf(invoice, state.open_amount))
    click.echo(f"{out} written")


@_payments("cash")
@click.argument("customer_number")
@click.argument("amount")
@click.option("--invoice", "invoice_number", default=None,
              help="Pay this invoice first (else the oldest open ones).")
@click.option("--note", default=None)
@click.option("--receipt", "receipt_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the receipt's PDF here.")
def payments_cash(customer_number, amount, invoice_number, note, receipt_out):
    """Record cash received from a customer, with its receipt (příjmový pokladní doklad):
    it pays the oldest open invoices (or --invoice first), the rest is credit (audited)."""
    from billing.cash.payments import take_cash_payment
    from billing.documents.cash_receipt import render_cash_receipt_pdf
    def work(session):
        customer = _customer(session, customer_number)
        invoice = _invoice(session, invoice_number) if invoice_number else None
        done = take_cash_payment(session, customer, amount, supplier(), actor=cli_actor(),
                                 invoice=invoice, note=note)
        pdf = render_cash_receipt_pdf(done.receipt) if receipt_out else None
        return done.receipt.number, done.receipt.purpose, pdf

    number, purpose, pdf = run(work)
    click.echo(f"cash receipt {number}: {purpose}".replace("\u00a0", " "))
    if receipt_out:
        receipt_out.write_bytes(pdf)
        click.echo(f"{receipt_out} written")
    _issue_receipts()  # a cash payment on an advance invoice is due its tax document too


@_payments("cash-cancel")
@click.argument("receipt_number")
@click.option("--reason", required=True, help="Why the receipt is cancelled (printed).")
@click.option("--document", "document_out", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Write the cancelling document's PDF here.")
def payments_cash_cancel(receipt_number, reason, document_out):
    """Cancel a cash receipt recorded by mistake (storno): a cancelling document, the money
    leaves the till, the invoices it paid are open again, each tax document for a received
    advance issued for it gets its corrective tax document (audited)."""
    from sqlalchemy import select

    from billing.cash.cancellation import cancel_cash_receipt
    from billing.documents.cash_receipt import render_cash_cancellation_pdf
    from billing.models import CashReceipt

    def work(session):
        receipt = session.scalar(select(CashReceipt)
                                 .where(CashReceipt.number == receipt_number.strip()))
        if receipt is None:
            raise click.ClickException(f"no cash receipt {receipt_number}")
        done = cancel_cash_receipt(session, receipt, reason, actor=cli_actor())
        pdf = render_cash_cancellation_pdf(receipt, done.cancellation) if document_out else None
        corrections = [(c.number, c.receipt.number, c.total) for c in done.corrections]
        return done.cancellation.number, done.cancellation.reopened, pdf, corrections

    number, reopened, pdf, corrections = run(work)
    click.echo(f"cash receipt {receipt_number} cancelled by {number}; owed again: "
               f"{reopened or 'nothing'}".replace("\u00a0", " "))
    for correction, corrected, total in corrections:  # tax documents for received advances
        click.echo(f"tax document {corrected} corrected by {correction} ({total})")
    if document_out:
        document_out.write_bytes(pdf)
        click.echo(f"{document_out} written")
