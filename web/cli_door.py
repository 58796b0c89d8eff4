"""The CLI door: every ``ispzone`` command's unit of work, and the one handler of refusals.

A command opens a unit of work, calls domain functions and prints; it never commits or
rolls back. The door commits when the block (or function) ends, or rolls back when it
raises; a :class:`core.errors.DomainError` is then printed on stderr (``Error: ...``,
worded by the command's ``refused`` template, e.g. ``"{file}: {error} (nothing was
imported)"``) and the command exits with status 1. Other errors propagate unchanged.

:func:`run` retries serialization failures and deadlocks (``core.db.run_in_transaction``);
:func:`unit_of_work` is the ``with`` form for a block that cannot be repeated.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import click
from flask import current_app
from sqlalchemy.orm import Session

from core.db import run_in_transaction, transaction
from core.errors import DomainError

T = TypeVar("T")


def cli_actor() -> str:
    """The audit actor of a command: ``operator:<login>`` for ``ispzone --as LOGIN`` (or
    ``ISPZONE_AS``), else ``operator:<the Unix user>``."""
    import getpass
    import os

    login = os.environ.get("ISPZONE_AS", "").strip()
    if not login:
        try:
            login = getpass.getuser()
        except (KeyError, OSError):
            login = "cli"
    return f"operator:{login}"


def sessions():
    return current_app.extensions["ispzone.sessions"]


def refusal(exc: DomainError, refused: str = "{error}") -> click.ClickException:
    """The command's error for a refusal: the message on stderr, exit status 1."""
    # replace, not format: the wording may carry a file name with braces in it
    return click.ClickException(refused.replace("{error}", exc.message))


@contextmanager
def unit_of_work(*, refused: str = "{error}", commit: bool = True) -> Iterator[Session]:
    """A session whose work is committed when the block ends (``commit=False``: rolled
    back, a dry run), or rolled back when it raises; a refusal becomes the command's error
    (``refused``: its wording, ``{error}`` the message)."""
    session = sessions()()
    try:
        with transaction(session, commit_at_end=commit):
            yield session
    except DomainError as exc:
        raise refusal(exc, refused) from exc
    finally:
        session.close()


def run(fn: Callable[[Session], T], *, refused: str = "{error}", retries: int = 3) -> T:
    """``fn(session)`` in a unit of work, retried on a serialization failure or deadlock;
    its result, or a refusal as the command's error."""
    try:
        return run_in_transaction(sessions(), fn, retries=retries)
    except DomainError as exc:
        raise refusal(exc, refused) from exc


def read_only() -> Session:
    """A session for a command that only reads (``with read_only() as session:``);
    whatever it did is rolled back when the block ends."""
    return sessions()()
