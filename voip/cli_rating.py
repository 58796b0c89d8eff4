"""``ispzone voip tariffs import`` and ``ispzone voip cdr import``."""

from __future__ import annotations

import click


@click.group("tariffs", help="VoIP price lists.")
def tariffs_group() -> None:
    pass


@click.group("cdr", help="Asterisk call records.")
def cdr_group() -> None:
    pass
