"""Field-by-field validation of import records (see :mod:`billing.legacy_import.formats`).

Every value is checked and normalised before anything is written; the first problem raises
:class:`~billing.legacy_import.formats.ImportFileError` naming the row (or customer) and field.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

import argon2

from billing.customers import validation
from billing.invoicing.vat import RATES, LineInput, compute_document
from billing.legacy_import.formats import ImportFileError, Node, Src
from billing.models import SERVICE_KINDS, InvoiceKind, ServiceKind, ServicePeriod
from core.clock import today

LANGUAGES = ("cs", "en")
PERIODS = tuple(period.value for period in ServicePeriod)
IMPORT_INVOICE_KINDS = tuple(k.value for k in InvoiceKind if k != InvoiceKind.CREDIT_NOTE)
INTERNET_ONLY = ("download_kbps", "upload_kbps", "pppoe_username", "ips", "pppoe_password",
                 "router_name")
VOIP_ONLY = ("voip_password", "voip_credit")
TRUE, FALSE = {"1", "true", "yes", "y", "ano", "a"}, {"0", "false", "no", "n", "ne"}
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Claim:
    """A value that must be unique (in the file and in the database), and where it stands."""

    kind: str  # customer_number | contract_number | ip | pppoe_username | phone_number | ...
    value: str
    src: Src
    key: str  # the field name as reported

    def error(self, reason: str) -> ImportFileError:
        return ImportFileError(reason, self.src.row, self.key, self.src.unit)

    @property
    def where(self) -> str:
        row = f"customer #{self.src.row}" if self.src.is_json else f"row {self.src.row}"
        return f"{row}, field {self.key}"


@dataclass
class ServiceRec:
    src: Src
    values: dict[str, Any]  # Service columns
    ips: list[str]
    given: frozenset[str] = frozenset()  # the fields the file gave (an update changes only those)
    voip_password: str | None = None  # plain; hashed when written
    voip_credit: Decimal | None = None  # the line's opening credit


@dataclass
class ContractRec:
    src: Src
    number: str
    signed_on: date
    ended_on: date | None
    services: list[ServiceRec]
    given: frozenset[str] = frozenset()


@dataclass
class InvoiceRec:
    src: Src
    number: str
    kind: str
    issue_date: date
    taxable_date: date | None
    due_date: date
    specific_symbol: str
    contract: str | None
    prices_include_vat: bool
    lines: list[LineInput]
    total: Decimal
    paid: Decimal
    paid_on: date
    exists: bool = False  # --update: the invoice is in the database already (left alone)


@dataclass
class CustomerRec:
    src: Src
    values: dict[str, Any]
    password: str | None
    password_hash: str | None
    contracts: list[ContractRec] = field(default_factory=list)
    invoices: list[InvoiceRec] = field(default_factory=list)
    given: frozenset[str] = frozenset()
    opening_balance: Decimal | None = None  # + in the customer's favour, - a debt
    opening_balance_on: date | None = None


class Fields:
    """Typed access to one record's raw values; every problem names the field."""

    def __init__(self, node: Node) -> None:
        self.values = node.values
        self.src = node.src

    def error(self, key: str, reason: str) -> ImportFileError:
        return self.src.error(key, reason)

    def raw(self, key: str, required: bool = False) -> Any:
        value = self.values.get(key)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise self.error(key, "required")
            return None
        return value

    def text(self, key: str, *, required: bool = False, max_len: int = 200) -> str | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if not isinstance(value, str):
            raise self.error(key, "must be text")
        value = value.strip()
        if len(value) > max_len:
            raise self.error(key, f"longer than {max_len} characters")
        return value

    def checked(self, key: str, check: Callable[[str], str], what: str, **kw) -> str | None:
        value = self.text(key, **kw)
        if value is None:
            return None
        try:
            return check(value)
        except validation.InvalidValue as exc:
            raise self.error(key, f"not a valid {what} ({exc})") from exc

    def symbol(self, key: str, *, required: bool = False) -> str | None:
        value = self.raw(key, required)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
            self.values[key] = value
        return self.checked(key, validation.symbol, "number", required=required)

    def date(self, key: str, *, required: bool = False) -> date | None:
        value = self.text(key, required=required, max_len=10)
        if value is None:
            return None
        try:
            if not ISO_DATE.fullmatch(value):
                raise ValueError
            return date.fromisoformat(value)
        except ValueError:
            raise self.error(key, f"not a date (YYYY-MM-DD): {value!r}") from None

    def decimal(self, key: str, *, required: bool = False, places: int = 2) -> Decimal | None:
        value = self.raw(key, required)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise self.error(key, "not a number")
        text = str(value).strip().replace(" ", "").replace("\u00a0", "")
        if "," in text and "." not in text:
            text = text.replace(",", ".")  # decimal comma
        try:
            number = Decimal(text)
        except InvalidOperation:
            raise self.error(key, f"not a number: {str(value)!r}") from None
        if not number.is_finite():
            raise self.error(key, f"not a number: {str(value)!r}")
        if number != number.quantize(Decimal(1).scaleb(-places)):
            raise self.error(key, f"at most {places} decimal places: {str(value)!r}")
        return number.quantize(Decimal(1).scaleb(-places))

    def positive_int(self, key: str) -> int | None:
        value = self.raw(key)
        if value is None:
            return None
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) <= 0:
            raise self.error(key, "must be a whole number greater than 0")
        return int(text)

    def boolean(self, key: str, default: bool) -> bool:
        value = self.raw(key)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in TRUE | FALSE:
            return value.strip().lower() in TRUE
        raise self.error(key, "must be true or false")

    def choice(self, key: str, allowed: tuple[str, ...], default: str, what: str) -> str:
        value = self.text(key, max_len=40)
        if value is None:
            return default
        if value.lower() not in allowed:
            raise self.error(key, f"unknown {what} {value!r} (allowed: {', '.join(allowed)})")
        return value.lower()

    def rate(self, key: str) -> Decimal:
        value = self.decimal(key)
        if value is None:
            return Decimal("21")
        for rate in RATES:
            if value == rate:
                return rate
        raise self.error(key, "VAT rate must be 21, 12 or 0")


