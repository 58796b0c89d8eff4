"""``ispzone enforcement ...`` and ``ispzone worker``: thin wrappers, one transaction each,
around :mod:`enforcement.service`, :mod:`enforcement.outbox` and :mod:`enforcement.mailq`."""

from __future__ import annotations

import logging
import signal
import time
from datetime import date, datetime
from email.message import EmailMessage

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.models import Customer
from core.clock import PRAGUE, now, today
from core.mail import MailSettings
from enforcement.config import Policy
from enforcement.mailq import Render
from enforcement.models import DRIVERS, EnforcementMail, Router, RouterAction
from web.cli_door import cli_actor

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.cli.add_command(enforcement_group)
    app.cli.add_command(worker_command)


def policy() -> Policy:
    return Policy.from_config(current_app.config)


def outbox_settings():
    from enforcement.outbox import OutboxSettings

    return OutboxSettings.from_config(current_app.config, current_app.instance_path)


def sessions():
    return current_app.extensions["ispzone.sessions"]


def transaction(*, commit: bool = True):
    """The CLI door's unit of work (web.cli_door); ``commit=False``: a dry run."""
    from web.cli_door import unit_of_work

    return unit_of_work(commit=commit)


def run_sweep(day: date | None = None, *, dry_run: bool = False):
    from enforcement import service

    with transaction(commit=not dry_run) as session:
        report = service.sweep(
            session, day or today(), policy(), dry_run=dry_run,
            default_router=current_app.config["ENFORCEMENT_DEFAULT_ROUTER"],
        )
    return report


def drain_all():
    """Send the due router actions and e-mails; returns both reports."""
    from enforcement import mailq, outbox

    config = current_app.config
    actions = outbox.drain(sessions(), outbox_settings())
    mails = mailq.drain(
        sessions(), MailSettings.from_config(config), flask_renderer(current_app._get_current_object()),
        lease_seconds=int(config["ENFORCEMENT_LEASE_SECONDS"]),
        retry_base_seconds=float(config["ENFORCEMENT_RETRY_BASE_SECONDS"]),
        retry_max_seconds=float(config["ENFORCEMENT_RETRY_MAX_SECONDS"]),
        max_attempts=int(config["ENFORCEMENT_MAIL_MAX_ATTEMPTS"]),
    )
    return actions, mails


def flask_renderer(app: Flask) -> Render:
    """Render ``templates/email/enforcement_<kind>.txt`` in the customer's language, with a
    PNG QR Platba for each open invoice (a phone's banking app reads it from the screen)."""
    from flask import render_template
    from flask_babel import force_locale

    from core.mail import compose
    from enforcement.mailq import as_of, notice_context, qr_png

    def render(session: Session, mail: EnforcementMail) -> EmailMessage:
        with app.app_context(), force_locale(mail.lang or "cs"):
            context = notice_context(session, mail, as_of(mail, today()))
            text = render_template(
                f"email/enforcement_{mail.kind}.txt",
                public_url=(app.config.get("PUBLIC_URL") or "").rstrip("/"),
                operator_email=app.config.get("OPERATOR_EMAIL"),
                disconnect_days=app.config.get("ENFORCEMENT_DISCONNECT_DAYS", 10),
                **context,
            )
        subject, _, body = text.strip().partition("\n")
        attachments = [
            (f"qr-platba-{item['invoice'].number}.png", "image/png", qr_png(item["spayd"]))
            for item in context["invoices"] if item["spayd"] and mail.kind != "payment_received"
        ]
        settings = MailSettings.from_config(app.config)
        return compose(settings, mail.to_address, subject.strip(), body.strip() + "\n", attachments)

    return render


def customer_by_number(session, number: str) -> Customer:
    customer = session.scalar(select(Customer).where(Customer.customer_number == number))
    if customer is None:
        raise click.ClickException(f"no customer {number}")
    return customer


@click.group("enforcement", help="Reminders, warnings, disconnection and reconnection.")
def enforcement_group() -> None:
    pass


