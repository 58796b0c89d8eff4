"""Importing a VoIP price list from CSV (columns: docs/voip-tariffs.md): all or nothing,
every bad row reported with its number, valid from a given day (a future one too).

No Flask here: the CLI and the demo call these functions; voip/tariffs.py looks the stored
rates up.
"""

from __future__ import annotations

import csv
import io
import re
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from core import audit
from core.clock import now, today
from core.db import bulk_insert
from core.errors import Invalid
from core.i18n import _l, join
from core.i18n import day as shown_day
from core.i18n import number as shown_number
from voip.models import Tariff, TariffRate
from voip.rating import Rate
from voip.tariffs import prefix_digits

__all__ = ["TariffFileError", "import_tariff_csv", "parse_tariff_csv"]


class TariffFileError(Invalid, ValueError):
    """A tariff CSV was rejected; the message lists every problem with its row number."""


COLUMNS = ("prefix", "destination", "price_per_minute", "connect_fee", "increments", "vat_rate",
           "destination_en")
REQUIRED = ("prefix", "destination", "price_per_minute")
MAX_ERRORS = 50
NUL = _l("contains a NUL character (U+0000)")  # which PostgreSQL text cannot hold
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
        raise ValueError(_l("%(what)s %(text)s is not a number", what=what, text=repr(text))) from None
    if not value.is_finite() or value < 0 or value > maximum:
        raise ValueError(_l("%(what)s %(text)s must be between 0 and %(maximum)s", what=what,
                            text=repr(text), maximum=shown_number(maximum)))
    if value != value.quantize(Decimal(1).scaleb(-places)):
        raise ValueError(_l("%(what)s %(text)s has more than %(places)s decimal places", what=what,
                            text=repr(text), places=places))
    return value.quantize(Decimal(1).scaleb(-places))


def _increments(text: str) -> tuple[int, int]:
    m = _INCREMENTS.fullmatch(text or "")
    if not m:
        raise ValueError(_l("increments %(text)s must look like 60/60, 60/1 or 1/1", text=repr(text)))
    initial = int(m.group(1))
    step = int(m.group(2) or initial)
    if not (1 <= initial <= 3600 and 1 <= step <= 3600):
        raise ValueError(_l("increments %(text)s must be 1 to 3600 seconds", text=repr(text)))
    return initial, step


def parse_tariff_csv(text: str) -> list[Rate]:
    """Parse the CSV text (header row required; ';' or ',' separated). TariffFileError
    lists every bad row with its number (the header is row 1)."""
    lines = text.splitlines()
    if not any(line.strip() for line in lines):
        raise TariffFileError(_l("the file is empty (expected a header row: %(columns)s)",
                                 columns=";".join(COLUMNS)))
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
        raise TariffFileError(_l("row %(row)s: a column name %(reason)s", row=header_row_no,
                                 reason=NUL))
    unknown = [h for h in header if h and h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    if unknown or missing:
        parts = []
        if missing:
            parts.append(_l("missing column(s) %(names)s", names=", ".join(missing)))
        if unknown:
            parts.append(_l("unknown column(s) %(names)s", names=", ".join(unknown)))
        raise TariffFileError(_l("row %(row)s: %(reason)s (columns: %(columns)s)",
                                 row=header_row_no, reason=join(parts, "; "),
                                 columns=";".join(COLUMNS)))
    position = {name: header.index(name) for name in COLUMNS if name in header}
    errors: list[str] = []
    rates: list[Rate] = []
    first_row: dict[str, int] = {}
    for row in reader:
        row_no = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header) and any(c.strip() for c in row[len(header):]):
            errors.append(_l("row %(row)s: %(count)s columns, the header has %(header)s",
                              row=row_no, count=len(row), header=len(header)))
            continue

        def cell(name: str, default: str = "", row: list[str] = row) -> str:
            i = position.get(name)
            if i is None or i >= len(row):
                return default
            if "\0" in row[i]:
                raise ValueError(_l("%(what)s %(reason)s", what=name, reason=NUL))
            return row[i].strip()

        try:
            prefix = prefix_digits(cell("prefix"))
            destination = cell("destination")
            if not destination or len(destination) > 100:
                raise ValueError(_l("destination must be 1 to 100 characters"))
            destination_en = cell("destination_en") or None  # optional: English pages' name
            if destination_en is not None and len(destination_en) > 100:
                raise ValueError(_l("destination_en must be at most 100 characters"))
            price = _decimal(cell("price_per_minute"), "price_per_minute", 4, Decimal("9999"))
            fee = _decimal(cell("connect_fee") or "0", "connect_fee", 4, Decimal("9999"))
            vat = _decimal(cell("vat_rate") or "21", "vat_rate", 2, Decimal("100"))
            initial, step = _increments(cell("increments") or "60/60")
        except ValueError as exc:
            errors.append(_l("row %(row)s: %(reason)s", row=row_no,
                              reason=exc.args[0] if exc.args else str(exc)))
            continue
        if prefix in first_row:
            errors.append(_l("row %(row)s: prefix %(prefix)s already on row %(first)s", row=row_no,
                              prefix=prefix, first=first_row[prefix]))
            continue
        first_row[prefix] = row_no
        rates.append(Rate(prefix, destination, price, fee, vat, initial, step, destination_en))
    if not errors and not rates:
        errors.append(_l("no rates: the file has only the header (row %(row)s)",
                          row=header_row_no))
    if errors:
        shown = errors[:MAX_ERRORS]
        if len(errors) > MAX_ERRORS:
            shown.append(_l("... and %(count)s more errors", count=len(errors) - MAX_ERRORS))
        raise TariffFileError(join(shown))
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
        raise TariffFileError(_l(
            "a tariff valid from %(day)s already exists (%(name)s); use --replace to replace it",
            day=shown_day(valid_from), name=repr(existing.name)))
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
                "destination_en": r.destination_en,
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
