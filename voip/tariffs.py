"""VoIP price lists: phone-number normalization, longest-prefix lookup, quotes. Importing a
price list from CSV is voip/tariff_import.py.

"The tariff valid on a day" is the :class:`Tariff` with the greatest ``valid_from`` not after
that day, so a price list can be imported ahead for a future date. A tariff's rates are
looked up through an in-process :class:`TariffIndex` (one dict per prefix length, probed
from the longest length down), cached per (tariff id, imported_at): replacing a tariff
(``--replace``) updates ``imported_at``, so every process notices and rebuilds its index.

No Flask here: the web zone, the CLI and the CDR import all call these functions.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import DomainError
from core.i18n import _l
from voip.models import Tariff, TariffRate
from voip.rating import PRICE_QUANTUM, Rate, gross

__all__ = [
    "InvalidNumber",
    "Quote",
    "TariffIndex",
    "index_for",
    "minutes_for",
    "normalize_number",
    "quote",
    "tariff_on",
]

CZ = "420"


class InvalidNumber(DomainError, ValueError):
    """The text is not a phone number we can price."""


# --- phone numbers -------------------------------------------------------------------------

_SEPARATORS = re.compile(r"[\s\-./()\u00a0]+")
_DIGITS = re.compile(r"[0-9]+")


def normalize_number(raw: str) -> str:
    """E.164 digits without '+' from what a person types: '+420 601 234 567', '00420...',
    a 9-digit Czech national number ('601 234 567'), '+49 30 1234567'.

    Raises :class:`InvalidNumber` for letters, and for numbers too short or too long to exist
    (E.164 allows at most 15 digits; Czech numbers have 9 digits after 420).
    """
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("+"):
        digits, international = text[1:], True
    elif text.startswith("00"):
        digits, international = text[2:], True
    else:
        digits, international = text, False
    if not digits:
        raise InvalidNumber(_l("enter a phone number"))
    if not _DIGITS.fullmatch(digits):
        raise InvalidNumber(_l("a phone number has only digits (and an optional + at the start)"))
    # Czech emergency and service numbers (112, 150, 155, 158, 1188...), dialled alone or
    # as +420 112: priced by the price list's prefixes such as 420112 (docs/voip-tariffs.md)
    if not international and _SERVICE.fullmatch(digits):
        return CZ + digits
    if international and digits.startswith(CZ) and _SERVICE.fullmatch(digits[len(CZ):]):
        return digits
    if not international:
        if len(digits) == 9:
            digits = CZ + digits
        elif not (len(digits) == 12 and digits.startswith(CZ)):
            raise InvalidNumber(_l("enter a 9-digit Czech number or the number with +country code"))
    if digits.startswith("0"):
        raise InvalidNumber(_l("a country code never starts with 0"))
    if digits.startswith(CZ) and len(digits) != 12:
        raise InvalidNumber(_l("a Czech number has 9 digits after +420"))
    if not 7 <= len(digits) <= 15:
        raise InvalidNumber(_l("a phone number has 7 to 15 digits with its country code"))
    return digits


# Czech short numbers: 112, the emergency services 150/155/156/158, directory enquiries
# 118xx and the EU's harmonised 116xxx
_SERVICE = re.compile(r"11[26]|15[0568]|118\d{1,2}|116\d{3}")
EMERGENCY = frozenset({"420112", "420150", "420155", "420158", "420156"})


def is_emergency(number: str) -> bool:
    """112 and the Czech emergency services (fire 150, ambulance 155, police 158, municipal
    police 156): free, and possible without credit."""
    return number in EMERGENCY


# ITU-T E.164 country calling codes by length: the one-digit and two-digit ones; every other
# code has three digits (+420, +421, +358, ...). A code is never a prefix of another.
_CC1 = frozenset("17")
_CC2 = frozenset(("20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 "
                  "58 60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98").split())


def country_code(digits: str) -> str:
    """The country calling code at the start of an international number's digits."""
    if digits[:1] in _CC1:
        return digits[:1]
    if digits[:2] in _CC2:
        return digits[:2]
    return digits[:3]


def prefix_digits(raw: str) -> str:
    """A tariff prefix as written in the CSV ('+420 601', '00420601', '420601') -> '420601'."""
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not _DIGITS.fullmatch(text) or text.startswith("0") or len(text) > 20:
        raise ValueError(_l("bad prefix %(prefix)s (digits of the international number, e.g. 420601)",
                            prefix=repr(raw)))
    return text


# --- the index -----------------------------------------------------------------------------


class TariffIndex:
    """Longest-prefix match over one tariff's rates: a dict per prefix length."""

    __slots__ = ("imported_at", "name", "size", "tables", "tariff_id", "valid_from")

    def __init__(self, tariff_id: int, name: str, valid_from: date, imported_at, rates):
        self.tariff_id = tariff_id
        self.name = name
        self.valid_from = valid_from
        self.imported_at = imported_at
        by_length: dict[int, dict[str, Rate]] = {}
        for rate in rates:
            by_length.setdefault(len(rate.prefix), {})[rate.prefix] = rate
        self.tables = tuple(sorted(by_length.items(), reverse=True))
        self.size = sum(len(t) for _, t in self.tables)

    def lookup(self, number: str) -> Rate | None:
        """The rate of the longest prefix of ``number`` (E.164 digits), or None."""
        size = len(number)
        for length, table in self.tables:
            if length <= size:
                rate = table.get(number[:length])
                if rate is not None:
                    return rate
        return None


