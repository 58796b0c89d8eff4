"""The RADIUS answer for a PPPoE user: who may connect, with which address and speed, and
whether the router should put them into the ``warned`` or ``blocked`` address list.

Read-only and one query (service + first address + enforcement case): FreeRADIUS asks for
every dial-in, so after a router reboot hundreds of customers ask within seconds.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.orm import Session

from billing.models import Service, ServiceAddress
from enforcement.models import CaseState, EnforcementCase

ACCEPT = "accept"  # HTTP 200: FreeRADIUS goes on with pap/chap
REJECT = "reject"  # HTTP 401: Access-Reject whatever the password
NOTFOUND = "notfound"  # HTTP 404: no such user / service not active: rejected by the site
EXPIRED = "expired"  # Answer.state of a prepaid service that ran out unrenewed (enforcement/expiry.py)

BLOCKED_MODES = ("walled-garden", "reject")


@dataclass(frozen=True)
class Answer:
    outcome: str
    control: dict[str, str] = field(default_factory=dict)
    reply: dict[str, str] = field(default_factory=dict)
    state: str = CaseState.OK  # the enforcement state the answer was made from (for logs/tests)


@dataclass(frozen=True)
class Lists:
    """Router address-list names and what to do with a disconnected customer."""

    warned: str = "warned"
    blocked: str = "blocked"
    blocked_mode: str = "walled-garden"


def rate_limit(download_kbps: int | None, upload_kbps: int | None) -> str | None:
    """``Mikrotik-Rate-Limit`` as ``rx/tx`` seen from the router: rx is what the router
    receives from the customer (their upload), tx what it sends them (their download).
    So a 100/20 Mbit/s tariff is ``20000k/100000k``."""
    if not download_kbps or not upload_kbps:
        return None
    return f"{int(upload_kbps)}k/{int(download_kbps)}k"


def framed_ip(address: str | None) -> str | None:
    """The address for ``Framed-IP-Address``: a single IPv4 address (a /32 counts); a larger
    prefix or IPv6 cannot be given this way and is left to the router's configuration."""
    if not address:
        return None
    try:
        net = ipaddress.ip_network(address.strip(), strict=False)
    except ValueError:
        return None
    if net.version != 4 or net.num_addresses != 1:
        return None
    return str(net.network_address)


def _lookup_statement():
    first_address = (
        select(ServiceAddress.address)
        .where(ServiceAddress.service_id == Service.id)
        .order_by(ServiceAddress.id)
        .limit(1)
        .correlate(Service)
        .scalar_subquery()
    )
    return (
        select(
            Service.pppoe_password,
            Service.download_kbps,
            Service.upload_kbps,
            Service.valid_from,
            Service.valid_to,
            Service.expires_on,
            first_address,
            EnforcementCase.state,
        )
        .outerjoin(EnforcementCase, EnforcementCase.customer_id == Service.customer_id)
        .where(Service.pppoe_username == bindparam("username"), Service.kind == "internet")
    )


# Built once: constructing the statement costs more than running it (bench/enforcement_radius.py).
LOOKUP = _lookup_statement()


def _lookup(db: Session | Connection, username: str):
    conn = db.connection() if isinstance(db, Session) else db  # Core path: no ORM overhead
    return conn.execute(LOOKUP, {"username": username}).first()


def answer_for(
    db: Session | Connection, username: str, on: date, lists: Lists = Lists()
) -> Answer:
    """What FreeRADIUS should answer ``username`` on the Prague day ``on`` (read-only: a
    Session or a plain, even autocommit, Connection will do).

    Unknown users, services not active on ``on`` (ended, or not started yet) and services
    without a PPPoE password are ``notfound``. A disconnected customer, and a prepaid service
    that expired unrenewed (``valid_to`` = ``expires_on``, state ``expired``), is either let in
    with ``Mikrotik-Address-List = blocked`` (walled garden: the router lets them reach only
    the client zone and the payment instructions) or rejected, by ``lists.blocked_mode``.
    """
    row = _lookup(db, username) if username else None
    if row is None:
        return Answer(NOTFOUND)
    password, down, up, valid_from, valid_to, expires_on, address, state = row
    state = state or CaseState.OK
    if (expires_on is not None and valid_to == expires_on and valid_to < on and password
            and valid_from <= on):
        # a prepaid service that ran out unrenewed: blocked as a disconnection is (walled
        # garden: the customer reaches the client zone and renews), not "no such user"
        state = EXPIRED
        if lists.blocked_mode == "reject":
            return Answer(REJECT, reply={"Reply-Message": "Service expired, renew it in the client zone"},
                          state=state)
    elif not password or valid_from > on or (valid_to is not None and valid_to < on):
        return Answer(NOTFOUND, state=state)
    if state == CaseState.DISCONNECTED and lists.blocked_mode == "reject":
        return Answer(REJECT, reply={"Reply-Message": "Service suspended for unpaid invoices"},
                      state=state)

    reply = {}
    ip = framed_ip(address)
    if ip:
        reply["Framed-IP-Address"] = ip
    limit = rate_limit(down, up)
    if limit:
        reply["Mikrotik-Rate-Limit"] = limit
    if state == CaseState.WARNED:
        reply["Mikrotik-Address-List"] = lists.warned
    elif state in (CaseState.DISCONNECTED, EXPIRED):
        reply["Mikrotik-Address-List"] = lists.blocked
    return Answer(ACCEPT, control={"Cleartext-Password": password}, reply=reply, state=state)
