"""Customer passwords: authentication, change, and single-use reset tokens.

Functions flush; the caller commits.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from billing.models import Customer, PasswordResetToken, UserSession
from core import audit
from core.clock import now
from core.errors import DomainError
from core.passwords import (
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)


class CredentialError(DomainError, ValueError):
    pass


def find_customer(session: Session, customer_number: str) -> Customer | None:
    number = customer_number.strip()
    if not number.isdigit():
        return None
    return session.scalar(select(Customer).where(Customer.customer_number == number))


def authenticate(session: Session, customer_number: str, password: str) -> Customer | None:
    """The customer if the password is right. Unknown numbers cost the same time."""
    customer = find_customer(session, customer_number)
    ok = verify_password(customer.password_hash if customer else None, password)
    if not ok or customer is None:
        return None
    if needs_rehash(customer.password_hash):
        customer.password_hash = hash_password(password)
    return customer


def change_password(
    session: Session, customer: Customer, current: str, new: str, *, ip: str | None = None
) -> None:
    if not verify_password(customer.password_hash, current):
        raise CredentialError("current password is wrong")
    _set_password(session, customer, new, f"customer:{customer.customer_number}", ip)


def _set_password(session: Session, customer: Customer, new: str, actor: str, ip) -> None:
    customer.password_hash = hash_password(new)
    audit.record(session, "password.changed", actor=actor, customer_id=customer.id, ip=ip)


def issue_reset_token(
    session: Session, customer_number: str, valid_for: timedelta, *, ip: str | None = None
) -> tuple[Customer, str] | None:
    """A new reset token for the account, or None when there is no such account / e-mail."""
    customer = find_customer(session, customer_number)
    if customer is None or not customer.email:
        return None
    token = new_token()
    session.add(
        PasswordResetToken(
            customer_id=customer.id,
            token_hash=token_hash(token),
            expires_at=now() + valid_for,
        )
    )
    audit.record(session, "password.reset_requested", actor="anonymous", customer_id=customer.id, ip=ip)
    session.flush()
    return customer, token


def valid_reset_token(session: Session, token: str) -> PasswordResetToken | None:
    row = session.scalar(
        select(PasswordResetToken).where(PasswordResetToken.token_hash == token_hash(token))
    )
    if row is None or row.used_at is not None or row.expires_at <= now():
        return None
    return row


def reset_password(session: Session, token: str, new: str, *, ip: str | None = None) -> Customer:
    """Use a reset token once: set the password and end every session of the customer."""
    row = valid_reset_token(session, token)
    if row is None:
        raise CredentialError("the reset link is invalid, used or expired")
    row.used_at = now()
    customer = session.get(Customer, row.customer_id)
    _set_password(session, customer, new, f"customer:{customer.customer_number}", ip)
    session.execute(delete(UserSession).where(UserSession.customer_id == customer.id))
    # Other outstanding reset links of this account die too.
    for other in session.scalars(
        select(PasswordResetToken).where(
            PasswordResetToken.customer_id == customer.id, PasswordResetToken.used_at.is_(None)
        )
    ):
        other.used_at = row.used_at
    session.flush()
    return customer
