"""The operators' customer search: one query string finds customers by customer number,
name (without diacritics, any case), e-mail, phone (any spacing, with or without +420), IP
address, PPPoE user name, variable symbol (a contract's number or an invoice's VS) and
invoice number. Ranked, limited, and fast on 100,000 customers (bench/console.py).

Every kind of key is one small indexed query (docs/console-customers.md):

* names and e-mails: the folded column ``customer.search_name`` (billing/models/customers.py);
  on PostgreSQL each word of the query is a prefix of a word of the column
  (``to_tsvector('simple', search_name) @@ 'jan:* & novak:*'``, a GIN index, no extension),
  on SQLite the same test with LIKE;
* numbers, symbols, phones, addresses, PPPoE user names: equality on their unique or plain
  indexes, and prefixes through the ``text_pattern_ops`` indexes of migration 0013.

Ranking: exact hits of a number, symbol, invoice, IP, PPPoE user, phone or e-mail first,
then prefixes of those, then names (every word of the query starts a word of the name,
contact person or e-mail); inside a rank by name. Flask-free.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import IntEnum

from sqlalchemy import and_, func, literal, select, text
from sqlalchemy.orm import Session

from billing.models import Contract, Customer, Invoice, Service, ServiceAddress
from billing.models.customers import fold_words

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
MAX_QUERY = 200  # characters of the query that are looked at
MAX_WORDS = 6  # words of a name query
MIN_PREFIX = 3  # digits or characters before a prefix search of numbers, phones, addresses


class Rank(IntEnum):
    EXACT = 0  # the customer number, a VS, an invoice number, an IP, a PPPoE user, ...
    PREFIX = 1  # the beginning of one of those
    NAME = 2  # every word starts a word of the name, contact person or e-mail


@dataclass(frozen=True)
class Hit:
    customer_id: int
    customer_number: str
    name: str
    city: str
    email: str | None
    phone: str | None
    rank: Rank
    matched: str  # what matched: number | vs | invoice | ip | pppoe | phone | email | name
    detail: str  # the value that matched (an invoice number, an address ...)


@dataclass(frozen=True)
class Found:
    """Why one customer was found: the best (lowest) rank wins."""

    customer_id: int
    rank: Rank
    matched: str
    detail: str


def search(session: Session, query: str | None, limit: int = DEFAULT_LIMIT) -> list[Hit]:
    """Customers matching ``query``, best first, at most ``limit``. Empty or unusable input
    finds nothing (never an error)."""
    q = " ".join((query or "")[:MAX_QUERY].split())
    limit = max(1, min(int(limit), MAX_LIMIT))
    if not q:
        return []
    found: dict[int, Found] = {}

    def add(rows, rank: Rank, matched: str) -> None:
        for customer_id, detail in rows:
            old = found.get(customer_id)
            if old is None or rank < old.rank:
                found[customer_id] = Found(customer_id, rank, matched, str(detail))

    for finder in _FINDERS:
        finder(session, q, limit, add)
    if not found:
        return []
    # the best ranks first; within a rank the customers sorted by name (loaded for at most
    # `limit` customers beyond the exact ones: a name that matches thousands is cut here)
    by_rank = sorted(found.values(), key=lambda f: f.rank)
    cut = by_rank[: max(limit, sum(1 for f in by_rank if f.rank == Rank.EXACT))]
    rows = session.execute(
        select(Customer.id, Customer.customer_number, Customer.name, Customer.city,
               Customer.email, Customer.phone, Customer.search_name)
        .where(Customer.id.in_([f.customer_id for f in cut]))
    ).all()
    hits = []
    for cid, number, name, city, email, phone, folded in rows:
        f = found[cid]
        hits.append((f.rank, folded, number, Hit(cid, number, name, city, email, phone, f.rank,
                                                 f.matched, f.detail)))
    hits.sort(key=lambda h: (h[0], h[1], len(h[2]), h[2]))
    return [h[3] for h in hits[:limit]]


# -- the finders: each adds (customer id, what matched) for one kind of key ------------------

def _digits_only(q: str) -> str | None:
    """``q`` as a number typed with spaces ("1000 123"), or None."""
    compact = q.replace(" ", "")
    return compact if compact.isdigit() else None


def _numbers(session: Session, q: str, limit: int, add) -> None:
    """Customer number, variable symbol (contract number, an invoice's VS), invoice number
    (and its SS), exactly; the customer number also as a prefix."""
    digits = _digits_only(q)
    if digits is None or len(digits) > 20:
        return
    symbol = digits.lstrip("0") or "0"  # banks pad symbols with zeros
    add(session.execute(select(Customer.id, Customer.customer_number)
                        .where(Customer.customer_number == symbol)), Rank.EXACT, "number")
    add(session.execute(select(Contract.customer_id, Contract.number)
                        .where(Contract.number == symbol)), Rank.EXACT, "vs")
    if len(digits) <= 10:
        add(session.execute(select(Invoice.customer_id, Invoice.variable_symbol)
                            .where(Invoice.variable_symbol == symbol).distinct()
                            .limit(limit)), Rank.EXACT, "vs")
        add(session.execute(select(Invoice.customer_id, Invoice.number)
                            .where(Invoice.specific_symbol == symbol).limit(limit)),
            Rank.EXACT, "invoice")
    add(session.execute(select(Invoice.customer_id, Invoice.number)
                        .where(Invoice.number == digits).limit(limit)), Rank.EXACT, "invoice")
    if len(symbol) >= MIN_PREFIX and len(symbol) < 10:
        add(session.execute(select(Customer.id, Customer.customer_number)
                            .where(Customer.customer_number.startswith(symbol, autoescape=True),
                                   Customer.customer_number != symbol)
                            .order_by(Customer.customer_number).limit(limit)),
            Rank.PREFIX, "number")


def _invoice_number(session: Session, q: str, limit: int, add) -> None:
    """An invoice number with letters or separators ("FV-2026/0001", as imported)."""
    if _digits_only(q) is not None or len(q) > 20 or " " in q or not any(c.isdigit() for c in q):
        return
    add(session.execute(select(Invoice.customer_id, Invoice.number)
                        .where(Invoice.number == q).limit(limit)), Rank.EXACT, "invoice")


def phone_key(q: str) -> tuple[str, bool] | None:
    """The stored form (E.164) of a typed phone number, or of its beginning: ("+420601234567",
    True) for a whole Czech number however it is spaced, ("+420601", False) for a beginning;
    None when ``q`` is not a phone number."""
    raw = re.sub(r"[\s\-./()]", "", q)
    if raw.startswith("00"):
        raw = "+" + raw[2:]
    plus = raw.startswith("+")
    digits = raw[1:] if plus else raw
    if not digits.isdigit() or len(digits) < MIN_PREFIX or len(digits) > 15:
        return None
    if plus:
        return "+" + digits, len(digits) >= 11 and not (digits.startswith("420")
                                                         and len(digits) < 12)
    if digits.startswith("420") and len(digits) == 12:
        return "+" + digits, True
    if digits[0] == "0":
        return None
    if len(digits) > 9:
        return None
    return "+420" + digits, len(digits) == 9


def _phone(session: Session, q: str, limit: int, add) -> None:
    key = phone_key(q)
    if key is None:
        return
    value, whole = key
    if whole:
        add(session.execute(select(Customer.id, Customer.phone).where(Customer.phone == value)
                            .limit(limit)), Rank.EXACT, "phone")
    elif len(value) >= 7:  # "+420" and at least three digits
        add(session.execute(select(Customer.id, Customer.phone)
                            .where(Customer.phone.startswith(value, autoescape=True))
                            .order_by(Customer.phone).limit(limit)), Rank.PREFIX, "phone")


_IP_CHARS = re.compile(r"^[0-9a-fA-F:.]+(/\d{1,3})?$")


def _address(session: Session, q: str, limit: int, add) -> None:
    """An IP address (or prefix as stored, "10.0.0.0/29"): exactly, or its beginning
    ("10.20.0."), which a number alone is not."""
    if " " in q or not _IP_CHARS.match(q) or not ("." in q or ":" in q):
        return
    value = q.lower()
    try:
        value = str(ipaddress.ip_interface(value)) if "/" in value else str(
            ipaddress.ip_address(value))
        exact = True
    except ValueError:
        exact = False
    owner = (select(Service.customer_id, ServiceAddress.address)
             .join(Service, Service.id == ServiceAddress.service_id))
    if exact:
        add(session.execute(owner.where(ServiceAddress.address == value)), Rank.EXACT, "ip")
        if "/" not in value:
            add(session.execute(owner.where(ServiceAddress.address.startswith(
                value + "/", autoescape=True)).limit(limit)), Rank.EXACT, "ip")
    if len(value) >= MIN_PREFIX:
        add(session.execute(owner.where(ServiceAddress.address.startswith(value, autoescape=True))
                            .order_by(ServiceAddress.address).limit(limit)),
            Rank.PREFIX, "ip")


_PPPOE_CHARS = re.compile(r"^[\w.@+\-]+$")


def _pppoe(session: Session, q: str, limit: int, add) -> None:
    if " " in q or len(q) > 64 or not _PPPOE_CHARS.match(q):
        return
    value = q.lower()
    user = func.lower(Service.pppoe_username)
    add(session.execute(select(Service.customer_id, Service.pppoe_username)
                        .where(user == value)), Rank.EXACT, "pppoe")
    # a beginning only when it cannot be a plain word of a name ("novak" is a name;
    # "novak10" or "j.novak" is a user name being typed)
    if len(value) >= MIN_PREFIX and any(c.isdigit() or c in "._@+-" for c in value):
        add(session.execute(select(Service.customer_id, Service.pppoe_username)
                            .where(user.startswith(value, autoescape=True))
                            .order_by(user).limit(limit)), Rank.PREFIX, "pppoe")


def _email(session: Session, q: str, limit: int, add) -> None:
    if "@" not in q or " " in q:
        return
    add(session.execute(select(Customer.id, Customer.email)
                        .where(func.lower(Customer.email) == q.lower()).limit(limit)),
        Rank.EXACT, "email")


def _name(session: Session, q: str, limit: int, add) -> None:
    """Every word of the query begins a word of the folded name, contact person or e-mail."""
    words = fold_words(q)[:MAX_WORDS]
    if not words:
        return
    if session.get_bind().dialect.name == "postgresql":
        # the words are letters and digits only: nothing in them is tsquery syntax; the
        # expression is the GIN index's (migration 0013)
        condition = text(
            "to_tsvector('simple'::regconfig, customer.search_name) "
            "@@ to_tsquery('simple'::regconfig, :words)"
        ).bindparams(words=" & ".join(f"{w}:*" for w in words))
    else:
        padded = literal(" ") + Customer.search_name
        condition = and_(*(padded.like(f"% {w}%") for w in words))
    add(session.execute(select(Customer.id, Customer.name).where(condition)
                        .order_by(Customer.search_name, Customer.id).limit(limit)),
        Rank.NAME, "name")


_FINDERS = (_numbers, _invoice_number, _phone, _address, _pppoe, _email, _name)
