"""ČNB exchange rates and the VAT in CZK of a tax document in a foreign currency
(docs/credit.md "EUR tax documents").

A tax document may be issued in a foreign currency (a EUR credit account's top-ups: the tax
document for the received payment; EUR invoices), but the VAT must be stated in CZK too,
converted at the ČNB rate valid on the day the tax falls due, the DUZP (§ 4 odst. 5 and § 38
ZDPH: the rate ČNB announced for that day, or the last one announced before it). So:

* ``ispzone rates import FILE`` stores ČNB's daily file (``denni_kurz.txt``): the first line
  is the date and the series (``07.12.2026 #236``), the second the header
  ``země|měna|množství|kód|kurz``, then one row per currency with a Czech decimal comma
  (``EMU|euro|1|EUR|25,285``). A bad line is refused with its number and nothing is stored;
  a day already stored is kept (the same rate again is fine, another rate is refused: a
  printed document must print the same later). ``--fetch`` downloads the day's file.
* :func:`require_rate` refuses to issue a foreign-currency tax document without a rate for
  its DUZP (the day itself or up to ``MAX_AGE_DAYS`` before it: weekends and holidays have
  none);
* :func:`czk_vat` gives what the PDF and the web page print: "DPH v CZK: 2 655,00 Kč (kurz
  ČNB 25,285 CZK/EUR ze dne 7. 12. 2026)", per rate and in total, each VAT amount converted
  and rounded to the haléř.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import ExchangeRate
from core import audit
from core.errors import Conflict, Invalid

HEADER = "země|měna|množství|kód|kurz"
MAX_AGE_DAYS = 5  # the last rate before the DUZP counts for this many days (Easter: 4)
CNB_URL = ("https://www.cnb.cz/cs/financni-trhy/devizovy-trh/kurzy-devizoveho-trhu/"
           "kurzy-devizoveho-trhu/denni_kurz.txt")
CENT = Decimal("0.01")
_FIRST = re.compile(r"\s*(\d{1,2})\.(\d{1,2})\.(\d{4})\s*#\s*(\d+)\s*")
_CODE = re.compile(r"[A-Z]{3}")
_RATE = re.compile(r"\d{1,6}(,\d{1,4})?")


class RateFileError(Invalid, ValueError):
    """A ČNB rate file that cannot be stored (the message names the line); nothing stored."""


class RateMissing(Conflict, ValueError):
    """No ČNB rate for a foreign-currency tax document's DUZP: the document is not issued."""


@dataclass(frozen=True)
class ParsedRate:
    country: str
    currency_name: str
    amount: int
    code: str
    rate: Decimal


@dataclass(frozen=True)
class RateFile:
    day: date
    series: int
    rates: list[ParsedRate]


def parse_cnb(text: str) -> RateFile:
    """Parse ČNB's daily file; RateFileError names every bad line (the first line is 1)."""
    lines = text.lstrip("\ufeff").splitlines()
    errors: list[str] = []
    if not lines or not lines[0].strip():
        raise RateFileError("line 1: the file is empty (expected the date and the series, "
                            "e.g. 07.12.2026 #236)")
    match = _FIRST.fullmatch(lines[0])
    day = None
    if not match:
        errors.append(f"line 1: {lines[0].strip()!r} is not the date and the series "
                      "(e.g. 07.12.2026 #236)")
    else:
        try:
            day = date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        except ValueError:
            errors.append(f"line 1: {match.group(1)}.{match.group(2)}.{match.group(3)} is not a date")
    if len(lines) < 2 or lines[1].strip() != HEADER:
        found = lines[1].strip() if len(lines) > 1 else "nothing"
        errors.append(f"line 2: expected the header {HEADER!r}, found {found!r}")
    rates: list[ParsedRate] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines[2:], start=3):
        if not line.strip():
            continue
        cells = [c.strip() for c in line.split("|")]
        if len(cells) != 5:
            errors.append(f"line {number}: {len(cells)} fields, expected 5 ({HEADER})")
            continue
        country, name, amount_text, code, rate_text = cells
        if not _CODE.fullmatch(code):
            errors.append(f"line {number}: the code {code!r} is not three capital letters")
            continue
        if not amount_text.isdigit() or not 1 <= int(amount_text) <= 1_000_000:
            errors.append(f"line {number}: the amount {amount_text!r} is not a whole number of units")
            continue
        if not _RATE.fullmatch(rate_text):
            errors.append(f"line {number}: the rate {rate_text!r} is not a number with a decimal "
                          "comma (e.g. 25,285)")
            continue
        try:
            rate = Decimal(rate_text.replace(",", "."))
        except InvalidOperation:  # pragma: no cover - the pattern above
            errors.append(f"line {number}: the rate {rate_text!r} is not a number")
            continue
        if rate <= 0:
            errors.append(f"line {number}: the rate of {code} must be positive")
            continue
        if code in seen:
            errors.append(f"line {number}: {code} is already on line {seen[code]}")
            continue
        seen[code] = number
        rates.append(ParsedRate(country, name, int(amount_text), code, rate))
    if not errors and not rates:
        errors.append("line 3: no rates (the file has only the date and the header)")
    if errors:
        raise RateFileError("\n".join(errors[:50]))
    return RateFile(day, int(match.group(4)), rates)


@dataclass
class ImportReport:
    day: date
    stored: int = 0
    unchanged: int = 0

    def __str__(self) -> str:
        return (f"ČNB rates of {self.day.isoformat()}: {self.stored} stored, "
                f"{self.unchanged} already stored")


