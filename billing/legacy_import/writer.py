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
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import InstrumentedAttribute, Session

from billing.bank.pairing import MATCHED, pair
from billing.customers import services as customer_services
from billing.invoicing.issue import InvoicingError, IssueOptions, issue_invoice
from billing.invoicing.supplier import Supplier
from billing.ledger import postings
from billing.legacy_import import validate as import_validate
from billing.legacy_import.formats import ImportFileError, Node, Src, decode, read_csv, read_json
from billing.legacy_import.validate import Claim, CustomerRec
from billing.models import (
    BankTransaction,
    Contract,
    Customer,
    DocumentSeries,
    Invoice,
    LedgerTransaction,
    Service,
    ServiceAddress,
    TransactionKind,
)
from core import audit
from core.clock import today
from core.errors import DomainError
from core.passwords import hash_password, verify_password

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


@dataclass
class ImportResult:
    customers: int = 0
    contracts: int = 0
    services: int = 0
    invoices: int = 0
    payments: int = 0
    updated: int = 0  # --update: existing customers changed
    changes: list[str] = field(default_factory=list)  # --update: what changed, one per line

    def __str__(self) -> str:
        def n(count: int, noun: str) -> str:
            return f"{count} {noun}{'' if count == 1 else 's'}"

        text = (
            f"{n(self.customers, 'customer')}, {n(self.contracts, 'contract')}, "
            f"{n(self.services, 'service')}, {n(self.invoices, 'invoice')} imported"
        )
        text += f" ({n(self.payments, 'payment')} recorded)" if self.payments else ""
        if self.updated:
            text += f"; {n(self.updated, 'existing customer')} updated"
        return text

    def report(self) -> str:
        """The summary and, for an update, each change on a line of its own."""
        return "\n".join([str(self), *(f"  {c}" for c in self.changes)])


def import_file(session: Session, path: Path | str, supplier: Supplier, *,
                update: bool = False, actor: str = ACTOR) -> ImportResult:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".json", ".csv"):
        raise ImportFileError(f"unsupported file type {suffix or '(none)'!r}: use .json or .csv")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc.strerror}") from exc
    return import_text(session, decode(data), suffix.lstrip("."), supplier, update=update,
                       actor=actor)


def import_text(session: Session, text: str, file_format: str, supplier: Supplier, *,
                update: bool = False, actor: str = ACTOR) -> ImportResult:
    """Import already decoded text in ``json`` or ``csv`` format. ``update``: customers
    that exist already (by customer number) are updated from the file instead of refused
    (docs/import.md, "Updating customers")."""
    nodes = read_json(text) if file_format == "json" else read_csv(text)
    records = validate(session, nodes, update=update)
    try:
        with session.begin_nested():
            return _write(session, records, supplier, update=update, actor=actor)
    except (SQLAlchemyError, InvoicingError) as exc:
        # the savepoint is rolled back: nothing of this file stays in the session
        raise ImportFileError(f"the database refused the import: {_cause(exc)}") from exc


def _cause(exc: Exception) -> str:
    """The driver's message, without SQLAlchemy's statement and parameters."""
    return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]


def validate(session: Session, nodes: list[Node], *, update: bool = False) -> list[CustomerRec]:
    """All records, validated and normalised; raises on the first problem found."""
    if not nodes:
        raise ImportFileError("the file contains no customers")
    claims: list[Claim] = []
    records = []
    owners: dict[int, str] = {}  # id(claim) -> the customer number claiming it
    for node in nodes:
        start = len(claims)
        rec = import_validate.customer(node, claims)
        records.append(rec)
        for claim in claims[start:]:
            owners[id(claim)] = rec.values["customer_number"]
    _check_file(records, claims)
    _check_database(session, claims, records, owners if update else None)
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


def _owned(session: Session, column: InstrumentedAttribute, values: Iterable[str]) -> dict[str, str]:
    """The values of ``column`` that exist, each with the number of the customer owning it."""
    joins = {
        Customer.customer_number: select(Customer.customer_number, Customer.customer_number),
        Contract.number: select(Contract.number, Customer.customer_number)
        .join(Customer, Customer.id == Contract.customer_id),
        ServiceAddress.address: select(ServiceAddress.address, Customer.customer_number)
        .join(Service, Service.id == ServiceAddress.service_id)
        .join(Customer, Customer.id == Service.customer_id),
        Service.pppoe_username: select(Service.pppoe_username, Customer.customer_number)
        .join(Customer, Customer.id == Service.customer_id),
        Service.phone_number: select(Service.phone_number, Customer.customer_number)
        .join(Customer, Customer.id == Service.customer_id),
        Invoice.number: select(Invoice.number, Customer.customer_number)
        .join(Customer, Customer.id == Invoice.customer_id),
        Invoice.specific_symbol: select(Invoice.specific_symbol, Customer.customer_number)
        .join(Customer, Customer.id == Invoice.customer_id),
    }
    values = sorted(set(values))
    found: dict[str, str] = {}
    for i in range(0, len(values), CHUNK):
        found.update(session.execute(joins[column].where(column.in_(values[i : i + CHUNK]))).all())
    return found


