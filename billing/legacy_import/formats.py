"""Reading import files (JSON, CSV) into a neutral tree of records that know where they
came from, so that every error can name its row (or customer) and field.

The formats are documented in ``docs/import.md``. Nothing here touches the database.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from core.errors import Invalid


class ImportFileError(Invalid, ValueError):
    """A problem in an import file. ``row``: the CSV line, the JSON customer's position
    (1-based) or, for broken JSON, the line; ``field``: the column or JSON path."""

    def __init__(
        self, reason: str, row: int | None = None, field: str | None = None, unit: str = "row"
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.row = row
        self.field = field
        self.unit = unit  # row | customer | line

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"customer #{self.row}" if self.unit == "customer" else f"{self.unit} {self.row}")
        if self.field:
            where.append(f"field {self.field}")
        return f"{', '.join(where)}: {self.reason}" if where else self.reason


NUL = "contains a NUL character (U+0000)"  # which PostgreSQL text cannot hold


@dataclass(frozen=True)
class Src:
    """Where a record came from: a CSV line, or a customer of a JSON file and a path in it."""

    row: int | None
    prefix: str = ""  # JSON path of the record, e.g. "contracts[0].services[1]."
    unit: str = "row"
    rename: tuple[tuple[str, str], ...] = ()  # CSV: key -> column, e.g. quantity -> line_quantity

    @property
    def is_json(self) -> bool:
        return self.unit == "customer"

    def name(self, key: str) -> str:
        return self.prefix + dict(self.rename).get(key, key)

    def item(self, key: str, index: int) -> str:
        """The field name of one item of a list value (``ips[0]``; in CSV just the column)."""
        return f"{self.name(key)}[{index}]" if self.is_json else self.name(key)

    def child(self, key: str, index: int) -> Src:
        return Src(self.row, f"{self.prefix}{key}[{index}].", self.unit, self.rename)

    def error(self, key: str | None, reason: str) -> ImportFileError:
        return ImportFileError(reason, self.row, self.name(key) if key else None, self.unit)


@dataclass
class Node:
    """One record (customer, contract, service, invoice, invoice line) before validation."""

    values: dict[str, Any]
    src: Src
    children: dict[str, list[Node]] = field(default_factory=dict)


CUSTOMER_FIELDS = ("customer_number", "name", "is_company", "contact_person", "street", "city",
                   "postal_code", "email", "phone", "ico", "dic", "language", "password",
                   "password_hash", "opening_balance", "opening_balance_on")
CONTRACT_FIELDS = ("number", "signed_on", "ended_on")
SERVICE_FIELDS = ("kind", "name", "price", "vat_rate", "period", "valid_from", "valid_to",
                  "paid_until", "location", "download_kbps", "upload_kbps", "pppoe_username",
                  "ips", "phone_number", "description", "pppoe_password", "router_name",
                  "voip_password", "voip_credit")
INVOICE_FIELDS = ("number", "kind", "issue_date", "taxable_date", "due_date", "specific_symbol",
                  "contract", "prices_include_vat", "paid", "paid_on")
LINE_FIELDS = ("description", "quantity", "unit", "unit_price", "vat_rate")


def decode(data: bytes) -> str:
    """UTF-8 text (a BOM is dropped); anything else is refused with a clear reason."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ImportFileError(
            f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
            "save it as UTF-8 and import again"
        ) from exc


