"""``ispzone operators ...``: the console's operators from the command line (the first
admin is made here). Every change goes through the CLI door and is audited with the
command's actor (``ispzone --as LOGIN``, default the Unix user)."""

from __future__ import annotations

import sys

import click
from flask.cli import AppGroup

from billing import operators
from billing.models import OperatorRole
from web.cli_door import cli_actor, read_only, run


def init_app(app) -> None:
    app.cli.add_command(operators_group)


@click.group("operators", cls=AppGroup, help="The console's operators (staff logins).")
def operators_group() -> None:
    pass


def _password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("no password on standard input")
        return line
    return click.prompt("Password", hide_input=True, confirmation_prompt="Password again")


@operators_group.command("add")
@click.argument("login")
@click.option("--role", required=True, type=click.Choice([r.value for r in OperatorRole]))
@click.option("--name", default="", help="The operator's full name.")
@click.option("--email", default=None)
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def add(login: str, role: str, name: str, email: str | None, password_stdin: bool) -> None:
    """Add an operator LOGIN (the password is asked twice)."""
    password = _password(password_stdin)
    actor = cli_actor()
    created = run(lambda s: operators.create(s, login, role=role, password=password, name=name,
                                             email=email, actor=actor).login,
                  refused=f"{login}: {{error}} (nothing was changed)")
    click.echo(f"operator {created} added (role {role}); they log in at /console/login")


@operators_group.command("list")
def list_() -> None:
    """The operators, their roles and state."""
    with read_only() as session:
        rows = operators.listing(session)
        if not rows:
            click.echo("no operators (add one: ispzone operators add LOGIN --role admin)")
            return
        for op in rows:
            state = "active" if op.active else f"disabled {op.disabled_at:%Y-%m-%d}"
            twofa = "2FA" if op.totp_enabled else "no 2FA"
            click.echo(f"{op.login:<20} {op.role:<9} {state:<20} {twofa:<7} {op.name}")


def _change(login: str, fn, done: str) -> None:
    actor = cli_actor()

    def work(session):
        fn(session, operators.get(session, login), actor=actor)

    run(work, refused=f"{login}: {{error}} (nothing was changed)")
    click.echo(done)


@operators_group.command("disable")
@click.argument("login")
def disable(login: str) -> None:
    """End LOGIN's access (their sessions end at once)."""
    _change(login, operators.disable, f"operator {login} disabled")


@operators_group.command("enable")
@click.argument("login")
def enable(login: str) -> None:
    """Give a disabled LOGIN their access back."""
    _change(login, operators.enable, f"operator {login} enabled")


@operators_group.command("reset-2fa")
@click.argument("login")
def reset_2fa(login: str) -> None:
    """Forget LOGIN's authenticator and recovery codes (a lost phone); they set it up again
    at their next login."""
    _change(login, operators.reset_second_factor,
            f"operator {login}: second factor reset; they enrol again at the next login")


@operators_group.command("password")
@click.argument("login")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def password(login: str, password_stdin: bool) -> None:
    """Set LOGIN's password (their sessions end)."""
    new = _password(password_stdin)
    _change(login, lambda s, op, actor: operators.set_password(s, op, new, actor=actor),
            f"operator {login}: password set")
