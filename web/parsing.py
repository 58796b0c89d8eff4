"""One strict parser per type for everything a browser (or an operator's command) sends.

Every form field, query parameter and CLI argument that is a number, an amount or a date
goes through these, never through ``Decimal(...)``, ``int(...)`` or ``date.fromisoformat``
directly: those accept ``sNaN``, ``Infinity``, ``1e999999``, ``٣`` (Arabic-Indic digits),
``1_000`` or ``+0003`` and fail later, deep inside, as a 500 (issue 13, item 8).

Each parser takes the raw text and returns the value or raises :class:`ParseError` (a
``ValueError``) with a reason in English for logs and CLI messages; views show their own
translated message.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

from core.errors import Invalid
from core.i18n import _l, money, number
from core.i18n import day as day_

MAX_TEXT = 200


class ParseError(Invalid, ValueError):
    """The raw text is not a value of the expected type (or is out of its bounds)."""


# digits in groups of three may be separated by a space (also a no-break or narrow one);
# the decimal separator is a comma or a point; at most two decimals; no sign, no exponent
_AMOUNT = re.compile(r"(?:[0-9]{1,3}(?:[ \u00a0\u202f][0-9]{3})+|[0-9]{1,12})(?:[.,][0-9]{1,2})?")
_CURRENCY = re.compile(r"\s*(?:Kč|CZK)\s*$", re.IGNORECASE)
_INTEGER = re.compile(r"-?[0-9]{1,18}")  # ASCII only: \d would take any script's digits
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_CZECH_DATE = re.compile(r"([0-9]{1,2})\. ?([0-9]{1,2})\. ?([0-9]{4})")
CENT = Decimal("0.01")


def _clean(raw: object, max_length: int) -> str:
    if raw is None:
        raise ParseError(_l("no value"))
    if not isinstance(raw, str):
        raise ParseError(_l("%(kind)s is not text", kind=type(raw).__name__))
    if len(raw) > max_length:
        raise ParseError(_l("longer than %(length)s characters", length=number(max_length)))
    if any(ord(c) < 32 or ord(c) == 127 for c in raw):
        raise ParseError(_l("control characters"))
    return raw.strip()


def amount(raw: object, *, minimum: Decimal = Decimal("0.00"),
           maximum: Decimal = Decimal("1000000.00")) -> Decimal:
    """An amount in Kč: ``'1 500'``, ``'1500,50'``, ``'1500.5 Kč'`` -> ``Decimal('1500.50')``.

    Decimal digits only, at most two decimals, no sign, no exponent, no NaN or infinity,
    within ``minimum`` .. ``maximum`` (inclusive)."""
    text = _CURRENCY.sub("", _clean(raw, 40))
    if not _AMOUNT.fullmatch(text):
        raise ParseError(_l("%(value)s is not an amount in CZK with at most two decimals",
                             value=repr(raw)))
    value = Decimal(re.sub(r"[ \u00a0\u202f]", "", text).replace(",", ".")).quantize(CENT)
    if value < minimum or value > maximum:
        raise ParseError(_l("%(value)s is not between %(minimum)s and %(maximum)s",
                            value=repr(raw), minimum=money(minimum), maximum=money(maximum)))
    return value


def integer(raw: object, *, minimum: int, maximum: int) -> int:
    """A whole number in ASCII digits (an optional ``-``), within ``minimum`` .. ``maximum``."""
    text = _clean(raw, 20)
    if not _INTEGER.fullmatch(text):
        raise ParseError(_l("%(value)s is not a whole number", value=repr(raw)))
    value = int(text)
    if value < minimum or value > maximum:
        raise ParseError(_l("%(value)s is not between %(minimum)s and %(maximum)s",
                            value=repr(raw), minimum=number(minimum), maximum=number(maximum)))
    return value


def day(raw: object, *, minimum: date = date(2000, 1, 1), maximum: date = date(2100, 12, 31)) -> date:
    """A day as ``YYYY-MM-DD`` (ISO 8601, what a date field sends) or as Czech people write
    it, ``31. 12. 2026`` / ``31.12.2026`` (a browser without a date picker), within
    ``minimum`` .. ``maximum``."""
    text = _clean(raw, 14)
    czech = _CZECH_DATE.fullmatch(text)
    if czech:
        text = f"{czech[3]}-{int(czech[2]):02d}-{int(czech[1]):02d}"
    if not _DATE.fullmatch(text):
        raise ParseError(_l("%(value)s is not a date in the form YYYY-MM-DD", value=repr(raw)))
    try:
        value = date.fromisoformat(text)
    except ValueError as exc:
        raise ParseError(_l("%(value)s is not a valid date", value=repr(raw))) from exc
    if value < minimum or value > maximum:
        raise ParseError(_l("%(value)s is not between %(minimum)s and %(maximum)s",
                            value=repr(raw), minimum=day_(minimum), maximum=day_(maximum)))
    return value


def text(raw: object, *, max_length: int = MAX_TEXT) -> str:
    """Free text of one line: no control characters (NUL included), at most ``max_length``."""
    return _clean(raw, max_length)


def query(raw: object, *, max_length: int = MAX_TEXT) -> str:
    """A search box's text: never refused (an overlong or odd query finds nothing rather
    than fail). Cut to ``max_length``, control characters dropped, runs of spaces as one."""
    if not isinstance(raw, str):
        return ""
    kept = "".join(c if ord(c) >= 32 and ord(c) != 127 else " " for c in raw[:max_length])
    return " ".join(kept.split())


def choice(raw: object, allowed) -> str:
    """One of ``allowed`` (exactly, after stripping spaces)."""
    value = _clean(raw, max((len(str(a)) for a in allowed), default=0) + 10)
    if value not in allowed:
        raise ParseError(_l("%(value)s is not one of %(allowed)s", value=repr(raw),
                            allowed=", ".join(map(str, allowed))))
    return value


def optional(raw: object, parse, default=None, **bounds):
    """``parse(raw, **bounds)``, or ``default`` when ``raw`` is missing or blank."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return default
    return parse(raw, **bounds)


