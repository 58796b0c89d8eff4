"""``ispzone announcements add|list|end``: operators' announcements to subscribers
(enforcement/announcements.py; docs/announcements.md). Audited with the command's person
(``web.cli_door.cli_actor``)."""

from __future__ import annotations

from datetime import datetime

import click
from flask import Flask
from flask.cli import AppGroup

from core.clock import PRAGUE
from enforcement import announcements
from web.cli_door import cli_actor, read_only, run


def init_app(app: Flask) -> None:
    app.cli.add_command(announcements_group)


@click.group("announcements", cls=AppGroup, help="Outages and notices shown to subscribers.")
def announcements_group() -> None:
    pass


def _when(value: str | None, name: str) -> datetime | None:
    """``YYYY-MM-DD HH:MM`` (or ``YYYY-MM-DDTHH:MM``, or a date: midnight), Prague time."""
    if not value:
        return None
    text = value.strip().replace("T", " ")
    for fmt in ("%Y-%m-%d %H:%M", "%Y-%m-%d"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=PRAGUE)
        except ValueError:
            continue
    raise click.BadParameter(f"{value!r}: use YYYY-MM-DD HH:MM (Prague time)", param_hint=name)


@announcements_group.command("add")
@click.option("--kind", type=click.Choice([k.value for k in announcements.AnnouncementKind]),
              default="notice", show_default=True)
@click.option("--cs", "text_cs", required=True, help="The text in Czech.")
@click.option("--en", "text_en", default=None, help="The text in English (else Czech is shown).")
@click.option("--from", "starts", default=None, help="Start, YYYY-MM-DD HH:MM Prague time (default: now).")
@click.option("--until", "ends", default=None, help="End, YYYY-MM-DD HH:MM Prague time (default: until ended).")
@click.option("--router", default=None, help="Only customers with a service on this router.")
def add_command(kind, text_cs, text_en, starts, ends, router) -> None:
    """Post an announcement."""
    starts_at, ends_at = _when(starts, "--from"), _when(ends, "--until")
    actor = cli_actor()
    row_id = run(
        lambda session: announcements.add(
            session, kind=kind, text_cs=text_cs, text_en=text_en, starts_at=starts_at,
            ends_at=ends_at, router_name=router, actor=actor,
        ).id,
        refused="{error} (nothing was posted)",
    )
    click.echo(f"announcement #{row_id} posted")


@announcements_group.command("list")
@click.option("--all", "include_ended", is_flag=True, help="Include ended announcements.")
def list_command(include_ended: bool) -> None:
    """The announcements that have not ended (``--all``: every one)."""
    with read_only() as session:
        rows = announcements.listing(session, include_ended=include_ended)
        if not rows:
            click.echo("no announcements")
        for r in rows:
            until = _local(r.ends_at) if r.ends_at else "until ended"
            click.echo(f"#{r.id}  {r.kind:<6}  {_local(r.starts_at)} -> {until}  "
                       f"{r.router_name or 'all customers'}  {r.text_cs}")


@announcements_group.command("end")
@click.argument("announcement_id", type=int)
def end_command(announcement_id: int) -> None:
    """End an announcement now."""
    actor = cli_actor()
    run(lambda session: announcements.end(session, announcement_id, actor=actor))
    click.echo(f"announcement #{announcement_id} ended")


def _local(moment: datetime) -> str:
    return moment.astimezone(PRAGUE).strftime("%Y-%m-%d %H:%M")
