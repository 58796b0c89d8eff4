"""Pure parsers for bank statements: GPC/ABO, Fio JSON, Fio CSV and ISO 20022 camt.053.

No database, no Flask: bytes in, :class:`ParsedStatement` out. Every problem with the input is
a :class:`StatementError` naming the line it was found on, so an operator can open the file and
see it. The importer (which stores :class:`ParsedTransaction` rows as ``BankTransaction``)
deduplicates on ``(account, bank_tx_id)``; each parser documents where its id comes from.

Normalisation shared by all formats:

* amounts are signed ``Decimal`` (+ money in, - money out), never float;
* symbols (VS/SS/KS) are digits without leading zeros; empty, all-zero, over-long or non-digit
  values become ``None`` (GPC pads them with zeros; payers type letters into Fio/camt fields);
* Czech account numbers are ``[prefix-]number/bank`` without leading zeros; IBANs are kept as
  IBANs, except that a counter-party's CZ IBAN is turned into the national form.

Our own account comes as each format states it: GPC has no bank code (the caller may pass
``bank_code``), camt.053 gives the IBAN, Fio "number/2010". ``national_account(account)`` maps
all three to one key. The dataclasses are mutable (the parsers fill in ids after a pass over
the whole file); treat the results as values.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from core.errors import Invalid

FORMATS = ("gpc", "fio-json", "fio-csv", "camt053")


@dataclass(slots=True)
class ParsedTransaction:
    bank_tx_id: str
    booked_on: date
    amount: Decimal  # signed: + incoming credit, - outgoing debit
    currency: str
    variable_symbol: str | None
    specific_symbol: str | None
    constant_symbol: str | None
    counter_account: str | None
    counter_name: str | None
    message: str | None
    line: int  # 1-based line in the file where the transaction starts


@dataclass(slots=True)
class ParsedStatement:
    format: str
    account: str  # our account: "2001234567/2010", or the IBAN for camt.053
    transactions: list[ParsedTransaction] = field(default_factory=list)
    opening_balance: Decimal | None = None
    closing_balance: Decimal | None = None
    statement_date: date | None = None


class StatementError(Invalid, ValueError):
    """The file is not a valid statement; ``line`` is 1-based, or None for the whole file."""

    def __init__(self, reason: str, line: int | None = None) -> None:
        self.reason = reason
        self.line = line
        super().__init__(f"line {line}: {reason}" if line is not None else reason)


AMOUNT_LIMIT = Decimal(10) ** 10  # NUMERIC(12,2) holds up to 9,999,999,999.99


CENT = Decimal("0.01")


def check_amount(value: Decimal, line: int | None, what: str = "amount") -> Decimal:
    """Refuse NaN, infinities, amounts no account or column can hold, and fractions of a
    haléř (a bank moves whole haléře; the money columns would refuse the row later, with
    no line number)."""
    if not value.is_finite() or abs(value) >= AMOUNT_LIMIT:
        raise StatementError(f"{what} {value} is out of range", line)
    if value != value.quantize(CENT):
        raise StatementError(f"{what} {value} has more than two decimal places", line)
    return value


def normalise_symbol(value: object, max_digits: int = 10) -> str | None:
    """Digits without leading zeros: "0000001001" -> "1001"; "", "0", "ABC12" -> None."""
    if value is None or isinstance(value, bool):
        return None
    text = str(value).strip()
    if not text or not text.isascii() or not text.isdigit():
        return None
    text = text.lstrip("0")
    if not text or len(text) > max_digits:
        return None
    return text


def normalise_account(number: object, bank: object = None) -> str | None:
    """Czech "prefix-number" + bank code -> "19-2000145399/0800"; all-zero -> None.

    IBANs (and anything else that starts with two letters) pass through upper-cased.
    """
    raw = "" if number is None else str(number).strip().replace(" ", "")
    code = "" if bank is None else str(bank).strip()
    if not raw:
        return None
    if "/" in raw:
        raw, _, own_code = raw.partition("/")
        code = code or own_code
    if raw[:2].isalpha():
        return raw.upper()
    prefix, _, base = raw.rpartition("-")
    if not base.isdigit() or (prefix and not prefix.isdigit()):
        return f"{raw}/{code}" if code else raw  # unknown shape: keep what the bank sent
    prefix, base = prefix.lstrip("0"), base.lstrip("0")
    if not base and not prefix:
        return None
    account = f"{prefix}-{base or '0'}" if prefix else base
    if code.isdigit() and not code.strip("0"):
        code = ""
    return f"{account}/{code}" if code else account


def national_account(number: object, bank: object = None) -> str | None:
    """Like :func:`normalise_account`, but a CZ IBAN becomes "prefix-number/bank"."""
    account = normalise_account(number, bank)
    if account and account.startswith("CZ") and len(account) == 24 and account[2:].isdigit():
        return normalise_account(f"{account[8:14]}-{account[14:]}", account[4:8])
    return account


def join_texts(*parts: object) -> str | None:
    """The distinct non-empty texts, in order, joined with " | " (None if there are none)."""
    texts: list[str] = []
    for part in parts:
        text = "" if part is None else " ".join(str(part).split())
        if text and text not in texts:
            texts.append(text)
    return " | ".join(texts) or None


def unique_ids(candidates: list[str | None], fallbacks: list[str]) -> list[str]:
    """Keep each bank-given id that is present and unique in the file; else the fallback."""
    counts = Counter(c for c in candidates if c)
    return [
        c if c and counts[c] == 1 else (f"{fb}-{c}" if c else fb)
        for c, fb in zip(candidates, fallbacks, strict=True)
    ]


def detect_format(data: bytes) -> str:
    """Sniff the first bytes: one of :data:`FORMATS`, or StatementError."""
    head = data[:65536]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    stripped = head.lstrip()
    if stripped.startswith(b"<"):
        if b"BkToCstmrStmt" in head or b"camt.053" in head:
            return "camt053"
        raise StatementError("XML document is not an ISO 20022 camt.053 statement")
    if stripped.startswith(b"{"):
        if b'"accountStatement"' in head:
            return "fio-json"
        raise StatementError("JSON document is not a Fio banka statement")
    if stripped[:3] in (b"074", b"075", b"076", b"078", b"079"):
        return "gpc"
    text = head.decode("utf-8", errors="replace")
    for line in text.splitlines()[:60]:
        first = line.split(";", 1)[0].strip().strip('"')
        if first in ("ID pohybu", "ID operace"):
            return "fio-csv"
    raise StatementError("unknown statement format (expected GPC, Fio JSON/CSV or camt.053)")


def parse_statement(
    data: bytes, fmt: str | None = None, *, bank_code: str | None = None
) -> ParsedStatement:
    """Parse ``data`` in format ``fmt`` (detected when None).

    ``bank_code`` is only used by GPC, whose header carries our account number but not our
    bank code; the caller (which knows which account it imports) may supply it.
    """
    from billing.bank.statements import camt, fio, gpc

    fmt = fmt or detect_format(data)
    if fmt == "gpc":
        return gpc.parse_gpc(data, bank_code=bank_code)
    if fmt == "fio-json":
        return fio.parse_fio_json(data)
    if fmt == "fio-csv":
        return fio.parse_fio_csv(data)
    if fmt == "camt053":
        return camt.parse_camt053(data)
    raise StatementError(f"unknown statement format {fmt!r}")
