"""The operators' commands of the ``ispzone`` command (its entry, ``main``, is in app.py):
database schema, demo, legacy import, invoices, payments.

Each command opens one unit of work through the CLI door (``web.cli_door``: commit, or roll
back and print the refusal on stderr with exit status 1) and calls one domain function;
after-commit work (receipts, e-mails) is in ``billing.jobs``.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from billing.invoicing.supplier import Supplier
from web.cli_door import cli_actor, run, sessions, unit_of_work


def supplier() -> Supplier:
    return Supplier.from_config(current_app.config)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(import_command)
    app.cli.add_command(invoices_group)
    app.cli.add_command(payments_group)
    from web.cli_money import add_commands  # the money acts join the two groups

    add_commands(invoices_group, payments_group)
    from web import cli_credit  # ispzone credit ... (billing/credit/, docs/credit.md)

    cli_credit.init_app(app)
    from web.security import security_group

    app.cli.add_command(security_group)
    from web import cli_services

    cli_services.init_app(app)  # ispzone services ..., ispzone voip set-password
    from web import cli_credit_services  # issue 15: renewals and notices (credit-services)

    cli_credit_services.init_app(app)
    from web import cli_rates  # ispzone rates import (ČNB rates, EUR tax documents)

    cli_rates.init_app(app)
    from web import cli_jobs  # issue 17: ispzone jobs worker (the monthly run's jobs)

    cli_jobs.init_app(app)


@click.group("db", cls=AppGroup, help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    from core import schema

    config = current_app.config
    role = schema.app_role(
        config["DATABASE_URL"], config["DATABASE_OWNER_URL"], config["DATABASE_APP_ROLE"]
    )
    with _owner_engine() as engine:
        try:
            schema.upgrade(engine, revision, app_role=role)
        except schema.RoleError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"database at {revision}" + (f"; role {role} granted" if role else ""))
    if not role and current_app.extensions["ispzone.engine"].dialect.name == "postgresql":
        click.echo(
            "warning: the application connects as the tables' owner, which could switch the "
            "append-only triggers off; set DATABASE_OWNER_URL (README, Production: database "
            "roles)",
            err=True,
        )


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from core import schema

    with _owner_engine() as engine:
        schema.downgrade(engine, revision)
    click.echo(f"database at {revision}")


@contextmanager
def _owner_engine():
    """The schema's owner (DATABASE_OWNER_URL), or the app's engine when that is unset."""
    owner = current_app.config["DATABASE_OWNER_URL"]
    if not owner:
        yield current_app.extensions["ispzone.engine"]
        return
    from core.db import make_engine

    engine = make_engine(owner)
    try:
        yield engine
    finally:
        engine.dispose()


@click.command("demo", help="Fill the database with the demo ISP (idempotent).")
@with_appcontext
@click.option("--if-empty", is_flag=True, help="Only when there are no customers yet.")
def demo_command(if_empty: bool) -> None:
    from billing import demo

    with unit_of_work() as session:
        if if_empty and demo.has_customers(session):
            click.echo("database has customers; demo not loaded")
            return
        report = demo.load(session, supplier())
        if report.startswith("demo loaded"):
            # the packages' parts of the demo (VoIP, enforcement), in the same transaction
            for hook in current_app.extensions.get("ispzone.demo_hooks", []):
                part = hook(session, supplier(), current_app.config)
                if part:
                    report += "\n" + part
    click.echo(report)


@click.command("import", help="Import customers, services and invoices from JSON or CSV.")
@with_appcontext
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--update", is_flag=True,
              help="Update customers that exist already (by customer number) from the file.")
@click.option("--dry-run", is_flag=True, help="Check the file and print what would change; "
              "write nothing.")
def import_command(file: Path, update: bool, dry_run: bool) -> None:
    from billing.legacy_import import writer as importer

    def work(session):
        return importer.import_file(session, file, supplier(), update=update, actor=cli_actor())

    refused = f"{file}: {{error}} (nothing was imported)"
    try:
        if dry_run:
            with unit_of_work(refused=refused, commit=False) as session:
                result = work(session)
        else:
            result = run(work, refused=refused)
    except RecursionError as exc:
        raise click.ClickException(f"{file}: nested too deeply (nothing was imported)") from exc
    if dry_run:
        click.echo(f"dry run, nothing was written; the import would do this:\n{result.report()}")
    else:
        click.echo(result.report() if update else result)


@click.group("invoices", cls=AppGroup, help="Issuing invoices.")
def invoices_group() -> None:
    pass


@invoices_group.command("issue")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--no-email", is_flag=True, help="Issue only; e-mail nothing.")
@click.option("--workers", type=int, default=0, show_default=True,
              help="Worker processes to start (PostgreSQL); 0: this process does the work.")
@click.option("--chunk-size", type=int, default=1000, show_default=True)
@click.option("--lease", type=float, default=120.0, show_default=True,
              help="Seconds a chunk stays a worker's without a heartbeat.")
@click.option("--progress/--no-progress", default=True, help="The progress bar (stderr).")
def invoices_issue(month: str, no_email: bool, workers: int, chunk_size: int, lease: float,
                   progress: bool) -> None:
    """Issue this month's invoices for all active services and e-mail each with its PDF
    (through SMTP, or into MAIL_OUTBOX_DIR without SMTP_HOST), as jobs: planned, then
    issued, rendered and mailed chunk by chunk. Run again, it resumes (nothing twice)."""
    from web.cli_jobs import issue_month_as_jobs

    issue_month_as_jobs(month, no_email, workers, chunk_size, lease, progress)


@invoices_group.command("run-status")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--json", "as_json", is_flag=True)
def invoices_run_status(month: str, as_json: bool) -> None:
    """The monthly run's progress: issued, rendered, mailed of the planned customers."""
    from web.cli_jobs import run_status_command

    run_status_command(month, as_json)


