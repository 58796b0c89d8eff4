"""Moving a customer's enforcement state when their internet service moves (docs/provisioning.md).

Billing changes a service's addresses, router or PPPoE user name
(``billing/customers/services.py``) and emits :data:`core.events.SERVICE_NETWORK_CHANGED`
with the targets before and after. A customer in ``ok`` or ``acknowledged`` has nothing on
any router, and ``/radius/authorize`` answers from the service row at the next dial-in. A
``warned`` or ``disconnected`` customer is in an address list on a router: the old address
(or the old router) must leave it and the new one join it, or the customer would be free on
the new address and a stranger blocked on the old one. The router actions are queued in the
outbox in the same transaction (the worker sends them), and the move is audited.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy.orm import Session

from core import audit, events
from core.clock import now
from enforcement import cases
from enforcement.config import Policy
from enforcement.models import ActionKind, CaseState, EnforcementCase, RouterAction

_settings = {"policy": Policy(), "default_router": "default"}


def listed_in(state: str, policy: Policy) -> str | None:
    """The address list a customer in ``state`` is in on their routers (None: none)."""
    if state == CaseState.WARNED:
        return policy.list_warned
    if state == CaseState.DISCONNECTED:
        return policy.list_blocked
    return None


def move_targets(
    session: Session,
    customer_id: int,
    before,
    after,
    *,
    actor: str,
    policy: Policy | None = None,
    default_router: str | None = None,
) -> list[RouterAction]:
    """Queue the actions that move the customer's list entry from ``before`` to ``after``
    (each a list of ``(router or None, address, PPPoE user name)``); none when the customer
    is in no list. Returns the actions queued."""
    policy = policy or _settings["policy"]
    default_router = default_router or _settings["default_router"]
    case = session.get(EnforcementCase, customer_id)
    list_name = listed_in(case.state, policy) if case is not None else None
    if list_name is None:
        return []

    def norm(targets):
        return [(router or default_router, address, username) for router, address, username in targets]

    old, new = norm(before), norm(after)
    old_keys = {(r, a) for r, a, _ in old}
    new_keys = {(r, a) for r, a, _ in new}
    gone = [t for t in old if (t[0], t[1]) not in new_keys]
    came = [t for t in new if (t[0], t[1]) not in old_keys]
    if not gone and not came:
        return []
    moment = now()
    rows = cases.action_rows(customer_id, ((ActionKind.LIST_REMOVE, list_name),), gone,
                             reason="moved", at=moment)
    add_steps = [(ActionKind.LIST_ADD, list_name)]
    if case.state == CaseState.DISCONNECTED:
        add_steps.append((ActionKind.KICK, None))  # the new session starts in the garden
    rows += cases.action_rows(customer_id, add_steps, came, reason="moved", at=moment)
    actions = [RouterAction(**row) for row in rows]
    session.add_all(actions)
    audit.record(
        session, "enforcement.moved", actor=actor, customer_id=customer_id, field="targets",
        old_value=" ".join(f"{r}:{a}" for r, a, _ in gone) or None,
        new_value=" ".join(f"{r}:{a}" for r, a, _ in came) or None,
        details={"state": case.state, "list": list_name, "actions": len(actions)},
    )
    session.flush()
    return actions


def _on_service_network_changed(session: Session, customer_id: int, before, after,
                                actor: str = "system:provisioning", **_payload) -> None:
    move_targets(session, customer_id, before, after, actor=actor)


def install(config: Mapping) -> None:
    """Subscribe to billing's service changes (with the app's list names and default router)."""
    _settings["policy"] = Policy.from_config(config)
    _settings["default_router"] = config.get("ENFORCEMENT_DEFAULT_ROUTER") or "default"
    events.subscribe(events.SERVICE_NETWORK_CHANGED, _on_service_network_changed)


def router_names(session: Session) -> list[str] | None:
    """The registered routers' names, for a service to choose from (None when no router is
    registered: then any name is taken, and unknown routers get the default driver)."""
    from sqlalchemy import select

    from enforcement.models import Router

    names = list(session.scalars(select(Router.name).order_by(Router.name)))
    return names or None
