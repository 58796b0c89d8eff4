"""Changing a customer's e-mail address: it takes effect only once confirmed from the new
mailbox (issue 13, item 13).

The client zone asks for a change (:func:`request_change`: audited, nothing else changes),
mails a link with a signed token (:func:`make_token`) to the new address and a notice to the
current one. Until the link is opened the current address stays the customer's: password
resets and every other e-mail keep going there. :func:`confirm_change` checks the token and
sets the address (audited as a contact change).

No table holds pending changes: the token itself carries the customer id, the new address
and a hash of the address current when it was issued, signed and time-stamped
(itsdangerous). A link is refused when it has expired, when it belongs to another customer,
and when the address has changed since it was issued (so it works once, and an older
request cannot overwrite a newer confirmed one).

Functions flush; the caller commits. No Flask here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from billing.customers.self_service import Change
from billing.models import Customer
from core import audit
from core.audit import AuditEvent
from core.clock import now
from core.errors import Conflict, Invalid
from core.i18n import _l

SALT = "ispzone-email-change"
DEFAULT_HOURS = 24


class EmailChangeError(Invalid, ValueError):
    """The link cannot change the address; ``code``: ``invalid``, ``expired``,
    ``other_customer`` or ``stale`` (the address changed since the link was sent)."""

    def __init__(self, code: str) -> None:
        super().__init__(code, status=404)
        self.code = code


@dataclass(frozen=True)
class Request:
    customer_id: int
    new_email: str
    current_hash: str


def address_hash(email: str | None) -> str:
    return hashlib.sha256((email or "").strip().lower().encode()).hexdigest()[:24]


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def make_token(secret: str, customer: Customer, new_email: str) -> str:
    return _serializer(secret).dumps(
        {"c": customer.id, "e": new_email, "h": address_hash(customer.email)}
    )


def read_token(secret: str, token: str, max_age_seconds: int) -> Request:
    """The request a token carries, or :class:`EmailChangeError` (``invalid``/``expired``)."""
    try:
        data = _serializer(secret).loads(token, max_age=max_age_seconds)
    except SignatureExpired as exc:
        raise EmailChangeError("expired") from exc
    except BadSignature as exc:
        raise EmailChangeError("invalid") from exc
    if (not isinstance(data, dict) or not isinstance(data.get("c"), int)
            or not isinstance(data.get("e"), str) or not isinstance(data.get("h"), str)):
        raise EmailChangeError("invalid")
    return Request(data["c"], data["e"], data["h"])


def check(request: Request, customer: Customer) -> None:
    """Whether ``request`` may still change ``customer``'s address."""
    if request.customer_id != customer.id:
        raise EmailChangeError("other_customer")
    if request.current_hash != address_hash(customer.email):
        raise EmailChangeError("stale")


# Each request mails two addresses (the new one, which anyone may type, and the current one):
# a cap per customer keeps the form from being a way to send the ISP's mail anywhere.
REQUESTS_PER_DAY = 5


class TooManyRequests(Conflict):
    """The customer asked for more e-mail changes in a day than :data:`REQUESTS_PER_DAY`."""

    def __init__(self) -> None:
        super().__init__(_l("Too many requests to change the e-mail address today. "
                            "Try again tomorrow, or contact us."), status=429)


def request_change(session: Session, customer: Customer, new_email: str, *, actor: str,
                   ip: str | None) -> None:
    """Record that a change to ``new_email`` was asked for; the address stays as it is.
    :class:`TooManyRequests` past :data:`REQUESTS_PER_DAY` in the last 24 hours."""
    since = now() - timedelta(days=1)
    asked = session.scalar(
        select(func.count()).select_from(AuditEvent).where(
            AuditEvent.customer_id == customer.id,
            AuditEvent.action == "contact.email_change_requested",
            AuditEvent.at >= since,
        )
    )
    if asked >= REQUESTS_PER_DAY:
        raise TooManyRequests()
    audit.record(session, "contact.email_change_requested", actor=actor,
                 customer_id=customer.id, field="email", old_value=customer.email,
                 new_value=new_email, ip=ip)
    session.flush()


def confirm_change(session: Session, customer: Customer, request: Request, *, actor: str,
                   ip: str | None) -> Change:
    """Set the address the (checked) request carries; audited like any contact change."""
    check(request, customer)
    old = customer.email
    customer.email = request.new_email
    audit.record(session, "contact.changed", actor=actor, customer_id=customer.id,
                 field="email", old_value=old, new_value=request.new_email, ip=ip,
                 details={"confirmed": "link sent to the new address"})
    session.flush()
    return Change("email", old, request.new_email)