@enforcement_group.command("run")
@click.option("--dry-run", is_flag=True, help="Print what would happen; change and send nothing.")
@click.option("--date", "day", type=click.DateTime(["%Y-%m-%d"]), help="Sweep as of this day.")
@with_appcontext
def run_command(dry_run: bool, day: datetime | None) -> None:
    """One sweep, then send the queued router actions and e-mails (for cron)."""
    report = run_sweep(day.date() if day else None, dry_run=dry_run)
    click.echo(report)
    if dry_run:
        with sessions()() as session:
            waiting = session.scalar(select(func.count(RouterAction.id))
                                     .where(RouterAction.status == "pending"))
        click.echo(f"dry run: nothing changed, nothing sent ({waiting} router actions waiting)")
        return
    actions, mails = drain_all()
    click.echo(actions)
    click.echo(mails)


@enforcement_group.command("reconcile")
@with_appcontext
def reconcile_command() -> None:
    """Compare the routers' warned/blocked lists with the cases; queue and send the fixes."""
    from enforcement import outbox

    with transaction() as session:
        report = outbox.reconcile(session, outbox_settings())
    click.echo(report)
    actions, _ = drain_all()
    click.echo(actions)


@enforcement_group.command("cases")
@click.option("--state", type=click.Choice(["ok", "reminded", "warned", "acknowledged", "disconnected"]))
@with_appcontext
def cases_command(state: str | None) -> None:
    """List the cases (all that are not ok, or those in ``--state``)."""
    from enforcement.overview import case_list

    with sessions()() as session:
        rows = case_list(session, today(), state=state, sort="number", per_page=10**9).rows
    if not rows:
        click.echo("no cases")
    for row in rows:
        since = row.state_since.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M")
        extra = f" disconnect due {row.disconnect_due}" if row.disconnect_due else ""
        click.echo(f"{row.customer_number}  {row.state:<12} since {since}  overdue since "
                   f"{row.overdue_since or '-'}{extra}  {row.name}")


@enforcement_group.command("actions")
@click.option("--customer", "customer_number", help="Only this customer's actions.")
@click.option("--status", type=click.Choice(["pending", "done", "failed"]))
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@with_appcontext
def actions_command(customer_number: str | None, status: str | None, limit: int) -> None:
    """The newest router actions: what was asked of which router, and what it answered (or
    the last error and when the next attempt is due)."""
    from enforcement.overview import action_list

    with sessions()() as session:
        customer_id = customer_by_number(session, customer_number).id if customer_number else None
        rows = action_list(session, status=status, customer_id=customer_id, per_page=limit).rows
    if not rows:
        click.echo("no router actions")
    for row in rows:
        action, number = row.action, row.customer_number
        created = action.created_at.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M:%S")
        what = f"{action.kind} {action.list_name}" if action.list_name else action.kind
        target = action.username or action.address or "-"
        if action.status == "pending" and action.attempts:
            due = action.next_attempt_at.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M:%S")
            outcome = f"attempt {action.attempts + 1} at {due}; last error: {action.last_error}"
        else:
            outcome = row.answer
        click.echo(f"#{action.id}  {created}  {number or '-':<10} {action.router_name:<12} "
                   f"{what:<20} {target:<18} {action.status:<7} {outcome}".rstrip())


@enforcement_group.command("reconnect")
@click.argument("customer_number")
@with_appcontext
def reconnect_command(customer_number: str) -> None:
    """Force a customer back to ok (audited), whatever they owe."""
    from enforcement import service

    with transaction() as session:
        customer = customer_by_number(session, customer_number)
        exempt = customer.enforcement_exempt or customer.enforcement_exempt_until is not None
        change = service.force_reconnect(
            session, customer.id, actor=cli_actor(), policy=policy(),
            default_router=current_app.config["ENFORCEMENT_DEFAULT_ROUTER"])
    if change is None:
        click.echo(f"{customer_number} is ok already; nothing to do")
        return
    click.echo(f"reconnected: {change}")
    if not exempt:
        click.echo("note: unless exempted, the next sweep starts the reminders again")
    actions, mails = drain_all()
    click.echo(actions)
    click.echo(mails)


