"""QR Platba: the Czech "Short Payment Descriptor" (SPAYD 1.0) and its QR code.

Format (docs/facts/qr-platba.md, from https://qr-platba.cz/pro-vyvojare/specifikace-formatu/)::

    SPD*1.0*ACC:CZ5855000000001265098001*AM:480.50*CC:CZK*X-VS:1234*MSG:FAKTURA 2026000123

Keys are ``[A-Z-]``, values are ISO-8859-1 and ``*`` inside a value is written ``%2A``
(``%`` itself becomes ``%25`` so that the escaping is reversible). Everything this module
writes stays inside the QR alphanumeric set (``0-9 A-Z space $%*+-./:``), so the code is
as small as possible; MSG is transliterated to plain upper-case ASCII for that reason.
DT (the date the bank executes the payment) is deliberately not written: it is not the due
date, and a past DT makes some banking apps refuse the payment.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import TYPE_CHECKING

import segno
from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum.cz import bankaccount as cz_bankaccount
from stdnum.exceptions import ValidationError

from billing.models import InvoiceKind
from core.errors import DomainError

if TYPE_CHECKING:
    from billing.models import Invoice

HEADER = "SPD*1.0*"
CENT = Decimal("0.01")
MAX_AMOUNT = Decimal("10000000")  # AM has at most 10 characters: 9999999.99
MAX_MSG = 60
MAX_SYMBOL = 10
QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_KEY = re.compile(r"[A-Z-]+")
_CURRENCY = re.compile(r"[A-Z]{3}")
_ESCAPES = {"%": "%25", "*": "%2A"}
# Letters that NFKD does not split into a base letter and a combining mark.
_LATIN_EXTRAS = str.maketrans(
    {"ß": "SS", "Æ": "AE", "æ": "AE", "Ø": "O", "ø": "O", "Đ": "D", "đ": "D", "Ł": "L", "ł": "L"}
)


class QrPlatbaError(DomainError, ValueError):
    """The payment cannot be expressed as a valid QR Platba."""


def build_spayd(
    iban: str,
    amount: Decimal,
    vs: str | int | None = None,
    ss: str | int | None = None,
    ks: str | int | None = None,
    message: str | None = None,
    currency: str = "CZK",
    bic: str | None = None,
) -> str:
    """Build a SPAYD 1.0 string; raise :class:`QrPlatbaError` on anything a bank would refuse."""
    acc = _check_iban(iban)
    if bic:
        acc = f"{acc}+{_check_bic(bic)}"
    fields: list[tuple[str, str]] = [
        ("ACC", acc),
        ("AM", _format_amount(amount)),
        ("CC", _check_currency(currency)),
    ]
    for key, value in (("X-VS", vs), ("X-SS", ss), ("X-KS", ks)):
        if value is not None and str(value) != "":
            fields.append((key, _check_symbol(key, value)))
    if message:
        msg = _message_text(message)
        if msg:
            fields.append(("MSG", msg))
    return HEADER + "*".join(f"{key}:{_escape(value)}" for key, value in fields)


def parse_spayd(s: str) -> dict[str, str]:
    """Parse a SPAYD string back into ``{key: unescaped value}`` (e.g. ``{"AM": "480.50"}``)."""
    if not s.startswith("SPD*"):
        raise QrPlatbaError("not a SPAYD string: it must start with 'SPD*'")
    parts = s.split("*")
    if len(parts) < 3 or not re.fullmatch(r"\d+\.\d+", parts[1]):
        raise QrPlatbaError("SPAYD header must be 'SPD*<version>*'")
    result: dict[str, str] = {}
    for part in parts[2:]:
        if part == "":
            continue  # a trailing '*' is tolerated
        key, sep, value = part.partition(":")
        if not sep or not _KEY.fullmatch(key):
            raise QrPlatbaError(f"malformed SPAYD attribute {part!r}")
        result[key] = _unescape(value)
    if "ACC" not in result:
        raise QrPlatbaError("SPAYD without ACC")
    return result


def spayd_for_invoice(invoice: Invoice, open_amount: Decimal) -> str | None:
    """The QR Platba of what is still to be paid on ``invoice``, or None when nothing is due."""
    if open_amount <= 0 or not invoice.supplier_iban or invoice.kind == InvoiceKind.CREDIT_NOTE:
        return None
    label = "Zalohova faktura" if invoice.kind == InvoiceKind.ADVANCE else "Faktura"
    return build_spayd(
        invoice.supplier_iban,
        open_amount,
        vs=invoice.variable_symbol,
        ss=invoice.specific_symbol,
        message=f"{label} {invoice.number}",
        currency=invoice.currency or "CZK",
    )


@lru_cache(maxsize=512)
def qr_svg(spayd: str, scale: int = 4) -> str:
    """Inline SVG markup (no XML declaration) of the QR code, error correction level M.

    Cached by the SPAYD string: the invoice page of an open invoice is opened again and
    again with the same amount due."""
    qr = segno.make(spayd, error="m", boost_error=False, micro=False)
    return qr.svg_inline(scale=scale, svgclass="qr-platba", title="QR Platba")


# -- validation ------------------------------------------------------------------------------


def _check_iban(iban: str) -> str:
    try:
        compact = stdnum_iban.validate(iban)
    except ValidationError as exc:
        raise QrPlatbaError(f"invalid IBAN {iban!r}: {exc}") from exc
    if compact.startswith("CZ"):
        _check_czech_account(compact)
    return compact


def _check_czech_account(compact_iban: str) -> None:
    """The IBAN checksum does not cover the Czech mod-11 account checksum: check it too."""
    bban = compact_iban[4:]
    bank, prefix, number = bban[:4], bban[4:10], bban[10:]
    try:
        cz_bankaccount.validate(f"{prefix}-{number}/{bank}")
    except ValidationError as exc:
        raise QrPlatbaError(f"IBAN {compact_iban} holds an invalid Czech account: {exc}") from exc


def _check_bic(bic: str) -> str:
    try:
        return stdnum_bic.validate(bic)
    except ValidationError as exc:
        raise QrPlatbaError(f"invalid BIC {bic!r}: {exc}") from exc


def _format_amount(amount: Decimal | int) -> str:
    if isinstance(amount, float | bool) or not isinstance(amount, Decimal | int):
        raise QrPlatbaError(f"amount must be a Decimal, got {type(amount).__name__}")
    try:
        value = Decimal(amount)
        exact = value.quantize(CENT)
    except InvalidOperation as exc:
        raise QrPlatbaError(f"invalid amount {amount!r}") from exc
    if not value.is_finite() or value != exact:
        raise QrPlatbaError(f"amount {amount} has more than 2 decimal places")
    if value <= 0:
        raise QrPlatbaError(f"amount must be positive, got {amount}")
    if value >= MAX_AMOUNT:
        raise QrPlatbaError(f"amount {amount} is too large for QR Platba (max 9999999.99)")
    return f"{exact:f}"


def _check_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if not _CURRENCY.fullmatch(code):
        raise QrPlatbaError(f"currency must be a 3-letter ISO 4217 code, got {currency!r}")
    return code


def _check_symbol(key: str, value: str | int) -> str:
    text = str(value).strip()
    if not text.isascii() or not text.isdigit() or len(text) > MAX_SYMBOL:
        raise QrPlatbaError(f"{key} must be 1 to {MAX_SYMBOL} digits, got {value!r}")
    return text


def _message_text(message: str) -> str:
    """Upper-case ASCII without diacritics, only QR-alphanumeric characters, escaped <= 60."""
    decomposed = unicodedata.normalize("NFKD", message.translate(_LATIN_EXTRAS))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).upper()
    cleaned = "".join(c if c in QR_ALPHANUMERIC else " " for c in ascii_text)
    text = " ".join(cleaned.split())
    while len(_escape(text)) > MAX_MSG:
        text = text[:-1]
    return text.rstrip()


# -- escaping --------------------------------------------------------------------------------


def _escape(value: str) -> str:
    try:
        value.encode("iso-8859-1")
    except UnicodeEncodeError as exc:
        raise QrPlatbaError(f"value {value!r} is not ISO-8859-1") from exc
    return "".join(_ESCAPES.get(c, c) for c in value)


def _unescape(value: str) -> str:
    return re.sub(
        r"%([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]).decode("iso-8859-1"), value
    )