def customer(node: Node, claims: list[Claim]) -> CustomerRec:
    f = Fields(node)
    number = f.symbol("customer_number", required=True)
    assert number is not None
    claims.append(Claim("customer_number", number, f.src, f.src.name("customer_number")))
    is_company = f.boolean("is_company", False)
    values = {
        "customer_number": number,
        "name": f.text("name", required=True),
        "is_company": is_company,
        "contact_person": f.text("contact_person"),
        "street": f.text("street", required=True),
        "city": f.text("city", required=True, max_len=100),
        "postal_code": f.checked("postal_code", validation.postal_code, "postal code",
                                 required=True),
        "email": _email(f),
        "phone": f.checked("phone", validation.phone, "phone number"),
        "ico": f.checked("ico", validation.ico, "IČO"),
        "dic": f.checked("dic", validation.dic, "DIČ"),
        "language": f.choice("language", LANGUAGES, "cs", "language"),
    }
    password = f.text("password", max_len=200)
    password_hash = f.text("password_hash", max_len=200)
    if password and password_hash:
        raise f.error("password_hash", "give password or password_hash, not both")
    if password_hash is not None:
        try:
            argon2.extract_parameters(password_hash)
        except argon2.exceptions.InvalidHashError:
            raise f.error("password_hash", "not an argon2 hash ($argon2id$...)") from None
    opening = f.decimal("opening_balance")
    opening_on = f.date("opening_balance_on")
    if opening_on is not None and opening_on > today():
        raise f.error("opening_balance_on", "in the future")
    if opening_on is not None and opening is None:
        raise f.error("opening_balance_on", "given without opening_balance")
    rec = CustomerRec(node.src, values, password, password_hash, given=frozenset(node.values),
                      opening_balance=opening or None, opening_balance_on=opening_on)
    for child in node.children.get("contracts", []):
        rec.contracts.append(contract(child, claims))
    numbers = {c.number for c in rec.contracts}
    for child in node.children.get("invoices", []):
        rec.invoices.append(invoice(child, claims, numbers))
    return rec


