"""Credit notices (issue 15 item 5; docs/credit-services.md): low credit, expiry, renewals.

Each notice is recorded once in ``credit_notice`` under a key (``low_credit:<customer>:<day>``,
``expiry_soon:<service>:<expiry>``...) and its e-mail is queued in the credit's outbox
(:mod:`billing.credit.mail`, sent after commit by the daily job or ``ispzone credit
notices``); templates ``templates/email/credit_<kind>.txt``.

* **Low credit**: a customer who turned it on (``credit_service_settings.low_credit_notices``)
  is told when the credit is under their threshold, and again every day (24 h) while it
  stays under (the key carries the day);
* **Expiry**: ``expiry_notice_days`` (15) days before a service's expiry (or the first day
  within them) and on the day itself, unless it renews itself;
* **Renewal**: renewed, too little credit to renew (each day it is tried), expired
  (billing.credit.renewals queues them);
* **Payment requests**: the customer may switch off the e-mails of issued invoices
  (``payment_request_emails``; billing/jobs.py:send_invoice_emails honours it).

The daily step is set-based: a fixed number of statements whatever the number of customers.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from billing.credit import mail
from billing.credit.accounts import credit_of
from billing.models import (
    CreditNotice,
    CreditServiceSettings,
    NoticeKind,
    NoticeStatus,
    Service,
)
from billing.models.credit import CreditAccount
from core import audit
from core.clock import now, today
from core.db import bulk_insert
from core.errors import Invalid
from core.i18n import _l

EXPIRY_NOTICE_DAYS = 15  # CREDIT_EXPIRY_NOTICE_DAYS
ZERO = Decimal("0.00")
TEMPLATE = "credit_{kind}"


def queue_notice(session: Session, customer_id: int, kind: NoticeKind, key: str, *,
                 service_id: int | None = None, **context) -> bool:
    """Record the notice ``key`` and queue its e-mail, unless it was given already."""
    if session.scalar(select(CreditNotice.id).where(CreditNotice.key == key)) is not None:
        return False
    session.add(CreditNotice(
        customer_id=customer_id, service_id=service_id, kind=str(kind), key=key,
        context=json.dumps(context, default=str, ensure_ascii=False),
        # handed to billing.credit.mail's outbox, which sends it after commit
        status=NoticeStatus.SENT.value, attempts=0, created_at=now(), sent_at=now(),
    ))
    mail.queue(session, customer_id, TEMPLATE.format(kind=kind), **context)
    session.flush()
    return True


def _queue_many(session: Session, rows: list[tuple[int, int | None, NoticeKind, str, dict]]) -> int:
    """Set-based :func:`queue_notice`: rows whose key is new are recorded and queued."""
    if not rows:
        return 0
    keys = [r[3] for r in rows]
    known = set()
    for i in range(0, len(keys), 5000):
        known |= set(session.scalars(select(CreditNotice.key).where(
            CreditNotice.key.in_(keys[i:i + 5000]))))
    fresh = [r for r in rows if r[3] not in known]
    if not fresh:
        return 0
    moment = now()
    bulk_insert(session, CreditNotice.__table__, [
        {"customer_id": cid, "service_id": sid, "kind": str(kind), "key": key,
         "context": json.dumps(ctx, default=str, ensure_ascii=False),
         "status": NoticeStatus.SENT.value, "attempts": 0, "error": None,
         "created_at": moment, "sent_at": moment}
        for cid, sid, kind, key, ctx in fresh
    ])
    mail.queue_many(session, [(cid, TEMPLATE.format(kind=kind), ctx)
                              for cid, _sid, kind, _key, ctx in fresh])
    return len(fresh)


def ensure_settings(session: Session, customer_id: int) -> CreditServiceSettings:
    settings = session.get(CreditServiceSettings, customer_id)
    if settings is None:
        settings = CreditServiceSettings(customer_id=customer_id, auto_renew_kinds="",
                                         low_credit_notices=False, low_credit_threshold=ZERO,
                                         payment_request_emails=True)
        session.add(settings)
        session.flush()
    return settings


def set_preferences(session: Session, customer_id: int, *, low_credit_notices: bool | None = None,
                    low_credit_threshold: Decimal | None = None,
                    payment_request_emails: bool | None = None, actor: str) -> CreditServiceSettings:
    """Change the customer's notice settings (None: leave as is); audited."""
    if low_credit_threshold is not None:
        if isinstance(low_credit_threshold, float) or low_credit_threshold < 0:
            raise Invalid(_l("the low-credit threshold must be an amount of 0 or more"))
    settings = ensure_settings(session, customer_id)
    old = (settings.low_credit_notices, settings.low_credit_threshold, settings.payment_request_emails)
    if low_credit_notices is not None:
        settings.low_credit_notices = low_credit_notices
    if low_credit_threshold is not None:
        settings.low_credit_threshold = Decimal(low_credit_threshold).quantize(Decimal("0.01"))
    if payment_request_emails is not None:
        settings.payment_request_emails = payment_request_emails
    settings.updated_at = now()
    session.flush()
    new = (settings.low_credit_notices, settings.low_credit_threshold, settings.payment_request_emails)
    audit.record(session, "credit.notice_settings", actor=actor, customer_id=customer_id,
                 old_value=json.dumps([str(v) for v in old]),
                 new_value=json.dumps([str(v) for v in new]))
    return settings


