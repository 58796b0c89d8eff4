"""In-process domain events, delivered synchronously inside the caller's transaction.

``billing`` emits, other packages subscribe (enforcement listens for
``OVERDUE_DEBT_CHANGED`` to reconnect a customer in the same transaction that paired
the payment). Handlers receive the SQLAlchemy session and keyword payload.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from sqlalchemy.orm import Session

OVERDUE_DEBT_CHANGED = "overdue_debt_changed"  # payload: customer_id
# An internet service's addresses, router or PPPoE user name changed (billing/customers/
# services.py); payload: customer_id, service_id, before, after (lists of (router name or
# None, address, PPPoE user name)), actor. Enforcement moves a case's router state.
SERVICE_NETWORK_CHANGED = "service_network_changed"
# a service with an expiry ran out unrenewed (service.valid_to = its expiry) / was renewed
# (billing.credit.renewals); payload: service_id, customer_id, expires_on, actor (+ reopened:
# the renewal ended an expiry). Enforcement (enforcement/expiry.py) blocks an expired internet
# service on its routers and lets it back in when it is renewed.
SERVICE_EXPIRED = "service_expired"
SERVICE_RENEWED = "service_renewed"

_handlers: dict[str, list[Callable[..., None]]] = defaultdict(list)


def subscribe(name: str, handler: Callable[..., None]) -> None:
    if handler not in _handlers[name]:
        _handlers[name].append(handler)


def unsubscribe(name: str, handler: Callable[..., None]) -> None:
    if handler in _handlers[name]:
        _handlers[name].remove(handler)


def emit(session: Session, name: str, **payload) -> None:
    for handler in list(_handlers[name]):
        handler(session, **payload)