@invoices_group.command("receipts")
@click.option("--date", "on", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Issue date (default today, Prague).")
def invoices_receipts(on) -> None:
    """Issue the tax documents for payments received on advance invoices that have none yet
    (due within 15 days of the payment; run daily, and after every import, which does it)."""
    _issue_receipts(on.date() if on else None, quiet=False)


def _issue_receipts(on=None, quiet: bool = True) -> None:
    """After the payments are committed, in a transaction of its own: a receipt that cannot
    be issued is reported and leaves the imported payments alone."""
    from billing.jobs import issue_receipts_after_pairing
    from core.errors import DomainError

    try:
        from billing.credit import CreditSettings

        issued = issue_receipts_after_pairing(
            sessions(), on, actor=cli_actor(), supplier=supplier(),
            credit_settings=CreditSettings.from_config(current_app.config))
    except DomainError as exc:  # reported; the committed payments stand (not exit 1)
        click.echo(f"tax documents for received advance payments: not issued: {exc}", err=True)
        return
    if issued or not quiet:
        click.echo(f"{len(issued)} tax documents for received advance payments issued"
                   + (f": {', '.join(issued)}" if issued else ""))


@click.group("payments", cls=AppGroup, help="Bank statements and payment matching.")
def payments_group() -> None:
    pass


@payments_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["gpc", "fio-json", "fio-csv", "camt053"]), default=None,
    help="Detected from the content when not given.",
)
@click.option("--any-account", is_flag=True,
              help="Accept a statement of an account not listed in BANK_ACCOUNTS.")
def payments_import(file: Path, fmt: str | None, any_account: bool) -> None:
    """Import a statement (GPC/ABO, Fio JSON/CSV, camt.053) and pair its payments."""
    # the path: GPC and Fio CSV are read line by line, and one over STATEMENT_MAX_BYTES is
    # refused before it is read (docs/bank-statements.md)
    report = _import_statement(file, str(file), fmt, any_account,
                               refused=f"{file}: {{error}} (nothing was imported)")
    click.echo(report)
    _issue_receipts()


