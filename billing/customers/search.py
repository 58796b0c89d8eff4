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
from functools import lru_cache

from sqlalchemy import String, and_, bindparam, cast, func, literal_column, select, text, union_all
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


def search(session: Session, query: str | None, limit: int = DEFAULT_LIMIT) -> list[Hit]:
    """Customers matching ``query``, best first, at most ``limit``. Empty or unusable input
    finds nothing (never an error).

    One statement, one round trip: the parts that apply to the query (each an indexed,
    limited select) in a UNION ALL joined to the customers. The statement of each set of
    parts is built once (``_statement``) and only its parameters change."""
    q = " ".join((query or "")[:MAX_QUERY].split())
    limit = max(1, min(int(limit), MAX_LIMIT))
    if not q:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    parts: list[str] = []
    params: dict = {"lim": limit}
    for finder in _FINDERS:
        finder(q, parts, params, postgres)
    if not parts:
        return []
    rows = session.connection().execute(_statement(tuple(parts), postgres), params).all()
    best: dict[int, tuple] = {}
    for row in rows:  # a customer found twice keeps the best reason
        old = best.get(row.cid)
        if old is None or row.rank < old.rank:
            best[row.cid] = row
    ordered = sorted(best.values(), key=lambda r: (r.rank, r.search_name,
                                                   len(r.customer_number), r.customer_number))
    return [Hit(r.cid, r.customer_number, r.name, r.city, r.email, r.phone, Rank(r.rank),
                r.matched, str(r.detail)) for r in ordered[:limit]]


def _starts(column, name: str, postgres: bool):
    """``column`` begins with the parameter ``name`` (PostgreSQL: ``name`` and ``name_hi``
    bound a range in the byte order of the ``text_pattern_ops`` indexes, which a prepared
    statement's generic plan can use, unlike LIKE with a bound pattern; SQLite: LIKE with
    the parameter ``name_like``, its wildcards escaped)."""
    if postgres:
        return and_(column.op("~>=~")(bindparam(name)), column.op("~<~")(bindparam(name + "_hi")))
    return column.like(bindparam(name + "_like"), escape="\\")


def _prefix_params(name: str, prefix: str) -> dict:
    escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {name: prefix, name + "_hi": prefix[:-1] + chr(ord(prefix[-1]) + 1),
            name + "_like": escaped + "%"}


def _owner_of_address():
    return (select(Service.customer_id, ServiceAddress.address)
            .join(Service, Service.id == ServiceAddress.service_id))


def _part(key: str, postgres: bool):
    """The select of one part: (customer id, the value that matched)."""
    lim = bindparam("lim")
    user = func.lower(Service.pppoe_username)
    if key == "number":
        return select(Customer.id, Customer.customer_number).where(
            Customer.customer_number == bindparam("symbol"))
    if key == "contract":
        return select(Contract.customer_id, Contract.number).where(
            Contract.number == bindparam("symbol"))
    if key == "invoice_vs":
        return (select(Invoice.customer_id, Invoice.variable_symbol)
                .where(Invoice.variable_symbol == bindparam("symbol")).distinct().limit(lim))
    if key == "invoice_ss":
        return (select(Invoice.customer_id, Invoice.number)
                .where(Invoice.specific_symbol == bindparam("symbol")).limit(lim))
    if key == "invoice_number":
        return (select(Invoice.customer_id, Invoice.number)
                .where(Invoice.number == bindparam("invoice")).limit(lim))
    if key == "number_prefix":
        return (select(Customer.id, Customer.customer_number)
                .where(_starts(Customer.customer_number, "nump", postgres),
                       Customer.customer_number != bindparam("symbol"))
                .order_by(Customer.customer_number).limit(lim))
    if key == "phone":
        return select(Customer.id, Customer.phone).where(
            Customer.phone == bindparam("phone")).limit(lim)
    if key == "phone_prefix":
        return (select(Customer.id, Customer.phone).where(_starts(Customer.phone, "phonep", postgres))
                .order_by(Customer.phone).limit(lim))
    if key == "ip":
        return _owner_of_address().where(ServiceAddress.address == bindparam("ip"))
    if key == "ip_net":
        return _owner_of_address().where(_starts(ServiceAddress.address, "ipnet", postgres)).limit(lim)
    if key == "ip_prefix":
        return (_owner_of_address().where(_starts(ServiceAddress.address, "ipp", postgres))
                .order_by(ServiceAddress.address).limit(lim))
    if key == "pppoe":
        return select(Service.customer_id, Service.pppoe_username).where(
            user == bindparam("pppoe"))
    if key == "pppoe_prefix":
        return (select(Service.customer_id, Service.pppoe_username)
                .where(_starts(user, "pppoep", postgres)).order_by(user).limit(lim))
    if key == "email":
        return (select(Customer.id, Customer.email)
                .where(func.lower(Customer.email) == bindparam("email")).limit(lim))
    if key.startswith("name:"):
        if postgres:  # the GIN index's expression (migration 0013)
            condition = text("to_tsvector('simple'::regconfig, customer.search_name) "
                             "@@ to_tsquery('simple'::regconfig, :words)")
        else:
            padded = literal_column("' '") + Customer.search_name
            condition = and_(*(padded.like(bindparam(f"w{i}"))
                               for i in range(int(key.split(":")[1]))))
        return (select(Customer.id, Customer.name).where(condition)
                .order_by(Customer.search_name, Customer.id).limit(lim))
    raise ValueError(key)


