"""GPC / ABO statements: the Czech fixed-width "obratová položka" format (its renderer, for
tests and benchmarks, is billing/bank/statements/gpc_render.py; the format's sources are in
docs/facts/gpc.md).

Every record is 128 characters + CRLF (or LF), windows-1250. Positions are 1-based:

* 074 header: 4-19 our account (prefix 6 + number 10 digits; no bank code), 20-39 account
  name, 40-45 old balance date, 46-59 old balance in haléře + 60 sign, 61-74 new balance + 75
  sign, 76-89 debit turnover + 90 sign ("0" or "-"), 91-104 credit turnover + 105 sign,
  106-108 statement number, 109-114 statement date, 115-128 filler.
* 075 transaction: 4-19 our account, 20-35 counter-account, 36-48 document number, 49-60
  amount in haléře, 61 posting code, 62-71 VS, 72-81 "00" + bank code (4) + KS (4), 82-91 SS,
  92-97 value date, 98-117 name, 118 change code, 119-122 currency (ISO numeric, "0203" is
  CZK; other banks put a data type here, read as CZK), 123-128 due (posting) date.
* 076 extra identification (ČSOB): 4-29 transfer id, 30-35 date, 36-128 the counter-party's
  full name, which replaces the 20-character name of the 075.
* 078 / 079 message for the recipient: lines 1-2 / 3-4 of 35 characters from position 4.
  Lines are joined with one space (a word the bank split at a line end gets a space in it).

Records whose tail is filler or free text (074, 076, 078, 079) may come right-trimmed; a 075
must be complete. Dates are DDMMYY (90-99 are 19xx), all checked.

Posting codes: standard 1 debit, 2 credit, 4 reversal of a debit (money back in), 5 reversal
of a credit (money out); Česká spořitelna uses 3 / 4 for the reversals. A 5 means standard, a 3
ČS; with only 4s the dialect whose balance adds up wins. Turnovers may count reversals as
negative amounts of their own side ("red", header sign "-" when they prevail) or on the other
side ("black"); both are accepted.

bank_tx_id is the document number without leading zeros (Fio puts its "ID pohybu" there, so
ids agree with Fio JSON/CSV), else the 076 transfer id; when empty, or repeated in the file
(then it identifies nothing), the movement has no bank id and gets the derived id that every
format gives it (billing.bank.statements.derived_id, docs/bank-statements.md).

Several 074 blocks may follow each other (daily statements), for one account, each adding up
(its 075 records to its turnovers and balances) and each opening with the previous one's new
balance; opening balance from the first, closing balance and date from the last. The file is
read one line at a time.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import BinaryIO

from billing.bank.statements import (
    ParsedStatement,
    ParsedTransaction,
    StatementError,
    assign_derived_ids,
    normalise_account,
    normalise_symbol,
)
from core.i18n import _l
from core.i18n import money as shown_money
from core.i18n import number as shown_number

RECORD = 128
_MIN_LENGTH = {"074": 114, "076": 35, "078": 3, "079": 3}  # shortest right-trimmed record
CURRENCIES = {
    "0203": "CZK", "0978": "EUR", "0840": "USD", "0826": "GBP", "0756": "CHF", "0985": "PLN",
    "0348": "HUF", "0946": "RON", "0752": "SEK", "0578": "NOK", "0208": "DKK", "0036": "AUD",
    "0124": "CAD", "0392": "JPY",
}  # fmt: skip
_STANDARD = {"1": -1, "2": 1, "4": 1, "5": -1}
_CESKA_SPORITELNA = {"1": -1, "2": 1, "3": 1, "4": -1}
_PROVISIONAL = {"1": -1, "2": 1, "3": 1, "4": 1, "5": -1}  # 4 is flipped for ČS
# (first position, field) per record type, to say where a NUL byte is
_FIELDS = {
    "074": ((4, "account number"), (20, "account name"), (40, "old balance date"),
            (46, "old balance"), (61, "new balance"), (76, "debit turnover"),
            (91, "credit turnover"), (106, "statement number"), (109, "statement date"),
            (115, "filler")),
    "075": ((4, "account number"), (20, "counter-account"), (36, "document number"),
            (49, "amount"), (61, "posting code"), (62, "variable symbol"),
            (72, "counter-account bank code"), (78, "constant symbol"), (82, "specific symbol"),
            (92, "value date"), (98, "counter-party name"), (118, "change code"),
            (119, "currency"), (123, "due date")),
    "076": ((4, "transfer id"), (30, "date"), (36, "counter-party name")),
    "078": ((4, "message"),),
    "079": ((4, "message"),),
}  # fmt: skip
_NO_ACCOUNT = "0" * 16
_CENT = Decimal("0.01")
_DATES: dict[str, date] = {}


class _Block:
    __slots__ = ("line", "account", "old", "new", "debit", "credit", "number", "date")
    __slots__ += ("txs", "sums", "counts", "code4")

    def __init__(self, line: int, account: str) -> None:
        self.line, self.account = line, account
        self.txs: list[ParsedTransaction] = []
        self.sums = dict.fromkeys("12345", 0)  # haléře per posting code
        self.counts = dict.fromkeys("12345", 0)
        self.code4: list[ParsedTransaction] = []  # their sign depends on the dialect


def _field_symbol(field: str) -> str | None:
    """normalise_symbol, quicker for zero-padded digits (windows-1250 has no other digits)."""
    digits = field.lstrip("0")
    if digits.isdigit():
        return digits
    return normalise_symbol(field) if digits else None


def _counter(field: str) -> str | None:
    """16 digits of counter-account + 4 digits of bank code."""
    if field.startswith(_NO_ACCOUNT):
        return None
    if not field.isdigit():
        return normalise_account(f"{field[:6]}-{field[6:16]}", field[16:])
    prefix, number, bank = field[:6].lstrip("0"), field[6:16].lstrip("0") or "0", field[16:]
    account = f"{prefix}-{number}" if prefix else number
    return account if bank == "0000" else f"{account}/{bank}"


# the fields' names as the operator reads them in a refusal (translated on the page)
_NAMES = {
    "account number": _l("account number"),
    "account name": _l("account name"),
    "old balance date": _l("old balance date"),
    "old balance": _l("old balance"),
    "new balance": _l("new balance"),
    "debit turnover": _l("debit turnover"),
    "credit turnover": _l("credit turnover"),
    "statement number": _l("statement number"),
    "statement date": _l("statement date"),
    "filler": _l("filler"),
    "counter-account": _l("counter-account"),
    "document number": _l("document number"),
    "amount": _l("amount"),
    "posting code": _l("posting code"),
    "variable symbol": _l("variable symbol"),
    "counter-account bank code": _l("counter-account bank code"),
    "constant symbol": _l("constant symbol"),
    "specific symbol": _l("specific symbol"),
    "value date": _l("value date"),
    "counter-party name": _l("counter-party name"),
    "change code": _l("change code"),
    "currency": _l("currency"),
    "due date": _l("due date"),
    "transfer id": _l("transfer id"),
    "date": _l("date"),
    "message": _l("message"),
    "record type": _l("record type"),
    "record": _l("record"),
}


def _name(what: str) -> str:
    return _NAMES.get(what, what)


def _date(text: str, line: int, what: str) -> date:
    found = _DATES.get(text)
    if found is None:
        try:
            if not (len(text) == 6 and text.isascii() and text.isdigit()):
                raise ValueError(text)
            year = int(text[4:])
            found = date(year + (2000 if year < 90 else 1900), int(text[2:4]), int(text[:2]))
        except ValueError:
            raise StatementError(_l("%(what)s %(text)s is not a valid date (DDMMYY)", what=_name(what),
                                    text=repr(text)), line) from None
        _DATES[text] = found
    return found


def _booked(value: str, due: str, line: int, default: date) -> date:
    """The due (posting) date, else the value date, else the statement date; all checked."""
    booked = default
    if value != "000000":
        booked = _date(value, line, "value date")
    if due != "000000":
        booked = _date(due, line, "due date")
    return booked


def _int(text: str, line: int, what: str) -> int:
    if text.isascii() and text.isdigit():
        return int(text)
    raise StatementError(_l("%(what)s is not numeric (%(text)s)", what=_name(what), text=repr(text)),
                         line)


def _sign(char: str, line: int, what: str, positive: str) -> int:
    if char in positive:
        return 1
    if char == "-":
        return -1
    raise StatementError(_l("%(what)s sign %(char)s is not one of %(signs)s or '-'",
                            what=_name(what), char=repr(char), signs=repr(positive)), line)


def _money(haler: int) -> Decimal:
    return Decimal(haler) * _CENT


def _signed_money(haler: int) -> Decimal:
    return Decimal(haler) * _CENT


def raw_lines(data: bytes):
    """The lines of ``data`` with their line ends, like iterating over a binary file."""
    start, size = 0, len(data)
    while start < size:
        end = data.find(b"\n", start)
        end = size if end < 0 else end + 1
        yield data[start:end]
        start = end


def _records(source):
    """(line number, record) for each line of ``source`` (bytes, or a binary file read line
    by line), decoded one at a time (the file is never held decoded or split whole:
    docs/bank-statements.md, "Size"); the line end (CRLF or LF) is dropped, and so are blank
    lines and a DOS end-of-file mark at the end of the file."""
    blank: list[tuple[int, str]] = []
    lines = raw_lines(source) if isinstance(source, bytes | bytearray) else source
    for line, raw in enumerate(lines, 1):
        if raw.endswith(b"\n"):
            raw = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
        if b"\0" in raw:  # windows-1250 has NUL only as the byte 0x00
            raise _nul_error(raw, line)
        try:
            record = raw.decode("cp1250")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start]
            raise StatementError(_l("byte %(byte)s is not valid windows-1250 text",
                                    byte=format(byte, "#04x")), line) from None
        if not record.strip("\r\x1a"):
            blank.append((line, record))  # an error only if a record follows
            continue
        yield from blank
        blank.clear()
        yield line, record


def _nul_error(raw: bytes, line: int) -> StatementError:
    """PostgreSQL text cannot hold NUL: name the line, field and position of the first."""
    position = raw.index(b"\0") + 1
    kind = raw[:3].decode("cp1250", errors="replace")
    fields = [name for first, name in _FIELDS.get(kind, ()) if first <= position <= RECORD]
    what = "record type" if position <= 3 else fields[-1] if fields else "record"
    return StatementError(_l("%(what)s contains a NUL character (U+0000) at position %(position)s",
                             what=_name(what), position=position), line)


def _pad(record: str, kind: str, line: int) -> str:
    length = len(record)
    if length < RECORD and length >= _MIN_LENGTH.get(kind, RECORD + 1):
        return record.ljust(RECORD)
    if length > RECORD:
        try:
            if len(record.encode("cp1250").decode("utf-8")) == RECORD:
                raise StatementError(_l(
                    "record is %(length)s characters long, expected %(expected)s (the file looks "
                    "UTF-8 encoded; GPC is windows-1250)", length=shown_number(length), expected=RECORD),
                    line)
        except UnicodeError:
            pass
    raise StatementError(_l("record is %(length)s characters long, expected %(expected)s",
                            length=shown_number(length), expected=RECORD), line)


def _header(r: str, line: int) -> _Block:
    block = _Block(line, r[3:19])
    _int(block.account, line, "account number")
    if r[39:45] != "000000":
        _date(r[39:45], line, "old balance date")
    block.old = _int(r[45:59], line, "old balance") * _sign(r[59], line, "old balance", "+")
    block.new = _int(r[60:74], line, "new balance") * _sign(r[74], line, "new balance", "+")
    block.debit = _int(r[75:89], line, "debit turnover") * _sign(r[89], line, "debit turnover", "0+ ")
    block.credit = _int(r[90:104], line, "credit turnover") * _sign(r[104], line, "credit turnover", "0+ ")
    number = r[105:108].strip()
    block.number = _int(number, line, "statement number") if number else 0
    block.date = _date(r[108:114], line, "statement date")
    return block


def parse_gpc(data: bytes | BinaryIO, *, bank_code: str | None = None) -> ParsedStatement:
    """``data``: the file's bytes, or the file open for reading in binary mode."""
    blocks: list[_Block] = []
    block: _Block | None = None
    tx: ParsedTransaction | None = None
    # VS, KS, counter-accounts and amounts repeat (SS values rarely do): normalise each
    # distinct one once; bounded, as in a statement of many customers each appears once
    symbols, counters = lru_cache(maxsize=4096)(_field_symbol), lru_cache(maxsize=4096)(_counter)
    money = lru_cache(maxsize=4096)(_signed_money)
    dates, currencies = _DATES, CURRENCIES
    for line, r in _records(data):
        kind = r[:3]
        if len(r) != RECORD:
            r = _pad(r, kind, line)
        if kind == "075":
            if block is None:
                raise StatementError(_l("transaction record 075 before any 074 header"), line)
            if r[3:19] != block.account:
                raise StatementError(_l("account %(account)s differs from the header's",
                                        account=r[3:19]), line)
            amount_text = r[48:60]
            if not (amount_text.isdigit() and amount_text.isascii()):
                raise StatementError(_l("amount is not numeric (%(text)s)", text=repr(amount_text)),
                                     line)
            amount = int(amount_text)
            code = r[60]
            sign = _PROVISIONAL.get(code)
            if sign is None:
                raise StatementError(_l("unknown posting code %(code)s", code=repr(code)), line)
            block.sums[code] += amount
            block.counts[code] += 1
            value, due = r[91:97], r[122:128]
            booked = dates.get(due)
            if booked is None or (value != due and value not in dates):
                booked = _booked(value, due, line, block.date)
            tx = ParsedTransaction(
                r[35:48].strip().lstrip("0"),
                booked,
                money(sign * amount),
                currencies.get(r[118:122], "CZK"),
                symbols(r[61:71]),
                _field_symbol(r[81:91]),
                symbols(r[77:81]),
                counters(r[19:35] + r[73:77]),
                r[97:117].strip() or None,
                None,
                line,
            )
            block.txs.append(tx)
            if code == "4":
                block.code4.append(tx)
        elif kind == "074":
            block = _header(r, line)
            blocks.append(block)
            tx = None
        elif kind in ("076", "078", "079"):
            if tx is None:
                raise StatementError(_l("record %(kind)s does not follow a 075 transaction",
                                        kind=kind), line)
            if kind == "076":
                tx.bank_tx_id = tx.bank_tx_id or r[3:29].strip().lstrip("0")
                tx.counter_name = r[35:].strip() or tx.counter_name
            else:
                parts = [
                    part for s in (r[3:38], r[38:73], r[73:108], r[108:]) if (part := s.strip())
                ]
                if parts:
                    tx.message = " ".join([tx.message, *parts] if tx.message else parts)
        else:
            raise StatementError(_l("unknown record type %(kind)s", kind=repr(kind)), line)
    if not blocks:
        raise StatementError(_l("no 074 statement header in the file"))
    return _finish(blocks, bank_code)