def payment_request_emails_on(session: Session, customer_id: int) -> bool:
    settings = session.get(CreditServiceSettings, customer_id)
    return settings is None or bool(settings.payment_request_emails)


def low_credit(session: Session, on: date | None = None, customer_ids: list[int] | None = None) -> int:
    """Queue the low-credit notices of the day (one statement to find them)."""
    on = on or today()
    balance = credit_of(CreditServiceSettings.customer_id)
    query = (
        select(CreditServiceSettings.customer_id, balance, CreditServiceSettings.low_credit_threshold,
               CreditAccount.currency)
        .join(CreditAccount, CreditAccount.customer_id == CreditServiceSettings.customer_id)
        .where(CreditServiceSettings.low_credit_notices.is_(True), CreditAccount.closed_at.is_(None),
               balance < CreditServiceSettings.low_credit_threshold)
    )
    if customer_ids is not None:
        query = query.where(CreditServiceSettings.customer_id.in_(customer_ids))
    rows = [(cid, None, NoticeKind.LOW_CREDIT, f"low_credit:{cid}:{on.isoformat()}",
             {"balance": str(bal), "threshold": str(threshold), "currency": currency})
            for cid, bal, threshold, currency in session.execute(query)]
    return _queue_many(session, rows)


def expiry(session: Session, on: date | None = None, days: int = EXPIRY_NOTICE_DAYS) -> dict:
    """Queue the expiry notices: ``days`` before (the first day within them) and on the day."""
    on = on or today()
    services = session.execute(
        select(Service.id, Service.customer_id, Service.name, Service.expires_on, Service.auto_renew)
        .where(Service.expires_on.is_not(None), Service.expires_on >= on,
               Service.expires_on <= on + timedelta(days=days),
               or_(Service.valid_to.is_(None), Service.valid_to > Service.expires_on))
    ).all()
    soon, today_rows = [], []
    for sid, cid, name, expires_on, _auto in services:
        context = {"service": name, "expires_on": expires_on.isoformat(), "service_id": sid}
        if expires_on == on:
            today_rows.append((cid, sid, NoticeKind.EXPIRY_TODAY,
                               f"expiry_today:{sid}:{expires_on.isoformat()}", context))
        else:
            soon.append((cid, sid, NoticeKind.EXPIRY_SOON,
                         f"expiry_soon:{sid}:{expires_on.isoformat()}", context))
    return {"expiry_soon": _queue_many(session, soon), "expiry_today": _queue_many(session, today_rows)}


@dataclass(frozen=True)
class NoticeReport:
    low_credit: int
    expiry_soon: int
    expiry_today: int

    def as_dict(self) -> dict:
        return {"low_credit": self.low_credit, "expiry_soon": self.expiry_soon,
                "expiry_today": self.expiry_today}


def run_notices(session: Session, on: date | None = None, *,
                expiry_days: int = EXPIRY_NOTICE_DAYS) -> NoticeReport:
    on = on or today()
    low = low_credit(session, on)
    exp = expiry(session, on, expiry_days)
    session.flush()
    return NoticeReport(low, exp["expiry_soon"], exp["expiry_today"])


def daily_step(session: Session, ctx) -> dict:
    """billing.credit.daily's step (``settings.expiry_notice_days`` when the context has it)."""
    days = getattr(ctx.settings, "expiry_notice_days", EXPIRY_NOTICE_DAYS)
    return run_notices(session, ctx.on, expiry_days=days).as_dict()


def notices_of(session: Session, customer_id: int) -> list[CreditNotice]:
    return list(session.scalars(select(CreditNotice).where(CreditNotice.customer_id == customer_id)
                                .order_by(CreditNotice.id)))


__all__ = ["daily_step", "expiry", "low_credit", "notices_of", "payment_request_emails_on",
           "queue_notice", "run_notices", "set_preferences"]