PART_RANK = {
    "number": (Rank.EXACT, "number"), "contract": (Rank.EXACT, "vs"),
    "invoice_vs": (Rank.EXACT, "vs"), "invoice_ss": (Rank.EXACT, "invoice"),
    "invoice_number": (Rank.EXACT, "invoice"), "number_prefix": (Rank.PREFIX, "number"),
    "phone": (Rank.EXACT, "phone"), "phone_prefix": (Rank.PREFIX, "phone"),
    "ip": (Rank.EXACT, "ip"), "ip_net": (Rank.EXACT, "ip"), "ip_prefix": (Rank.PREFIX, "ip"),
    "pppoe": (Rank.EXACT, "pppoe"), "pppoe_prefix": (Rank.PREFIX, "pppoe"),
    "email": (Rank.EXACT, "email"),
}


@lru_cache(maxsize=256)
def _statement(parts: tuple[str, ...], postgres: bool):
    selects = []
    for key in parts:
        rank, matched = PART_RANK.get(key) or (Rank.NAME, "name")
        cid, detail = _part(key, postgres).subquery().c
        selects.append(select(cid.label("cid"), cast(detail, String).label("detail"),
                              literal_column(str(int(rank))).label("rank"),
                              literal_column(f"'{matched}'").label("matched")))
    found = union_all(*selects).subquery("found")
    return (select(found.c.cid, found.c.detail, found.c.rank, found.c.matched,
                   Customer.customer_number, Customer.name, Customer.city, Customer.email,
                   Customer.phone, Customer.search_name)
            .join(Customer, Customer.id == found.c.cid))


# -- the finders: each names the parts that apply to the query and sets their parameters -----


def _digits_only(q: str) -> str | None:
    """``q`` as a number typed with spaces ("1000 123"), or None."""
    compact = q.replace(" ", "")
    return compact if compact.isdigit() else None


def _numbers(q: str, parts: list, params: dict, postgres: bool) -> None:
    """Customer number, variable symbol (contract number, an invoice's VS), invoice number
    (and its SS), exactly; the customer number also as a prefix."""
    digits = _digits_only(q)
    if digits is None or len(digits) > 20:
        return
    symbol = digits.lstrip("0") or "0"  # banks pad symbols with zeros
    params["symbol"] = symbol
    params["invoice"] = digits
    parts += ["number", "contract"]
    if len(digits) <= 10:
        parts += ["invoice_vs", "invoice_ss"]
    parts.append("invoice_number")
    if MIN_PREFIX <= len(symbol) < 10:
        parts.append("number_prefix")
        params.update(_prefix_params("nump", symbol))


def _invoice_number(q: str, parts: list, params: dict, postgres: bool) -> None:
    """An invoice number with letters or separators ("FV-2026/0001", as imported)."""
    if _digits_only(q) is not None or len(q) > 20 or " " in q or not any(c.isdigit() for c in q):
        return
    parts.append("invoice_number")
    params["invoice"] = q


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


