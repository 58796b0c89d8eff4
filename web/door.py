"""The web door: the request's unit of work and the one handler of refusals.

A view validates its form, calls domain functions on ``db()`` and returns; it never
commits or rolls back. After the view, the door commits the request's session once when
the response's status is below 400, and rolls it back otherwise (a 4xx page, an
``abort()``, an exception). Work that must happen only once the data is committed
(e-mails) is handed to :func:`after_commit`.

A :class:`core.errors.DomainError` that leaves a view reaches :func:`refused`: the unit of
work is rolled back, the message is flashed (translated when the catalogue has it) and the
refused page (``templates/errors/refused.html``) is rendered with the error's 4xx status,
unless the view declared with :func:`on_refusal` that it answers that error otherwise
(a redirect back to the form, its own wording, a form with the field's error).

Retries: a request is not replayed (its input stream is read once, a browser may have seen
part of the answer); on PostgreSQL the pages run at READ COMMITTED and take row locks, so
serialization failures do not arise, and a rare deadlock is a 500 that the user may retry.
Jobs and commands retry through ``core.db.run_in_transaction``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps

from flask import Flask, Response, flash, g, redirect, render_template, url_for
from flask_babel import gettext

from core import db as core_db
from core.errors import DomainError

log = logging.getLogger(__name__)


def init_app(app: Flask) -> None:
    app.after_request(_finish)
    app.register_error_handler(DomainError, refused)


def after_commit(fn: Callable[[], object]) -> None:
    """Run ``fn()`` after the request's unit of work is committed (never when it is rolled
    back); a failing ``fn`` is logged and the response stands."""
    from web.database import db

    core_db.after_commit(db(), fn)


def _finish(response: Response) -> Response:
    """Commit once when the answer is a success (< 400), otherwise roll back."""
    session = g.get("db_session")
    if session is None or g.get("door_refused"):
        return response
    if response.status_code < 400:
        core_db.commit(session)  # a failure here propagates: a 500, and teardown rolls back
    else:
        core_db.rollback(session)
    return response


@dataclass(frozen=True)
class Refusal:
    """How a view answers a refusal of type ``error`` (see :func:`on_refusal`)."""

    error: type[DomainError]
    redirect_to: str | Callable[[DomainError], str] | None = None
    message: Callable[[DomainError], str] | None = None
    category: str = "error"
    code: int = 302
    respond: Callable[[DomainError], object] | None = None


def on_refusal(
    error: type[DomainError] = DomainError,
    *,
    redirect_to: str | Callable[[DomainError], str] | None = None,
    message: Callable[[DomainError], str] | None = None,
    category: str = "error",
    code: int = 302,
    respond: Callable[[DomainError], object] | None = None,
):
    """Declare how the decorated view answers a refusal of type ``error`` (the first
    declared match wins; decorators apply top to bottom):

    - ``message(exc)``: the flashed text (default: the error's message, translated);
      ``message=None`` together with ``respond`` flashes nothing;
    - ``redirect_to``: an endpoint name (or ``fn(exc) -> url``) to redirect to with
      ``code`` instead of rendering the refused page;
    - ``respond(exc)``: the view's own answer (e.g. its form with the field's error);
      the unit of work is rolled back before it is called.
    """
    rule = Refusal(error, redirect_to, message, category, code, respond)

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            g.refusals = (*g.get("refusals", ()), rule)
            return view(*args, **kwargs)

        return wrapper

    return decorate


def refusal_text(exc: DomainError) -> str:
    """The refusal's message in the user's language: a ``core.i18n._l`` message by its msgid
    with its parameters filled in after (numbers, amounts and days in the user's format),
    any other message looked up as it is."""
    from web.i18n import current_lang

    return exc.translated(gettext, current_lang())


def refused(exc: DomainError):
    """The one handler of :class:`DomainError` in the web: roll back, tell the user."""
    session = g.get("db_session")
    if session is not None:
        core_db.rollback(session)
    g.door_refused = True
    rule = next((r for r in g.get("refusals", ()) if isinstance(exc, r.error)), None)
    log.info("refused: %s: %s", type(exc).__name__, exc)
    if rule is not None and rule.respond is not None:
        if rule.message is not None:
            flash(rule.message(exc), rule.category)
        return rule.respond(exc)
    text = rule.message(exc) if rule is not None and rule.message else refusal_text(exc)
    if rule is not None and rule.redirect_to is not None:
        flash(text, rule.category)
        target = rule.redirect_to
        return redirect(target(exc) if callable(target) else url_for(target), rule.code)
    flash(text, "error")
    status = exc.status if 400 <= exc.status < 500 else 400
    return render_template("errors/refused.html", message=text), status
