"""Writing audit events. Domain functions call :func:`record`; the caller commits."""

from __future__ import annotations

import json

from sqlalchemy.orm import Session

from billing.models import AuditEvent


def record(
    session: Session,
    action: str,
    *,
    actor: str,
    customer_id: int | None = None,
    field: str | None = None,
    old_value=None,
    new_value=None,
    ip: str | None = None,
    details: dict | None = None,
) -> AuditEvent:
    event = AuditEvent(
        action=action,
        actor=actor,
        customer_id=customer_id,
        field=field,
        old_value=None if old_value is None else str(old_value),
        new_value=None if new_value is None else str(new_value),
        ip=ip,
        details=json.dumps(details, ensure_ascii=False, default=str) if details else None,
    )
    session.add(event)
    return event
