"""``ispzone services ...`` and ``ispzone voip set-password``: a customer's services and
their credentials from the command line (docs/provisioning.md).

Each command goes through the CLI door (one unit of work; a refusal is ``Error: ...`` and
exit status 1, nothing written) and calls one function of
:mod:`billing.customers.services`, audited as ``web.cli_door.cli_actor()``. Passwords are
read from stdin (``--password-stdin``) or generated (``--generate``, printed once), never
taken as an argument (they would sit in the shell's history and the process list).
"""

from __future__ import annotations

import sys
from datetime import date, datetime

import click
from flask import Flask
from flask.cli import AppGroup, with_appcontext

from web.cli_door import cli_actor, read_only, unit_of_work

NOTHING = "{error} (nothing was changed)"
DATE = click.DateTime(formats=["%Y-%m-%d"])


@click.group("services", cls=AppGroup, help="Customers' services: add, change, end, credentials.")
def services_group() -> None:
    pass


def _day(value: datetime | None) -> date | None:
    return value.date() if value is not None else None


def _stdin_password() -> str:
    line = sys.stdin.readline()
    password = line.rstrip("\r\n")
    if not password:
        raise click.ClickException("no password on stdin (nothing was changed)")
    return password


def _known_routers(session):
    from enforcement.provisioning import router_names

    return router_names(session)


def _customer(session, number: str):
    from billing.customers.credentials import find_customer
    from billing.customers.services import ServiceError

    customer = find_customer(session, number)
    if customer is None:
        raise ServiceError(f"no customer {number}", field="customer")
    return customer


def _describe(service) -> str:
    parts = [f"#{service.id}", service.kind, service.name, f"{service.price} CZK/{service.period}",
             f"from {service.valid_from.isoformat()}"]
    if service.valid_to:
        parts.append(f"to {service.valid_to.isoformat()}")
    if service.kind == "internet":
        speeds = f"{service.download_kbps or '-'}/{service.upload_kbps or '-'} kbit/s"
        ips = " ".join(a.address for a in service.addresses) or "no address"
        parts += [speeds, ips, f"router {service.router_name or '(default)'}",
                  f"PPPoE {service.pppoe_username or '-'}"
                  + ("" if service.pppoe_password else " (no password)")]
    if service.kind == "voip":
        parts.append(f"{service.phone_number}"
                     + ("" if service.voip_password_hash else " (no password)"))
    if service.kind == "insurance" and service.paid_until:
        parts.append(f"paid until {service.paid_until.isoformat()}")
    return "  ".join(parts)


@services_group.command("list")
@click.argument("customer")
def list_services(customer: str) -> None:
    """The services of CUSTOMER (customer number), with their ids."""
    from billing.customers.services import ServiceError

    with read_only() as session:
        try:
            found = _customer(session, customer)
        except ServiceError as exc:
            raise click.ClickException(exc.message) from exc
        if not found.services:
            click.echo(f"{customer}: no services")
        for service in found.services:
            click.echo(_describe(service))


@services_group.command("add")
@click.argument("customer")
@click.option("--kind", type=click.Choice(["internet", "voip", "insurance", "other"]), required=True)
@click.option("--name", required=True, help="The tariff or product name.")
@click.option("--price", required=True, help="Per period, VAT included (450 or 450,00).")
@click.option("--vat-rate", default="21", show_default=True)
@click.option("--period", type=click.Choice(["month", "year", "once"]), default="month",
              show_default=True)
