"""An expired prepaid internet service loses access the way a disconnection does, and gets it
back the moment it is renewed (issue 15 item 4; docs/enforcement.md "Expired services").

Billing's daily renewals (``billing/credit/renewals.py``) end a prepaid service that ran out
unrenewed (``valid_to`` = ``expires_on``) and emit :data:`core.events.SERVICE_EXPIRED`; a
renewal that ends an expiry (from credit, by a paid renewal request, by an operator) emits
:data:`core.events.SERVICE_RENEWED` with ``reopened``. Billing imports nothing of
enforcement; this module listens, in the emitter's transaction:

* **expired**: the service's addresses join the ``blocked`` address list and its PPP session
  is dropped (RouterOS: list + kick; RADIUS: Disconnect-Request), and ``/radius/authorize``
  answers its PPPoE user as it answers a disconnected customer (walled garden: the client
  zone, where the service is renewed; or a reject, by ``ENFORCEMENT_RADIUS_BLOCKED_MODE``);
* **renewed**: the addresses leave ``blocked`` (the NAS drops the session, the next dial-in
  is accepted without the list).

The block belongs to the service, not to the customer's case: the case's transitions
(``enforcement.cases.customer_targets``) skip an expired service's addresses, so paying a
debt does not let an expired service back in, and renewing a service of a disconnected
customer does not let the customer out of ``blocked``. A warned customer's expired service
leaves ``warned`` for ``blocked`` and returns to ``warned`` when renewed. Both moves are
audited (``enforcement.service_expired`` / ``enforcement.service_restored``) with the actor
of the renewal job or of whoever renewed.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.models import Service, ServiceAddress
from core import audit, events
from core.clock import now
from enforcement import cases
from enforcement.config import Policy
from enforcement.models import ActionKind, CaseState, EnforcementCase, RouterAction

SYSTEM = "system:enforcement"
_settings = {"policy": Policy(), "default_router": "default"}


def service_targets(session: Session, service: Service, default_router: str):
    """(router, address, PPPoE user name) of each address of one service."""
    rows = session.scalars(select(ServiceAddress.address).where(
        ServiceAddress.service_id == service.id).order_by(ServiceAddress.id))
    return [(service.router_name or default_router, address, service.pppoe_username)
            for address in rows]


def _case_state(session: Session, customer_id: int) -> str:
    case = session.get(EnforcementCase, customer_id)
    return case.state if case is not None else CaseState.OK


def _queue(session: Session, service: Service, steps, *, reason: str, action: str, actor: str,
           details: dict, default_router: str) -> list[RouterAction]:
    targets = service_targets(session, service, default_router)
    rows = cases.action_rows(service.customer_id, steps, targets, reason=reason, at=now())
    actions = [RouterAction(**row) for row in rows]
    session.add_all(actions)
    audit.record(session, action, actor=actor, customer_id=service.customer_id,
                 field="service", new_value=service.name,
                 old_value=" ".join(f"{r}:{a}" for r, a, _ in targets) or None,
                 details={"service": service.id, "actions": len(actions), **details})
    session.flush()
    return actions


def block_expired(session: Session, service_id: int, *, actor: str, policy: Policy | None = None,
                  default_router: str | None = None) -> list[RouterAction] | None:
    """Queue the router actions that cut off an expired internet service (``blocked`` + the
    session dropped) and audit it; None for a service that is not internet. A customer who is
    already disconnected is in ``blocked`` with every address: only the audit is written."""
    policy = policy or _settings["policy"]
    default_router = default_router or _settings["default_router"]
    service = session.get(Service, service_id)
    if service is None or service.kind != "internet":
        return None
    state = _case_state(session, service.customer_id)
    steps: list[tuple[str, str | None]] = []
    if state == CaseState.WARNED:
        steps.append((ActionKind.LIST_REMOVE, policy.list_warned))
    if state != CaseState.DISCONNECTED:
        steps += [(ActionKind.LIST_ADD, policy.list_blocked), (ActionKind.KICK, None)]
    return _queue(session, service, steps, reason="expired", action="enforcement.service_expired",
                  actor=actor, default_router=default_router,
                  details={"expires_on": service.expires_on, "case": state})


def restore_renewed(session: Session, service_id: int, *, actor: str, policy: Policy | None = None,
                    default_router: str | None = None) -> list[RouterAction] | None:
    """Queue the router actions that let a renewed (formerly expired) internet service back
    in and audit it; None for a service that is not internet. The customer's case decides
    where its addresses go: a disconnected customer stays in ``blocked``, a warned one goes
    back to ``warned``."""
    policy = policy or _settings["policy"]
    default_router = default_router or _settings["default_router"]
    service = session.get(Service, service_id)
    if service is None or service.kind != "internet":
        return None
    state = _case_state(session, service.customer_id)
    steps: list[tuple[str, str | None]] = []
    if state != CaseState.DISCONNECTED:
        steps.append((ActionKind.LIST_REMOVE, policy.list_blocked))
    if state == CaseState.WARNED:
        steps.append((ActionKind.LIST_ADD, policy.list_warned))
    return _queue(session, service, steps, reason="renewed", action="enforcement.service_restored",
                  actor=actor, default_router=default_router,
                  details={"expires_on": service.expires_on, "case": state})


def _on_service_expired(session: Session, service_id: int, actor: str = SYSTEM, **_payload) -> None:
    block_expired(session, service_id, actor=actor)


def _on_service_renewed(session: Session, service_id: int, reopened: bool = False,
                        actor: str = SYSTEM, **_payload) -> None:
    if reopened:
        restore_renewed(session, service_id, actor=actor)


def install(config: Mapping) -> None:
    """Subscribe to billing's expiry and renewal events (with the app's list names)."""
    _settings["policy"] = Policy.from_config(config)
    _settings["default_router"] = config.get("ENFORCEMENT_DEFAULT_ROUTER") or "default"
    events.subscribe(events.SERVICE_EXPIRED, _on_service_expired)
    events.subscribe(events.SERVICE_RENEWED, _on_service_renewed)