def _import_statement(data: bytes | Path, name: str, fmt: str | None, any_account: bool, *,
                      refused: str):
    """Import and pair in one transaction; only statements of our accounts unless
    ``any_account``. A refusal is the command's error, worded by ``refused``."""
    from billing.bank.importing import StatementError, import_statement

    own = supplier().account or ""
    accounts = [a.strip() for a in (current_app.config["BANK_ACCOUNTS"] or own).split(",")]

    def work(session):
        try:
            return import_statement(
                session, data, name, fmt, cli_actor(),
                bank_code=own.rsplit("/", 1)[1] if "/" in own else None,
                own_accounts=None if any_account else accounts,
                max_bytes=current_app.config["STATEMENT_MAX_BYTES"],
            )
        except RecursionError as exc:  # a parser that does not limit nesting itself
            raise StatementError("nested too deeply to be a bank statement") from exc

    return run(work, refused=refused)


@payments_group.command("fetch-fio")
@click.option("--days", type=click.IntRange(min=1, max=366), default=14, show_default=True,
              help="The movements of the last DAYS days, today included.")
@click.option("--from", "start", type=click.DateTime(["%Y-%m-%d"]),
              help="First day (YYYY-MM-DD) instead of --days.")
@click.option("--to", "end", type=click.DateTime(["%Y-%m-%d"]),
              help="Last day (YYYY-MM-DD; default today).")
@click.option("--any-account", is_flag=True, help="Accept an account not in BANK_ACCOUNTS.")
def payments_fetch_fio(days: int, start, end, any_account: bool) -> None:
    """Download the recent movements of our Fio account through the Fio API (FIO_TOKEN)
    and import and pair them like `payments import`. Movements imported before are
    skipped, so run it as often as you like (cron); requests are at least 30 s apart, as
    Fio requires."""
    from datetime import timedelta

    from billing.bank.fio_api import FioApiError, FioClient
    from core.clock import today

    last = end.date() if end else today()
    first = start.date() if start else last - timedelta(days=days - 1)
    config = current_app.config
    try:
        client = FioClient(config["FIO_TOKEN"] or "", base_url=config["FIO_API_URL"],
                           stamp_dir=Path(current_app.instance_path))
        data = client.period(first, last)
    except FioApiError as exc:
        raise click.ClickException(f"Fio API: {exc} (nothing was imported)") from exc
    name = f"fio-api-{first.isoformat()}-{last.isoformat()}.json"
    kept = Path(current_app.instance_path) / "fio-downloads" / name
    try:
        report = _import_statement(
            data, name, "fio-json", any_account,
            refused=f"Fio API, {first} to {last}: {{error}} (nothing was imported; the "
                    f"download is kept in {kept})")
    except click.ClickException:
        kept.parent.mkdir(parents=True, exist_ok=True)
        kept.write_bytes(data)
        raise
    click.echo(report)
    _issue_receipts()


@payments_group.command("unmatched")
@click.option("--dismissed", is_flag=True, help="List the payments taken out of the queue.")
def payments_unmatched(dismissed: bool) -> None:
    """List incoming payments that could not be paired (or, --dismissed, those dismissed)."""
    from billing.bank.queue import unmatched

    with unit_of_work() as session:
        rows = unmatched(session, dismissed=dismissed)
        if not rows:
            click.echo("no dismissed payments" if dismissed else "no unmatched payments")
        for tx in rows:
            click.echo(
                f"{tx.id:>8}  {tx.booked_on:%Y-%m-%d}  {tx.amount:>12} {tx.currency}  "
                f"VS {tx.variable_symbol or '-':<10} SS {tx.specific_symbol or '-':<10} "
                f"{tx.counter_account or ''}  {tx.counter_name or ''}  {tx.message or ''}"
                + (f"  [suspected duplicate of {tx.duplicate_of}: dismiss it if it is]"
                   if tx.duplicate_of else "")
            )


