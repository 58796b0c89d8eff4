"""The one root of every refusal a user or operator may see: :class:`DomainError`.

Domain functions raise a subclass of :class:`DomainError` when they refuse to do something
(bad input, a transition the state machine does not allow, a cap reached); they have then
written nothing the caller should keep. The doors turn it into the user's message, once:

- the web door (``web.door``): rolls the request's unit of work back, flashes the message
  and renders a 4xx page (``templates/errors/refused.html``), or redirects where the view
  declared it;
- the CLI door (``web.cli_door``): rolls back, prints the message on stderr, exits 1.

Most typed errors keep ``ValueError`` as their second base, because callers and tests
catch them as such. Each subclass may set the HTTP ``status`` (400 bad input, 409 a
conflict with the current state, 422 a well-formed but invalid document) and the form
``field`` the message belongs to.

Deliberately *not* under this root: infrastructure failures that say nothing about what
the user asked for and that a retry may cure (docs/doors.md): the database driver's errors
(``sqlalchemy.exc``: the doors retry serialization failures, the web otherwise answers
500), ``core.mail.MailError`` (an SMTP server down: logged, the mail is retried),
``enforcement.drivers.DriverError`` (a router unreachable: the outbox retries) and
``billing.bank.fio_api.FioApiError`` (the bank's API down or refusing the token). Turning
those into a polite "refused" page would hide an outage from the operator.
"""

from __future__ import annotations

from collections.abc import Callable

from core.i18n import translate


class DomainError(Exception):
    """A refusal the user or operator may see; nothing that should be kept was written.

    ``message`` is the user-facing text in English; raised with ``core.i18n._l(msgid,
    **params)`` it is translatable with its parameters (:meth:`translated`), a plain string
    is translated when the catalogue has it as it is. ``status`` is the HTTP status the web
    door answers with, ``field`` the form field it concerns (or None).
    """

    status: int = 400
    field: str | None = None

    def __init__(self, message: str | None = None, *args, status: int | None = None,
                 field: str | None = None) -> None:
        if message is None:
            super().__init__(*args)
        else:
            super().__init__(message, *args)
        if status is not None:
            self.status = status
        if field is not None:
            self.field = field

    @property
    def message(self) -> str:
        """The user-facing text (the exception's string, or its class's docstring's first
        line when raised without one)."""
        text = str(self)
        if text:
            return text
        doc = (type(self).__doc__ or "").strip().splitlines()
        return doc[0] if doc else type(self).__name__

    def translated(self, gettext: Callable[[str], str], lang: str | None = None) -> str:
        """The message in the language of ``gettext`` (Flask-Babel's, in the web): a
        ``core.i18n._l`` message is looked up by its msgid and filled in with its params,
        its numbers, amounts and days formatted in ``lang`` (``cs``, ``en``)."""
        first = self.args[0] if len(self.args) == 1 else None
        return translate(first if isinstance(first, str) and first else self.message, gettext,
                         lang)


class Conflict(DomainError):
    """The request conflicts with the current state (HTTP 409)."""

    status = 409


class Invalid(DomainError):
    """Well-formed but invalid input, e.g. a file with bad rows (HTTP 422)."""

    status = 422
