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


@voip_group.command("agi")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=4573, show_default=True, type=int, help="TCP port (FastAGI's is 4573).")
@click.option("--workers", default=1, show_default=True, type=click.IntRange(1, 64),
              help="Processes listening on the port together (SO_REUSEPORT).")
@click.option("--db-connections", default=1, show_default=True, type=click.IntRange(1, 16),
              help="PostgreSQL connections per process, each with one statement in flight.")
@with_appcontext
def agi(host: str, port: int, workers: int, db_connections: int) -> None:
    """Serve call authorization to Asterisk over FastAGI (docs/voip-agi.md): before each
    call, the longest duration the line's credit buys at the destination's rate, or a
    refusal. Runs until interrupted."""
    import os

    from flask import current_app

    from core.db import make_engine, make_session_factory
    from voip.agi import engine_options, port_in_use, serve
    from voip.authorize import Authorizer

    if port_in_use(host, port):
        raise click.ClickException(f"{host}:{port} is already in use")
    url = current_app.config["DATABASE_URL"]
    max_seconds = int(current_app.config.get("VOIP_AGI_MAX_SECONDS", 4 * 3600))
    for _ in range(workers - 1):
        if os.fork() == 0:  # a worker: its own engine after the fork
            break
    sessions = make_session_factory(make_engine(url, **engine_options(url)))
    serve(sessions, host, port, authorizer=Authorizer(max_seconds), reuse_port=workers > 1,
          db_connections=db_connections,
          ready=lambda bound: click.echo(f"FastAGI authorization on {host}:{bound} (pid {os.getpid()})"))