_CACHE: OrderedDict[tuple[int, object], TariffIndex] = OrderedDict()
_CACHE_SIZE = 4
_CACHE_LOCK = threading.Lock()


def index_for(session: Session, tariff: Tariff) -> TariffIndex:
    """The cached index of ``tariff`` (built on first use; keyed by id and imported_at)."""
    key = (tariff.id, tariff.imported_at)
    with _CACHE_LOCK:
        index = _CACHE.get(key)
        if index is not None:
            _CACHE.move_to_end(key)
            return index
    columns = (
        TariffRate.prefix,
        TariffRate.destination,
        TariffRate.price_per_minute,
        TariffRate.connect_fee,
        TariffRate.vat_rate,
        TariffRate.initial_increment,
        TariffRate.increment,
        TariffRate.destination_en,
    )
    rows = session.execute(select(*columns).where(TariffRate.tariff_id == tariff.id))
    rates = [
        Rate(p, d, ppm, fee, Decimal(vat).quantize(Decimal("0.01")), ini, inc, en or None)
        for p, d, ppm, fee, vat, ini, inc, en in rows
    ]
    index = TariffIndex(tariff.id, tariff.name, tariff.valid_from, tariff.imported_at, rates)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


def english_destinations(session: Session, calls) -> dict[tuple[int, str], str]:
    """(tariff id, prefix) -> the price list's English destination name, for rated calls
    (``tariff_id``, ``prefix``) shown on an English page; one query. Rates without an
    English name are left out (the page shows the Czech one)."""
    pairs = {(c.tariff_id, c.prefix) for c in calls if c.tariff_id and c.prefix}
    if not pairs:
        return {}
    rows = session.execute(
        select(TariffRate.tariff_id, TariffRate.prefix, TariffRate.destination_en)
        .where(TariffRate.tariff_id.in_({t for t, _ in pairs}),
               TariffRate.prefix.in_({p for _, p in pairs}),
               TariffRate.destination_en.is_not(None)))
    return {(t, p): en for t, p, en in rows if (t, p) in pairs and en}


def tariff_on(session: Session, day: date) -> Tariff | None:
    """The tariff valid on ``day``: the greatest valid_from <= day."""
    return session.scalars(
        select(Tariff).where(Tariff.valid_from <= day).order_by(Tariff.valid_from.desc()).limit(1)
    ).first()


# --- quotes --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """What a call to ``number`` costs under the tariff valid on the day asked about.

    Prices per minute and connect fees: net as in the tariff, and with VAT rounded to
    0.0001 Kč (for display). :meth:`cost` is what the CDR import would deduct.
    """

    number: str  # E.164 digits without '+'
    prefix: str
    destination: str
    price_per_minute: Decimal
    price_per_minute_vat: Decimal
    vat_rate: Decimal
    connect_fee: Decimal
    connect_fee_vat: Decimal
    initial_increment: int
    increment: int
    tariff_name: str
    tariff_valid_from: date
    tariff_id: int = 0
    rate: Rate | None = None

    def cost(self, seconds: int) -> Decimal:
        """The VAT-inclusive cost of a call of ``seconds`` answered seconds, to 0.01 Kč."""
        return self._rate().cost(seconds)

    @property
    def increments_label(self) -> str:
        return f"{self.initial_increment}/{self.increment}"

    def _rate(self) -> Rate:
        if self.rate is not None:
            return self.rate
        return Rate(
            self.prefix, self.destination, self.price_per_minute, self.connect_fee,
            self.vat_rate, self.initial_increment, self.increment,
        )


def quote_for(index: TariffIndex, number: str) -> Quote | None:
    rate = index.lookup(number)
    if rate is None:
        return None
    return Quote(
        number=number,
        prefix=rate.prefix,
        destination=rate.destination,
        price_per_minute=rate.price_per_minute,
        price_per_minute_vat=gross(rate.price_per_minute, rate.vat_rate, PRICE_QUANTUM),
        vat_rate=rate.vat_rate,
        connect_fee=rate.connect_fee,
        connect_fee_vat=gross(rate.connect_fee, rate.vat_rate, PRICE_QUANTUM),
        initial_increment=rate.initial_increment,
        increment=rate.increment,
        tariff_name=index.name,
        tariff_valid_from=index.valid_from,
        tariff_id=index.tariff_id,
        rate=rate,
    )


def quote(session: Session, raw_number: str, on: date) -> Quote | None:
    """Price a call to ``raw_number`` on day ``on``. Raises InvalidNumber for bad input;
    None when no tariff is valid that day or no prefix matches."""
    number = normalize_number(raw_number)
    tariff = tariff_on(session, on)
    if tariff is None:
        return None
    return quote_for(index_for(session, tariff), number)


def minutes_for(credit: Decimal, q: Quote) -> int | None:
    """Whole minutes of talk that ``credit`` (VAT included) pays for one call, connect fee
    included: the greatest n with ``q.cost(60 * n) <= credit``.

    None when the destination is free (no price per minute and no connect fee beyond the
    credit): the credit does not limit such calls.
    """
    credit = Decimal(credit)
    if credit <= 0 or q.cost(60) > credit:
        return 0
    if q.price_per_minute == 0:
        return None
    # an estimate from the gross price, then exact steps (cost is non-decreasing)
    per_minute = q.price_per_minute * (100 + q.vat_rate) / 100
    n = max(1, int((credit - q.connect_fee_vat) / per_minute))
    while n > 1 and q.cost(60 * n) > credit:
        n -= 1
    while q.cost(60 * (n + 1)) <= credit:
        n += 1
    return n
