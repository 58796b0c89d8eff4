"""Czech (and English) presentation of money, dates and sizes; Jinja filters."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from jinja2 import Undefined

from core.clock import PRAGUE
from core.i18n import format_number as _format_number
from web.i18n import current_lang as _lang
from web.labels import label as format_label

NBSP = "\u00a0"


CZECH_SYMBOLS = {"CZK": "Kč", "EUR": "€"}


def format_money(value: Decimal | int | None, lang: str | None = None,
                 currency: str | None = None) -> str:
    """``1 234,50 Kč`` in Czech (non-breaking spaces), ``CZK 1,234.50`` in English; another
    ``currency`` (a document's own, e.g. EUR) is named instead: ``1 234,50 €``,
    ``EUR 1,234.50``."""
    if value is None:
        return ""
    code = (currency or "CZK").upper()
    value = Decimal(value).quantize(Decimal("0.01"))
    sign = "−" if value < 0 else ""
    whole, frac = f"{abs(value):,.2f}".split(".")
    if (lang or _lang()) == "en":
        return f"{sign}{code}{NBSP}{whole}.{frac}"
    return f"{sign}{whole.replace(',', NBSP)},{frac}{NBSP}{CZECH_SYMBOLS.get(code, code)}"


def format_number(value: Decimal | int | float | None, places: int | None = None,
                  lang: str | None = None) -> str:
    """A count or a quantity (not an identifier): ``1 234,5678`` in Czech (non-breaking
    space groups, decimal comma), ``1,234.5678`` in English; ``places`` decimals (rounded half
    up) or as many as the value has. The same text as core.i18n's :func:`~core.i18n.number`
    in a translated refusal."""
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, str):  # a number read from somewhere as text; anything else as it is
        try:
            value = Decimal(value.strip())
        except ArithmeticError:
            return value
    return _format_number(value, lang or _lang(), places)


def format_date(value: date | datetime | None, lang: str | None = None) -> str:
    """``22. 11. 2026`` in Czech, ``22 Nov 2026`` in English; datetimes in Prague time."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = value.astimezone(PRAGUE)
        time_part = value.strftime("%H:%M")
        return f"{format_date(value.date(), lang)} {time_part}"
    if (lang or _lang()) == "en":
        return value.strftime("%d %b %Y").lstrip("0")
    return f"{value.day}.{NBSP}{value.month}.{NBSP}{value.year}"


def format_bytes(value: int | None, lang: str | None = None) -> str:
    """Decimal units (as ISPs bill): ``1,5 GB``."""
    if value is None:
        return ""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    amount = float(value)  # display only, never money
    unit = 0
    while amount >= 1000 and unit < len(units) - 1:
        amount /= 1000
        unit += 1
    text = f"{amount:.0f}" if unit == 0 else f"{amount:.1f}"
    if (lang or _lang()) != "en":
        text = text.replace(".", ",")
    return f"{text}{NBSP}{units[unit]}"


def format_speed(kbps: int | None) -> str:
    if not kbps:
        return ""
    if kbps >= 1000:
        mbit = kbps / 1000
        return f"{mbit:g}{NBSP}Mbit/s".replace(".", "," if _lang() != "en" else ".")
    return f"{kbps}{NBSP}kbit/s"


def format_phone(number: str | None) -> str:
    """+420601234567 -> +420 601 234 567."""
    if not number:
        return ""
    if number.startswith("+420") and len(number) == 13:
        n = number[4:]
        return f"+420 {n[:3]} {n[3:6]} {n[6:]}"
    return number


def format_czk_vat(document) -> str:
    """A foreign-currency tax document's VAT in CZK at the ČNB rate of its DUZP ("DPH v CZK:
    2 655,00 Kč (kurz ČNB 25,285 CZK/EUR ze dne 7. 12. 2026)"); empty for CZK documents
    (billing/rates.py). A receipt is shown through its advance's session."""
    from sqlalchemy.orm import object_session

    from billing import rates

    session = object_session(document)
    if hasattr(document, "received_on"):  # a tax document for a received payment
        document = _ReceiptView(document)
    if (getattr(document, "currency", "CZK") or "CZK") == "CZK":
        return ""
    value = rates.czk_vat(session, document)
    return rates.describe(value, _lang()) if value is not None else ""


class _ReceiptView:
    """A TaxReceipt seen as a document: its currency is its advance's, its DUZP the day the
    payment was received."""

    kind = "advance_receipt"

    def __init__(self, receipt) -> None:
        self.currency = receipt.advance.currency
        self.taxable_date = receipt.received_on
        self.vat_recap = receipt.vat_recap


def init_app(app: Flask) -> None:
    app.jinja_env.filters.update(
        czk_vat=format_czk_vat,
        money=format_money,
        number=format_number,
        date=format_date,
        bytes=format_bytes,
        speed=format_speed,
        phone=format_phone,
        label=format_label,
    )