def _email(f: Fields) -> str | None:
    value = f.text("email", max_len=254)
    if value is None:
        return None
    try:
        return validation.email(value)
    except validation.InvalidValue as exc:
        raise f.error("email", f"not a valid e-mail address ({exc})") from exc


def contract(node: Node, claims: list[Claim]) -> ContractRec:
    f = Fields(node)
    declared = node.values.pop("declared", True)
    number = f.symbol("number", required=True)
    assert number is not None
    claims.append(Claim("contract_number", number, f.src, f.src.name("number")))
    signed_on = f.date("signed_on", required=declared)
    services = [service(child, claims) for child in node.children.get("services", [])]
    if signed_on is None:  # CSV without a contract row: from its earliest service
        signed_on = min(s.values["valid_from"] for s in services)
    ended_on = f.date("ended_on")
    if ended_on is not None and ended_on < signed_on:
        raise f.error("ended_on", "before signed_on")
    return ContractRec(node.src, number, signed_on, ended_on, services,
                       given=frozenset(node.values))


def service(node: Node, claims: list[Claim]) -> ServiceRec:
    f = Fields(node)
    kind = f.choice("kind", SERVICE_KINDS, "", "service kind")
    if not kind:
        raise f.error("kind", "required")
    price = f.decimal("price", required=True)
    assert price is not None
    if price < 0:
        raise f.error("price", "must not be negative")
    values: dict[str, Any] = {
        "kind": kind,
        "name": f.text("name", required=True),
        "price": price,
        "vat_rate": f.rate("vat_rate"),
        "period": f.choice("period", PERIODS, "month", "period"),
        "valid_from": f.date("valid_from", required=True),
        "valid_to": f.date("valid_to"),
        "paid_until": f.date("paid_until"),
        "location": f.text("location", max_len=300),
        "download_kbps": f.positive_int("download_kbps"),
        "upload_kbps": f.positive_int("upload_kbps"),
        "pppoe_username": f.text("pppoe_username", max_len=64),
        "phone_number": f.checked("phone_number", validation.phone, "phone number"),
        "description": f.text("description", max_len=500),
        "pppoe_password": _secret(f, "pppoe_password"),
        "router_name": f.text("router_name", max_len=64),
    }
    voip_password = _secret(f, "voip_password")
    voip_credit = f.decimal("voip_credit")
    if voip_credit is not None and voip_credit < 0:
        raise f.error("voip_credit", "must not be negative")
    if values["valid_to"] is not None and values["valid_to"] < values["valid_from"]:
        raise f.error("valid_to", "before valid_from")
    ips = _ips(f)
    if kind != ServiceKind.INTERNET:
        for key in INTERNET_ONLY:
            if values.get(key) or (key == "ips" and ips):
                raise f.error(key, "only internet services have this")
    if kind != ServiceKind.VOIP and values["phone_number"]:
        raise f.error("phone_number", "only voip services have a phone number")
    if kind != ServiceKind.VOIP:
        for key, value in (("voip_password", voip_password), ("voip_credit", voip_credit)):
            if value is not None:
                raise f.error(key, "only voip services have this")
    if values["pppoe_password"] and not values["pppoe_username"]:
        raise f.error("pppoe_password", "a PPPoE password needs its pppoe_username")
    if values["pppoe_username"]:
        name = f.src.name("pppoe_username")
        claims.append(Claim("pppoe_username", values["pppoe_username"], f.src, name))
    if values["phone_number"]:
        name = f.src.name("phone_number")
        claims.append(Claim("phone_number", values["phone_number"], f.src, name))
    for i, ip in enumerate(ips):
        claims.append(Claim("ip", ip, f.src, f.src.item("ips", i)))
    return ServiceRec(node.src, values, ips, frozenset(node.values), voip_password, voip_credit)


