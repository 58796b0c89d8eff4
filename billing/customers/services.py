"""A customer's services: add, change, end; PPPoE and VoIP credentials (docs/provisioning.md).

No Flask here. The console, the ``ispzone services`` commands, the import and the tests call
these functions with a SQLAlchemy session; they validate everything first and raise a
:class:`ServiceError` (an ``Invalid``, with the field) or :class:`ServiceConflict` (a
``Conflict``: a user name, number or address someone else has) before writing anything,
then write, audit (with the caller's ``actor``; passwords never reach the audit trail) and
flush. The door commits.

What reaches the network:

* FreeRADIUS asks ``/radius/authorize`` at every dial-in, and the answer is read from the
  service row (``pppoe_username``, ``pppoe_password``, the first address, the speeds): a
  new or changed password is the one accepted at the next dial-in, with nothing to send.
* Routers hold address lists for customers in enforcement. When a change moves an internet
  service's addresses or router, :data:`core.events.SERVICE_NETWORK_CHANGED` is emitted in
  the same transaction with the targets before and after; enforcement
  (``enforcement/provisioning.py``) queues the router actions that move a warned or
  disconnected customer's state to the new address or router (billing does not import
  enforcement).

Prices change from a day on: every change of name or price is a row of
:class:`~billing.models.ServiceTariff` (append-only), which the monthly run reads to bill
each day at the tariff in force that day.
"""

from __future__ import annotations

import ipaddress
import re
import secrets
import unicodedata
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.customers import validation
from billing.invoicing.vat import RATES
from billing.models import (
    Contract,
    Customer,
    Invoice,
    InvoiceKind,
    Service,
    ServiceAddress,
    ServiceKind,
    ServicePeriod,
    ServiceTariff,
)
from core import audit, events
from core.clock import today
from core.errors import Conflict, Invalid
from core.i18n import _l
from core.i18n import day as shown_day
from core.passwords import hash_password

UNSET = object()  # "leave as it is" in change_service
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")
# Readable: no 0/O, 1/l/I; four groups of four from 31 symbols = 79 bits.
PASSWORD_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
PASSWORD_MIN, PASSWORD_MAX = 8, 64
INTERNET_ONLY = ("download_kbps", "upload_kbps", "ips", "router_name", "pppoe_username",
                 "pppoe_password")


class ServiceError(Invalid, ValueError):
    """The service's data is not valid (``field`` names the field)."""


class ServiceConflict(Conflict, ValueError):
    """A user name, phone number or address is already someone else's, or the service is
    in a state that does not allow the change."""


def _invalid(field: str, message: str) -> ServiceError:  # message: a core.i18n._l text
    return ServiceError(message, field=field)


# -- passwords and user names ---------------------------------------------------------------


def generate_password(groups: int = 4) -> str:
    """A readable strong password, e.g. ``k7rm-2xpa-9fhe-t3wq`` (79 bits)."""
    return "-".join("".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(4))
                    for _ in range(groups))


def check_password(password: str, field: str = "password") -> str:
    """8 to 64 printable ASCII characters without spaces (PPPoE clients and CHAP need
    plain ASCII; the RADIUS answer carries it as it is)."""
    if not isinstance(password, str) or not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise _invalid(field, _l("the password must have %(min)s to %(max)s characters",
                                  min=PASSWORD_MIN, max=PASSWORD_MAX))
    if any(not ("!" <= ch <= "~") for ch in password):
        raise _invalid(field, _l("the password may contain only letters, digits and punctuation "
                                 "(no spaces, no accented letters)"))
    return password


def check_username(username: str) -> str:
    value = (username or "").strip()
    if not USERNAME.fullmatch(value):
        raise _invalid("pppoe_username", _l("a PPPoE user name has 2 to 64 characters: letters, "
                                            "digits and . _ @ - (starting with a letter or "
                                            "digit)"))
    return value


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def suggest_username(session: Session, customer: Customer) -> str:
    """A free user name from the customer's surname (or company) and number: ``novak1042``,
    then ``novak1042-2``..."""
    words = customer.name.split()
    word = words[0] if customer.is_company or len(words) < 2 else words[-1]
    base = (_ascii_slug(word)[:20] or "user") + customer.customer_number
    candidate, n = base, 1
    while _username_taken(session, candidate, None):
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _username_taken(session: Session, username: str, service_id: int | None) -> bool:
    stmt = select(Service.id).where(func.lower(Service.pppoe_username) == username.lower())
    if service_id is not None:
        stmt = stmt.where(Service.id != service_id)
    return session.scalar(stmt.limit(1)) is not None