@click.option("--from", "valid_from", type=DATE, help="First day (default today).")
@click.option("--to", "valid_to", type=DATE, help="Last day (default open-ended).")
@click.option("--contract", help="Contract number (default: the customer's one open contract).")
@click.option("--download", "download_kbps", help="Download speed in kbit/s.")
@click.option("--upload", "upload_kbps", help="Upload speed in kbit/s.")
@click.option("--ip", "ips", multiple=True, help="An IP address or prefix (repeatable).")
@click.option("--router", "router_name", help="The router (NAS) the service lives on.")
@click.option("--pppoe-user", help="PPPoE user name (default: suggested from the name).")
@click.option("--generate-pppoe", is_flag=True, help="Generate the PPPoE password (printed once).")
@click.option("--pppoe-password-stdin", is_flag=True, help="Read the PPPoE password from stdin.")
@click.option("--phone", "phone_number", help="VoIP: the line's number.")
@click.option("--generate-voip", is_flag=True, help="VoIP: generate the password (printed once).")
@click.option("--voip-password-stdin", is_flag=True, help="VoIP: read the password from stdin.")
@click.option("--paid-until", type=DATE, help="Insurance: paid until this day.")
@click.option("--location", help="Where it is installed.")
@click.option("--description")
def add(customer: str, kind: str, name: str, price: str, vat_rate: str, period: str,
        valid_from, valid_to, contract, download_kbps, upload_kbps, ips, router_name,
        pppoe_user, generate_pppoe, pppoe_password_stdin, phone_number, generate_voip,
        voip_password_stdin, paid_until, location, description) -> None:
    """Add a service to CUSTOMER (customer number)."""
    from billing.customers import services
    from billing.models import Contract
    from core.clock import today

    if pppoe_password_stdin and voip_password_stdin:
        raise click.ClickException("one password on stdin at a time (nothing was changed)")
    pppoe_password = _stdin_password() if pppoe_password_stdin else None
    voip_password = _stdin_password() if voip_password_stdin else None
    with unit_of_work(refused=NOTHING) as session:
        found = _customer(session, customer)
        chosen = None
        if contract:
            chosen = session.query(Contract).filter_by(number=contract).one_or_none()
            if chosen is None:
                raise services.ServiceError(f"no contract {contract}", field="contract")
        added = services.add_service(
            session, found, kind=kind, name=name, price=price, vat_rate=vat_rate, period=period,
            valid_from=_day(valid_from) or today(), valid_to=_day(valid_to), contract=chosen,
            download_kbps=download_kbps, upload_kbps=upload_kbps, ips=list(ips),
            router_name=router_name, pppoe_username=pppoe_user, pppoe_password=pppoe_password,
            generate_pppoe=generate_pppoe, phone_number=phone_number,
            voip_password=voip_password, generate_voip=generate_voip,
            paid_until=_day(paid_until), location=location, description=description,
            actor=cli_actor(), known_routers=_known_routers(session),
        )
        line = f"added {_describe(added.service)}"
        user = added.service.pppoe_username
    click.echo(line)
    if added.pppoe_password:
        click.echo(f"PPPoE user name: {user}\nPPPoE password: {added.pppoe_password}")
    if added.voip_password:
        click.echo(f"VoIP password: {added.voip_password}")


@services_group.command("change")
@click.argument("service")
@click.option("--name", help="New tariff name (from --from).")
@click.option("--price", help="New price (from --from).")
@click.option("--vat-rate")
@click.option("--from", "effective_from", type=DATE,
              help="The day the new name/price takes effect (default today).")
@click.option("--download", "download_kbps")
@click.option("--upload", "upload_kbps")
@click.option("--ip", "ips", multiple=True, help="The new addresses (all of them; repeatable).")
@click.option("--no-ips", is_flag=True, help="Remove every address.")
@click.option("--router", "router_name")
@click.option("--location")
@click.option("--description")
@click.option("--paid-until", type=DATE)
@click.option("--phone", "phone_number")
def change(service: str, name, price, vat_rate, effective_from, download_kbps, upload_kbps,
           ips, no_ips, router_name, location, description, paid_until, phone_number) -> None:
    """Change SERVICE (#id, PPPoE user, phone number, or a customer number with one
    internet service): tariff and price from a day, speeds, addresses, router..."""
    from billing.customers import services

    given = {
        "name": name, "price": price, "vat_rate": vat_rate, "download_kbps": download_kbps,
        "upload_kbps": upload_kbps, "router_name": router_name, "location": location,
        "description": description, "paid_until": _day(paid_until),
        "phone_number": phone_number,
    }
    changes = {k: v for k, v in given.items() if v is not None}
    if ips and no_ips:
        raise click.ClickException("--ip or --no-ips, not both (nothing was changed)")
    if ips or no_ips:
        changes["ips"] = list(ips)
    if not changes:
        raise click.ClickException("nothing to change: give at least one option")
    with unit_of_work(refused=NOTHING) as session:
        found = services.find_service(session, service)
        result = services.change_service(
            session, found, actor=cli_actor(), effective_from=_day(effective_from),
            known_routers=_known_routers(session), **changes)
        text = str(result)
    click.echo(text)


