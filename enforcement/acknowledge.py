"""The customer's side of the warning: who is behind an IP address, what they owe, and the
acknowledgement ("Beru na vědomí") that starts the countdown to disconnection.

Plain domain functions (no Flask): the ``/warning`` views, the client-zone banner and the
tests call them; they flush, the caller commits.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from billing.documents import qrplatba
from billing.ledger.balances import ZERO, open_invoices
from billing.models import Customer, Service, ServiceAddress
from core.clock import now, prague_date
from core.db import in_constants
from core.i18n import _l
from enforcement import cases
from enforcement.config import Policy
from enforcement.models import ActionKind, CaseState, EnforcementCase

# States in which the customer is told about the debt (banner, /warning page).
NOTICE_STATES = (CaseState.WARNED, CaseState.ACKNOWLEDGED, CaseState.DISCONNECTED)


@dataclass(frozen=True)
class OpenInvoice:
    """One invoice still to be paid, with what a bank transfer needs."""

    id: int
    number: str
    kind: str
    due_date: date
    overdue: bool
    open_amount: Decimal
    variable_symbol: str
    specific_symbol: str | None
    account: str | None
    iban: str | None
    spayd: str | None  # QR Platba payload, None when the supplier has no IBAN


@dataclass(frozen=True)
class WarningInfo:
    customer_id: int
    customer_number: str
    state: str
    overdue_debt: Decimal
    open_total: Decimal
    invoices: list[OpenInvoice]
    acknowledged_at: datetime | None
    disconnect_due: date | None
    days_left: int | None  # whole Prague days until disconnect_due (0 = today or passed)
    # (name, expires_on) of the customer's prepaid internet services that ran out unrenewed
    # (blocked for the expiry, enforcement/expiry.py): the page offers the renewal, not a debt
    expired: tuple = ()


def acknowledge(
    session: Session,
    customer_id: int,
    *,
    ip: str | None,
    actor: str,
    policy: Policy,
    at: datetime | None = None,
    warned_list: str = "warned",
    default_router: str = "default",
) -> EnforcementCase:
    """Record that the customer has seen the warning, set the disconnection day and queue
    the removal from the router's ``warned`` list (the redirect has done its job).

    Idempotent: an already acknowledged case is returned unchanged (a double click or a
    second tab must not move the date or queue a second action). Any state other than
    ``warned`` raises :class:`enforcement.cases.CaseError`.
    """
    case = cases.get_case(session, customer_id, lock=True)
    if case.state == CaseState.ACKNOWLEDGED:
        return case
    if case.state != CaseState.WARNED:
        raise cases.CaseError(_l("cannot acknowledge in state %(state)s", state=repr(case.state)))
    at = at or now()
    case.acknowledged_at = at
    case.acknowledged_ip = ip[:45] if ip else None
    case.acknowledged_by = actor[:64]
    case.disconnect_due = prague_date(at) + timedelta(days=policy.disconnect_days)
    cases.transition(
        session,
        case,
        CaseState.ACKNOWLEDGED,
        actor=actor,
        at=at,
        ip=ip,
        details={"disconnect_due": case.disconnect_due.isoformat()},
    )
    cases.enqueue(
        session,
        customer_id,
        [(ActionKind.LIST_REMOVE, warned_list)],
        reason="ack",
        default_router=default_router,
    )
    session.flush()
    return case


def warning_info(session: Session, customer_id: int, on: date) -> WarningInfo:
    """What the warning page and the banner show: state, debt, open invoices with QR Platba,
    and the countdown to ``disconnect_due`` counted from the Prague day ``on``."""
    row = session.execute(
        select(Customer.customer_number, EnforcementCase)
        .outerjoin(EnforcementCase, EnforcementCase.customer_id == Customer.id)
        .where(Customer.id == customer_id)
    ).one()
    number, case = row
    states = open_invoices(session, customer_id, on)
    invoices = [_open_invoice(s, on) for s in states]
    due = case.disconnect_due if case else None
    return WarningInfo(
        customer_id=customer_id,
        customer_number=number,
        state=case.state if case else CaseState.OK,
        overdue_debt=sum((i.open_amount for i in invoices if i.overdue), ZERO),
        open_total=sum((i.open_amount for i in invoices), ZERO),
        invoices=invoices,
        acknowledged_at=case.acknowledged_at if case else None,
        disconnect_due=due,
        days_left=max((due - on).days, 0) if due else None,
        expired=tuple(session.execute(
            select(Service.name, Service.expires_on)
            .where(Service.customer_id == customer_id, Service.kind == "internet",
                   cases.expired_service(), Service.valid_to < on)
            .order_by(Service.id)).all()),
    )


def _open_invoice(state, on: date) -> OpenInvoice:
    inv = state.invoice
    try:
        spayd = qrplatba.spayd_for_invoice(inv, state.open_amount)
    except qrplatba.QrPlatbaError:
        spayd = None  # the bank details are still shown as text
    return OpenInvoice(
        id=inv.id,
        number=inv.number,
        kind=inv.kind,
        due_date=inv.due_date,
        overdue=inv.due_date < on,
        open_amount=state.open_amount,
        variable_symbol=inv.variable_symbol,
        specific_symbol=inv.specific_symbol,
        account=inv.supplier_account,
        iban=inv.supplier_iban,
        spayd=spayd,
    )


def notice_column():
    """Whether the customer (correlated: used in the client zone's session query, see
    web.sessions.add_extra) must be told about the debt: the case_notice condition."""
    return exists().where(
        EnforcementCase.customer_id == Customer.id,
        in_constants(EnforcementCase.state, NOTICE_STATES),
    )


def case_notice(session: Session, customer_id: int) -> tuple[str, date | None] | None:
    """(state, disconnect_due) when the customer must be told about the debt, else None.
    One small indexed query: the client zone asks on every page."""
    row = session.execute(
        select(EnforcementCase.state, EnforcementCase.disconnect_due).where(
            EnforcementCase.customer_id == customer_id,
            EnforcementCase.state.in_(NOTICE_STATES),
        )
    ).first()
    return (row[0], row[1]) if row else None


def customer_for_ip(session: Session, ip: str | None) -> int | None:
    """The customer whose internet service has ``ip``: an exact address first, then the
    most specific assigned prefix (``10.1.2.0/29``) that contains it. None if unknown."""
    addr = _parse_ip(ip)
    if addr is None:
        return None
    text = str(addr)
    exact = session.execute(
        select(Service.customer_id)
        .join(ServiceAddress, ServiceAddress.service_id == Service.id)
        .where(ServiceAddress.address.in_((text, f"{text}/{addr.max_prefixlen}")))
    ).first()
    if exact:
        return exact[0]
    # Prefixes are few (most customers have one address), so they are checked in Python.
    rows = session.execute(
        select(ServiceAddress.address, Service.customer_id)
        .join(Service, Service.id == ServiceAddress.service_id)
        .where(ServiceAddress.address.contains("/"))
    ).all()
    best: tuple[int, int] | None = None
    for prefix, customer_id in rows:
        try:
            network = ipaddress.ip_network(prefix.strip(), strict=False)
        except ValueError:
            continue
        if addr.version == network.version and addr in network:
            if best is None or network.prefixlen > best[0]:
                best = (network.prefixlen, customer_id)
    return best[1] if best else None


def _parse_ip(ip: str | None):
    """An address object; IPv4-mapped IPv6 (``::ffff:10.0.0.7``, from dual-stack sockets)
    becomes the IPv4 address it carries."""
    if not ip:
        return None
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if addr.version == 6 and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr
