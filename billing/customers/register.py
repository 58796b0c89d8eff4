"""Customers and contracts as operators create and change them (the console; Flask-free).

Contact details go through the client zone's validation
(:func:`billing.customers.self_service.clean_contact`); a refusal names every bad field
(:class:`CustomerInvalid`, ``errors``) and changes nothing. Every change is audited with
the operator as actor. Functions flush; the door commits.

Numbers: a new customer gets the next free number, and their first contract the same one
(as the demo and the legacy import number them: the customer number is also the VS of the
first contract). Further contracts take the next free number of the same series. The
series (``document_series`` row ``customer``) is locked while a number is taken, so two
operators never get one number, and it never goes below the numbers already in use
(imported customers included).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import BigInteger, cast, func, select
from sqlalchemy.orm import Session

from billing.customers.self_service import CONTACT_FIELDS, ContactValidationError, clean_contact
from billing.invoicing.issue import lock_series
from billing.models import Contract, Customer, CustomerNote
from core import audit
from core.clock import today
from core.errors import Invalid
from core.i18n import _l
from core.i18n import number as shown_number

FIRST_NUMBER = 1001
SERIES = "customer"
LANGUAGES = ("cs", "en")
NOTE_MAX = 4000
MAX_NUMBER = 10**10 - 1  # ten digits: a VS


class CustomerInvalid(ContactValidationError):
    """Some fields are not valid (``errors``: field -> short English reason)."""


class NoteInvalid(Invalid, ValueError):
    pass


@dataclass(frozen=True)
class CustomerInput:
    """What an operator types for a customer (strings as typed; validated here)."""

    name: str = ""
    contact_person: str = ""
    street: str = ""
    city: str = ""
    postal_code: str = ""
    email: str = ""
    phone: str = ""
    ico: str = ""
    dic: str = ""
    is_company: bool = False
    language: str = "cs"

    def contact(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CONTACT_FIELDS}


def _clean(data: CustomerInput) -> dict:
    errors: dict[str, str] = {}
    try:
        cleaned: dict = clean_contact(data.contact())
    except ContactValidationError as exc:
        errors.update(exc.errors)
        cleaned = {}
    if data.language not in LANGUAGES:
        errors["language"] = "must be cs or en"
    if data.is_company and not (data.ico or "").strip() and "ico" not in errors:
        errors["ico"] = "a company needs its IČO"
    if errors:
        raise CustomerInvalid(errors)
    cleaned["is_company"] = bool(data.is_company)
    cleaned["language"] = data.language
    return cleaned


# -- numbers ---------------------------------------------------------------------------------


def _taken(session: Session, number: str) -> bool:
    return bool(
        session.scalar(select(Customer.id).where(Customer.customer_number == number))
        or session.scalar(select(Contract.id).where(Contract.number == number))
    )


def next_number(session: Session) -> str:
    """The next free customer (and contract) number; the series stays locked until commit."""
    series = lock_series(session, SERIES)
    highest = session.scalar(
        select(func.max(cast(Customer.customer_number, BigInteger)))
        .where(func.length(Customer.customer_number) <= 10)
    ) or 0
    candidate = max(series.last_value, int(highest), FIRST_NUMBER - 1) + 1
    while _taken(session, str(candidate)):
        candidate += 1
    if candidate > MAX_NUMBER:
        raise Invalid(_l("customer numbers are exhausted (ten digits)"))
    series.last_value = candidate
    session.flush()
    return str(candidate)


# -- customers -------------------------------------------------------------------------------


def create_customer(
    session: Session,
    data: CustomerInput,
    *,
    actor: str,
    signed_on: date | None = None,
    ip: str | None = None,
) -> Customer:
    """A new customer with their first contract (signed ``signed_on``, default today)."""
    cleaned = _clean(data)
    number = next_number(session)
    customer = Customer(customer_number=number, country="CZ", **cleaned)
    session.add(customer)
    session.flush()
    contract = Contract(customer_id=customer.id, number=number,
                        signed_on=signed_on or today())
    session.add(contract)
    session.flush()
    audit.record(session, "customer.created", actor=actor, customer_id=customer.id, ip=ip,
                 new_value=number, details={"name": customer.name, "contract": number})
    return customer


def update_customer(
    session: Session, customer: Customer, data: CustomerInput, *, actor: str,
    ip: str | None = None,
) -> list[str]:
    """Apply an operator's edit; returns the changed fields, each audited
    (``customer.changed`` with old and new value). Nothing changes when a field is bad."""
    cleaned = _clean(data)
    changed = []
    for name, new in cleaned.items():
        old = getattr(customer, name)
        if (old if not isinstance(old, str) else (old or None)) == new:
            continue
        setattr(customer, name, new)
        changed.append(name)
        audit.record(session, "customer.changed", actor=actor, customer_id=customer.id,
                     field=name, old_value=old, new_value=new, ip=ip)
    session.flush()
    return changed


# -- contracts -------------------------------------------------------------------------------


class ContractInvalid(Invalid, ValueError):
    pass


def add_contract(
    session: Session, customer: Customer, *, signed_on: date, actor: str,
    ip: str | None = None,
) -> Contract:
    contract = Contract(customer_id=customer.id, number=next_number(session),
                        signed_on=signed_on)
    session.add(contract)
    session.flush()
    audit.record(session, "contract.created", actor=actor, customer_id=customer.id, ip=ip,
                 new_value=contract.number, details={"signed_on": signed_on.isoformat()})
    return contract


def update_contract(
    session: Session, contract: Contract, *, signed_on: date, ended_on: date | None,
    actor: str, ip: str | None = None,
) -> list[str]:
    """Change the dates of a contract (its number is the VS payments carry: it stays)."""
    if ended_on is not None and ended_on < signed_on:
        raise ContractInvalid(_l("a contract cannot end before it was signed"))
    changed = []
    for name, new in (("signed_on", signed_on), ("ended_on", ended_on)):
        old = getattr(contract, name)
        if old == new:
            continue
        setattr(contract, name, new)
        changed.append(name)
        audit.record(session, "contract.changed", actor=actor, customer_id=contract.customer_id,
                     field=name, old_value=old, new_value=new, ip=ip,
                     details={"contract": contract.number})
    session.flush()
    return changed


# -- notes -----------------------------------------------------------------------------------


def add_note(session: Session, customer: Customer, text: str, *, actor: str) -> CustomerNote:
    """An operator's note; notes are never changed or deleted (the table refuses it)."""
    body = (text or "").strip()
    if not body:
        raise NoteInvalid(_l("a note needs some text"))
    if len(body) > NOTE_MAX:
        raise NoteInvalid(_l("a note has at most %(max)s characters", max=shown_number(NOTE_MAX)))
    if "\x00" in body:
        raise NoteInvalid(_l("a note cannot contain a NUL character"))
    note = CustomerNote(customer_id=customer.id, author=actor, text=body)
    session.add(note)
    session.flush()
    return note


def notes_of(session: Session, customer_id: int, limit: int = 200) -> list[CustomerNote]:
    """The customer's notes, newest first."""
    return list(session.scalars(
        select(CustomerNote).where(CustomerNote.customer_id == customer_id)
        .order_by(CustomerNote.created_at.desc(), CustomerNote.id.desc()).limit(limit)
    ))
