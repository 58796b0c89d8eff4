"""The monthly run's commands (docs/monthly-run.md): ``ispzone invoices issue --month``
plans the run and completes it (inline, or with ``--workers N`` worker processes it starts
and then helps), ``ispzone jobs worker`` takes chunks from the job table (any number of them, on
any machine sharing the PostgreSQL database), ``ispzone invoices run-status --month`` shows
a run's progress. The work is billing.invoicing.monthly_run's; here are the mailer (the
e-mail template, one SMTP connection per worker), the progress bar and the processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from web.cli_door import cli_actor, run, sessions


def init_app(app: Flask) -> None:
    app.cli.add_command(jobs_group)


@click.group("jobs", cls=AppGroup,
             help="The job table's workers (the monthly run's chunks, statement uploads).")
def jobs_group() -> None:
    pass


def _supplier():
    from billing.invoicing.supplier import Supplier

    return Supplier.from_config(current_app.config)


def mailer():
    """The worker's mailer: the invoice e-mail template, one persistent SMTP connection."""
    from billing.invoicing.monthly_run import Mailer
    from core.mail import SmtpConnection, sender_domain
    from web.mail import invoice_message, settings

    return Mailer(compose=invoice_message, transport=SmtpConnection(settings()),
                  domain=sender_domain(settings()))


def work_context(lease: float, on_progress=None):
    from billing.invoicing.monthly_run import WorkContext
    from core.jobs import worker_id

    return WorkContext(sessions(), _supplier(), worker_id(), mailer(),
                       lease=timedelta(seconds=lease), on_progress=on_progress)


