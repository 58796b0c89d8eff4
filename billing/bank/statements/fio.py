"""Fio banka statements: the API's JSON and the CSV export (both UTF-8; docs/facts/fio.md).

JSON (``/v1/rest/.../transactions.json``): ``accountStatement.info`` holds accountId, bankId,
currency, iban, openingBalance, closingBalance, dateStart, dateEnd; each item of
``accountStatement.transactionList.transaction`` maps ``columnN`` to null or
``{"value", "name", "id"}``: column22 "ID pohybu" (the unique movement id, our bank_tx_id),
column0 date ("2026-11-03+0100"; old API versions sent epoch milliseconds), column1 signed
amount, column14 currency, column2/3 counter-account and bank code, column10 its name,
column4/5/6 KS/VS/SS, column7 user identification, column16 message for the recipient,
column25 comment. Amounts are read with ``parse_float=Decimal``. A transaction's ``line`` is
the line of the JSON text where its object starts (one-line JSON: 1 for all); only if the
``"transaction": [`` array cannot be located is it the transaction's position (#n) instead.

CSV: ``;``-separated, optionally with a BOM; metadata lines first (``accountId;2001234567``,
``openingBalance;15230,50``, ... or, in the internet-banking export, free-text lines such as
``Výpis č. 11/2026 z účtu 2001234567/2010`` from which the account is taken), then the header
``ID pohybu;Datum;Objem;Měna;Protiúčet;Název protiúčtu;Kód banky;Název banky;KS;VS;SS;
Uživatelská identifikace;Zpráva pro příjemce;Typ;Provedl;Upřesnění;Komentář;BIC;ID pokynu``
and one row per movement: dates "03.11.2026", amounts "-1 234,50". Columns are found by name.
A transaction's ``line`` is the physical line where its row starts.

The message is the distinct non-empty texts of: message for the recipient, user
identification, comment, joined with " | ".

Integrity (both forms): an "ID pohybu" on two movements refuses the file; when the file
states the opening and closing balance, the movements must add up from one to the other
(this is what finds a CSV cut after a complete row); a CSV row with fewer cells than the
header, or a file that ends inside a quoted field, is a cut file. The JSON's transactions are
converted one by one as they are read, the CSV one line at a time.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone, tzinfo
from decimal import Decimal
from typing import BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from billing.bank.statements import (
    ParsedStatement,
    ParsedTransaction,
    StatementError,
    check_amount,
    check_balances,
    join_texts,
    national_account,
    normalise_account,
    normalise_symbol,
    refuse_repeated_ids,
)
from billing.bank.statements.gpc import raw_lines
from core.i18n import _l

try:
    _PRAGUE: tzinfo = ZoneInfo("Europe/Prague")
except ZoneInfoNotFoundError:  # no tz database: winter time is right for midnight stamps
    _PRAGUE = timezone(timedelta(hours=1))

_AMOUNT = re.compile(r"[+-]?\d+(?:\.\d+)?")
_NO_SPACES = str.maketrans("", "", " \xa0\u202f")
_TRANSACTION_ARRAY = re.compile(r'(?<!\\)"transaction"\s*:\s*\[')
_ITEMS = '"ispzone: the transaction array"'  # stands in for the array in the skeleton
_INFO_OBJECT = re.compile(r'"info"\s*:\s*\{')
_NUL = _l("contains a NUL character (U+0000)")  # PostgreSQL text cannot hold it
_NAMES = {"date": _l("date"), "amount": _l("amount")}  # as the operator reads them
_ACCOUNT_IN_TEXT = re.compile(r"(?<![\d/-])((?:\d{1,6}-)?(\d{2,10}))/\d{4}(?![\d/])")
# "... z účtu 2001234567/2010", "Číslo účtu: ...", "účet ...": the account the text names
_ACCOUNT_AFTER_WORD = re.compile(
    r"\bú[čc](?:et|tu|tem|tě)\b\W{0,3}((?:\d{1,6}-)?\d{2,10}/\d{4})(?![\d/])", re.IGNORECASE
)
_HEADER_FIRST = ("ID pohybu", "ID operace")
_CSV_COLUMNS = {
    "id": ("ID pohybu", "ID operace"),
    "date": ("Datum",),
    "amount": ("Objem",),
    "currency": ("Měna",),
    "account": ("Protiúčet",),
    "name": ("Název protiúčtu",),
    "bank": ("Kód banky",),
    "ks": ("KS",),
    "vs": ("VS",),
    "ss": ("SS",),
    "user": ("Uživatelská identifikace",),
    "message": ("Zpráva pro příjemce",),
    "comment": ("Komentář", "Poznámka"),
}


def _utf8(data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise StatementError(_l("byte %(byte)s is not valid UTF-8", byte=format(data[exc.start], "#04x")),
                             line) from None


def _decimal(value: object, line: int | None, what: str) -> Decimal:
    if isinstance(value, Decimal):
        return check_amount(value, line, what)
    if isinstance(value, int) and not isinstance(value, bool):
        return check_amount(Decimal(value), line, what)
    if isinstance(value, str):
        cleaned = value.translate(_NO_SPACES).replace(",", ".")
        if _AMOUNT.fullmatch(cleaned):
            return check_amount(Decimal(cleaned), line, what)
    raise StatementError(_l("%(what)s is not numeric (%(text)s)", what=_NAMES.get(what, what),
                            text=repr(value)), line)


def _optional_decimal(value: object, what: str) -> Decimal | None:
    return None if value is None or value == "" else _decimal(value, None, what)


# --- JSON --------------------------------------------------------------------------------


def _json_date(value: object, line: int | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        if isinstance(value, str):
            return date.fromisoformat(value.strip()[:10])
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            return datetime.fromtimestamp(int(value) / 1000, _PRAGUE).date()
    except (ValueError, OverflowError, OSError):
        pass
    raise StatementError(_l("%(what)s %(text)s is not a date", what=_NAMES.get(what, what),
                            text=repr(value)), line)


def _json_lines(text: str, items: list[object]) -> list[int]:
    """The line where each transaction object starts; index + 1 if the text is unusual."""
    fallback = list(range(1, len(items) + 1))
    found = _TRANSACTION_ARRAY.search(text)
    if found is None:
        return fallback
    decoder = json.JSONDecoder(parse_float=Decimal)
    position = found.end()
    line, counted = text.count("\n", 0, position) + 1, position
    lines = []
    try:
        for item in items:
            while position < len(text) and text[position] in " \t\r\n,":
                position += 1
            line += text.count("\n", counted, position)
            counted = position
            value, position = decoder.raw_decode(text, position)
            if value != item:
                return fallback
            lines.append(line)
    except ValueError:
        return fallback
    return lines


def _column(item: dict[str, object], number: int) -> object:
    column = item.get(f"column{number}")
    return column.get("value") if isinstance(column, dict) else None


def _json_nul(item: dict[str, object], line: int | None, where: str = "") -> None:
    """Refuse a NUL in any text value of ``item`` (a transaction's columns, or the info)."""
    for key, value in item.items():
        if isinstance(value, dict):
            name = value.get("name")
            value = value.get("value")
            key = f"{key} ({name})" if isinstance(name, str) and "\0" not in name else key
        if isinstance(value, str) and "\0" in value:
            raise StatementError(_l("%(what)s %(reason)s", what=where + key, reason=_NUL), line)


def _json_transaction(item: object, line: int, currency: str, nul: bool) -> ParsedTransaction:
    if not isinstance(item, dict):
        raise StatementError(_l("transaction is not a JSON object"), line)
    if nul:
        _json_nul(item, line)
    tx_id = _column(item, 22)
    if tx_id is None or not str(tx_id).strip():
        raise StatementError(_l("transaction has no ID pohybu (column22)"), line)
    booked = _json_date(_column(item, 0), line, "date")
    if booked is None:
        raise StatementError(_l("transaction has no date (column0)"), line)
    name = _column(item, 10)
    return ParsedTransaction(
        bank_tx_id=str(tx_id).strip(),
        booked_on=booked,
        amount=_decimal(_column(item, 1), line, "amount"),
        currency=str(_column(item, 14) or currency).strip(),
        variable_symbol=normalise_symbol(_column(item, 5)),
        specific_symbol=normalise_symbol(_column(item, 6)),
        constant_symbol=normalise_symbol(_column(item, 4)),
        counter_account=national_account(_column(item, 2), _column(item, 3)),
        counter_name=(str(name).strip() or None) if name is not None else None,
        message=join_texts(_column(item, 16), _column(item, 7), _column(item, 25)),
        line=line,
    )


class _NotAnArray(Exception):
    pass


def _skeleton_and_items(
    text: str, convert: Callable[[object, int], ParsedTransaction]
) -> tuple[object, list[ParsedTransaction] | None]:
    """The document with its transaction array left out, and the array's items converted
    one by one as they are read (each with the line it starts on), so that the movements are
    never all held as JSON objects at once (docs/bank-statements.md, "Size").
    ``None`` for the items: the array could not be located, the caller parses the whole."""
    found = _TRANSACTION_ARRAY.search(text)
    if found is None:
        return _loads(text), None
    decoder = json.JSONDecoder(parse_float=Decimal)
    position, end = found.end(), len(text)
    line, counted = text.count("\n", 0, position) + 1, position
    items: list[ParsedTransaction] = []
    try:
        while True:
            while position < end and text[position] in " \t\r\n":
                position += 1
            if position < end and text[position] == "]":
                break
            if items:
                if position >= end or text[position] != ",":
                    raise _NotAnArray
                position += 1
                while position < end and text[position] in " \t\r\n":
                    position += 1
            line += text.count("\n", counted, position)
            counted = position
            try:
                value, position = decoder.raw_decode(text, position)
            except (json.JSONDecodeError, RecursionError):
                raise _NotAnArray from None
            items.append(convert(value, line))
    except _NotAnArray:
        return _loads(text), None
    skeleton = _loads(text[: found.end() - 1] + _ITEMS + text[position + 1 :])
    statement = skeleton.get("accountStatement") if isinstance(skeleton, dict) else None
    tx_list = statement.get("transactionList") if isinstance(statement, dict) else None
    if not isinstance(tx_list, dict) or tx_list.get("transaction") != _ITEMS.strip('"'):
        return _loads(text), None  # the match was not the statement's own array
    tx_list["transaction"] = []
    return skeleton, items


def _loads(text: str) -> object:
    try:
        return json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise StatementError(_l("invalid JSON: %(reason)s", reason=exc.msg), exc.lineno) from None
    except RecursionError:
        raise StatementError(_l("invalid JSON: nested too deeply")) from None


def parse_fio_json(data: bytes) -> ParsedStatement:
    text = _utf8(data)
    nul = "\\u0000" in text  # the only way a NUL gets into a valid JSON string
    document, transactions = _skeleton_and_items(
        text, lambda item, line: _json_transaction(item, line, "", nul)
    )
    statement = document.get("accountStatement") if isinstance(document, dict) else None
    if not isinstance(statement, dict):
        raise StatementError(_l("not a Fio statement: no accountStatement object"))
    info = statement.get("info") or {}
    tx_list = statement.get("transactionList") or {}
    items = tx_list.get("transaction") if isinstance(tx_list, dict) else tx_list
    if not isinstance(info, dict) or not isinstance(items, list | None):
        raise StatementError(_l("accountStatement has an unexpected structure"))
    info_found = _INFO_OBJECT.search(text)
    info_line = text.count("\n", 0, info_found.start()) + 1 if info_found else None
    if nul:
        _json_nul(info, info_line, "info.")
    account = normalise_account(info.get("accountId"), info.get("bankId"))
    account = account or normalise_account(info.get("iban"))
    if not account:
        raise StatementError(_l("accountStatement.info names no account (accountId)"))
    currency = str(info.get("currency") or "CZK").strip()
    if transactions is None:
        items = items or []
        transactions = [
            _json_transaction(item, line, "", nul)
            for item, line in zip(items, _json_lines(text, items), strict=True)
        ]
    for tx in transactions:
        tx.currency = tx.currency or currency
    result = ParsedStatement(
        format="fio-json",
        account=account,
        transactions=transactions,
        opening_balance=_optional_decimal(info.get("openingBalance"), "openingBalance"),
        closing_balance=_optional_decimal(info.get("closingBalance"), "closingBalance"),
        statement_date=_json_date(info.get("dateEnd"), None, "dateEnd"),
    )
    refuse_repeated_ids(transactions, "ID pohybu (column22)")
    check_balances(result, info_line, _l("movements (transactionList)"))
    return result


# --- CSV ---------------------------------------------------------------------------------


def _csv_date(text: str, line: int | None) -> date:
    try:
        day, month, year = text.split(".")
        return date(int(year), int(month), int(day))
    except (ValueError, OverflowError):
        raise StatementError(_l("date %(text)s is not DD.MM.YYYY", text=repr(text)), line) from None


def _columns(header: list[str], line: int) -> dict[str, int]:
    columns = {}
    for key, names in _CSV_COLUMNS.items():
        for name in names:
            if name in header:
                columns[key] = header.index(name)
                break
    missing = [name for name in ("id", "date", "amount") if name not in columns]
    if missing:
        raise StatementError(_l("header lacks the columns %(names)s", names=", ".join(missing)),
                             line)
    return columns


def _note_amount(notes: list[str], start: str) -> Decimal | None:
    for note in notes:
        if note.startswith(start) and ":" in note:
            value = note.rpartition(":")[2].strip().removesuffix("CZK").removesuffix("EUR")
            try:
                return _decimal(value, None, start)
            except StatementError:
                return None
    return None


def _account_in_notes(notes: list[str]) -> str | None:
    """Our account from the free-text lines of an internet-banking export.

    An account named after the word "účet/účtu" wins; otherwise the first "number/bank"
    that is not a statement's "number/year" ("Výpis č. 12/2026 z účtu ...": a number of
    at most three digits before a four-digit code is taken for a statement number).
    """
    for note in notes:
        if found := _ACCOUNT_AFTER_WORD.search(note):
            return found.group(1)
    for note in notes:
        for found in _ACCOUNT_IN_TEXT.finditer(note):
            whole, number = found.group(1), found.group(2)
            if "-" in whole or len(number.lstrip("0")) > 3:
                return found.group()
    return None


def _csv_lines(source: bytes | BinaryIO):
    """The lines of ``source`` (bytes, or a binary file read line by line), line ends kept,
    decoded one at a time: the file is never held decoded whole (docs/bank-statements.md,
    "Size")."""
    lines = raw_lines(source) if isinstance(source, bytes | bytearray) else source
    for line, raw in enumerate(lines, 1):
        if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            raw = raw[3:]
        try:
            yield raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            byte = raw[exc.start]
            raise StatementError(_l("byte %(byte)s is not valid UTF-8", byte=format(byte, "#04x")),
                                 line) from None


def parse_fio_csv(data: bytes | BinaryIO) -> ParsedStatement:
    """``data``: the file's bytes, or the file open for reading in binary mode."""
    # strict: a file that ends inside a quoted field (cut off) is an error, not a last cell
    reader = csv.reader(_csv_lines(data), delimiter=";", strict=True)
    meta: dict[str, str] = {}
    meta_lines: dict[str, int] = {}
    notes: list[tuple[int, str]] = []
    columns: dict[str, int] | None = None
    transactions: list[ParsedTransaction] = []
    header: list[str] = []
    nul = b"\0" in data if isinstance(data, bytes | bytearray) else True
    shared = _Shared()
    end = 0
    try:
        for row in reader:
            line, end = end + 1, reader.line_num
            cells = [cell.strip() for cell in row]
            if nul and any("\0" in cell for cell in cells):
                index = next(i for i, cell in enumerate(cells) if "\0" in cell)
                name = header[index] if index < len(header) and header[index] else ""
                what = (_l("column %(number)s (%(name)s)", number=index + 1, name=name) if name
                        else _l("column %(number)s", number=index + 1))
                raise StatementError(_l("%(what)s %(reason)s", what=what, reason=_NUL), line)
            if columns is not None:
                if any(cells):
                    if len(cells) < len(header):
                        raise StatementError(_l(
                            "row has %(count)s columns, the header has %(header)s: the file is "
                            "cut off or damaged", count=len(cells), header=len(header)), line)
                    transactions.append(_csv_transaction(cells, columns, line, "", shared))
            elif cells and cells[0] in _HEADER_FIRST:
                columns, header = _columns(cells, line), cells
            elif len(cells) >= 2 and cells[0] and cells[1] and not any(cells[2:]):
                meta[cells[0]] = cells[1]
                meta_lines[cells[0]] = line
            elif cells and cells[0]:
                notes.append((line, cells[0]))
    except csv.Error as exc:
        reason = str(exc)
        if reason == "unexpected end of data":
            reason = _l("the file ends inside a quoted field (it is cut off)")
        raise StatementError(_l("malformed CSV: %(reason)s", reason=reason),
                             reader.line_num) from None
    if columns is None:
        raise StatementError(_l("no 'ID pohybu;Datum;Objem;...' header line found"))
    texts = [note for _, note in notes]
    account = normalise_account(meta.get("accountId"), meta.get("bankId"))
    if account is None:
        found = _account_in_notes(texts)
        account = normalise_account(found) if found else None
    if account is None:
        raise StatementError(_l("the export does not name our account (accountId)"))
    currency = meta.get("currency") or "CZK"
    for tx in transactions:
        tx.currency = tx.currency or currency
    opening = meta.get("openingBalance")
    closing = meta.get("closingBalance")
    date_end = meta.get("dateEnd")
    closing_line = meta_lines.get("closingBalance") or next(
        (line for line, note in notes if note.startswith("Koncový stav")), None
    )
    result = ParsedStatement(
        format="fio-csv",
        account=account,
        transactions=transactions,
        opening_balance=_optional_decimal(opening, "openingBalance")
        if opening
        else _note_amount(texts, "Počáteční stav"),
        closing_balance=_optional_decimal(closing, "closingBalance")
        if closing
        else _note_amount(texts, "Koncový stav"),
        statement_date=_csv_date(date_end, None) if date_end else None,
    )
    refuse_repeated_ids(transactions, "ID pohybu")
    check_balances(result, closing_line, _l("movements"))
    return result


class _Shared(dict):
    """One object per distinct value of what repeats in a statement (days, amounts,
    currencies, KS): a 50 MB export has hundreds of thousands of rows. At most 20,000."""

    def get_or(self, key: str, make):
        found = self.get(key)
        if found is None:
            found = make()
            if len(self) < 20000:
                self[key] = found
        return found


def _csv_transaction(
    cells: list[str], columns: dict[str, int], line: int, currency: str,
    shared: _Shared | None = None,
) -> ParsedTransaction:
    def get(key: str) -> str:
        index = columns.get(key)
        return cells[index] if index is not None and index < len(cells) else ""

    tx_id = get("id")
    if not tx_id:
        raise StatementError(_l("row has no ID pohybu"), line)
    shared = _Shared() if shared is None else shared
    day, amount, ks = get("date"), get("amount"), get("ks")
    return ParsedTransaction(
        bank_tx_id=tx_id,
        booked_on=shared.get_or("d" + day, lambda: _csv_date(day, line)),
        amount=shared.get_or("a" + amount, lambda: _decimal(amount, line, "amount")),
        currency=shared.get_or("c" + (get("currency") or currency),
                               lambda: get("currency") or currency),
        variable_symbol=normalise_symbol(get("vs")),
        specific_symbol=normalise_symbol(get("ss")),
        constant_symbol=shared.get_or("k" + ks, lambda: normalise_symbol(ks) or "") or None,
        counter_account=national_account(get("account"), get("bank")),
        counter_name=get("name") or None,
        message=join_texts(get("message"), get("user"), get("comment")),
        line=line,
    )
