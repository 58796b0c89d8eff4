"""The ``ispzone`` command: Flask's CLI of the app plus the operators' commands.

Each command opens one transaction and calls one domain function.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from billing.supplier import Supplier


def main() -> None:
    from app import create_app

    cli = FlaskGroup(create_app=create_app, help="ispzone: client zone, billing, enforcement")
    cli.main()


@contextmanager
def transaction():
    """A session whose work is committed at the end, or rolled back on any error."""
    session = current_app.extensions["ispzone.sessions"]()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def supplier() -> Supplier:
    return Supplier.from_config(current_app.config)


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
    app.cli.add_command(demo_command)
    app.cli.add_command(import_command)


@click.group("db", help="Database schema (Alembic migrations).")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    from billing import schema

    schema.upgrade(current_app.extensions["ispzone.engine"], revision)
    click.echo(f"database at {revision}")


@db_group.command("downgrade")
@click.argument("revision")
def db_downgrade(revision: str) -> None:
    from billing import schema

    schema.downgrade(current_app.extensions["ispzone.engine"], revision)
    click.echo(f"database at {revision}")


@click.command("demo", help="Fill the database with the demo ISP (idempotent).")
@click.option("--if-empty", is_flag=True, help="Only when there are no customers yet.")
def demo_command(if_empty: bool) -> None:
    from billing import demo

    with transaction() as session:
        if if_empty and demo.has_customers(session):
            click.echo("database has customers; demo not loaded")
            return
        report = demo.load(session, supplier())
    click.echo(report)


@click.command("import", help="Import customers, services and invoices from JSON or CSV.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    from billing import importer

    try:
        with transaction() as session:
            result = importer.import_file(session, file, supplier())
    except importer.ImportFileError as exc:
        raise click.ClickException(f"{file}: {exc} (nothing was imported)") from exc
    click.echo(result)
