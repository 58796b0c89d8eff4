"""Writing GPC / ABO statements: the inverse of :func:`billing.bank.statements.gpc.parse_gpc`
(the format is described there). The tests' round-trip property and their statements, the
benchmarks' 100,000-line statement and anyone who needs a sample file use it.
"""

from __future__ import annotations

import textwrap
from datetime import date, timedelta
from decimal import Decimal

from billing.bank.statements import ParsedStatement
from billing.bank.statements.gpc import CURRENCIES, RECORD

__all__ = ["render_gpc"]

_CURRENCY_CODES = {name: code for code, name in CURRENCIES.items()}
_NO_ACCOUNT = "0" * 16


def _haler(value: Decimal, digits: int, what: str) -> int:
    scaled = value.scaleb(2)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{what} {value} has more than two decimal places")
    if abs(scaled) >= 10**digits:
        raise ValueError(f"{what} {value} does not fit into {digits} digits")
    return int(scaled)


def _text(value: str, width: int, what: str) -> str:
    if len(value) > width or "\n" in value or "\r" in value:
        raise ValueError(f"{what} {value!r} does not fit into {width} characters of one line")
    return value.ljust(width)


def _symbol(value: str | None, width: int, what: str) -> str:
    if value is None:
        return "0" * width
    if not (value.isascii() and value.isdigit()) or len(value) > width:
        raise ValueError(f"{what} {value!r} is not at most {width} digits")
    return value.zfill(width)


def _account16(account: str | None, what: str) -> tuple[str, str]:
    """Split "19-2000145399/0800" into ("0000192000145399", "0800"); None -> zeros."""
    if account is None:
        return _NO_ACCOUNT, "0000"
    number, _, bank = account.partition("/")
    prefix, _, base = number.rpartition("-")
    parts = (prefix or "0", base, bank or "0")
    if not all(p.isascii() and p.isdigit() for p in parts) or len(prefix) > 6:
        raise ValueError(f"{what} {account!r} is not a Czech [prefix-]number[/bank] account")
    if len(base) > 10 or len(bank) > 4:
        raise ValueError(f"{what} {account!r} is too long for GPC")
    return prefix.zfill(6) + base.zfill(10), bank.zfill(4)


def _ddmmyy(day: date) -> str:
    if not 1990 <= day.year <= 2089:
        raise ValueError(f"date {day} is outside the years GPC can express here (1990-2089)")
    return f"{day:%d%m%y}"


def render_gpc(
    statement: ParsedStatement, *, statement_number: int = 1, account_name: str = ""
) -> bytes:
    """The inverse of :func:`parse_gpc`: one 074 block with correct turnovers.

    Ids that are up to 13 digits become the document number, others are left to the parser's
    fallback. Names longer than 20 characters get a 076 record, messages 078/079 records
    wrapped at 35 characters. The closing balance, when given, must add up.
    """
    own, _ = _account16(statement.account, "account")
    txs = statement.transactions
    opening = _haler(statement.opening_balance or Decimal(0), 14, "opening balance")
    amounts = [_haler(t.amount, 12, "amount") for t in txs]
    closing = opening + sum(amounts)
    given = statement.closing_balance
    if given is not None and _haler(given, 14, "closing balance") != closing:
        raise ValueError("closing balance is not opening balance + transactions")
    _haler(Decimal(closing).scaleb(-2), 14, "closing balance")
    when = statement.statement_date or max((t.booked_on for t in txs), default=None)
    if when is None:
        raise ValueError("a statement without transactions needs a statement_date")
    since = min((t.booked_on for t in txs), default=when) - timedelta(days=1)
    debit = -sum(a for a in amounts if a < 0)
    credit = sum(a for a in amounts if a > 0)
    records = [
        f"074{own}{_text(account_name, 20, 'account name')}{_ddmmyy(since)}"
        f"{abs(opening):014d}{'-' if opening < 0 else '+'}{abs(closing):014d}"
        f"{'-' if closing < 0 else '+'}{debit:014d}0{credit:014d}0"
        f"{statement_number % 1000:03d}{_ddmmyy(when)}{'':14}"
    ]
    for t, amount in zip(txs, amounts, strict=True):
        counter, bank = _account16(t.counter_account, "counter-account")
        tx_id = t.bank_tx_id
        document = tx_id if tx_id.isascii() and tx_id.isdigit() and len(tx_id) <= 13 else ""
        currency = _CURRENCY_CODES.get(t.currency)
        if currency is None:
            raise ValueError(f"currency {t.currency!r} has no GPC code")
        name = t.counter_name or ""
        day = _ddmmyy(t.booked_on)
        records.append(
            f"075{own}{counter}{document:0>13}{abs(amount):012d}{'1' if amount < 0 else '2'}"
            f"{_symbol(t.variable_symbol, 10, 'VS')}00{bank}"
            f"{_symbol(t.constant_symbol, 4, 'KS')}{_symbol(t.specific_symbol, 10, 'SS')}"
            f"{day}{_text(name[:20], 20, 'counter name')}0{currency}{day}"
        )
        if len(name) > 20:
            records.append(f"076{'0' * 26}{day}{_text(name, 93, 'counter name')}")
        lines = textwrap.wrap(t.message or "", 35, break_on_hyphens=False)
        for i in range(0, len(lines), 2):
            pair = f"{lines[i]:<35}{lines[i + 1] if i + 1 < len(lines) else ''}"
            records.append(("078" if i == 0 else "079") + pair.ljust(125))
    for number, record in enumerate(records, 1):
        if len(record) != RECORD:
            raise ValueError(f"record {number} would be {len(record)} characters long")
    return ("\r\n".join(records) + "\r\n").encode("cp1250")
