"""ISO 20022 camt.053 bank-to-customer statements, read as Czech banks (ČBA dialect) write them
(docs/facts/camt053.md).

Any version (001.02 ... 001.13): element names are matched without their namespace. Documents
with a DTD or entity declarations are refused (no entity expansion, no external loads); the
parser is expat, fed a megabyte at a time, which also gives each ``Ntry`` its line number;
each ``Ntry`` is converted when it ends and then dropped, so memory holds one entry, not the
document.

Per ``Stmt``: our account is ``Acct/Id/IBAN`` (else ``Acct/Id/Othr/Id``); the opening balance
is ``Bal`` of type OPBD (else PRCD, the previous closing balance ČBA statements carry), the
closing balance CLBD. Per ``Ntry`` with status BOOK (``<Sts>BOOK</Sts>`` or
``<Sts><Cd>BOOK</Cd></Sts>``; pending and information entries are skipped): ``Amt`` and its
``Ccy``, ``CdtDbtInd`` CRDT (+) / DBIT (-), ``RvslInd`` true flips the sign, ``BookgDt`` (else
``ValDt``). When the statement has both balances they must add up; if they only add up with
reversals *not* flipped (ISO's own reading: the indicator already gives the direction), that
reading is used for the statement.

bank_tx_id: ``AcctSvcrRef`` of the entry, else of ``TxDtls/Refs`` (``NtryRef`` is only a
position in many banks' statements); an entry without one gets the derived id that every
format gives it (billing.bank.statements.derived_id); one id on two entries refuses the file.
An entry with several ``TxDtls`` that each carry an amount adding up to the entry is split
into one transaction per ``TxDtls``.

Integrity: each statement's booked entries add up from its opening to its closing balance,
each statement opens with the previous one's closing balance, and ``TxsSummry`` (when sent)
states the number and sums of the entries (all, credit, debit) that are there.

Symbols, first found wins: tokens "VS123", "/VS/123", "VS:123", "VS 123" (likewise SS, KS) in
``Refs/EndToEndId``, ``Refs/InstrId``, ``Refs/PmtInfId``, ``RmtInf/Strd/CdtrRefInf/Ref``
(whose ``Tp`` may also say VS/SS/KS), ``RmtInf/Ustrd``, ``AddtlTxInf``, ``AddtlNtryInf``; a
plain 1-10 digit creditor reference or EndToEndId counts as the VS. The counter-party is the
debtor of a credit and the creditor of a debit (``RltdPties``, bank code from ``RltdAgts``);
the message joins ``RmtInf/Ustrd``, ``AddtlTxInf`` and ``AddtlNtryInf``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date
from decimal import Decimal
from xml.parsers import expat

from billing.bank.statements import (
    ParsedStatement,
    ParsedTransaction,
    StatementError,
    assign_derived_ids,
    check_amount,
    join_texts,
    national_account,
    normalise_account,
    normalise_symbol,
    refuse_repeated_ids,
)
from core.i18n import _l
from core.i18n import money as shown_money
from core.i18n import number as shown_number

_SYMBOL = re.compile(r"(?<![A-Za-z])(VS|SS|KS)[\s:/.-]*(\d{1,10})(?!\d)")
_AMOUNT = re.compile(r"\d+(?:\.\d+)?")
_REFUSED = _l("DTDs and entity declarations are not accepted")
_NUL_REFERENCE = re.compile(rb"&#(?:0+|x0+);")
_Lines = dict[ET.Element, int]


_CHUNK = 1 << 20


class _Reader:
    """expat, fed the file a megabyte at a time, building elements (namespaces stripped) and
    handing each finished ``Ntry`` and ``Stmt`` of the statement to a callback, after which
    the ``Ntry`` is removed from the tree: memory holds one entry's elements at a time, not
    the document (docs/bank-statements.md, "Size")."""

    def __init__(self, on_entry, on_statement) -> None:
        self.builder = ET.TreeBuilder()
        self.parser = expat.ParserCreate(namespace_separator="}")
        self.lines: _Lines = {}
        self.stack: list[ET.Element] = []
        self.statements: set[ET.Element] = set()
        self.on_entry, self.on_statement = on_entry, on_statement
        self.root_tag: str | None = None

    def start(self, name: str, attributes: dict[str, str]) -> None:
        tag = name.rpartition("}")[2]
        element = self.builder.start(tag, attributes)
        self.lines[element] = self.parser.CurrentLineNumber
        stack = self.stack
        if tag == "Stmt" and (
            len(stack) == 1 or (len(stack) == 2 and stack[1].tag == "BkToCstmrStmt")
        ):
            self.statements.add(element)
        stack.append(element)

    def end(self, name: str) -> None:
        element = self.builder.end(name.rpartition("}")[2])
        stack = self.stack
        stack.pop()
        if not stack:
            return
        parent = stack[-1]
        if element.tag == "Ntry" and parent in self.statements:
            self.on_entry(element, self.lines)
            self._drop(parent, element)
        elif element in self.statements:
            self.on_statement(element, self.lines)
            self.statements.discard(element)
            self._drop(parent, element)

    def _drop(self, parent: ET.Element, element: ET.Element) -> None:
        lines = self.lines
        for descendant in element.iter():
            lines.pop(descendant, None)
        parent.remove(element)

    def parse(self, data: bytes) -> None:
        for marker in (b"<!DOCTYPE", b"<!ENTITY"):
            found = data.find(marker)
            if found >= 0:
                raise StatementError(_REFUSED, data.count(b"\n", 0, found) + 1)
        parser = self.parser

        def refuse(*_: object) -> None:  # other encodings hide the markers from the search
            raise StatementError(_REFUSED, parser.CurrentLineNumber)

        parser.buffer_text = True
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end
        parser.CharacterDataHandler = self.builder.data
        parser.StartDoctypeDeclHandler = refuse
        parser.EntityDeclHandler = refuse
        view = memoryview(data)
        try:
            for start in range(0, len(data), _CHUNK):
                parser.Parse(view[start : start + _CHUNK], False)
            parser.Parse(b"", True)
        except expat.ExpatError as exc:
            reason = expat.ErrorString(exc.code)
            if _is_nul(data, parser.ErrorByteIndex):
                reason = _l("a NUL character (U+0000) is not allowed in XML")
            raise StatementError(_l("malformed XML: %(reason)s", reason=reason), exc.lineno) from None


def _is_nul(data: bytes, index: int) -> bool:
    """Whether expat stopped at a NUL byte or a reference to NUL (&#0;), in an encoding that
    has one byte per ASCII character (UTF-16 has NUL bytes in every ASCII character)."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\0" in data[:2] or index < 0:
        return False
    return data[index : index + 1] == b"\0" or _NUL_REFERENCE.match(data, index) is not None


def _text(element: ET.Element | None, path: str) -> str | None:
    found = element.find(path) if element is not None else None
    text = found.text.strip() if found is not None and found.text else ""
    return text or None


def _first(element: ET.Element, *paths: str) -> ET.Element | None:
    """The first of ``paths`` that exists (Elements without children are falsy: no ``or``)."""
    for path in paths:
        found = element.find(path)
        if found is not None:
            return found
    return None


def _amount(element: ET.Element | None, lines: _Lines, line: int) -> Decimal:
    text = (element.text or "").strip() if element is not None else ""
    where = lines.get(element, line) if element is not None else line
    if not _AMOUNT.fullmatch(text):
        raise StatementError(_l("amount is not numeric (%(text)s)", text=repr(text)), where)
    return check_amount(Decimal(text), where)


def _day(element: ET.Element | None, tag: str, line: int) -> date | None:
    text = _text(element, f"{tag}/Dt") or (_text(element, f"{tag}/DtTm") or "")[:10]
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise StatementError(_l("%(what)s %(text)s is not a date", what=tag, text=repr(text)),
                             line) from None


def _balances(
    stmt: ET.Element, lines: _Lines
) -> tuple[Decimal | None, Decimal | None, date | None]:
    opening = closing = None
    closing_date = None
    for balance in stmt.findall("Bal"):
        code = _text(balance, "Tp/CdOrPrtry/Cd") or _text(balance, "Tp/CdOrPrtry/Prtry") or ""
        if code.upper() not in ("OPBD", "PRCD", "CLBD"):
            continue
        amount = _amount(balance.find("Amt"), lines, lines[balance])
        if _text(balance, "CdtDbtInd") == "DBIT":
            amount = -amount
        if code.upper() == "CLBD":
            closing, closing_date = amount, _day(balance, "Dt", lines[balance])
        elif opening is None or code.upper() == "OPBD":
            opening = amount
    return opening, closing, closing_date


def _symbols(details: ET.Element | None, entry: ET.Element) -> tuple[str | None, ...]:
    found: dict[str, str] = {}
    refs = details.find("Refs") if details is not None else None
    end_to_end = _text(refs, "EndToEndId")
    texts = [end_to_end, _text(refs, "InstrId"), _text(refs, "PmtInfId")]
    plain = []
    for reference in details.iterfind("RmtInf/Strd/CdtrRefInf") if details is not None else ():
        ref = _text(reference, "Ref")
        kind = _text(reference, "Tp/CdOrPrtry/Prtry") or _text(reference, "Tp/CdOrPrtry/Cd") or ""
        if kind.upper() in ("VS", "SS", "KS") and normalise_symbol(ref):
            found.setdefault(kind.upper(), ref or "")
        texts.append(ref)
        plain.append(ref)
    if details is not None:
        texts += [u.text for u in details.iterfind("RmtInf/Ustrd")] + [_text(details, "AddtlTxInf")]
    texts.append(_text(entry, "AddtlNtryInf"))
    for text in texts:
        for kind, digits in _SYMBOL.findall(text or ""):
            if normalise_symbol(digits):
                found.setdefault(kind, digits)
    if "VS" not in found:
        found["VS"] = next((p for p in [*plain, end_to_end] if normalise_symbol(p)), "")
    return tuple(normalise_symbol(found.get(kind)) for kind in ("VS", "SS", "KS"))


def _party(details: ET.Element | None, indicator: str) -> tuple[str | None, str | None]:
    role = "Dbtr" if indicator == "CRDT" else "Cdtr"
    parties = details.find("RltdPties") if details is not None else None
    name = (
        _text(parties, f"{role}/Nm")
        or _text(parties, f"{role}/Pty/Nm")
        or _text(parties, f"Ultmt{role}/Nm")
    )
    number = _text(parties, f"{role}Acct/Id/IBAN") or _text(parties, f"{role}Acct/Id/Othr/Id")
    agent = f"RltdAgts/{role}Agt/FinInstnId"
    bank = _text(details, f"{agent}/ClrSysMmbId/MmbId") or _text(details, f"{agent}/Othr/Id")
    bank = bank if bank and bank.isdigit() and len(bank) == 4 else None
    return national_account(number, bank), name


def _entry(
    entry: ET.Element, lines: _Lines, currency: str
) -> list[tuple[ParsedTransaction, bool, str | None]]:
    """(transaction, is a reversal, bank id or None) for each part of a booked entry."""
    line = lines[entry]
    amount_element = entry.find("Amt")
    amount = _amount(amount_element, lines, line)
    indicator = _text(entry, "CdtDbtInd") or ""
    if indicator not in ("CRDT", "DBIT"):
        raise StatementError(_l("CdtDbtInd %(value)s is not CRDT or DBIT", value=repr(indicator)),
                             line)
    reversal = (_text(entry, "RvslInd") or "").lower() in ("true", "1")
    sign = (1 if indicator == "CRDT" else -1) * (-1 if reversal else 1)
    booked = _day(entry, "BookgDt", line) or _day(entry, "ValDt", line)
    if booked is None:
        raise StatementError(_l("entry has no BookgDt"), line)
    details = entry.findall("NtryDtls/TxDtls")
    # not NtryRef: it is often just the entry's position in this one statement
    entry_id = _text(entry, "AcctSvcrRef") or _text(entry, "NtryDtls/TxDtls/Refs/AcctSvcrRef")
    parts: list[tuple[ET.Element | None, Decimal, str | None]] = [
        (details[0] if details else None, amount, entry_id)
    ]
    if len(details) > 1:
        amounts = [_first(d, "AmtDtls/TxAmt/Amt", "Amt") for d in details]
        if all(a is not None for a in amounts):
            values = [_amount(a, lines, line) for a in amounts]
            if sum(values) == amount:
                parts = [
                    (d, v, _text(d, "Refs/AcctSvcrRef") or (entry_id and f"{entry_id}-{n}"))
                    for n, (d, v) in enumerate(zip(details, values, strict=True), 1)
                ]
    result = []
    for part, value, bank_id in parts:
        vs, ss, ks = _symbols(part, entry)
        account, name = _party(part, indicator)
        ustrd = None if part is None else " ".join(u.text or "" for u in part.iter("Ustrd"))
        tx = ParsedTransaction(
            bank_tx_id="",
            booked_on=booked,
            amount=sign * value,
            currency=(amount_element.get("Ccy") if amount_element is not None else None)
            or currency,
            variable_symbol=vs,
            specific_symbol=ss,
            constant_symbol=ks,
            counter_account=account,
            counter_name=name,
            message=join_texts(ustrd, _text(part, "AddtlTxInf"), _text(entry, "AddtlNtryInf")),
            line=lines[part] if part is not None and len(parts) > 1 else line,
        )
        result.append((tx, reversal, bank_id))
    return result


class _Statement:
    """What is gathered while one file is read: the statements' movements and totals."""

    def __init__(self) -> None:
        self.account: str | None = None
        self.opening: Decimal | None = None
        self.closing: Decimal | None = None
        self.statement_date: date | None = None
        self.number = 0
        self.parsed: list[tuple[ParsedTransaction, bool, str | None]] = []
        self.entries: list[tuple[ParsedTransaction, bool, str | None]] = []
        # for TxsSummry, per entry: booked?, its parts (signed amounts), reversal?
        self.summary: list[tuple[bool, list, bool]] = []
        self.previous_closing: tuple[Decimal, int] | None = None

    def entry(self, entry: ET.Element, lines: _Lines) -> None:
        status = (_text(entry, "Sts/Cd") or _text(entry, "Sts") or "").upper()
        if status == "BOOK":
            parts = _entry(entry, lines, "")
            self.entries.extend(parts)
            self.summary.append((True, [tx for tx, _, _ in parts], parts[0][1]))
            return
        try:  # pending or information entries: only for TxsSummry, if they count there
            amount = _amount(entry.find("Amt"), lines, lines[entry])
        except StatementError:
            return
        sign = -1 if (_text(entry, "CdtDbtInd") or "") == "DBIT" else 1
        reversal = (_text(entry, "RvslInd") or "").lower() in ("true", "1")
        self.summary.append((False, [_Amount(sign * amount)], reversal))

    def statement(self, stmt: ET.Element, lines: _Lines) -> None:
        self.number += 1
        line = lines[stmt]
        own = _text(stmt, "Acct/Id/IBAN") or normalise_account(_text(stmt, "Acct/Id/Othr/Id"))
        if own is None:
            raise StatementError(_l("statement has no Acct/Id"), line)
        if self.account is not None and own != self.account:
            raise StatementError(_l("statement for %(own)s in a file for %(account)s", own=own,
                                    account=self.account), line)
        self.account = own
        first, last, last_date = _balances(stmt, lines)
        if first is not None and self.previous_closing is not None:
            closed, closed_line = self.previous_closing
            if first != closed:
                raise StatementError(_l(
                    "statement's opening balance %(first)s is not the closing balance "
                    "%(closed)s of the statement before it (line %(line)s): a statement is "
                    "missing", first=shown_money(first), closed=shown_money(closed), line=closed_line), line)
        self.previous_closing = (last, line) if last is not None else None
        self.opening = first if self.number == 1 else self.opening
        self.closing = last
        self.statement_date = (
            last_date
            or _day(stmt, "FrToDt/ToDtTm", line)
            or _day(stmt, "CreDtTm", line)
        )  # fmt: skip
        currency = _text(stmt, "Acct/Ccy") or "CZK"
        for tx, _, _ in self.entries:
            tx.currency = tx.currency or currency
        _reconcile(first, last, self.entries, line)
        _summary(stmt.find("TxsSummry"), lines, self.summary)
        self.parsed += self.entries
        self.entries, self.summary = [], []


class _Amount:
    __slots__ = ("amount",)

    def __init__(self, amount: Decimal) -> None:
        self.amount = amount


def _totals(entries: list[tuple[bool, list, bool]], pending: bool, stated: bool) -> tuple:
    """(count, credit count, credit sum, debit count, debit sum) of the entries: booked
    ones (and pending ones), each by its direction as booked, or (``stated``) by its
    CdtDbtInd alone, a reversal's indicator not flipped."""
    totals = [0, 0, Decimal(0), 0, Decimal(0)]
    for booked, parts, reversal in entries:
        if not booked and not pending:
            continue
        amount = sum((part.amount for part in parts), Decimal(0))
        if stated and reversal:
            amount = -amount
        totals[0] += 1
        if amount >= 0:
            totals[1] += 1
            totals[2] += amount
        else:
            totals[3] += 1
            totals[4] -= amount
    return tuple(totals)


def _summary(summary: ET.Element | None, lines: _Lines, entries: list) -> None:
    """``TxsSummry`` (when the bank sends it): the numbers and sums of entries, all, credit
    and debit, must be those of the statement's entries (booked ones, or all; a reversal
    counted on the side it moved the balance to, or on the side its indicator names)."""
    if summary is None:
        return
    readings = [_totals(entries, p, s) for p in (False, True) for s in (False, True)]
    checks = (
        ("TtlNtries/NbOfNtries", lambda t: t[0], _l("number of entries")),
        ("TtlNtries/Sum", lambda t: t[2] + t[4], _l("sum of entries")),
        ("TtlCdtNtries/NbOfNtries", lambda t: t[1], _l("number of credit entries")),
        ("TtlCdtNtries/Sum", lambda t: t[2], _l("sum of credit entries")),
        ("TtlDbtNtries/NbOfNtries", lambda t: t[3], _l("number of debit entries")),
        ("TtlDbtNtries/Sum", lambda t: t[4], _l("sum of debit entries")),
    )
    for path, value, what in checks:
        element = summary.find(path)
        if element is None:
            continue
        text = (element.text or "").strip()
        where = lines.get(element, lines.get(summary))
        if not _AMOUNT.fullmatch(text):
            raise StatementError(_l("TxsSummry/%(path)s is not a number (%(text)s)", path=path,
                                    text=repr(text)), where)
        if Decimal(text) not in [value(reading) for reading in readings]:
            raise StatementError(_l(
                "TxsSummry/%(path)s says %(text)s, but the statement's %(what)s is %(value)s: an "
                "entry is missing, repeated or altered", path=path, text=text, what=what,
                value=shown_number(value(readings[0]))), where)


def parse_camt053(data: bytes) -> ParsedStatement:
    gathered = _Statement()
    reader = _Reader(gathered.entry, gathered.statement)
    reader.parse(data)
    if gathered.number == 0:
        raise StatementError(_l("no BkToCstmrStmt/Stmt element: not a camt.053 statement"), 1)
    transactions = []
    for tx, _, bank_id in gathered.parsed:
        tx.bank_tx_id = bank_id or ""
        transactions.append(tx)
    refuse_repeated_ids(transactions, "AcctSvcrRef")
    result = ParsedStatement(
        format="camt053",
        account=gathered.account or "",
        transactions=transactions,
        opening_balance=gathered.opening,
        closing_balance=gathered.closing,
        statement_date=gathered.statement_date,
    )
    assign_derived_ids(result)
    return result


def _reconcile(
    opening: Decimal | None,
    closing: Decimal | None,
    entries: list[tuple[ParsedTransaction, bool, str | None]],
    line: int,
) -> None:
    """Check the booked entries against the balances; un-flip reversals if that fits."""
    if opening is None or closing is None:
        return
    total = sum((tx.amount for tx, _, _ in entries), Decimal(0))
    if opening + total == closing:
        return
    unflipped = sum((-tx.amount if rev else tx.amount for tx, rev, _ in entries), Decimal(0))
    if any(rev for _, rev, _ in entries) and opening + unflipped == closing:
        for tx, rev, _ in entries:
            if rev:
                tx.amount = -tx.amount
        return
    raise StatementError(_l(
        "booked entries do not add up: opening balance %(opening)s + entries %(total)s = "
        "%(sum)s, but the closing balance is %(closing)s", opening=shown_money(opening),
        total=shown_money(total), sum=shown_money(opening + total), closing=shown_money(closing)), line)