@services_group.command("end")
@click.argument("service")
@click.option("--on", "last_day", type=DATE, required=True, help="The service's last day.")
@click.option("--refund", is_flag=True,
              help="A prepaid service ended before its expiry: return the unused days to the "
                   "customer's credit through a credit note of the renewal invoice.")
def end(service: str, last_day, refund: bool) -> None:
    """End SERVICE: it is billed up to and including --on, and FreeRADIUS refuses it after."""
    from billing.customers import services

    with unit_of_work(refused=NOTHING) as session:
        found = services.find_service(session, service)
        if refund:
            from flask import current_app

            from billing.credit.early_end import end_prepaid_early
            from billing.invoicing.supplier import Supplier

            result = end_prepaid_early(session, found.id, last_day.date(),
                                       Supplier.from_config(current_app.config), actor=cli_actor())
            text = (f"service #{found.id} ({found.name}) ends on {last_day.date().isoformat()}; "
                    f"{result.returned} returned to the credit (credit notes "
                    f"{', '.join(n.number for n in result.credit_notes)}), credit now "
                    f"{result.credit_after}")
        else:
            services.end_service(session, found, last_day.date(), actor=cli_actor())
            text = f"service #{found.id} ({found.name}) ends on {last_day.date().isoformat()}"
    click.echo(text)


@services_group.command("set-pppoe")
@click.argument("service")
@click.option("--user", "username", help="A new PPPoE user name.")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--generate", is_flag=True, help="Generate a new password (printed once).")
def set_pppoe(service: str, username, password_stdin: bool, generate: bool) -> None:
    """Set the PPPoE user name and/or password of SERVICE (a customer number with one
    internet service, #id or the current PPPoE user name). FreeRADIUS accepts the new
    password at the next dial-in."""
    from billing.customers import services

    if password_stdin and generate:
        raise click.ClickException("--password-stdin or --generate, not both (nothing was changed)")
    password = _stdin_password() if password_stdin else None
    with unit_of_work(refused=NOTHING) as session:
        found = services.find_service(session, service)
        new = services.set_pppoe(session, found, actor=cli_actor(), username=username,
                                 password=password, generate=generate)
        user = found.pppoe_username
    click.echo(f"PPPoE user name: {user}")
    if generate and new:
        click.echo(f"PPPoE password: {new}")
    elif new:
        click.echo("PPPoE password: set")


@click.command("set-password")
@click.argument("number")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@click.option("--generate", is_flag=True, help="Generate a new password (printed once).")
@with_appcontext
def voip_set_password(number: str, password_stdin: bool, generate: bool) -> None:
    """Set or reset the VoIP zone password of the line NUMBER (stored hashed)."""
    from billing.customers import services

    if password_stdin == generate:
        raise click.ClickException("give --password-stdin or --generate (nothing was changed)")
    password = _stdin_password() if password_stdin else None
    with unit_of_work(refused=NOTHING) as session:
        found = services.find_service(session, number)
        new = services.set_voip_password(session, found, actor=cli_actor(), password=password,
                                         generate=generate)
        phone = found.phone_number
    click.echo(f"{phone}: VoIP password " + (new if generate else "set"))


def init_app(app: Flask) -> None:
    from voip.cli import voip_group

    app.cli.add_command(services_group)
    voip_group.add_command(voip_set_password)