def page_number(raw: object, maximum: int = 100_000) -> int:
    """A list's page from the query string: 1 when missing or not a page number (a stale or
    hand-edited link shows the first page, as before), never out of bounds."""
    try:
        return optional(raw, integer, 1, minimum=1, maximum=maximum)
    except ParseError:
        return 1


# never stored, and checked by their own strict rule (web.redirects.safe_next refuses NUL)
NOT_STORED = frozenset({"next"})


def _refuse_bad_input() -> None:
    """No value, name or path with a NUL byte reaches a view: no text column stores it
    (PostgreSQL refuses such a string with an error, i.e. a 500). No JSON body either: the
    pages' forms take form data only, and Flask-WTF would otherwise feed a JSON body (any
    shape, nested or 30,000 levels deep) to the form (the RADIUS API is not a Flask view)."""
    from flask import abort, request

    if "\x00" in request.path:
        abort(400)
    if request.is_json:
        abort(415)
    for source in (request.args, request.form):
        for name, values in source.lists():
            if name in NOT_STORED:
                continue
            if "\x00" in name or any("\x00" in v for v in values):
                abort(400)


MAX_ID = 2**31 - 1  # the ids are INTEGER columns


def install(app) -> None:
    """The request guard, and ``<int:...>`` in URLs bounded to ids the database can hold
    (a larger number is a 404, not an overflow in the driver). Call before the blueprints
    are registered."""
    from werkzeug.routing import IntegerConverter

    class IdConverter(IntegerConverter):
        def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):  # noqa: A002
            super().__init__(map, fixed_digits, min, MAX_ID if max is None else max, signed)

    app.url_map.converters["int"] = IdConverter
    app.before_request(_refuse_bad_input)