def _phone(q: str, parts: list, params: dict, postgres: bool) -> None:
    key = phone_key(q)
    if key is None:
        return
    value, whole = key
    if whole:
        parts.append("phone")
        params["phone"] = value
    elif len(value) >= 7:  # "+420" and at least three digits
        parts.append("phone_prefix")
        params.update(_prefix_params("phonep", value))


_IP_CHARS = re.compile(r"^[0-9a-fA-F:.]+(/\d{1,3})?$")


def _address(q: str, parts: list, params: dict, postgres: bool) -> None:
    """An IP address (or a network as stored, "10.0.0.0/29"): exactly, or its beginning
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
    if exact:
        parts.append("ip")
        params["ip"] = value
        if "/" not in value:
            parts.append("ip_net")
            params.update(_prefix_params("ipnet", value + "/"))
    if len(value) >= MIN_PREFIX:
        parts.append("ip_prefix")
        params.update(_prefix_params("ipp", value))


_PPPOE_CHARS = re.compile(r"^[\w.@+\-]+$")


def _pppoe(q: str, parts: list, params: dict, postgres: bool) -> None:
    if " " in q or len(q) > 64 or not _PPPOE_CHARS.match(q):
        return
    value = q.lower()
    parts.append("pppoe")
    params["pppoe"] = value
    # a beginning only when it cannot be a plain word of a name ("novak" is a name;
    # "novak10" or "j.novak" is a user name being typed)
    if len(value) >= MIN_PREFIX and any(c.isdigit() or c in "._@+-" for c in value):
        parts.append("pppoe_prefix")
        params.update(_prefix_params("pppoep", value))


def _email(q: str, parts: list, params: dict, postgres: bool) -> None:
    if "@" not in q or " " in q:
        return
    parts.append("email")
    params["email"] = q.lower()


def _name(q: str, parts: list, params: dict, postgres: bool) -> None:
    """Every word of the query begins a word of the folded name, contact person or e-mail
    (not for a bare number: names rarely hold one, and the numbers' parts answer it)."""
    if _digits_only(q) is not None:
        return
    words = fold_words(q)[:MAX_WORDS]
    if not words:
        return
    parts.append(f"name:{len(words)}")
    # the words are letters and digits only: nothing in them is tsquery or LIKE syntax
    params["words"] = " & ".join(f"{w}:*" for w in words)
    for i, w in enumerate(words):
        params[f"w{i}"] = f"% {w}%"


_FINDERS = (_numbers, _invoice_number, _phone, _address, _pppoe, _email, _name)


# -- the customer list (no query): one page, sorted ------------------------------------------

LIST_SORTS = ("number", "name", "city", "created")


@dataclass(frozen=True)
class ListRow:
    customer_id: int
    customer_number: str
    name: str
    city: str
    email: str | None
    phone: str | None
    created_at: object


@dataclass(frozen=True)
class CustomerPage:
    rows: list[ListRow]
    page: int
    per_page: int
    total_count: int
    sort: str
    descending: bool

    @property
    def pages(self) -> int:
        return max(1, -(-self.total_count // self.per_page))


def customer_page(session: Session, *, page: int = 1, per_page: int = 50,
                  sort: str = "number", descending: bool = False) -> CustomerPage:
    """One page of all customers. ``sort``: number (as a number: 999 before 1000), name
    (folded, so "Čermák" sorts among the C's), city or created."""
    if sort not in LIST_SORTS:
        raise ValueError(f"sort must be one of {', '.join(LIST_SORTS)}")
    per_page = max(1, min(per_page, 200))
    total = session.scalar(select(func.count()).select_from(Customer)) or 0
    pages = max(1, -(-total // per_page))
    page = max(1, min(page, pages))
    keys = {
        "number": (func.length(Customer.customer_number), Customer.customer_number),
        "name": (Customer.search_name,),
        "city": (Customer.city, Customer.search_name),
        "created": (Customer.created_at,),
    }[sort]
    order = [k.desc() if descending else k for k in keys] + [Customer.id]
    rows = session.execute(
        select(Customer.id, Customer.customer_number, Customer.name, Customer.city,
               Customer.email, Customer.phone, Customer.created_at)
        .order_by(*order).limit(per_page).offset((page - 1) * per_page)
    ).all()
    return CustomerPage([ListRow(*r) for r in rows], page, per_page, total, sort, descending)