def _check(block: _Block) -> dict[str, int]:
    """Pick the posting-code dialect and verify the block against its header."""
    sums, codes = block.sums, {code for code, count in block.counts.items() if count}
    if "3" in codes and "5" in codes:
        raise StatementError(_l("posting codes 3 and 5 in one statement"), block.line)
    dialects = [_CESKA_SPORITELNA] if "3" in codes else [_STANDARD]
    if "3" not in codes and "5" not in codes:
        dialects.append(_CESKA_SPORITELNA)
    for signs in dialects:
        net = sum(sign * sums[code] for code, sign in signs.items())
        if block.old + net == block.new:
            break
    else:
        signs = dialects[0]
        net = sum(sign * sums[code] for code, sign in signs.items())
    back_in, back_out = ("4", "5") if signs is _STANDARD else ("3", "4")
    debit, credit = sums["1"] - sums[back_in], sums["2"] - sums[back_out]
    black = (sums["1"] + sums[back_out], sums["2"] + sums[back_in])
    if block.old + net != block.new or (block.debit, block.credit) not in ((debit, credit), black):
        raise StatementError(_l(
            "transactions do not match the header: debits %(debits)s (header %(header_debits)s), "
            "credits %(credits)s (header %(header_credits)s), old balance %(old)s + transactions "
            "%(net)s = %(new)s (header new balance %(header_new)s)",
            debits=shown_money(_money(debit)), header_debits=shown_money(_money(block.debit)),
            credits=shown_money(_money(credit)), header_credits=shown_money(_money(block.credit)),
            old=shown_money(_money(block.old)), net=shown_money(_money(net)),
            new=shown_money(_money(block.old + net)), header_new=shown_money(_money(block.new))),
            block.line)
    return signs