def _check_database(session: Session, claims: list[Claim], records: list[CustomerRec],
                    owners: dict[int, str] | None = None) -> None:
    """Every unique value must be free in the database; with ``owners`` (``--update``) a
    value the same customer has already is fine (it is theirs)."""
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
        if owners is None:
            taken = dict.fromkeys(_existing(session, column, (c.value for c in wanted)))
        else:
            taken = _owned(session, column, (c.value for c in wanted))
        for claim in wanted:
            if claim.value not in taken:
                continue
            if owners is not None and taken[claim.value] == owners[id(claim)]:
                continue  # the customer's own: an update
            if owners is not None and kind != "customer_number":
                reason_here = f"{reason} (customer {taken[claim.value]})"
            else:
                reason_here = reason
            raise claim.error(f"{LABELS[kind]} {claim.value} {reason_here} in the database")
    if owners is not None:
        known = _existing(session, Invoice.number,
                          (inv.number for rec in records for inv in rec.invoices))
        for rec in records:
            for inv in rec.invoices:
                inv.exists = inv.number in known
    tx_ids = {f"import-{inv.number}": inv for rec in records for inv in rec.invoices
              if inv.paid and not inv.exists}
    taken = _existing(session, BankTransaction.bank_tx_id, tx_ids)
    for tx_id in sorted(taken):
        inv = tx_ids[tx_id]
        raise inv.src.error("paid", f"a payment {tx_id} was already imported")


def _hash_all(passwords: Sequence[str]) -> list[str]:
    if not passwords:
        return []
    with ThreadPoolExecutor(max_workers=4) as pool:  # argon2 releases the GIL
        return list(pool.map(hash_password, passwords))


def _write(session: Session, records: list[CustomerRec], supplier: Supplier, *,
           update: bool = False, actor: str = ACTOR) -> ImportResult:
    plain = sorted({rec.password for rec in records if rec.password}
                   | {s.voip_password for rec in records for c in rec.contracts
                      for s in c.services if s.voip_password})
    hashes = dict(zip(plain, _hash_all(plain), strict=True))
    existing: dict[str, Customer] = {}
    if update:
        numbers = [rec.values["customer_number"] for rec in records]
        for i in range(0, len(numbers), CHUNK):
            existing.update((c.customer_number, c) for c in session.scalars(
                select(Customer).where(Customer.customer_number.in_(numbers[i : i + CHUNK]))))
    result = ImportResult()
    for rec in records:
        src: Src = rec.src
        try:
            customer = existing.get(rec.values["customer_number"])
            if customer is not None:
                if _update_customer(session, customer, rec, hashes, supplier, result, actor):
                    result.updated += 1
                continue
            customer = Customer(**rec.values)
            customer.password_hash = hashes[rec.password] if rec.password else rec.password_hash
            session.add(customer)
            contracts: dict[str, Contract] = {}
            new_services: list[tuple[Service, import_validate.ServiceRec]] = []
            for c in rec.contracts:
                src = c.src
                contract = Contract(customer=customer, number=c.number, signed_on=c.signed_on,
                                    ended_on=c.ended_on)
                contracts[c.number] = contract
                session.add(contract)
                for s in c.services:
                    new_services.append((_new_service(session, customer, contract, s, hashes), s))
            src = rec.src
            session.flush()
            audit.record(session, "customer.imported", actor=actor, customer_id=customer.id,
                         new_value=customer.customer_number)
            for service, s in new_services:
                src = s.src
                _opening_line_credit(session, service, s, actor)
            src = rec.src
            _opening_balance(session, customer, rec, actor)
            for inv in sorted(rec.invoices, key=lambda i: (i.issue_date, i.number)):
                src = inv.src
                result.payments += _write_invoice(session, customer, contracts, inv, supplier)
                result.invoices += 1
            result.customers += 1
            result.contracts += len(contracts)
            result.services += len(new_services)
            if update:
                result.changes.append(f"{customer.customer_number}: new customer "
                                      f"({len(new_services)} services)")
        except (SQLAlchemyError, InvoicingError) as exc:
            raise ImportFileError(f"the database refused the import: {_cause(exc)}",
                                  src.row, src.prefix.rstrip(".") or None, src.unit) from exc
        except ImportFileError:
            raise
        except DomainError as exc:  # a service change refused (billing/customers/services.py)
            field_name = src.name(exc.field) if exc.field else None
            raise ImportFileError(exc.message, src.row, field_name, src.unit) from exc
    _advance_series(session, records)
    session.flush()
    return result