# -- values ----------------------------------------------------------------------------------


def _price(value, field: str = "price") -> Decimal:
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", ".").strip())
    except (InvalidOperation, ValueError):
        raise _invalid(field, _l("not an amount: %(text)s", text=repr(value))) from None
    if isinstance(value, float) or not price.is_finite():
        raise _invalid(field, _l("not an amount: %(text)s", text=repr(value)))
    if price < 0:
        raise _invalid(field, _l("the price must not be negative"))
    if price != price.quantize(Decimal("0.01")):
        raise _invalid(field, _l("at most 2 decimal places"))
    return price.quantize(Decimal("0.01"))


def _rate(value) -> Decimal:
    try:
        rate = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise _invalid("vat_rate", _l("the VAT rate must be 21, 12 or 0")) from None
    for allowed in RATES:
        if rate == allowed:
            return allowed
    raise _invalid("vat_rate", _l("the VAT rate must be 21, 12 or 0"))


def _speed(value, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not str(value).strip().isdigit() or int(value) <= 0:
        raise _invalid(field, _l("the speed is a whole number of kbit/s greater than 0"))
    return int(value)


def _text(value, field: str, max_len: int, *, required: bool = False) -> str | None:
    value = (value or "").strip() if isinstance(value, str) or value is None else str(value)
    if not value:
        if required:
            raise _invalid(field, _l("required"))
        return None
    if len(value) > max_len:
        raise _invalid(field, _l("longer than %(max)s characters", max=max_len))
    return value


def _ips(values) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = values.replace(",", " ").split()
    result: list[str] = []
    for item in values:
        text = str(item).strip()
        try:
            address = ipaddress.ip_network(text) if "/" in text else ipaddress.ip_address(text)
        except ValueError:
            raise _invalid("ips", _l("not a valid IP address: %(text)s", text=repr(text))) from None
        if str(address) in result:
            raise _invalid("ips", _l("%(address)s is given twice", address=str(address)))
        result.append(str(address))
    return result


def _router(value, known_routers) -> str | None:
    name = _text(value, "router_name", 64)
    if name is not None and known_routers is not None and name not in set(known_routers):
        raise _invalid("router_name", _l("no router named %(name)s (known: %(known)s)",
                                         name=repr(name),
                                         known=", ".join(sorted(known_routers)) or "-"))
    return name


def _phone(value) -> str | None:
    text = _text(value, "phone_number", 20)
    if text is None:
        return None
    try:
        return validation.phone(text)
    except validation.InvalidValue as exc:
        raise _invalid("phone_number", _l("not a valid phone number (%(reason)s)",
                                          reason=exc.args[0] if exc.args else str(exc))) from exc


def _check_addresses_free(session: Session, ips: list[str], service_id: int | None) -> None:
    if not ips:
        return
    stmt = select(ServiceAddress.address).where(ServiceAddress.address.in_(ips))
    if service_id is not None:
        stmt = stmt.where(ServiceAddress.service_id != service_id)
    taken = sorted(session.scalars(stmt))
    if taken:
        raise ServiceConflict(_l("the IP address %(address)s is already assigned to another "
                                 "service", address=taken[0]),
                              field="ips")


def _check_phone_free(session: Session, phone: str, service_id: int | None) -> None:
    stmt = select(Service.id).where(Service.phone_number == phone)
    if service_id is not None:
        stmt = stmt.where(Service.id != service_id)
    if session.scalar(stmt.limit(1)) is not None:
        raise ServiceConflict(_l("the phone number %(phone)s is already another line's",
                                 phone=phone),
                              field="phone_number")


def _check_username_free(session: Session, username: str, service_id: int | None) -> None:
    if _username_taken(session, username, service_id):
        raise ServiceConflict(_l("the PPPoE user name %(username)s is already taken",
                                 username=username),
                              field="pppoe_username")


# -- network targets and the event -----------------------------------------------------------


def network_targets(service: Service) -> list[tuple[str | None, str, str | None]]:
    """``(router name or None for the default router, address, PPPoE user name)`` of each
    address of an internet service: what routers know the customer by."""
    if service.kind != ServiceKind.INTERNET:
        return []
    return [(service.router_name, a.address, service.pppoe_username) for a in service.addresses]


def _emit_if_moved(session: Session, service: Service, before, actor: str) -> None:
    after = network_targets(service)
    if before != after:
        events.emit(session, events.SERVICE_NETWORK_CHANGED, customer_id=service.customer_id,
                    service_id=service.id, before=before, after=after, actor=actor)


# -- contracts ---------------------------------------------------------------------------------


def _contract_for(session: Session, customer: Customer, contract: Contract | None,
                  valid_from: date, actor: str) -> Contract:
    if contract is not None:
        if contract.customer_id != customer.id:
            raise _invalid("contract", _l("the contract belongs to another customer"))
        if contract.ended_on is not None and contract.ended_on < valid_from:
            raise ServiceConflict(_l("the contract %(number)s ended on %(day)s",
                                     number=contract.number,
                                     day=shown_day(contract.ended_on,
                                                   text=contract.ended_on.isoformat())),
                                  field="contract")
        return contract
    open_contracts = [c for c in customer.contracts
                      if c.ended_on is None or c.ended_on >= valid_from]
    if len(open_contracts) == 1:
        return open_contracts[0]
    if len(open_contracts) > 1:
        raise _invalid("contract", _l("the customer has several contracts: say which one"))
    number = customer.customer_number
    if session.scalar(select(Contract.id).where(Contract.number == number)) is not None:
        raise _invalid("contract", _l("the customer has no open contract and the number "
                                      "%(number)s is taken: create a contract first",
                                      number=number))
    new = Contract(customer_id=customer.id, number=number, signed_on=valid_from)
    session.add(new)
    session.flush()
    audit.record(session, "contract.created", actor=actor, customer_id=customer.id,
                 new_value=number, details={"signed_on": valid_from})
    return new


# -- add ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    service: Service
    pppoe_password: str | None = None  # the generated one, to show once
    voip_password: str | None = None


def add_service(
    session: Session,
    customer: Customer,
    *,
    kind: str,
    name: str,
    price,
    valid_from: date,
    actor: str,
    contract: Contract | None = None,
    vat_rate="21",
    period: str = ServicePeriod.MONTH,
    valid_to: date | None = None,
    location: str | None = None,
    description: str | None = None,
    download_kbps=None,
    upload_kbps=None,
    ips=None,
    router_name: str | None = None,
    pppoe_username: str | None = None,
    pppoe_password: str | None = None,
    generate_pppoe: bool = False,
    phone_number: str | None = None,
    voip_password: str | None = None,
    generate_voip: bool = False,
    paid_until: date | None = None,
    known_routers=None,
) -> Added:
    """A new service of ``customer`` (on ``contract``, else their one open contract, else a
    new contract numbered as the customer). Internet: speeds, addresses, router, PPPoE user
    name (``None`` with a password or ``generate_pppoe``: one is suggested) and password
    (typed, or ``generate_pppoe``). VoIP: the number and its password (hashed). Insurance:
    ``paid_until``. ``known_routers``: the router names to accept (None: any)."""
    if kind not in tuple(ServiceKind):
        raise _invalid("kind", _l("unknown service kind %(kind)s (internet, voip, insurance, "
                                   "other)", kind=repr(kind)))
    if period not in tuple(ServicePeriod):
        raise _invalid("period", _l("unknown period %(period)s (month, year, once)",
                                     period=repr(period)))
    name = _text(name, "name", 200, required=True)
    price = _price(price)
    rate = _rate(vat_rate)
    if valid_to is not None and valid_to < valid_from:
        raise _invalid("valid_to", _l("the service cannot end before it starts"))
    values = {
        "download_kbps": _speed(download_kbps, "download_kbps"),
        "upload_kbps": _speed(upload_kbps, "upload_kbps"),
        "ips": _ips(ips), "router_name": _router(router_name, known_routers),
        "pppoe_username": check_username(pppoe_username) if pppoe_username else None,
        "pppoe_password": check_password(pppoe_password, "pppoe_password") if pppoe_password else None,
    }
    if kind != ServiceKind.INTERNET:
        for key in INTERNET_ONLY:
            if values[key] or (key == "pppoe_password" and generate_pppoe):
                raise _invalid(key, _l("only internet services have this"))
    phone = _phone(phone_number)
    if kind == ServiceKind.VOIP and phone is None:
        raise _invalid("phone_number", _l("a VoIP line needs its phone number"))
    if kind != ServiceKind.VOIP and (phone or voip_password or generate_voip):
        raise _invalid("phone_number", _l("only VoIP lines have a phone number and a VoIP password"))
    if voip_password:
        check_password(voip_password, "voip_password")
    if paid_until is not None and kind != ServiceKind.INSURANCE:
        raise _invalid("paid_until", _l("only insurance has a paid-until date"))
    if values["pppoe_password"] and generate_pppoe:
        raise _invalid("pppoe_password", _l("type a password or generate one, not both"))
    _check_addresses_free(session, values["ips"], None)
    if values["pppoe_username"]:
        _check_username_free(session, values["pppoe_username"], None)
    if phone:
        _check_phone_free(session, phone, None)

    contract = _contract_for(session, customer, contract, valid_from, actor)
    if kind == ServiceKind.INTERNET and not values["pppoe_username"] and (
            values["pppoe_password"] or generate_pppoe):
        values["pppoe_username"] = suggest_username(session, customer)
    generated = generate_password() if generate_pppoe else None
    voip_generated = generate_password() if generate_voip else None
    service = Service(
        customer_id=customer.id, contract_id=contract.id, kind=str(kind), name=name,
        description=_text(description, "description", 500), price=price, vat_rate=rate,
        period=str(period), valid_from=valid_from, valid_to=valid_to, paid_until=paid_until,
        location=_text(location, "location", 300),
        download_kbps=values["download_kbps"], upload_kbps=values["upload_kbps"],
        pppoe_username=values["pppoe_username"],
        pppoe_password=values["pppoe_password"] or generated,
        router_name=values["router_name"], phone_number=phone,
    )
    if voip_password or voip_generated:
        service.voip_password_hash = hash_password(voip_password or voip_generated)
    service.addresses = [ServiceAddress(address=ip) for ip in values["ips"]]
    session.add(service)
    session.flush()
    session.add(ServiceTariff(service_id=service.id, effective_from=valid_from, name=name,
                              price=price, vat_rate=rate, actor=actor))
    audit.record(
        session, "service.added", actor=actor, customer_id=customer.id, field="service",
        new_value=service.id,
        details={"kind": str(kind), "name": name, "price": price, "vat_rate": rate,
                 "period": str(period), "valid_from": valid_from, "valid_to": valid_to,
                 "contract": contract.number, "ips": values["ips"] or None,
                 "router": values["router_name"], "pppoe_username": values["pppoe_username"],
                 "pppoe_password": "set" if service.pppoe_password else None,
                 "phone_number": phone,
                 "voip_password": "set" if service.voip_password_hash else None},
    )
    session.flush()
    _emit_if_moved(session, service, [], actor)
    return Added(service, generated, voip_generated)


# -- change ------------------------------------------------------------------------------------


@dataclass
class Changed:
    service: Service
    fields: list[str]
    tariff: ServiceTariff | None = None

    def __str__(self) -> str:
        what = ", ".join(self.fields) or "nothing changed"
        if self.tariff is not None:
            what += f" (tariff from {self.tariff.effective_from.isoformat()})"
        return f"service {self.service.id}: {what}"


def tariff_history(session: Session, service_id: int) -> list[ServiceTariff]:
    """The service's tariff steps, oldest first (for one day, the newest row wins)."""
    return list(session.scalars(
        select(ServiceTariff).where(ServiceTariff.service_id == service_id)
        .order_by(ServiceTariff.effective_from, ServiceTariff.id)))


def tariff_on(history: list[ServiceTariff], day: date) -> ServiceTariff | None:
    found = None
    for row in history:
        if row.effective_from <= day:
            found = row
    return found


def change_service(
    session: Session,
    service: Service,
    *,
    actor: str,
    effective_from: date | None = None,
    name=UNSET,
    price=UNSET,
    vat_rate=UNSET,
    download_kbps=UNSET,
    upload_kbps=UNSET,
    ips=UNSET,
    router_name=UNSET,
    location=UNSET,
    description=UNSET,
    paid_until=UNSET,
    phone_number=UNSET,
    known_routers=None,
) -> Changed:
    """Change what is given (``UNSET`` leaves a field alone). Name, price and VAT rate are a
    tariff change from ``effective_from`` (default today; the monthly run bills the days
    before it at the old tariff); the rest changes now. Moving an internet service's
    addresses or router emits :data:`core.events.SERVICE_NETWORK_CHANGED`."""
    day = effective_from or today()
    changes: dict[str, tuple] = {}
    tariff_fields: dict[str, object] = {}
    if name is not UNSET:
        tariff_fields["name"] = _text(name, "name", 200, required=True)
    if price is not UNSET:
        tariff_fields["price"] = _price(price)
    if vat_rate is not UNSET:
        tariff_fields["vat_rate"] = _rate(vat_rate)
    internet = service.kind == ServiceKind.INTERNET
    new: dict[str, object] = {}
    if download_kbps is not UNSET:
        new["download_kbps"] = _speed(download_kbps, "download_kbps")
    if upload_kbps is not UNSET:
        new["upload_kbps"] = _speed(upload_kbps, "upload_kbps")
    if router_name is not UNSET:
        unchanged = (router_name or None) == service.router_name
        new["router_name"] = _router(router_name, None if unchanged else known_routers)
    new_ips = _ips(ips) if ips is not UNSET else None
    if not internet:
        for key in ("download_kbps", "upload_kbps", "router_name"):
            if new.get(key):
                raise _invalid(key, _l("only internet services have this"))
        if new_ips:
            raise _invalid("ips", _l("only internet services have this"))
    if location is not UNSET:
        new["location"] = _text(location, "location", 300)
    if description is not UNSET:
        new["description"] = _text(description, "description", 500)
    if paid_until is not UNSET:
        if paid_until is not None and service.kind != ServiceKind.INSURANCE:
            raise _invalid("paid_until", _l("only insurance has a paid-until date"))
        new["paid_until"] = paid_until
    if phone_number is not UNSET:
        if service.kind != ServiceKind.VOIP:
            raise _invalid("phone_number", _l("only VoIP lines have a phone number"))
        phone = _phone(phone_number)
        if phone is None:
            raise _invalid("phone_number", _l("a VoIP line needs its phone number"))
        _check_phone_free(session, phone, service.id)
        new["phone_number"] = phone
    if new_ips is not None:
        _check_addresses_free(session, new_ips, service.id)
    if tariff_fields and service.valid_to is not None and day > service.valid_to:
        raise ServiceConflict(_l("the service ends before the new tariff would start"),
                              field="effective_from")
    if tariff_fields and day < today():
        _check_not_invoiced(session, service, day)

    before = network_targets(service)
    for key, value in new.items():
        old = getattr(service, key)
        if old != value:
            changes[key] = (old, value)
            setattr(service, key, value)
    if new_ips is not None:
        old_ips = [a.address for a in service.addresses]
        if old_ips != new_ips:
            keep = [a for a in service.addresses if a.address in new_ips]
            for address in service.addresses:
                if address.address not in new_ips:
                    session.delete(address)
            session.flush()
            kept = {a.address for a in keep}
            service.addresses = keep + [ServiceAddress(address=ip) for ip in new_ips
                                        if ip not in kept]
            service.addresses.sort(key=lambda a: new_ips.index(a.address))
            changes["ips"] = (" ".join(old_ips), " ".join(new_ips))
    tariff = None
    if tariff_fields:
        history = tariff_history(session, service.id)
        current = tariff_on(history, day)
        base = {"name": current.name if current else service.name,
                "price": current.price if current else service.price,
                "vat_rate": current.vat_rate if current else service.vat_rate}
        step = {**base, **tariff_fields}
        if step != base:
            if not history:  # a service from before the tariff history: its first step
                session.add(ServiceTariff(service_id=service.id, effective_from=service.valid_from,
                                          name=service.name, price=service.price,
                                          vat_rate=service.vat_rate, actor=actor))
            tariff = ServiceTariff(service_id=service.id, effective_from=day, actor=actor, **step)
            session.add(tariff)
            session.flush()
            for key in ("name", "price", "vat_rate"):
                if step[key] != base[key]:
                    changes[key] = (base[key], step[key])
            newest = tariff_history(session, service.id)[-1]  # the agreed tariff from now on
            for key in ("name", "price", "vat_rate"):
                setattr(service, key, getattr(newest, key))
    if not changes:
        return Changed(service, [])
    for key, (old, value) in changes.items():
        details = {"service": service.id}
        if key in ("name", "price", "vat_rate") and tariff is not None:
            details["effective_from"] = day
        audit.record(session, "service.changed", actor=actor, customer_id=service.customer_id,
                     field=key, old_value=old, new_value=value, details=details)
    session.flush()
    _emit_if_moved(session, service, before, actor)
    return Changed(service, list(changes), tariff)


def _check_not_invoiced(session: Session, service: Service, day: date) -> None:
    """A tariff change back-dated into a month already invoiced would never be billed (the
    invoice is an issued document): refused, so that the operator corrects that month with a
    credit note or an invoice and changes the price from the next month."""
    invoiced = session.scalar(
        select(Invoice.period_key)
        .where(Invoice.customer_id == service.customer_id, Invoice.kind == InvoiceKind.REGULAR,
               Invoice.period_key >= f"{day.year:04d}-{day.month:02d}")
        .order_by(Invoice.period_key).limit(1))
    if invoiced is not None:
        raise ServiceConflict(_l(
            "the month %(month)s is invoiced already: a tariff change from %(day)s would not "
            "be billed; change it from a later day and correct the invoiced months with a "
            "credit note or an invoice", month=invoiced,
            day=shown_day(day, text=day.isoformat())),
            field="effective_from")


# -- end ---------------------------------------------------------------------------------------


def end_service(session: Session, service: Service, last_day: date, *, actor: str) -> Service:
    """The service's last day (it is billed up to and including it); an ended service gets
    no RADIUS answer after that day (``/radius/authorize``: not found)."""
    if last_day < service.valid_from:
        raise _invalid("valid_to", _l("the service cannot end before it starts (%(day)s)",
                                      day=shown_day(service.valid_from,
                                                    text=service.valid_from.isoformat())))
    old = service.valid_to
    if old == last_day:
        return service
    service.valid_to = last_day
    audit.record(session, "service.ended", actor=actor, customer_id=service.customer_id,
                 field="valid_to", old_value=old, new_value=last_day,
                 details={"service": service.id, "name": service.name})
    session.flush()
    return service


# -- credentials -------------------------------------------------------------------------------


def set_pppoe(
    session: Session,
    service: Service,
    *,
    actor: str,
    username: str | None = None,
    password: str | None = None,
    generate: bool = False,
) -> str | None:
    """Set the PPPoE user name (``None``: keep it, or suggest one if there is none) and the
    password (typed, or ``generate``); returns the new password (None when only the user
    name changed). FreeRADIUS accepts the new password at the next dial-in; the old one is
    refused from then on. Audited without the password."""
    if service.kind != ServiceKind.INTERNET:
        raise _invalid("pppoe_username", _l("only internet services have PPPoE credentials"))
    if password and generate:
        raise _invalid("pppoe_password", _l("type a password or generate one, not both"))
    if password is not None:
        check_password(password, "pppoe_password")
    new_name = check_username(username) if username else None
    if new_name is not None and new_name != service.pppoe_username:
        _check_username_free(session, new_name, service.id)
    if new_name is None and service.pppoe_username is None:
        customer = session.get(Customer, service.customer_id)
        new_name = suggest_username(session, customer)
    new_password = generate_password() if generate else password
    if new_password is None and new_name is None:
        raise _invalid("pppoe_password", _l("give a new password, generate one, or a new user name"))
    before = network_targets(service)
    if new_name is not None and new_name != service.pppoe_username:
        audit.record(session, "service.pppoe_username", actor=actor,
                     customer_id=service.customer_id, field="pppoe_username",
                     old_value=service.pppoe_username, new_value=new_name,
                     details={"service": service.id})
        service.pppoe_username = new_name
    if new_password is not None:
        audit.record(session, "service.pppoe_password", actor=actor,
                     customer_id=service.customer_id, field="pppoe_password",
                     details={"service": service.id, "username": service.pppoe_username,
                              "generated": bool(generate),
                              "was_set": service.pppoe_password is not None})
        service.pppoe_password = new_password
    session.flush()
    _emit_if_moved(session, service, before, actor)
    return new_password


def set_voip_password(
    session: Session, service: Service, *, actor: str, password: str | None = None,
    generate: bool = False,
) -> str:
    """Set or reset a VoIP line's password (the VoIP zone's login; stored as an argon2id
    hash, as ``voip/lines.py`` checks it); returns the new password."""
    if service.kind != ServiceKind.VOIP:
        raise _invalid("voip_password", _l("only VoIP lines have a VoIP password"))
    if password and generate:
        raise _invalid("voip_password", _l("type a password or generate one, not both"))
    if not password and not generate:
        raise _invalid("voip_password", _l("give a new password or generate one"))
    new_password = generate_password() if generate else check_password(password, "voip_password")
    audit.record(session, "voip.password", actor=actor, customer_id=service.customer_id,
                 field="voip_password",
                 details={"service": service.id, "number": service.phone_number,
                          "generated": bool(generate),
                          "was_set": service.voip_password_hash is not None})
    service.voip_password_hash = hash_password(new_password)
    session.flush()
    return new_password


# -- finding ----------------------------------------------------------------------------------


def find_service(session: Session, reference: str) -> Service:
    """A service by its id (``#12`` or ``12`` when no customer has that number), a PPPoE
    user name, a phone number, or a customer number with exactly one internet service."""
    ref = (reference or "").strip()
    if not ref:
        raise _invalid("service", _l("say which service"))
    if ref.startswith("#") and ref[1:].isdigit():
        found = session.get(Service, int(ref[1:]))
        if found is None:
            raise _invalid("service", _l("no service %(ref)s", ref=ref))
        return found
    found = session.scalar(select(Service).where(Service.pppoe_username == ref))
    if found is not None:
        return found
    customer = session.scalar(select(Customer).where(Customer.customer_number == ref))
    if customer is not None:
        internet = [s for s in customer.services if s.kind == ServiceKind.INTERNET
                    and s.is_active(today())] or [
            s for s in customer.services if s.kind == ServiceKind.INTERNET]
        if len(internet) == 1:
            return internet[0]
        if not internet:
            raise _invalid("service", _l("customer %(ref)s has no internet service", ref=ref))
        ids = ", ".join(f"#{s.id}" for s in internet)
        raise _invalid("service", _l("customer %(ref)s has several internet services "
                                     "(%(ids)s): give the service id", ref=ref, ids=ids))
    try:
        phone = validation.phone(ref)
    except validation.InvalidValue:
        phone = None
    if phone:
        found = session.scalar(select(Service).where(Service.phone_number == phone))
        if found is not None:
            return found
    if ref.isdigit():
        found = session.get(Service, int(ref))
        if found is not None:
            return found
    raise _invalid("service", _l("no service, PPPoE user, phone number or customer "
                                 "%(ref)s", ref=repr(ref)))
