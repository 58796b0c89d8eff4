"""Importing customers, contracts, services and historic invoices from the old system.

``import_file(session, path, supplier)`` reads a JSON or CSV file (formats: ``docs/import.md``),
validates every field and every uniqueness rule against the file and the database, and only
then writes, inside a SAVEPOINT: either everything is imported or nothing is. Any problem
raises :class:`ImportFileError` (``row``, ``field``, ``reason``); the caller rolls back.

Historic invoices are issued through :func:`billing.invoicing.issue.issue_invoice` with their old
numbers, so they have ledger entries; what the old system recorded as paid becomes a bank
transaction from the pseudo-account ``import`` paired by the invoice's specific symbol.

Functions flush; the caller commits.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session

from billing.bank.pairing import pair
from billing.invoicing.issue import InvoicingError, IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.legacy_import import validate as import_validate
from billing.legacy_import.formats import ImportFileError, Node, Src, decode, read_csv, read_json
from billing.legacy_import.validate import Claim, CustomerRec
from billing.models import (
    BankTransaction,
    Contract,
    Customer,
    DocumentSeries,
    Invoice,
    Service,
    ServiceAddress,
)
from core import audit
from core.passwords import hash_password

__all__ = ["ImportFileError", "ImportResult", "import_file", "import_text"]

ACTOR = "operator:import"
SOURCE_ACCOUNT = "import"
CHUNK = 500
SERIES_NUMBER = re.compile(r"(\d{4})(\d{6})")  # what billing.invoicing.issue.next_number issues
LABELS = {
    "customer_number": "customer number",
    "contract_number": "contract number",
    "ip": "IP address",
    "pppoe_username": "PPPoE username",
    "phone_number": "phone number",
    "invoice_number": "invoice number",
    "specific_symbol": "specific symbol",
}


@dataclass(frozen=True)
class ImportResult:
    customers: int = 0
    contracts: int = 0
    services: int = 0
    invoices: int = 0
    payments: int = 0

    def __str__(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        text = (
            f"{n(self.customers, 'customer')}, {n(self.contracts, 'contract')}, "
            f"{n(self.services, 'service')}, {n(self.invoices, 'invoice')} imported"
        )
        return text + (f" ({n(self.payments, 'payment')} recorded)" if self.payments else "")


def import_file(session: Session, path: Path | str, supplier: Supplier) -> ImportResult:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ImportFileError(f"unsupported file type {suffix or '(none)'!r}: use .json or .csv")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc.strerror}") from exc
    return import_text(session, decode(data), suffix.lstrip("."), supplier)


def import_text(session: Session, text: str, file_format: str, supplier: Supplier) -> ImportResult:
    """Import already decoded text in ``json`` or ``csv`` format."""
    nodes = read_json(text) if file_format == "json" else read_csv(text)
    records = validate(session, nodes)
    try:
        with session.begin_nested():
            return _write(session, records, supplier)
    except (SQLAlchemyError, InvoicingError) as exc:
        # the savepoint is rolled back: nothing of this file stays in the session
        raise ImportFileError(f"the database refused the import: {_cause(exc)}") from exc


def _cause(exc: Exception) -> str:
    """The driver's message, without SQLAlchemy's statement and parameters."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def validate(session: Session, nodes: list[Node]) -> list[CustomerRec]:
    """All records, validated and normalised; raises on the first problem found."""
    if not nodes:
        raise ImportFileError("the file contains no customers")
    claims: list[Claim] = []
    records = [import_validate.customer(node, claims) for node in nodes]
    _check_file(records, claims)
    _check_database(session, claims, records)
    return records


def _check_file(records: list[CustomerRec], claims: list[Claim]) -> None:
    first: dict[tuple[str, str], Claim] = {}
    for claim in claims:
        seen = first.setdefault((claim.kind, claim.value), claim)
        if seen is not claim:
            label = LABELS[claim.kind]
            raise claim.error(f"duplicate {label} {claim.value} in the file ({seen.where})")
    # customer and contract numbers are both variable symbols: they must not point at two
    # different customers
    owner = {rec.values["customer_number"]: rec for rec in records}
    for rec in records:
        for contract in rec.contracts:
            other = owner.get(contract.number)
            if other is not None and other is not rec:
                raise contract.src.error("number", f"contract number {contract.number} is the "
                                         "customer number of another customer in the file")


def _existing(session: Session, column: InstrumentedAttribute, values: Iterable[str]) -> set[str]:
    values = sorted(set(values))
    found: set[str] = set()
    for i in range(0, len(values), CHUNK):
        found.update(session.scalars(select(column).where(column.in_(values[i : i + CHUNK]))))
    return found