def _new_service(session: Session, customer: Customer, contract: Contract,
                 s: import_validate.ServiceRec, hashes: dict[str, str]) -> Service:
    service = Service(customer=customer, contract=contract, **s.values)
    service.addresses = [ServiceAddress(address=ip) for ip in s.ips]
    if s.voip_password:
        service.voip_password_hash = hashes[s.voip_password]
    session.add(service)
    return service


def _opening_line_credit(session: Session, service: Service, s: import_validate.ServiceRec,
                         actor: str) -> None:
    """A VoIP line's credit carried over (``voip_credit``): once per line."""
    if not s.voip_credit:
        return
    already = session.scalar(select(LedgerTransaction.id).where(
        LedgerTransaction.kind == TransactionKind.OPENING,
        LedgerTransaction.service_id == service.id).limit(1))
    if already is None:
        postings.post_opening_credit(session, service.id, s.voip_credit,
                                     customer_id=service.customer_id, actor=actor)


def _opening_balance(session: Session, customer: Customer, rec: CustomerRec, actor: str) -> bool:
    """The balance carried over from the old system, once per customer: a credit in the
    customer's favour is a payment from the pseudo-account ``import`` (paired, so it pays
    their next invoices as any payment does); a debt is an ``opening`` ledger posting on
    their receivable (docs/import.md). Returns whether anything was written."""
    amount = rec.opening_balance
    if not amount:
        return False
    tx_id = f"import-opening-{customer.customer_number}"
    if session.scalar(select(BankTransaction.id).where(
            BankTransaction.source_account == SOURCE_ACCOUNT,
            BankTransaction.bank_tx_id == tx_id)) is not None:
        return False
    if session.scalar(select(LedgerTransaction.id).where(
            LedgerTransaction.kind == TransactionKind.OPENING,
            LedgerTransaction.customer_id == customer.id,
            LedgerTransaction.service_id.is_(None)).limit(1)) is not None:
        return False
    booked = rec.opening_balance_on or today()
    if amount > 0:
        tx = BankTransaction(
            source_account=SOURCE_ACCOUNT, bank_tx_id=tx_id, booked_on=booked, amount=amount,
            variable_symbol=customer.customer_number, counter_name=customer.name,
            message="Počáteční zůstatek (přeplatek) z původního systému",
        )
        session.add(tx)
        session.flush()
        if pair(session, tx, actor=actor) != MATCHED:
            raise rec.src.error("opening_balance", "the opening credit could not be paired "
                                "with the customer")
    else:
        postings.post_opening_debt(session, customer.id, -amount, actor=actor, booked_on=booked)
    audit.record(session, "customer.opening_balance", actor=actor, customer_id=customer.id,
                 field="opening_balance", new_value=amount, details={"booked_on": booked})
    return True


# -- --update ----------------------------------------------------------------------------------

SERVICE_CHANGEABLE = ("name", "price", "vat_rate", "download_kbps", "upload_kbps", "router_name",
                      "location", "description", "paid_until")


def _match_service(customer: Customer, s: import_validate.ServiceRec) -> Service | None:
    """The customer's existing service that the file's service is: by PPPoE user name, by
    phone number, by an address, else by kind, name and first day."""
    v = s.values
    for service in customer.services:
        if v.get("pppoe_username") and service.pppoe_username == v["pppoe_username"]:
            return service
        if v.get("phone_number") and service.phone_number == v["phone_number"]:
            return service
    for service in customer.services:
        if s.ips and {a.address for a in service.addresses} & set(s.ips):
            return service
    for service in customer.services:
        if (service.kind, service.name, service.valid_from) == (v["kind"], v["name"],
                                                                v["valid_from"]):
            return service
    return None


