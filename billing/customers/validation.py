"""Validation and normalisation of customer data, shared by the zone forms and the import.

Each function returns the normalised value or raises :class:`InvalidValue` with a short
English reason (the web layer translates the field's message).
"""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email
from stdnum.cz import dic as cz_dic

from core.errors import Invalid
from core.i18n import _l


class InvalidValue(Invalid, ValueError):
    pass


def email(value: str, *, check_deliverability: bool = False) -> str:
    try:
        result = validate_email(value.strip(), check_deliverability=check_deliverability)
    except EmailNotValidError as exc:
        raise InvalidValue(str(exc)) from exc
    return result.normalized


_PHONE_JUNK = re.compile(r"[\s\-./()]")


def phone(value: str) -> str:
    """Normalise to E.164; Czech numbers to ``+420`` + 9 digits.

    Accepts ``601 234 567``, ``+420 601 234 567``, ``00420601234567``, ``(+420) 601-234-567``
    and foreign numbers written with ``+`` or ``00``.
    """
    raw = _PHONE_JUNK.sub("", value.strip())
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    if raw.startswith("+"):
        digits = raw[1:]
        if not digits.isdigit():
            raise InvalidValue(_l("a phone number may contain only digits"))
        if digits.startswith("420"):
            national = digits[3:]
            if len(national) != 9 or national[0] == "0":
                raise InvalidValue(_l("a Czech phone number has 9 digits after +420"))
            return "+" + digits
        if not 8 <= len(digits) <= 15:
            raise InvalidValue(_l("an international number has 8 to 15 digits"))
        return "+" + digits
    if not raw.isdigit():
        raise InvalidValue(_l("a phone number may contain only digits"))
    if len(raw) != 9 or raw[0] == "0":
        raise InvalidValue(_l("a Czech phone number has 9 digits"))
    return "+420" + raw


def ico(value: str) -> str:
    """Czech company ID (IČO): 8 digits, weights 8..2, mod 11 check digit."""
    raw = re.sub(r"\s", "", value)
    if not raw.isdigit() or len(raw) > 8:
        raise InvalidValue(_l("IČO has 8 digits"))
    raw = raw.zfill(8)
    total = sum(int(d) * w for d, w in zip(raw[:7], range(8, 1, -1), strict=True))
    check = (11 - total % 11) % 10
    if int(raw[7]) != check:
        raise InvalidValue(_l("IČO check digit does not match"))
    return raw


def dic(value: str) -> str:
    """Czech VAT ID (DIČ): ``CZ`` + 8-10 digits with the checks of python-stdnum."""
    raw = re.sub(r"\s", "", value).upper()
    if not raw.startswith("CZ"):
        raw = "CZ" + raw
    if not cz_dic.is_valid(raw):
        raise InvalidValue(_l("not a valid Czech DIČ"))
    return "CZ" + cz_dic.compact(raw)


def postal_code(value: str) -> str:
    """A Czech PSČ: five digits, the first 1-7 (the postal regions: 1 Praha ... 7 severní
    Morava; 0, 8 and 9 are Slovak), written ``280 02``."""
    raw = re.sub(r"\s", "", value)
    if len(raw) != 5 or not raw.isascii() or not raw.isdigit():
        raise InvalidValue(_l("a Czech postal code has 5 digits"))
    if raw[0] not in "1234567":
        raise InvalidValue(_l("a Czech postal code starts with 1 to 7"))
    return f"{raw[:3]} {raw[3:]}"


def symbol(value: str, *, max_len: int = 10) -> str:
    """A variable/specific symbol or a contract number: digits, no leading zero."""
    raw = value.strip()
    if not raw.isdigit() or len(raw) > max_len:
        raise InvalidValue(_l("must be 1 to %(max)s digits", max=max_len))
    if raw[0] == "0":
        raise InvalidValue(_l("must not start with 0 (banks pad symbols with zeros)"))
    return raw