# -- JSON ------------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def read_json(text: str) -> list[Node]:
    try:
        data = json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise ImportFileError(
            f"invalid JSON: {exc.msg} (column {exc.colno})", exc.lineno, None, "line"
        ) from exc
    except ValueError as exc:
        raise ImportFileError(f"invalid JSON: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("customers"), list):
        raise ImportFileError('the file must be an object with a "customers" list')
    unknown = sorted(set(data) - {"customers"})
    if unknown:
        raise ImportFileError(f"unknown top-level key {unknown[0]!r}")
    return [
        _json_node(item, Src(i, "", "customer"), CUSTOMER_FIELDS,
                   {"contracts": ("contracts", CONTRACT_FIELDS, {"services": SERVICE_FIELDS}),
                    "invoices": ("invoices", INVOICE_FIELDS, {"lines": LINE_FIELDS})})
        for i, item in enumerate(data["customers"], start=1)
    ]


def _json_node(item: Any, src: Src, fields: tuple[str, ...], nested: dict) -> Node:
    if not isinstance(item, dict):
        raise src.error(None, f"{src.prefix.rstrip('.') or 'the customer'} must be an object")
    node = Node({}, src)
    for key, value in item.items():
        if "\0" in key:
            raise src.error(None, f"the field name {src.prefix + key!r} {NUL}")
        if isinstance(value, str) and "\0" in value:
            raise src.error(key, NUL)
        if isinstance(value, list):
            for i, part in enumerate(value):
                if isinstance(part, str) and "\0" in part:
                    raise ImportFileError(NUL, src.row, src.item(key, i), src.unit)
        if key in nested:
            name, child_fields, grandchildren = nested[key]
            if not isinstance(value, list):
                raise src.error(key, "must be a list")
            node.children[name] = [
                _json_node(
                    child,
                    src.child(key, i),
                    child_fields,
                    {k: (k, f, {}) for k, f in grandchildren.items()},
                )
                for i, child in enumerate(value)
            ]
        elif key in fields:
            node.values[key] = value
        else:
            raise src.error(key, "unknown field")
    return node


# -- CSV -------------------------------------------------------------------------------------

CSV_RECORDS = {
    "customer": set(CUSTOMER_FIELDS),
    "contract": {"customer_number", "contract_number", "signed_on", "ended_on"},
    "service": {"customer_number", "contract_number", *SERVICE_FIELDS},
    "invoice": {"customer_number", "contract_number", "invoice_number"}
    | {f for f in INVOICE_FIELDS if f not in ("number", "contract")}
    | {f"line_{f}" for f in LINE_FIELDS},
}
CSV_COLUMNS = {"record"}.union(*CSV_RECORDS.values())
LINE_RENAME = tuple((f, f"line_{f}") for f in LINE_FIELDS)
INVOICE_RENAME = (("number", "invoice_number"), ("contract", "contract_number"))
CONTRACT_RENAME = (("number", "contract_number"),)


def read_csv(text: str) -> list[Node]:
    """Rows grouped into customers. Record order is free except that an invoice's lines are
    consecutive rows with the same invoice number."""
    lines = text.splitlines(keepends=True)
    if not lines or not lines[0].strip():
        raise ImportFileError("the file is empty", 1)
    header_line = lines[0]
    delimiter = ";" if header_line.count(";") > header_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        header = [h.strip() for h in next(reader)]
    except csv.Error as exc:
        raise ImportFileError(f"unreadable CSV: {exc}", 1) from exc
    for name in header:
        if "\0" in name:
            raise ImportFileError(f"the column name {name!r} {NUL}", 1)
        if name not in CSV_COLUMNS:
            raise ImportFileError("unknown column", 1, name or "(empty)")
    if "record" not in header:
        raise ImportFileError("the header has no record column", 1, "record")
    if len(set(header)) != len(header):
        raise ImportFileError("a column appears twice in the header", 1)
    rows: list[tuple[int, dict[str, str]]] = []
    nul = "\0" in text
    start = 2
    try:
        for cells in reader:
            line_no, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(header):
                raise ImportFileError(f"{len(cells)} values but {len(header)} columns", line_no)
            cells += [""] * (len(header) - len(cells))
            if nul and any("\0" in c for c in cells):
                column = next(h for h, c in zip(header, cells, strict=True) if "\0" in c)
                raise ImportFileError(NUL, line_no, column)
            rows.append((line_no, {h: c.strip() for h, c in zip(header, cells, strict=True)}))
    except csv.Error as exc:
        raise ImportFileError(f"unreadable CSV: {exc}", reader.line_num) from exc
    return _group_csv(rows)


def _group_csv(rows: list[tuple[int, dict[str, str]]]) -> list[Node]:
    customers: dict[str, Node] = {}
    pending: list[tuple[int, dict[str, str]]] = []
    for line_no, row in rows:
        record = row["record"].lower()
        if record not in CSV_RECORDS:
            raise ImportFileError(
                f"unknown record type {row['record']!r} (customer, contract, service, invoice)",
                line_no, "record")
        for column, value in row.items():
            if value and column != "record" and column not in CSV_RECORDS[record]:
                raise ImportFileError(f"the column does not apply to a {record} row",
                                      line_no, column)
        if not row.get("customer_number"):
            raise ImportFileError("required", line_no, "customer_number")
        if record == "customer":
            number = row["customer_number"]
            if number in customers:
                first = customers[number].src.row
                raise ImportFileError(f"duplicate customer number (also on row {first})",
                                      line_no, "customer_number")
            values = {k: v for k, v in row.items() if k in CSV_RECORDS["customer"] and v}
            customers[number] = Node(values, Src(line_no), {"contracts": [], "invoices": []})
        else:
            pending.append((line_no, row))
    last_invoice: tuple[str, Node] | None = None
    for line_no, row in pending:
        customer = customers.get(row["customer_number"])
        if customer is None:
            raise ImportFileError("no customer row with this number in the file",
                                  line_no, "customer_number")
        record = row["record"].lower()
        if record != "invoice":
            last_invoice = None
        if record == "contract":
            _csv_contract(customer, line_no, row, declared=True)
        elif record == "service":
            contract = _csv_contract(customer, line_no, row, declared=False)
            values = {k: row[k] for k in SERVICE_FIELDS if row.get(k)}
            contract.children["services"].append(Node(values, Src(line_no)))
        else:
            same = last_invoice is not None and last_invoice[0] == row["customer_number"]
            node = _csv_invoice(customer, line_no, row, last_invoice[1] if same else None)
            last_invoice = (row["customer_number"], node)
    return list(customers.values())


def _csv_contract(customer: Node, line_no: int, row: dict[str, str], declared: bool) -> Node:
    number = row.get("contract_number", "")
    if not number:
        raise ImportFileError("required", line_no, "contract_number")
    for contract in customer.children["contracts"]:
        if contract.values.get("number") == number:
            if declared and contract.values.get("declared"):
                raise ImportFileError("duplicate contract number in the file",
                                      line_no, "contract_number")
            if declared:
                contract.values.update(_contract_values(row), declared=True)
                contract.src = Src(line_no, rename=CONTRACT_RENAME)
            return contract
    values = _contract_values(row) if declared else {"number": number}
    contract = Node({**values, "declared": declared}, Src(line_no, rename=CONTRACT_RENAME),
                    {"services": []})
    customer.children["contracts"].append(contract)
    return contract


def _contract_values(row: dict[str, str]) -> dict[str, str]:
    values = {"number": row["contract_number"]}
    values.update({k: row[k] for k in ("signed_on", "ended_on") if row.get(k)})
    return values


def _csv_invoice(customer: Node, line_no: int, row: dict[str, str], last: Node | None) -> Node:
    number = row.get("invoice_number", "")
    if not number:
        raise ImportFileError("required", line_no, "invoice_number")
    values = {k: row[k] for k in INVOICE_FIELDS if row.get(k) and k not in ("number", "contract")}
    values["number"] = number
    if row.get("contract_number"):
        values["contract"] = row["contract_number"]
    line = Node({k: row[f"line_{k}"] for k in LINE_FIELDS if row.get(f"line_{k}")},
                Src(line_no, rename=LINE_RENAME))
    if last is not None and last.values["number"] == number:
        for key, value in values.items():
            if last.values.get(key) != value:
                raise ImportFileError("differs from the invoice's first row", line_no,
                                      dict(INVOICE_RENAME).get(key, key))
        last.children["lines"].append(line)
        return last
    invoice = Node(values, Src(line_no, rename=INVOICE_RENAME), {"lines": [line]})
    customer.children["invoices"].append(invoice)
    return invoice