@payments_group.command("assign")
@click.argument("tx_id", type=int)
@click.argument("customer_number")
@click.option("--not-a-duplicate", is_flag=True,
              help="The payment was held as a suspected duplicate of another statement's, "
                   "and it is not one: pair it anyway (audited).")
def payments_assign(tx_id: int, customer_number: str, not_a_duplicate: bool) -> None:
    """Pair an unmatched payment with a customer by hand (audited)."""
    from billing.bank.queue import assign
    from billing.customers.credentials import find_customer

    with _movement(tx_id) as (session, tx):
        customer = find_customer(session, customer_number)
        if customer is None:
            raise click.ClickException(f"no customer {customer_number}")
        assign(session, tx, customer, actor=cli_actor(), not_a_duplicate=not_a_duplicate)
    click.echo(f"transaction {tx_id} paired with customer {customer_number}")
    _issue_receipts()


@payments_group.command("unassign")
@click.argument("tx_id", type=int)
@click.option("--reason", required=True,
              help="Why (kept in the audit log): a wrong customer, a payment the bank reversed...")
def payments_unassign(tx_id: int, reason: str) -> None:
    """Undo the pairing of a payment (a wrong customer, or a payment the bank reversed):
    its ledger entry is reversed, the invoices it paid are open again (the customer's other
    credit may pay them), each tax document issued for it on an advance gets a corrective
    tax document, and it waits in `payments unmatched` to be assigned (audited)."""
    from billing.unpairing import unassign

    with _movement(tx_id) as (session, tx):
        done = unassign(session, tx, actor=cli_actor(), reason=reason)
    reopened = ", ".join(f"invoice {number} {_kc(amount)} reopened"
                         for number, amount in done.reopened)
    click.echo(f"transaction {tx_id} ({_kc(done.amount)}) unpaired from customer "
               f"{done.customer_number}: {reopened or 'it had paid no invoice (it was credit)'}")
    if done.reapplied:
        click.echo(f"the customer's other credit paid {_kc(done.reapplied)} of open invoices")
    for number, receipt in done.corrections:
        click.echo(f"tax document {receipt} corrected by the corrective tax document {number}")
    _issue_receipts()


@payments_group.command("dismiss")
@click.argument("tx_id", type=int)
@click.option("--reason", required=True,
              help="Why (kept in the audit log): returned to the payer, reversed by the bank...")
def payments_dismiss(tx_id: int, reason: str) -> None:
    """Take an unmatched movement out of the queue: it is no customer's payment (returned to
    the payer, reversed by the bank, a EUR payment booked by hand). Nothing is booked;
    `payments restore` puts it back (audited)."""
    from billing.bank.queue import dismiss

    with _movement(tx_id) as (session, tx):
        dismiss(session, tx, actor=cli_actor(), reason=reason)
        shown = f"{_kc(tx.amount)}" if tx.currency == "CZK" else f"{tx.amount} {tx.currency}"
    click.echo(f"transaction {tx_id} ({shown}) dismissed from the unmatched queue")


@payments_group.command("restore")
@click.argument("tx_id", type=int)
def payments_restore(tx_id: int) -> None:
    """Put a dismissed movement back in the unmatched queue (audited)."""
    from billing.bank.queue import restore

    with _movement(tx_id) as (session, tx):
        restore(session, tx, actor=cli_actor())
    click.echo(f"transaction {tx_id} is back in the unmatched queue")


@contextmanager
def _movement(tx_id: int):
    """The bank movement ``tx_id`` in a unit of work (committed when the block ends); a
    missing movement or a refusal of billing.bank.queue is the command's error."""
    from billing.models import BankTransaction

    with unit_of_work() as session:
        tx = session.get(BankTransaction, tx_id)
        if tx is None:
            raise click.ClickException(f"no bank transaction {tx_id}")
        yield session, tx


def _kc(amount) -> str:
    """``1 234,50 Kč`` for the terminal (plain spaces)."""
    from web.formatting import format_money

    return format_money(amount, "cs").replace("\u00a0", " ")


