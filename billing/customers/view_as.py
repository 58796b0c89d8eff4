""""View the zone as this customer": an operator opens the client zone as the customer sees
it, read-only (docs/console-customers.md).

The operator gets a client-zone session of its own (a ``user_session`` row with
``viewed_by`` = the operator's actor), never the customer's password nor one of the
customer's sessions; the zone refuses every change while ``viewed_by`` is set
(zone/view_as.py) and shows a banner naming the operator. Leaving deletes the row, so no
customer session stays behind; it also ends after :data:`MAX_MINUTES`. Starting and
leaving are audited (``customer.viewed_as``, ``customer.view_as_ended``) with the operator
as actor. Flask-free; the caller commits.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete
from sqlalchemy.orm import Session

from billing.models import Customer, SessionKind, UserSession
from core import audit
from core.clock import now
from core.passwords import new_token, token_hash

MAX_MINUTES = 30  # a view-as session ends this long after it began, whatever happens


def start(session: Session, customer: Customer, *, actor: str, ip: str | None = None,
          user_agent: str | None = None) -> str:
    """A read-only client-zone session of ``customer`` for the operator ``actor``; returns
    its token (the browser's cookie carries it; only its hash is stored)."""
    if not actor.startswith("operator:"):
        raise ValueError("only an operator views the zone as a customer")
    token = new_token()
    session.add(UserSession(token_hash=token_hash(token), kind=SessionKind.ZONE.value,
                            customer_id=customer.id, ip=ip, viewed_by=actor,
                            user_agent=(user_agent or "")[:300]))
    audit.record(session, "customer.viewed_as", actor=actor, customer_id=customer.id, ip=ip,
                 details={"read_only": True})
    session.flush()
    return token


def expired(created_at) -> bool:
    return now() - created_at > timedelta(minutes=MAX_MINUTES)


def end(session: Session, token: str, *, customer_id: int, actor: str,
        ip: str | None = None) -> None:
    """Leave: the view-as session is deleted (and the leaving audited)."""
    session.execute(delete(UserSession).where(UserSession.token_hash == token_hash(token),
                                              UserSession.viewed_by.is_not(None)))
    audit.record(session, "customer.view_as_ended", actor=actor, customer_id=customer_id,
                 ip=ip)
    session.flush()