class Progress:
    """A one-line progress bar on a terminal (issued / rendered / mailed of the total), a
    line every few seconds otherwise."""

    def __init__(self, month: str, stream=None) -> None:
        self.month = month
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0

    def __call__(self, final: bool = False) -> None:
        from billing.invoicing.monthly_run import run_status

        moment = time.monotonic()
        if not final and moment - self.last < (0.3 if self.tty else 5.0):
            return
        self.last = moment
        with sessions()() as session:
            status = run_status(session, self.month)
        if status is None:
            return
        line = status_line(status)
        if self.tty:
            width = 24
            done = status.mailed + status.issued if status.email else status.issued
            whole = (status.customers + status.to_mail) if status.email else status.customers
            filled = int(width * done / whole) if whole else width
            self.stream.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {line}\033[K")
            if final:
                self.stream.write("\n")
        elif final or status.issued or status.mailed:
            self.stream.write(line + "\n")
        self.stream.flush()


def status_line(status) -> str:
    text = (f"{status.month}: issued {status.issued} of {status.customers} planned, "
            f"chunks {status.chunks_done}/{status.chunks}")
    if status.email:
        text += (f", rendered {status.rendered}, mailed {status.mailed} of {status.to_mail}"
                 + (f", {status.mail_failed} e-mails failed" if status.mail_failed else ""))
    if status.chunks_failed:
        text += f", {status.chunks_failed} chunks FAILED"
    return text


def issue_month_as_jobs(month: str, no_email: bool, workers: int, chunk_size: int,
                        lease: float, progress: bool) -> None:
    """``invoices issue --month``: plan (or resume) the run, then complete it."""
    from billing.invoicing.monthly_run import plan, run_status, work

    try:
        report = run(lambda session: plan(session, month, actor=cli_actor(), email=not no_email,
                                          chunk_size=chunk_size))
    except ValueError as exc:  # a malformed --month (not a refusal of the domain)
        raise click.ClickException(str(exc)) from exc
    click.echo(f"{month}: {report.customers} customers with services, {report.already} "
               f"already invoiced; {report.new_customers} planned in {report.new_chunks} new "
               f"chunks ({report.chunks} in all)"
               + (f"; {report.requeued} chunks queued again" if report.requeued else ""))
    bar = Progress(month) if progress else None
    procs = []
    dialect = current_app.extensions["ispzone.engine"].dialect.name
    if workers and dialect != "postgresql":
        click.echo("--workers needs PostgreSQL; running the queue in this process", err=True)
        workers = 0
    for _ in range(workers):
        procs.append(subprocess.Popen(
            [sys.executable, "-c", "from app import main; main()", "jobs", "worker", "--month", month,
             "--until-idle", "--lease", str(lease)], env=os.environ.copy()))
    try:
        while any(p.poll() is None for p in procs):
            if bar:
                bar()
            time.sleep(0.5)
        # this process is a worker too: whatever is left (a worker that died) is done here
        work(work_context(lease, on_progress=bar), month=month, until_idle=True)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
    with sessions()() as session:
        status = run_status(session, month)
    if bar:
        bar(final=True)
    click.echo(f"{month}: {status.issued} invoices issued in {status.chunks} chunks"
               + (", paid advances settled" if status.step == "settled" else ""))
    if status.email and status.issued:
        click.echo(f"{status.mailed} of {status.issued} invoices e-mailed"
                   + (f" ({status.without_email} customers have no e-mail address)"
                      if status.without_email else ""))
    if status.mail_failed:
        click.echo(f"{status.mail_failed} e-mails failed (console dashboard: send again)",
                   err=True)
    if status.chunks_failed:
        for error in status.errors:
            click.echo(f"failed: {error}", err=True)
        raise click.ClickException(f"{status.chunks_failed} chunks failed; run the command "
                                   "again to retry them")


@jobs_group.command("worker")
@click.option("--month", default=None,
              help="Only this monthly run's chunks (YYYY-MM); without it, statement uploads too.")
@click.option("--until-idle", is_flag=True, help="Exit when no job is left to anyone.")
@click.option("--lease", type=float, default=120.0, show_default=True,
              help="Seconds a chunk stays ours without a heartbeat before others take it.")
@click.option("--poll", type=float, default=1.0, show_default=True,
              help="Seconds between looks at an empty queue.")
def worker_command(month: str | None, until_idle: bool, lease: float, poll: float) -> None:
    """Take jobs from the job table (FOR UPDATE SKIP LOCKED): the monthly run's chunks
    (issue, render, mail) and, without --month, the console's statement uploads (import and
    pair, docs/bank-statements.md); run any number, on any machine sharing the PostgreSQL
    database."""
    from billing.invoicing.monthly_run import work

    ctx = work_context(lease)
    uploads = 0
    try:
        if month:
            done = work(ctx, month=month, until_idle=until_idle, poll=poll)
        else:
            done, uploads = _work_all(ctx, until_idle, poll)
    finally:
        ctx.mailer.transport.close()
    click.echo(f"worker {ctx.worker}: {done} chunks done"
               + (f", {uploads} statement uploads imported" if uploads else ""))


def _work_all(ctx, until_idle: bool, poll: float) -> tuple[int, int]:
    """Statement uploads first (an operator waits for them), then the monthly run's chunks;
    the run's loop hands back whenever an upload is waiting."""
    from billing.bank import upload_jobs
    from billing.invoicing.monthly_run import work
    from billing.jobs import issue_receipts_after_pairing

    def receipts(actor: str) -> None:
        issue_receipts_after_pairing(ctx.sessions, actor=actor)

    def upload_waiting() -> bool:
        with ctx.sessions() as session:
            return bool(upload_jobs.waiting(session))

    chunks = uploads = 0
    while True:
        imported = upload_jobs.work(ctx.sessions, ctx.worker, until_idle=True,
                                    after_import=receipts)
        done = work(ctx, until_idle=True, poll=poll, wait_paused=not until_idle,
                    stop=upload_waiting)
        uploads, chunks = uploads + imported, chunks + done
        if upload_waiting():
            continue
        if until_idle:
            return chunks, uploads
        if not imported and not done:
            time.sleep(poll)


def run_status_command(month: str, as_json: bool) -> None:
    from billing.invoicing.monthly_run import run_status

    with sessions()() as session:
        status = run_status(session, month)
    if status is None:
        raise click.ClickException(f"no run for {month}")
    if as_json:
        click.echo(json.dumps(status.as_dict()))
        return
    click.echo(status_line(status) + (" (finished)" if status.finished else ""))
    for error in status.errors:
        click.echo(f"error: {error}")