@enforcement_group.command("exempt")
@click.argument("customer_number")
@click.option("--until", "until", type=click.DateTime(["%Y-%m-%d"]), help="Last exempt day.")
@click.option("--never", is_flag=True, help="Never enforce (until --clear).")
@click.option("--clear", is_flag=True, help="Remove the exemption.")
@click.option("--reason", default=None, help="Why (kept in the audit trail).")
@with_appcontext
def exempt_command(customer_number: str, until: datetime | None, never: bool, clear: bool,
                   reason: str | None) -> None:
    """Exempt a customer from reminders and disconnection (audited)."""
    from enforcement import service

    if sum([until is not None, never, clear]) != 1:
        raise click.UsageError("give exactly one of --until DATE, --never, --clear")
    with transaction() as session:
        customer = customer_by_number(session, customer_number)
        service.set_exemption(session, customer, never=never,
                              until=until.date() if until else None, actor=cli_actor(),
                              reason=reason)
    what = "cleared" if clear else ("never enforced" if never else f"exempt until {until:%Y-%m-%d}")
    click.echo(f"{customer_number}: {what}")


@enforcement_group.group("routers", help="The routers (NAS) and how to reach them.")
def routers_group() -> None:
    pass


@routers_group.command("add")
@click.argument("name")
@click.option("--driver", type=click.Choice(DRIVERS), required=True)
@click.option("--host")
@click.option("--port", type=int)
@click.option("--tls", is_flag=True, help="RouterOS API-SSL.")
@click.option("--username")
@click.option("--secret", help="Password / shared secret, or env:NAME to read the environment.")
@click.option("--ca-file", help="CA certificate to verify the router (TLS).")
@with_appcontext
def routers_add(name, driver, host, port, tls, username, secret, ca_file) -> None:
    """Add a router, or update the one of that name."""
    from core import audit

    if driver != "recording" and not host:
        raise click.UsageError(f"--host is required for the {driver} driver")
    with transaction() as session:
        router = session.scalar(select(Router).where(Router.name == name))
        created = router is None
        router = router or Router(name=name)
        router.driver, router.host, router.port, router.use_tls = driver, host, port, tls
        router.username, router.secret, router.ca_file, router.enabled = username, secret, ca_file, True
        session.add(router)
        audit.record(session, "enforcement.router_" + ("added" if created else "changed"),
                     actor=cli_actor(), new_value=name,
                     details={"driver": driver, "host": host, "port": port, "tls": tls})
    click.echo(f"router {name} {'added' if created else 'updated'} ({driver})")


@routers_group.command("list")
@with_appcontext
def routers_list() -> None:
    with sessions()() as session:
        rows = session.scalars(select(Router).order_by(Router.name)).all()
    if not rows:
        click.echo("no routers (unknown routers use the "
                   f"{current_app.config['ENFORCEMENT_DEFAULT_DRIVER']} driver)")
    for r in rows:
        secret = r.secret if (r.secret or "").startswith("env:") else ("***" if r.secret else "-")
        click.echo(f"{r.name}  {r.driver}  {r.host or '-'}:{r.port or '-'}"
                   f"{' tls' if r.use_tls else ''}  user {r.username or '-'}  secret {secret}"
                   f"{'' if r.enabled else '  (disabled)'}")


def _worker_round(config, swept_on: date | None) -> date | None:
    local = now().astimezone(PRAGUE)
    if swept_on != local.date() and local.hour >= int(config["ENFORCEMENT_SWEEP_HOUR"]):
        click.echo(run_sweep(local.date()))
        swept_on = local.date()
    actions, mails = drain_all()
    if actions.done or actions.retried or actions.failed:
        click.echo(actions)
    if mails.sent or mails.retried or mails.failed or mails.cancelled:
        click.echo(mails)
    return swept_on


@click.command("worker", help="Long-running: send router actions and e-mails every few "
                              "seconds, sweep once per Prague day. SIGTERM stops it cleanly.")
@click.option("--once", is_flag=True, help="One round, then exit (for tests).")
@with_appcontext
def worker_command(once: bool) -> None:
    stop = {"now": False}

    def _stop(signum, _frame):
        stop["now"] = True
        click.echo(f"signal {signum}: stopping after this round")

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    config = current_app.config
    interval = float(config["ENFORCEMENT_WORKER_INTERVAL"])
    swept_on: date | None = None
    click.echo(f"worker started (every {interval:g} s)")
    while not stop["now"]:
        try:
            swept_on = _worker_round(config, swept_on)
        except Exception:  # noqa: BLE001 - the database or a bug: log, keep the worker alive
            log.exception("worker round failed; trying again in %s s", interval)
        if once:
            break
        deadline = time.monotonic() + interval
        while not stop["now"] and time.monotonic() < deadline:
            time.sleep(0.2)
    click.echo("worker stopped")
