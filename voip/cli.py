"""``ispzone voip ...``: tariffs, CDR import, top-up caps."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext


@click.group("voip", help="VoIP: tariffs, call records, top-up caps.")
def voip_group() -> None:
    pass


@voip_group.command("set-cap")
@click.argument("number")
@click.argument("amount")
@with_appcontext
def set_cap(number: str, amount: str) -> None:
    """Set one line's monthly top-up cap in CZK (AMOUNT), or reset it to the
    VOIP_TOPUP_CAP setting (AMOUNT = default). Audited with the old and new value."""
    from flask import current_app

    from voip.lines import set_cap as set_line_cap
    from web import parsing
    from web.cli_door import cli_actor, unit_of_work

    try:
        cap = None if amount.strip().lower() == "default" else parsing.amount(amount)
    except parsing.ParseError as exc:
        raise click.ClickException(f"{exc} (nothing was changed)") from exc
    with unit_of_work(refused="{error} (nothing was changed)") as session:
        service, old = set_line_cap(session, number, cap, actor=cli_actor())
        phone = service.phone_number
    default = current_app.config["VOIP_TOPUP_CAP"]
    shown_old = f"{old} CZK" if old is not None else f"default ({default} CZK)"
    shown_new = f"{cap} CZK" if cap is not None else f"default ({default} CZK)"
    click.echo(f"{phone}: monthly top-up cap {shown_old} -> {shown_new}")


def init_app(app: Flask) -> None:
    from voip.cli_rating import cdr_group, tariffs_group

    voip_group.add_command(tariffs_group)
    voip_group.add_command(cdr_group)
    app.cli.add_command(voip_group)
