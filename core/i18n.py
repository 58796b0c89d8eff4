"""Translatable text written outside the web (billing, voip, enforcement raise refusals that
operators and customers read): :func:`_l` marks a message for Babel's extraction (``-k _l``,
babel.cfg) and keeps its parameters apart, so the page translates the message first and fills
in the parameters after (docs/console.md, "Refusals in Czech and English").

    raise CashPaymentError(_l("invoice %(number)s is paid", number=invoice.number))

The value is an English ``str`` (``"invoice 2026000012 is paid"``: logs, the CLI, tests that
match the English text keep working) that remembers its ``msgid`` and ``params``;
``core.errors.DomainError.translated(gettext)`` gives it in the user's language (the web door
and the console's forms call it with Flask-Babel's ``gettext``). Flask-free: no catalog is
read here. Parameters are values, already formatted (numbers, invoice numbers, reasons).
"""

from __future__ import annotations

from collections.abc import Callable


class Message(str):
    """English text ``msgid % params`` that remembers ``msgid`` and ``params``."""

    msgid: str
    params: dict[str, object]

    def __new__(cls, msgid: str, params: dict[str, object] | None = None) -> Message:
        params = dict(params or {})
        text = msgid % params if params else msgid
        self = super().__new__(cls, text)
        self.msgid, self.params = msgid, params
        return self

    def translate(self, gettext: Callable[[str], str]) -> str:
        """The message in the language of ``gettext`` (the msgid looked up, then filled in;
        a translation that breaks the placeholders falls back to the English text)."""
        translated = gettext(self.msgid)
        if not self.params:
            return translated
        # a parameter that is itself a message (a reason inside "line 3: ...") is translated too
        params = {key: value.translate(gettext) if isinstance(value, Message) else value
                  for key, value in self.params.items()}
        try:
            return translated % params
        except (KeyError, TypeError, ValueError):
            return str(self)


def _l(msgid: str, **params: object) -> Message:
    """Mark ``msgid`` (a literal, with ``%(name)s`` placeholders) for translation."""
    return Message(msgid, params)


def translate(text: str, gettext: Callable[[str], str]) -> str:
    """A :class:`Message` translated; any other text looked up as it is (a constant English
    message the catalog may have), or returned unchanged."""
    if isinstance(text, Message):
        return text.translate(gettext)
    return gettext(text) if text else text


__all__ = ["Message", "_l", "translate"]