def _update_customer(session: Session, customer: Customer, rec: CustomerRec,
                     hashes: dict[str, str], supplier: Supplier, result: ImportResult,
                     actor: str) -> bool:
    """Bring an existing customer to what the file says (only the fields it gives); new
    contracts, services and invoices are added, invoices already here are left alone,
    nothing is deleted. Returns whether anything changed."""
    number = customer.customer_number
    before = len(result.changes)

    def note(text: str) -> None:
        result.changes.append(f"{number}: {text}")

    for key, value in rec.values.items():
        if key == "customer_number" or key not in rec.given:
            continue
        old = getattr(customer, key)
        if old != value:
            setattr(customer, key, value)
            audit.record(session, "customer.updated", actor=actor, customer_id=customer.id,
                         field=key, old_value=old, new_value=value)
            note(f"{key} {old or '-'} -> {value if value is not None else '-'}")
    new_hash = hashes[rec.password] if rec.password else rec.password_hash
    if new_hash and not (rec.password and customer.password_hash
                         and verify_password(customer.password_hash, rec.password)) \
            and new_hash != customer.password_hash:
        customer.password_hash = new_hash
        audit.record(session, "customer.updated", actor=actor, customer_id=customer.id,
                     field="password")
        note("zone password set")
    contracts = {c.number: c for c in customer.contracts}
    for c in rec.contracts:
        contract = contracts.get(c.number)
        if contract is None:
            contract = Contract(customer=customer, number=c.number, signed_on=c.signed_on,
                                ended_on=c.ended_on)
            session.add(contract)
            session.flush()
            contracts[c.number] = contract
            result.contracts += 1
            note(f"new contract {c.number}")
        elif "ended_on" in c.given and contract.ended_on != c.ended_on:
            audit.record(session, "contract.updated", actor=actor, customer_id=customer.id,
                         field="ended_on", old_value=contract.ended_on, new_value=c.ended_on)
            note(f"contract {c.number} ends {c.ended_on or '-'}")
            contract.ended_on = c.ended_on
        for s in c.services:
            try:
                _update_service(session, customer, contract, s, hashes, result, actor, note)
            except ImportFileError:
                raise
            except DomainError as exc:  # refused by billing/customers/services.py
                raise ImportFileError(exc.message, s.src.row,
                                      s.src.name(exc.field) if exc.field else None,
                                      s.src.unit) from exc
    if _opening_balance(session, customer, rec, actor):
        note(f"opening balance {rec.opening_balance}")
    for inv in sorted(rec.invoices, key=lambda i: (i.issue_date, i.number)):
        if inv.exists:
            continue
        result.payments += _write_invoice(session, customer, contracts, inv, supplier)
        result.invoices += 1
        note(f"new invoice {inv.number}")
    session.flush()
    return len(result.changes) > before


def _update_service(session, customer, contract, s, hashes, result, actor, note) -> None:
    service = _match_service(customer, s)
    label = s.values.get("pppoe_username") or s.values.get("phone_number") or s.values["name"]
    if service is None:
        service = _new_service(session, customer, contract, s, hashes)
        session.flush()
        _opening_line_credit(session, service, s, actor)
        audit.record(session, "service.added", actor=actor, customer_id=customer.id,
                     field="service", new_value=service.id, details={"imported": True})
        result.services += 1
        note(f"new service {label}")
        return
    for key in ("kind", "valid_from", "period"):
        if key in s.given and getattr(service, key) != s.values[key]:
            raise s.src.error(key, f"an existing service's {key} cannot change "
                                   f"({getattr(service, key)} in the database)")
    changes = {key: s.values[key] for key in SERVICE_CHANGEABLE
               if key in s.given and getattr(service, key) != s.values[key]}
    if "ips" in s.given and [a.address for a in service.addresses] != s.ips:
        changes["ips"] = s.ips
    if changes:
        def shown(key):
            value = getattr(service, key) if key != "ips" else [a.address for a in service.addresses]
            return " ".join(value) if isinstance(value, list) else ("-" if value is None else value)

        olds = {key: shown(key) for key in changes}
        done = customer_services.change_service(session, service, actor=actor, **changes)
        if done.fields:
            note(f"service {label}: " + ", ".join(
                f"{key} {olds[key]} -> {shown(key)}" for key in changes if key in done.fields))
    if "valid_to" in s.given and service.valid_to != s.values["valid_to"]:
        if s.values["valid_to"] is None:
            raise s.src.error("valid_to", "an ended service cannot be reopened by an import")
        customer_services.end_service(session, service, s.values["valid_to"], actor=actor)
        note(f"service {label}: ends {s.values['valid_to']}")
    password = s.values.get("pppoe_password")
    if password and password != service.pppoe_password:
        customer_services.set_pppoe(session, service, actor=actor, password=password)
        note(f"service {label}: PPPoE password set")
    if s.voip_password and not verify_password(service.voip_password_hash, s.voip_password):
        customer_services.set_voip_password(session, service, actor=actor,
                                            password=s.voip_password)
        note(f"service {label}: VoIP password set")
    _opening_line_credit(session, service, s, actor)


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