def _secret(f: Fields, key: str) -> str | None:
    """A PPPoE or VoIP password: as billing.customers.services accepts them."""
    from billing.customers.services import ServiceError, check_password

    value = f.raw(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise f.error(key, "must be text")
    try:
        return check_password(value, key)
    except ServiceError as exc:
        raise f.error(key, exc.message) from None


def _ips(f: Fields) -> list[str]:
    value = f.raw("ips")
    if value is None:
        return []
    if isinstance(value, str):
        items: list[Any] = value.replace(",", " ").split()
    elif isinstance(value, list):
        items = value
    else:
        raise f.error("ips", "must be a list of IP addresses")
    result = []
    for i, item in enumerate(items):
        name = f.src.item("ips", i)
        try:
            if not isinstance(item, str):
                raise ValueError("must be text")
            text = item.strip()
            address = ipaddress.ip_network(text) if "/" in text else ipaddress.ip_address(text)
        except ValueError as exc:
            raise ImportFileError(f"not a valid IP address ({exc})", f.src.row, name,
                                  f.src.unit) from None
        result.append(str(address))
    return result


def invoice(node: Node, claims: list[Claim], contracts: set[str]) -> InvoiceRec:
    f = Fields(node)
    number = f.text("number", required=True, max_len=20)
    assert number is not None
    claims.append(Claim("invoice_number", number, f.src, f.src.name("number")))
    kind = f.choice("kind", IMPORT_INVOICE_KINDS, "regular", "invoice kind")
    issue_date = f.date("issue_date", required=True)
    due_date = f.date("due_date", required=True)
    assert issue_date is not None and due_date is not None
    if due_date < issue_date:
        raise f.error("due_date", "before issue_date")
    ss = f.symbol("specific_symbol")
    if ss is None:
        try:
            ss = validation.symbol(number)
        except validation.InvalidValue:
            raise f.error("specific_symbol", "required when the invoice number is not a "
                          "valid symbol (digits, no leading zero, at most 10)") from None
    claims.append(Claim("specific_symbol", ss, f.src, f.src.name("specific_symbol")))
    contract_number = f.symbol("contract")
    if contract_number is not None and contract_number not in contracts:
        raise f.error("contract", "not one of this customer's contracts in the file")
    include_vat = f.boolean("prices_include_vat", True)
    lines = [_line(child) for child in node.children.get("lines", [])]
    if not lines:
        raise f.error("lines", "an invoice needs at least one line")
    try:
        total = compute_document(lines, include_vat).total
    except ValueError as exc:
        raise f.error("lines", str(exc)) from exc
    if total <= 0:
        raise f.error("lines", "the invoice total must be positive")
    paid = f.decimal("paid") or Decimal("0.00")
    if paid < 0 or paid > total:
        raise f.error("paid", f"must be between 0 and the invoice total {total}")
    paid_on = f.date("paid_on") or min(due_date, today())
    if paid_on > today():
        raise f.error("paid_on", "in the future")
    return InvoiceRec(node.src, number, kind, issue_date, f.date("taxable_date"), due_date, ss,
                      contract_number, include_vat, lines, total, paid, paid_on)


def _line(node: Node) -> LineInput:
    f = Fields(node)
    quantity = f.decimal("quantity", required=True, places=3)
    unit_price = f.decimal("unit_price", required=True)
    assert quantity is not None and unit_price is not None
    if quantity <= 0:
        raise f.error("quantity", "must be greater than 0")
    return LineInput(
        description=f.text("description", required=True, max_len=300) or "",
        quantity=quantity,
        unit_price=unit_price,
        vat_rate=f.rate("vat_rate"),
        unit=f.text("unit", max_len=10) or "ks",
    )
