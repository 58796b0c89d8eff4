"""Pure parsers for bank statements: GPC/ABO, Fio JSON, Fio CSV and ISO 20022 camt.053.

No database, no Flask: bytes in, :class:`ParsedStatement` out. Every problem with the input is
a :class:`StatementError` naming the line it was found on, so an operator can open the file and
see it. The importer (which stores :class:`ParsedTransaction` rows as ``BankTransaction``)
deduplicates on ``(account, bank_tx_id)``; each parser documents where its id comes from. A
movement without a bank id gets :func:`derived_id`, the same in every format; one bank id on
two movements of one file refuses the file (docs/bank-statements.md).

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

import hashlib
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import BinaryIO

from core.errors import Invalid
from core.i18n import _l
from core.i18n import money as shown_money
from core.i18n import number as shown_number

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
        super().__init__(_l("line %(line)s: %(reason)s", line=line, reason=reason)
                         if line is not None else reason)


AMOUNT_LIMIT = Decimal(10) ** 10  # NUMERIC(12,2) holds up to 9,999,999,999.99


CENT = Decimal("0.01")


def _names(what: str) -> str:
    """The words callers name an amount by, as the operator reads them."""
    return _l("amount") if what == "amount" else what


def check_amount(value: Decimal, line: int | None, what: str = "amount") -> Decimal:
    """Refuse NaN, infinities, amounts no account or column can hold, and fractions of a
    haléř (a bank moves whole haléře; the money columns would refuse the row later, with
    no line number)."""
    if not value.is_finite() or abs(value) >= AMOUNT_LIMIT:
        raise StatementError(_l("%(what)s %(value)s is out of range", what=_names(what),
                                value=shown_number(value)),
                             line)
    if value != value.quantize(CENT):
        raise StatementError(_l("%(what)s %(value)s has more than two decimal places",
                                what=_names(what), value=shown_number(value)), line)
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


DERIVED_PREFIX = "noid-"


def derived_id(
    account: str, tx: ParsedTransaction, sequence: int
) -> str:
    """The identity of a movement the bank gave no id, the same in every format.

    Made of what every format states: our account's number (without the bank code, which
    GPC does not carry), the booking date, the amount, VS, SS, KS, the counter-account, and
    ``sequence``: 1 for the first id-less movement of the day with these same fields in the
    file, 2 for the second... (docs/bank-statements.md, "Movements without a bank id").
    """
    own = (national_account(account) or account or "").partition("/")[0]
    amount = tx.amount.quantize(CENT) if tx.amount.is_finite() else tx.amount
    key = "|".join(
        (
            own,
            tx.booked_on.isoformat(),
            f"{amount:f}",
            tx.variable_symbol or "",
            tx.specific_symbol or "",
            tx.constant_symbol or "",
            tx.counter_account or "",
            str(sequence),
        )
    )
    return DERIVED_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def assign_derived_ids(statement: ParsedStatement) -> None:
    """Give each movement without a bank id (``bank_tx_id == ""``) its derived id."""
    sequences: Counter[tuple] = Counter()
    for tx in statement.transactions:
        if tx.bank_tx_id:
            continue
        fields = (
            tx.booked_on, tx.amount, tx.variable_symbol, tx.specific_symbol,
            tx.constant_symbol, tx.counter_account,
        )  # fmt: skip
        sequences[fields] += 1
        tx.bank_tx_id = derived_id(statement.account, tx, sequences[fields])


def refuse_repeated_ids(
    transactions: list[ParsedTransaction], what: str, where: str = _l("line")
) -> None:
    """Two movements of one file with one bank id: the file is refused (one of them would
    otherwise be dropped as "already imported"), naming both places."""
    seen: set[str] = set()
    for tx in transactions:
        if not tx.bank_tx_id:
            continue
        if tx.bank_tx_id in seen:
            first = next(t for t in transactions if t.bank_tx_id == tx.bank_tx_id)
            raise StatementError(_l(
                "%(what)s %(id)s is repeated: the movement at %(where)s %(first)s has it too "
                "(two movements of one file cannot share a bank id)", what=what,
                id=repr(tx.bank_tx_id), where=where, first=first.line), tx.line)
        seen.add(tx.bank_tx_id)


def check_balances(
    statement: ParsedStatement, line: int | None, what: str = "movements"
) -> None:
    """Opening balance + the movements = closing balance, when the file states both."""
    opening, closing = statement.opening_balance, statement.closing_balance
    if opening is None or closing is None:
        return
    total = sum((tx.amount for tx in statement.transactions), Decimal(0))
    if opening + total != closing:
        raise StatementError(_l(
            "%(what)s do not add up: opening balance %(opening)s + %(count)s movements "
            "totalling %(total)s = %(sum)s, but the closing balance is %(closing)s (a movement "
            "is missing, repeated or altered)", what=what, opening=shown_money(opening),
            count=shown_number(len(statement.transactions)), total=shown_money(total),
            sum=shown_money(opening + total), closing=shown_money(closing)), line)


def detect_format(data: bytes) -> str:
    """Sniff the first bytes: one of :data:`FORMATS`, or StatementError."""
    head = data[:65536]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    stripped = head.lstrip()
    if stripped.startswith(b"<"):
        if b"BkToCstmrStmt" in head or b"camt.053" in head:
            return "camt053"
        raise StatementError(_l("XML document is not an ISO 20022 camt.053 statement"))
    if stripped.startswith(b"{"):
        if b'"accountStatement"' in head:
            return "fio-json"
        raise StatementError(_l("JSON document is not a Fio banka statement"))
    if stripped[:3] in (b"074", b"075", b"076", b"078", b"079"):
        return "gpc"
    text = head.decode("utf-8", errors="replace")
    for line in text.splitlines()[:60]:
        first = line.split(";", 1)[0].strip().strip('"')
        if first in ("ID pohybu", "ID operace"):
            return "fio-csv"
    raise StatementError(_l("unknown statement format (expected GPC, Fio JSON/CSV or camt.053)"))


def parse_statement(
    data: bytes | BinaryIO, fmt: str | None = None, *, bank_code: str | None = None
) -> ParsedStatement:
    """Parse ``data`` in format ``fmt`` (detected when None).

    ``data``: the bytes, or a binary file open for reading (GPC and Fio CSV are then read
    line by line, never held whole; the other formats are read into memory).
    ``bank_code`` is only used by GPC, whose header carries our account number but not our
    bank code; the caller (which knows which account it imports) may supply it.
    """
    from billing.bank.statements import camt, fio, gpc

    if not isinstance(data, bytes | bytearray):
        head = data.read(65536)
        data.seek(0)
        fmt = fmt or detect_format(head)
        if fmt not in ("gpc", "fio-csv"):
            data = data.read()
    fmt = fmt or detect_format(data)
    if fmt == "gpc":
        return gpc.parse_gpc(data, bank_code=bank_code)
    if fmt == "fio-json":
        return fio.parse_fio_json(data)
    if fmt == "fio-csv":
        return fio.parse_fio_csv(data)
    if fmt == "camt053":
        return camt.parse_camt053(data)
    raise StatementError(_l("unknown statement format %(format)s", format=repr(fmt)))
