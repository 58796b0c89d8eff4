"""``ispzone voip ...``: tariffs, CDR import, top-up caps."""

from __future__ import annotations

import click
from flask import Flask


@click.group("voip", help="VoIP: tariffs, call records, top-up caps.")
def voip_group() -> None:
    pass


def init_app(app: Flask) -> None:
    from voip.cli_rating import cdr_group, tariffs_group

    voip_group.add_command(tariffs_group)
    voip_group.add_command(cdr_group)
    app.cli.add_command(voip_group)
