"""Translatable text written outside the web (billing, voip, enforcement raise refusals that
operators and customers read): :func:`_l` marks a message for Babel's extraction (``-k _l``,
babel.cfg) and keeps its parameters apart, so the page translates the message first and fills
in the parameters after (docs/console.md, "Refusals in Czech and English").

    raise CashPaymentError(_l("invoice %(number)s is paid", number=invoice.number))

The value is an English ``str`` (``"invoice 2026000012 is paid"``: logs, the CLI, tests that
match the English text keep working) that remembers its ``msgid`` and ``params``;
``core.errors.DomainError.translated(gettext)`` gives it in the user's language (the web door
and the console's forms call it with Flask-Babel's ``gettext``). Flask-free: no catalog is
read here. Parameters are texts (invoice numbers, reasons) or, for numbers, amounts and days,
:func:`money`, :func:`number` and :func:`day`: the English text stays as it was (``str``), and
the reader's language formats them when the message is translated (``1 234,50 Kč`` and
``6. 12. 2026`` in Czech, ``CZK 1,234.50`` and ``6 Dec 2026`` in English), never at import
or raise time.

    raise CapExceeded(_l("top-up of %(amount)s would exceed the cap %(cap)s",
                         amount=money(amount, "CZK"), cap=money(cap, "CZK")))
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal

from core.clock import PRAGUE

NBSP = "\u00a0"
CZECH_SYMBOLS = {"CZK": "Kč", "EUR": "€"}
CENT = Decimal("0.01")


# -- numbers, amounts and days in the reader's language ---------------------------------------


def _grouped(value: Decimal, places: int | None, lang: str) -> str:
    """``1 234,5`` (Czech: non-breaking space groups, decimal comma) or ``1,234.5``;
    ``places`` decimals (rounded half up), or as many as the value has."""
    if places is not None:
        value = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    text = f"{abs(value):,f}"
    if lang == "en":
        return text
    return text.replace(",", NBSP).replace(".", ",")


def format_number(value: Decimal | int | float, lang: str, places: int | None = None) -> str:
    """A number in ``lang``: ``1 234,50`` in Czech, ``1,234.50`` in English; negative with
    a true minus sign (U+2212)."""
    value = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    sign = "\u2212" if value < 0 else ""
    return sign + _grouped(value, places, lang)


def format_money(value: Decimal | int, lang: str, currency: str | None = "CZK") -> str:
    """``1 234,50 Kč`` in Czech, ``CZK 1,234.50`` in English (web.formatting's filters say
    the same); ``currency=None``: the amount alone (``1 234,50``, ``1,234.50``), for a
    message that names the currency itself."""
    value = Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)
    amount = _grouped(value, 2, lang)
    sign = "\u2212" if value < 0 else ""
    if currency is None:
        return sign + amount
    code = currency.upper()
    if lang == "en":
        return f"{sign}{code}{NBSP}{amount}"
    return f"{sign}{amount}{NBSP}{CZECH_SYMBOLS.get(code, code)}"


def format_date(value: date | datetime, lang: str) -> str:
    """``6. 12. 2026`` in Czech (non-breaking spaces), ``6 Dec 2026`` in English; a
    datetime in Prague time with its ``HH:MM``."""
    if isinstance(value, datetime):
        value = value.astimezone(PRAGUE) if value.tzinfo else value
        return f"{format_date(value.date(), lang)} {value:%H:%M}"
    if lang == "en":
        return f"{value.day} {value:%b} {value.year}"
    return f"{value.day}.{NBSP}{value.month}.{NBSP}{value.year}"


class Value:
    """A number, an amount or a day inside a :class:`Message`: ``str()`` is the English text
    of logs and the CLI (by default what an f-string made of the value: ``1000.00``,
    ``2026-12-06``); :meth:`format` is the text in a reader's language, made when the
    message is translated."""

    __slots__ = ("value", "kind", "option", "text")

    def __init__(self, value, kind: str, option=None, text: str | None = None) -> None:
        self.value, self.kind, self.option = value, kind, option
        self.text = str(value) if text is None else text

    def __str__(self) -> str:
        return self.text

    def __repr__(self) -> str:
        return f"{self.kind}({self.value!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Value):
            return (self.value, self.kind, self.option) == (other.value, other.kind,
                                                          other.option)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((self.value, self.kind, self.option))

    def format(self, lang: str) -> str:
        if self.kind == "money":
            return format_money(self.value, lang, self.option)
        if self.kind == "day":
            return format_date(self.value, lang)
        return format_number(self.value, lang, self.option)


def money(value: Decimal | int, currency: str | None = None, *, text: str | None = None) -> Value:
    """An amount: ``money(D("1000"), "CZK")`` reads ``1 000,00 Kč`` / ``CZK 1,000.00``;
    without a currency ``1 000,00`` / ``1,000.00`` (the message names it)."""
    return Value(value, "money", currency, text)


def number(value: Decimal | int | float, places: int | None = None, *,
           text: str | None = None) -> Value:
    """A count or a quantity: ``number(270000)`` reads ``270 000`` / ``270,000``. Not for
    identifiers (invoice numbers, ids, line numbers, years), which are never grouped."""
    return Value(value, "number", places, text)


def day(value: date | datetime, *, text: str | None = None) -> Value:
    """A day (or a moment): ``6. 12. 2026`` / ``6 Dec 2026``."""
    return Value(value, "day", None, text)


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

    def translate(self, gettext: Callable[[str], str], lang: str | None = None) -> str:
        """The message in the language of ``gettext`` (the msgid looked up, then filled in;
        a translation that breaks the placeholders falls back to the English text).
        ``lang`` (``cs``, ``en``) formats the :class:`Value` parameters; without it they
        keep their English text."""
        translated = gettext(self.msgid)
        if not self.params:
            return translated
        params = {key: _param(value, gettext, lang) for key, value in self.params.items()}
        try:
            return translated % params
        except (KeyError, TypeError, ValueError):
            return str(self)


def _param(value: object, gettext: Callable[[str], str], lang: str | None) -> object:
    # a parameter that is itself a message (a reason inside "line 3: ...") is translated too
    if isinstance(value, Message):
        return value.translate(gettext, lang)
    if isinstance(value, Value) and lang is not None:
        return value.format(lang)
    return value


def _l(msgid: str, **params: object) -> Message:
    """Mark ``msgid`` (a literal, with ``%(name)s`` placeholders) for translation."""
    return Message(msgid, params)


def join(parts: list[str], sep: str = "\n") -> Message:
    """Several messages as one (a file's bad rows, one a line), each translated alone."""
    keys = [f"part{i}" for i in range(len(parts))]
    return Message(sep.join(f"%({k})s" for k in keys), dict(zip(keys, parts, strict=True)))


def translate(text: str, gettext: Callable[[str], str], lang: str | None = None) -> str:
    """A :class:`Message` translated (its values formatted in ``lang``); any other text
    looked up as it is (a constant English message the catalog may have), or returned
    unchanged."""
    if isinstance(text, Message):
        return text.translate(gettext, lang)
    return gettext(text) if text else text


__all__ = ["Message", "Value", "_l", "day", "format_date", "format_money", "format_number",
           "join", "money", "number", "translate"]