def import_rates(session: Session, text: str, *, source: str, actor: str) -> ImportReport:
    """Store a ČNB daily file, all or nothing (caller commits); audited."""
    parsed = parse_cnb(text)
    stored = {r.currency: r for r in session.scalars(
        select(ExchangeRate).where(ExchangeRate.day == parsed.day))}
    report = ImportReport(parsed.day)
    conflicts = [
        f"{r.code} of {parsed.day.isoformat()} is stored already as {stored[r.code].rate} per "
        f"{stored[r.code].amount}; the file says {r.rate} per {r.amount} (a stored rate is "
        "never changed)"
        for r in parsed.rates
        if r.code in stored and (stored[r.code].rate != r.rate or stored[r.code].amount != r.amount)
    ]
    if conflicts:
        raise RateFileError("\n".join(conflicts))
    for r in parsed.rates:
        if r.code in stored:
            report.unchanged += 1
            continue
        session.add(ExchangeRate(day=parsed.day, currency=r.code, amount=r.amount, rate=r.rate,
                                 source=source[-200:]))
        report.stored += 1
    session.flush()
    if report.stored:
        audit.record(session, "rates.imported", actor=actor, new_value=parsed.day.isoformat(),
                     details={"series": parsed.series, "stored": report.stored,
                              "source": source[-200:]})
    return report


def fetch_cnb(day: date | None = None, *, url: str = CNB_URL, timeout: float = 20.0) -> str:
    """ČNB's daily file for ``day`` (default: the latest), as text."""
    import urllib.request

    target = url + (f"?date={day:%d.%m.%Y}" if day else "")
    with urllib.request.urlopen(target, timeout=timeout) as response:  # noqa: S310 (https, our URL)
        return response.read().decode("utf-8")


def rate_for(session: Session, currency: str, day: date) -> ExchangeRate | None:
    """The rate valid on ``day``: that day's, or the last one before it (at most
    ``MAX_AGE_DAYS`` old)."""
    return session.scalars(
        select(ExchangeRate)
        .where(ExchangeRate.currency == currency, ExchangeRate.day <= day,
               ExchangeRate.day >= day - timedelta(days=MAX_AGE_DAYS))
        .order_by(ExchangeRate.day.desc()).limit(1)).first()


def require_rate(session: Session, currency: str, day: date, what: str = "the tax document") -> ExchangeRate | None:
    """The rate a foreign-currency tax document needs (None for CZK); RateMissing when
    there is none (nothing is issued)."""
    if currency == "CZK":
        return None
    found = rate_for(session, currency, day)
    if found is None:
        raise RateMissing(
            f"{what} in {currency} needs the ČNB rate of {day.day}. {day.month}. {day.year} "
            f"(its DUZP) to state its VAT in CZK; import it first: ispzone rates import "
            "denni_kurz.txt (or --fetch)")
    return found


@dataclass(frozen=True)
class CzkVat:
    currency: str
    rate: Decimal  # CZK per ``amount`` units
    amount: int
    rate_day: date
    per_rate: list[tuple[Decimal, Decimal]]  # (VAT rate, VAT in CZK)
    total: Decimal  # the sum of per_rate

    def convert(self, value: Decimal) -> Decimal:
        return (Decimal(value) * self.rate / self.amount).quantize(CENT, rounding=ROUND_HALF_UP)


def czk_vat(session: Session | None, document) -> CzkVat | None:
    """What a foreign-currency tax document states in CZK (None for CZK documents, for
    documents that are not tax documents, and when no rate is stored)."""
    currency = getattr(document, "currency", "CZK") or "CZK"
    if currency == "CZK" or session is None or getattr(document, "kind", None) == "advance":
        return None
    day = document.taxable_date
    if isinstance(day, datetime):
        day = day.date()
    found = rate_for(session, currency, day)
    if found is None:
        return None
    unit = Decimal(found.rate)
    per_rate = [(Decimal(r.rate), (Decimal(r.vat) * unit / found.amount).quantize(
        CENT, rounding=ROUND_HALF_UP)) for r in document.vat_recap]
    return CzkVat(currency, unit, found.amount, found.day, per_rate,
                  sum((v for _, v in per_rate), Decimal("0.00")))


def describe(value: CzkVat, lang: str = "cs") -> str:
    """ "DPH v CZK: 2 655,00 Kč (kurz ČNB 25,285 CZK/EUR ze dne 7. 12. 2026)"."""
    def format_money(value: Decimal, _currency: str) -> str:  # as billing.documents.pdf_kit
        grouped = f"{abs(value):,.2f}".replace(",", "\u00a0").replace(".", ",")
        return f"{'-' if value < 0 else ''}{grouped}\u00a0Kč"

    three = value.rate.quantize(Decimal("0.001"))
    rate = f"{three if three == value.rate else value.rate:f}"  # ČNB prints 3 decimals
    unit = f"{value.amount} {value.currency}" if value.amount != 1 else value.currency
    day = value.rate_day
    if lang == "en":
        return (f"VAT in CZK: {format_money(value.total, 'CZK')} (ČNB rate {rate} CZK/{unit} "
                f"of {day.day} {day:%B} {day.year})")
    return (f"DPH v CZK: {format_money(value.total, 'CZK')} (kurz ČNB {rate.replace('.', ',')} "
            f"CZK/{unit} ze dne {day.day}. {day.month}. {day.year})")