def _finish(blocks: list[_Block], bank_code: str | None) -> ParsedStatement:
    own = blocks[0].account
    previous: _Block | None = None
    for block in blocks:
        if block.account != own:
            raise StatementError(_l("account %(account)s differs from %(own)s",
                                    account=block.account, own=own), block.line)
        if previous is not None and block.old != previous.new:
            raise StatementError(_l(
                "old balance %(old)s is not the new balance %(new)s of the statement before it "
                "(line %(line)s): a statement is missing or the files are out of order",
                old=shown_money(_money(block.old)), new=shown_money(_money(previous.new)),
                line=previous.line), block.line)
        previous = block
        if _check(block) is _CESKA_SPORITELNA:
            for tx in block.code4:  # ČS: 4 is the reversal of a credit, money out
                tx.amount = -tx.amount
    transactions = [tx for block in blocks for tx in block.txs]
    ids = sorted(tx.bank_tx_id for tx in transactions)  # references only: no set of copies
    if any(a == b for a, b in zip(ids, ids[1:], strict=False)):
        # empty or repeated document numbers: no bank id
        counts = Counter(tx.bank_tx_id for tx in transactions)
        for tx in transactions:
            if counts[tx.bank_tx_id] > 1:
                tx.bank_tx_id = ""
    del ids
    statement = ParsedStatement(
        format="gpc",
        account=normalise_account(f"{own[:6]}-{own[6:]}", bank_code) or "0",
        transactions=transactions,
        opening_balance=_money(blocks[0].old),
        closing_balance=_money(blocks[-1].new),
        statement_date=blocks[-1].date,
    )
    assign_derived_ids(statement)
    return statement
