"""VoIP price lists: phone-number normalization, longest-prefix lookup, quotes, CSV import.

"The tariff valid on a day" is the :class:`Tariff` with the greatest ``valid_from`` not after
that day, so a price list can be imported ahead for a future date. A tariff's rates are
looked up through an in-process :class:`TariffIndex` (one dict per prefix length, probed
from the longest length down), cached per (tariff id, imported_at): replacing a tariff
(``--replace``) updates ``imported_at``, so every process notices and rebuilds its index.

No Flask here: the web zone, the CLI and the CDR import all call these functions.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing import audit
from billing.clock import now, today
from billing.db import bulk_insert
from voip.models import Tariff, TariffRate
from voip.rating import PRICE_QUANTUM, Rate, gross

__all__ = [
    "InvalidNumber",
    "Quote",
    "TariffFileError",
    "TariffIndex",
    "import_tariff_csv",
    "index_for",
    "minutes_for",
    "normalize_number",
    "quote",
    "tariff_on",
]

CZ = "420"


class InvalidNumber(ValueError):
    """The text is not a phone number we can price."""


class TariffFileError(ValueError):
    """A tariff CSV was rejected; the message lists every problem with its row number."""


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
        raise InvalidNumber("enter a phone number")
    if not _DIGITS.fullmatch(digits):
        raise InvalidNumber("a phone number has only digits (and an optional + at the start)")
    if not international:
        if len(digits) == 9:
            digits = CZ + digits
        elif not (len(digits) == 12 and digits.startswith(CZ)):
            raise InvalidNumber("enter a 9-digit Czech number or the number with +country code")
    if digits.startswith("0"):
        raise InvalidNumber("a country code never starts with 0")
    if digits.startswith(CZ) and len(digits) != 12:
        raise InvalidNumber("a Czech number has 9 digits after +420")
    if not 7 <= len(digits) <= 15:
        raise InvalidNumber("a phone number has 7 to 15 digits with its country code")
    return digits


def prefix_digits(raw: str) -> str:
    """A tariff prefix as written in the CSV ('+420 601', '00420601', '420601') -> '420601'."""
    text = _SEPARATORS.sub("", raw or "")
    if text.startswith("+"):
        text = text[1:]
    elif text.startswith("00"):
        text = text[2:]
    if not _DIGITS.fullmatch(text) or text.startswith("0") or len(text) > 20:
        raise ValueError(f"bad prefix {raw!r} (digits of the international number, e.g. 420601)")
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
    )
    rows = session.execute(select(*columns).where(TariffRate.tariff_id == tariff.id))
    rates = [
        Rate(p, d, ppm, fee, Decimal(vat).quantize(Decimal("0.01")), ini, inc)
        for p, d, ppm, fee, vat, ini, inc in rows
    ]
    index = TariffIndex(tariff.id, tariff.name, tariff.valid_from, tariff.imported_at, rates)
    with _CACHE_LOCK:
        _CACHE[key] = index
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return index


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


# --- CSV import ----------------------------------------------------------------------------

COLUMNS = ("prefix", "destination", "price_per_minute", "connect_fee", "increments", "vat_rate")
REQUIRED = ("prefix", "destination", "price_per_minute")
MAX_ERRORS = 50
NUL = "contains a NUL character (U+0000)"  # which PostgreSQL text cannot hold
_INCREMENTS = re.compile(r"\s*(\d{1,4})\s*(?:/\s*(\d{1,4})\s*)?")


def _read_text(source) -> tuple[str, str | None]:
    if isinstance(source, str | Path):
        data = Path(source).read_bytes()
        try:
            return data.decode("utf-8-sig"), str(source)
        except UnicodeDecodeError:
            return data.decode("cp1250"), str(source)  # a CSV saved by Czech Excel
    text = source.read()
    if isinstance(text, bytes):
        text = text.decode("utf-8-sig")
    return text.lstrip("\ufeff"), getattr(source, "name", None)


def _decimal(text: str, what: str, places: int, maximum: Decimal) -> Decimal:
    cleaned = (text or "").strip().replace(" ", "").replace("\u00a0", "").replace(",", ".")
    cleaned = cleaned.removesuffix("%")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise ValueError(f"{what} {text!r} is not a number") from None
    if not value.is_finite() or value < 0 or value > maximum:
        raise ValueError(f"{what} {text!r} must be between 0 and {maximum}")
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(f"{what} {text!r} has more than {places} decimal places")
    return value.quantize(Decimal(1).scaleb(-places))


def _increments(text: str) -> tuple[int, int]:
    m = _INCREMENTS.fullmatch(text or "")
    if not m:
        raise ValueError(f"increments {text!r} must look like 60/60, 60/1 or 1/1")
    initial = int(m.group(1))
    step = int(m.group(2) or initial)
    if not (1 <= initial <= 3600 and 1 <= step <= 3600):
        raise ValueError(f"increments {text!r} must be 1 to 3600 seconds")
    return initial, step


def parse_tariff_csv(text: str) -> list[Rate]:
    """Parse the CSV text (header row required; ';' or ',' separated). TariffFileError
    lists every bad row with its number (the header is row 1)."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise TariffFileError("the file is empty (expected a header row: " + ";".join(COLUMNS) + ")")
    header_line = next(line for line in lines if line.strip())
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header_row_no, header = 0, None
    for row in reader:
        header_row_no = reader.line_num
        if any(cell.strip() for cell in row):
            header = [cell.strip().lower() for cell in row]
            break
    if any("\0" in h for h in header):
        raise TariffFileError(f"row {header_row_no}: a column name {NUL}")
    unknown = [h for h in header if h and h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append("missing column(s) " + ", ".join(missing))
        if unknown:
            parts.append("unknown column(s) " + ", ".join(unknown))
        raise TariffFileError(
            f"row {header_row_no}: " + "; ".join(parts) + " (columns: " + ";".join(COLUMNS) + ")"
        )
    position = {name: header.index(name) for name in COLUMNS if name in header}
    errors: list[str] = []
    rates: list[Rate] = []
    first_row: dict[str, int] = {}
    for row in reader:
        row_no = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            errors.append(f"row {row_no}: {len(row)} columns, the header has {len(header)}")
            continue

        def cell(name: str, default: str = "", row: list[str] = row) -> str:
            i = position.get(name)
            if i is None or i >= len(row):
                return default
            if "\0" in row[i]:
                raise ValueError(f"{name} {NUL}")
            return row[i].strip()

        try:
            prefix = prefix_digits(cell("prefix"))
            destination = cell("destination")
            if not destination or len(destination) > 100:
                raise ValueError("destination must be 1 to 100 characters")
            price = _decimal(cell("price_per_minute"), "price_per_minute", 4, Decimal("9999"))
            fee = _decimal(cell("connect_fee") or "0", "connect_fee", 4, Decimal("9999"))
            vat = _decimal(cell("vat_rate") or "21", "vat_rate", 2, Decimal("100"))
            initial, step = _increments(cell("increments") or "60/60")
        except ValueError as exc:
            errors.append(f"row {row_no}: {exc}")
            continue
        if prefix in first_row:
            errors.append(f"row {row_no}: prefix {prefix} already on row {first_row[prefix]}")
            continue
        first_row[prefix] = row_no
        rates.append(Rate(prefix, destination, price, fee, vat, initial, step))
    if not errors and not rates:
        errors.append(f"no rates: the file has only the header (row {header_row_no})")
    if errors:
        shown = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            shown.append(f"... and {len(errors) - MAX_ERRORS} more errors")
        raise TariffFileError("\n".join(shown))
    return rates


def import_tariff_csv(
    session: Session,
    source: str | Path | TextIO,
    *,
    valid_from: date | None = None,
    name: str | None = None,
    actor: str,
    replace: bool = False,
) -> Tariff:
    """Store the price list in ``source`` (a path or a text stream) valid from ``valid_from``
    (default: today). All or nothing: TariffFileError with row numbers, nothing written.
    A second tariff for the same valid_from is an error unless ``replace``; replacing keeps
    the tariff row (rated calls refer to it) and swaps its rates. Audited; caller commits."""
    text, source_name = _read_text(source)
    rates = parse_tariff_csv(text)
    valid_from = valid_from or today()
    name = (name or (Path(source_name).stem if source_name else f"Ceník {valid_from}"))[:100]
    existing = session.scalars(select(Tariff).where(Tariff.valid_from == valid_from)).first()
    if existing is not None and not replace:
        raise TariffFileError(
            f"a tariff valid from {valid_from} already exists ({existing.name!r}); "
            "use --replace to replace it"
        )
    if existing is not None:
        tariff = existing
        session.execute(delete(TariffRate).where(TariffRate.tariff_id == tariff.id))
        tariff.name = name
        tariff.imported_at = now()
        tariff.source_file = (source_name or "")[-300:] or None
    else:
        tariff = Tariff(
            name=name, valid_from=valid_from, imported_at=now(),
            source_file=(source_name or "")[-300:] or None,
        )
        session.add(tariff)
    session.flush()
    bulk_insert(
        session,
        TariffRate.__table__,
        [
            {
                "tariff_id": tariff.id,
                "prefix": r.prefix,
                "destination": r.destination,
                "price_per_minute": r.price_per_minute,
                "connect_fee": r.connect_fee,
                "vat_rate": r.vat_rate,
                "initial_increment": r.initial_increment,
                "increment": r.increment,
            }
            for r in rates
        ],
    )
    session.expire(tariff, ["rates"])
    audit.record(
        session,
        "voip.tariff_replaced" if existing is not None else "voip.tariff_imported",
        actor=actor,
        new_value=name,
        details={"tariff_id": tariff.id, "valid_from": valid_from.isoformat(),
                 "rates": len(rates), "source": source_name},
    )
    session.flush()
    return tariff