def _check_database(session: Session, claims: list[Claim], records: list[CustomerRec]) -> None:
    by_kind: dict[str, list[Claim]] = {}
    for claim in claims:
        by_kind.setdefault(claim.kind, []).append(claim)
    checks = (
        ("customer_number", Customer.customer_number, "already exists"),
        ("customer_number", Contract.number, "is already the contract number of a customer"),
        ("contract_number", Contract.number, "already exists"),
        ("contract_number", Customer.customer_number, "is already the number of a customer"),
        ("ip", ServiceAddress.address, "is already assigned"),
        ("pppoe_username", Service.pppoe_username, "is already taken"),
        ("phone_number", Service.phone_number, "is already taken"),
        ("invoice_number", Invoice.number, "already exists"),
        ("specific_symbol", Invoice.specific_symbol, "is already used by an invoice"),
    )
    for kind, column, reason in checks:
        wanted = by_kind.get(kind, [])
        taken = _existing(session, column, (c.value for c in wanted))
        for claim in wanted:
            if claim.value in taken:
                raise claim.error(f"{LABELS[kind]} {claim.value} {reason} in the database")
    tx_ids = {f"import-{inv.number}": inv for rec in records for inv in rec.invoices if inv.paid}
    taken = _existing(session, BankTransaction.bank_tx_id, tx_ids)
    for tx_id in sorted(taken):
        inv = tx_ids[tx_id]
        raise inv.src.error("paid", f"a payment {tx_id} was already imported")


def _hash_all(passwords: Sequence[str]) -> list[str]:
    if not passwords:
        return []
    with ThreadPoolExecutor(max_workers=4) as pool:  # argon2 releases the GIL
        return list(pool.map(hash_password, passwords))


def _write(session: Session, records: list[CustomerRec], supplier: Supplier) -> ImportResult:
    plain = [rec.password for rec in records if rec.password]
    hashes = dict(zip(plain, _hash_all(plain), strict=True))
    counts = dict.fromkeys(("customers", "contracts", "services", "invoices", "payments"), 0)
    for rec in records:
        src: Src = rec.src
        try:
            customer = Customer(**rec.values)
            customer.password_hash = hashes[rec.password] if rec.password else rec.password_hash
            session.add(customer)
            contracts: dict[str, Contract] = {}
            for c in rec.contracts:
                src = c.src
                contract = Contract(customer=customer, number=c.number, signed_on=c.signed_on,
                                    ended_on=c.ended_on)
                contracts[c.number] = contract
                session.add(contract)
                for s in c.services:
                    service = Service(customer=customer, contract=contract, **s.values)
                    service.addresses = [ServiceAddress(address=ip) for ip in s.ips]
                    session.add(service)
                    counts["services"] += 1
            src = rec.src
            session.flush()
            audit.record(session, "customer.imported", actor=ACTOR, customer_id=customer.id,
                         new_value=customer.customer_number)
            for inv in sorted(rec.invoices, key=lambda i: (i.issue_date, i.number)):
                src = inv.src
                counts["payments"] += _write_invoice(session, customer, contracts, inv, supplier)
                counts["invoices"] += 1
        except (SQLAlchemyError, InvoicingError) as exc:
            raise ImportFileError(f"the database refused the import: {_cause(exc)}",
                                  src.row, src.prefix.rstrip(".") or None, src.unit) from exc
        counts["customers"] += 1
        counts["contracts"] += len(contracts)
    _advance_series(session, records)
    session.flush()
    return ImportResult(**counts)


def _advance_series(session: Session, records: list[CustomerRec]) -> None:
    """Old numbers that look like ours (YYYY + 6 digits) move the year's series past them,
    so that the next invoice issued here does not collide with an imported one."""
    highest: dict[str, int] = {}
    for rec in records:
        for inv in rec.invoices:
            for value in (inv.number, inv.specific_symbol):
                m = SERIES_NUMBER.fullmatch(value)
                if m:
                    key = f"invoice-{m.group(1)}"
                    highest[key] = max(highest.get(key, 0), int(m.group(2)))
    for key, value in sorted(highest.items()):
        series = session.get(DocumentSeries, key, with_for_update=True)
        if series is None:
            session.add(DocumentSeries(key=key, last_value=value))
        elif series.last_value < value:
            series.last_value = value


def _write_invoice(session: Session, customer: Customer, contracts: dict[str, Contract],
                   inv: import_validate.InvoiceRec, supplier: Supplier) -> int:
    options = IssueOptions(
        kind=inv.kind,
        issue_date=inv.issue_date,
        taxable_date=inv.taxable_date,
        due_date=inv.due_date,
        prices_include_vat=inv.prices_include_vat,
        number=inv.number,
        specific_symbol=inv.specific_symbol,
        actor=ACTOR,
    )
    contract = contracts[inv.contract] if inv.contract else None
    invoice = issue_invoice(session, customer, inv.lines, supplier, options, contract)
    if inv.paid <= 0:
        return 0
    tx = BankTransaction(
        source_account=SOURCE_ACCOUNT,
        bank_tx_id=f"import-{inv.number}",
        booked_on=inv.paid_on,
        amount=inv.paid,
        variable_symbol=invoice.variable_symbol,
        specific_symbol=invoice.specific_symbol,
        counter_name=customer.name,
        message=f"Úhrada faktury {inv.number} v původním systému",
    )
    session.add(tx)
    session.flush()
    pair(session, tx, actor=ACTOR)
    return 1
