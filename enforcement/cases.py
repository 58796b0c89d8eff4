"""The shared vocabulary of the enforcement state machine: load a case, move it to a new
state (with its audit event), and queue router actions for a customer's addresses.

``service`` (the sweep, reconnect on payment, operator commands) and ``warning``
(the acknowledgement) both change cases only through :func:`transition`, and tell routers
only through :func:`enqueue`: both write rows in the caller's transaction; the caller commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import and_, not_, select
from sqlalchemy.orm import Session

from billing.models import Service, ServiceAddress
from core import audit
from core.clock import now
from core.errors import Conflict
from core.i18n import _l
from enforcement.models import (
    CASE_STATES,
    ActionKind,
    ActionStatus,
    CaseState,
    EnforcementCase,
    RouterAction,
)


class CaseError(Conflict, ValueError):
    """A transition that the state machine does not allow (e.g. acknowledging while ok)."""


def get_case(session: Session, customer_id: int, *, lock: bool = False) -> EnforcementCase:
    """The customer's case (an ``ok`` one is created on first use)."""
    stmt = select(EnforcementCase).where(EnforcementCase.customer_id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    case = session.scalars(stmt).first()
    if case is None:
        case = EnforcementCase(customer_id=customer_id, state=CaseState.OK, state_since=now())
        session.add(case)
        session.flush()
    return case


def transition(
    session: Session,
    case: EnforcementCase,
    new_state: str,
    *,
    actor: str,
    at: datetime | None = None,
    ip: str | None = None,
    details: dict | None = None,
) -> None:
    """Move ``case`` to ``new_state`` and write the audit event ``enforcement.<new_state>``."""
    if new_state not in CASE_STATES:
        raise CaseError(_l("unknown state %(state)s", state=repr(new_state)))
    old = case.state
    at = at or now()
    case.state = new_state
    case.state_since = at
    audit.record(
        session,
        f"enforcement.{new_state}",
        actor=actor,
        customer_id=case.customer_id,
        field="state",
        old_value=old,
        new_value=new_state,
        ip=ip,
        details=details,
    )


def expired_service():
    """SQL: the service is a prepaid one that ran out unrenewed (billing's daily renewals set
    ``valid_to`` to its expiry; an early end sets it before the expiry). Its addresses are in
    the ``blocked`` list for the expiry itself (enforcement/expiry.py), whatever the customer's
    case says, so the case's transitions leave them alone."""
    return and_(Service.expires_on.is_not(None), Service.valid_to == Service.expires_on)


def customer_targets(session: Session, customer_id: int, default_router: str = "default"):
    """(router_name, address, pppoe_username) of each IP of the customer's internet services
    (not of an expired prepaid service: that one is blocked for its expiry, enforcement/expiry.py)."""
    rows = session.execute(
        select(Service.router_name, ServiceAddress.address, Service.pppoe_username)
        .join(ServiceAddress, ServiceAddress.service_id == Service.id)
        .where(Service.customer_id == customer_id, Service.kind == "internet",
               not_(expired_service()))
        .order_by(ServiceAddress.id)
    ).all()
    return [(router or default_router, address, username) for router, address, username in rows]


def enqueue(
    session: Session,
    customer_id: int,
    steps: Iterable[tuple[str, str | None]],
    *,
    reason: str,
    default_router: str = "default",
    targets=None,
) -> list[RouterAction]:
    """Queue ``steps`` (``(kind, list_name)``, e.g. ``("list_add", "warned")``, ``("kick", None)``)
    for every address of the customer. Rows only: the outbox worker sends them."""
    if targets is None:
        targets = customer_targets(session, customer_id, default_router)
    actions = [RouterAction(**row)
               for row in action_rows(customer_id, steps, targets, reason=reason, at=now())]
    session.add_all(actions)
    return actions


# -- bulk variants for the sweep (a constant number of statements for any number of cases) --


def customer_targets_many(
    session: Session, customer_ids, default_router: str = "default"
) -> dict[int, list[tuple[str, str, str | None]]]:
    """:func:`customer_targets` of many customers in one query (per 30,000 on SQLite)."""
    from core.db import is_in

    ids = sorted(set(customer_ids))
    result: dict[int, list] = {cid: [] for cid in ids}
    step = len(ids) or 1
    if session.get_bind().dialect.name != "postgresql":
        step = 30000  # SQLite's limit of bound parameters
    for start in range(0, len(ids), step):
        chunk = ids[start : start + step]
        rows = session.execute(
            select(Service.customer_id, Service.router_name, ServiceAddress.address,
                   Service.pppoe_username)
            .join(ServiceAddress, ServiceAddress.service_id == Service.id)
            .where(is_in(session, Service.customer_id, chunk), Service.kind == "internet",
                   not_(expired_service()))
            .order_by(Service.customer_id, ServiceAddress.id)
        )
        for customer_id, router, address, username in rows:
            result[customer_id].append((router or default_router, address, username))
    return result


def action_rows(
    customer_id: int,
    steps: Iterable[tuple[str, str | None]],
    targets,
    *,
    reason: str,
    at: datetime,
) -> list[dict]:
    """The rows :func:`enqueue` would add, as dicts for a bulk insert (same order, same
    one-kick-per-session rule)."""
    rows = []
    seen_kicks = set()
    for router, address, username in targets:
        for kind, list_name in steps:
            if kind == ActionKind.KICK:
                key = (router, username or address)
                if key in seen_kicks:
                    continue
                seen_kicks.add(key)
            rows.append(
                {
                    "customer_id": customer_id,
                    "router_name": router,
                    "kind": kind,
                    "list_name": list_name,
                    "address": address,
                    "username": username,
                    "reason": reason,
                    "status": ActionStatus.PENDING,
                    "attempts": 0,
                    "next_attempt_at": at,
                    "last_error": None,
                    "created_at": at,
                    "done_at": None,
                    "claimed_until": None,
                }
            )
    return rows


def transition_audit_row(
    customer_id: int, old: str, new: str, *, actor: str, at: datetime, details: dict | None = None
) -> dict:
    """The audit row :func:`transition` writes, as a dict for a bulk insert."""
    import json

    return {
        "at": at,
        "actor": actor,
        "customer_id": customer_id,
        "action": f"enforcement.{new}",
        "field": "state",
        "old_value": old,
        "new_value": new,
        "ip": None,
        "details": json.dumps(details, ensure_ascii=False, default=str) if details else None,
    }


# -- the operators' customer card (console) -------------------------------------------------


@dataclass(frozen=True)
class TimelineItem:
    at: datetime
    kind: str  # state | mail | router
    what: str  # enforcement.warned | reminder1 | list_add ...
    detail: str  # the actor, the address, the router's answer ...
    status: str | None = None  # a mail's or a router action's status
    # a state change's parts, for a page to name them in its language (detail joins them)
    old: str | date | None = None  # a state, or an exemption's last day / "never"
    new: str | date | None = None
    actor: str | None = None
    reason: str | None = None  # the policy's (overdue, warn, ...) or an operator's own words


@dataclass(frozen=True)
class CaseOverview:
    case: EnforcementCase | None  # None: the customer never had a case (ok)
    timeline: list[TimelineItem]  # newest first


def case_overview(session: Session, customer_id: int, limit: int = 50) -> CaseOverview:
    """The customer's enforcement case and its timeline, newest first: the state changes
    (their audit events), the notices (mail outbox) and the router actions. Reads only
    (no case is created)."""
    from core.audit import AuditEvent
    from enforcement.models import EnforcementMail

    case = session.get(EnforcementCase, customer_id)
    items: list[TimelineItem] = []
    for event in session.scalars(
        select(AuditEvent)
        .where(AuditEvent.customer_id == customer_id, AuditEvent.action.like("enforcement.%"))
        .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit)
    ):
        detail = event.actor
        if event.old_value or event.new_value:
            detail = f"{event.old_value or ''} → {event.new_value or ''} ({event.actor})"
        if reason := _reason(event.details):  # an exemption's, a forced reconnection's
            detail += f": {reason}"
        items.append(TimelineItem(event.at, "state", event.action, detail, None,
                                  _day_or_text(event.old_value), _day_or_text(event.new_value),
                                  event.actor, reason))
    for mail in session.scalars(
        select(EnforcementMail).where(EnforcementMail.customer_id == customer_id)
        .order_by(EnforcementMail.id.desc()).limit(limit)
    ):
        items.append(TimelineItem(mail.sent_at or mail.created_at, "mail", mail.kind,
                                  mail.to_address or "", mail.status))
    for action in session.scalars(
        select(RouterAction).where(RouterAction.customer_id == customer_id)
        .order_by(RouterAction.id.desc()).limit(limit)
    ):
        target = " ".join(p for p in (action.list_name, action.address or action.username) if p)
        answer = action.result or action.last_error or ""
        items.append(TimelineItem(
            action.done_at or action.created_at, "router", action.kind,
            f"{action.router_name}: {target}" + (f" — {answer}" if answer else ""),
            action.status))
    items.sort(key=lambda item: item.at, reverse=True)
    return CaseOverview(case, items[:limit])


def _day_or_text(value: str | None):
    """An audit value as a page shows it: an exemption's last day as a date, else the text."""
    if value and len(value) == 10 and value[4] == "-" and value[7] == "-":
        try:
            return date.fromisoformat(value)
        except ValueError:
            return value
    return value


def _reason(details: str | None) -> str | None:
    """The operator's reason kept in an audit event's details (JSON), if any."""
    import json

    try:
        value = json.loads(details) if details else None
    except ValueError:
        return None
    return value.get("reason") if isinstance(value, dict) and isinstance(
        value.get("reason"), str) else None
