"""The notice queue: reminders, warning, disconnection and "payment received" e-mails.

The sweep (and the payment handler) write :class:`EnforcementMail` rows in their own
transaction, so a notice exists exactly once whatever happens to SMTP. :func:`drain` claims
due rows for a lease, renders each at send time (the list of open invoices is current then),
sends it through :mod:`core.mail`, and marks it sent; SMTP trouble reschedules it with
exponential backoff and jitter. A notice that no longer applies (a reminder for a case that
is ``ok`` again) is cancelled instead of sent.

Rendering needs the Flask templates and translations: the caller hands :func:`drain` a
``render`` callable (:func:`enforcement.cli.flask_renderer` in the CLI/worker, with the app);
the queue itself imports no Flask.
"""

from __future__ import annotations

import io
import json
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from email.message import EmailMessage

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from core import audit
from core.clock import now
from core.mail import MailError, MailSettings, send
from enforcement.models import (
    CaseState,
    EnforcementCase,
    EnforcementMail,
    MailKind,
    MailStatus,
)

ACTOR = "system:mail"
# the case states in which a notice of this kind still makes sense
STILL_VALID = {
    MailKind.REMINDER1: {CaseState.REMINDED, CaseState.WARNED, CaseState.ACKNOWLEDGED},
    MailKind.REMINDER2: {CaseState.REMINDED, CaseState.WARNED, CaseState.ACKNOWLEDGED},
    MailKind.WARNING: {CaseState.WARNED, CaseState.ACKNOWLEDGED},
    MailKind.DISCONNECTED: {CaseState.DISCONNECTED},
    MailKind.PAYMENT_RECEIVED: None,  # always
}
Render = Callable[[Session, EnforcementMail], EmailMessage]


@dataclass
class MailReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    cancelled: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = (f"e-mails: {self.sent} sent, {self.retried} to retry, {self.failed} failed, "
                f"{self.cancelled} cancelled")
        return text + "".join(f"\n  {e}" for e in self.errors[:20])


def claim(session_factory, lease_seconds: int, limit: int) -> list[int]:
    moment = now()
    stmt = (
        select(EnforcementMail.id)
        .where(
            EnforcementMail.status == MailStatus.PENDING,
            EnforcementMail.next_attempt_at <= moment,
            or_(EnforcementMail.claimed_until.is_(None), EnforcementMail.claimed_until <= moment),
        )
        .order_by(EnforcementMail.id)
        .limit(limit)
    )
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True)
        ids = list(session.scalars(stmt))
        if ids:
            session.execute(
                update(EnforcementMail).where(EnforcementMail.id.in_(ids))
                .values(claimed_until=moment + timedelta(seconds=lease_seconds))
            )
    return ids


def drain(session_factory, settings: MailSettings, render: Render, *, lease_seconds: int = 120,
          retry_base_seconds: float = 5, retry_max_seconds: float = 600, max_attempts: int = 100,
          limit: int = 200, rng=random) -> MailReport:
    report = MailReport()
    smtp_down: str | None = None
    while True:
        ids = claim(session_factory, lease_seconds, limit)
        if not ids:
            return report
        for mail_id in ids:
            with session_factory() as session, session.begin():
                mail = session.get(EnforcementMail, mail_id)
                if mail is None or mail.status != MailStatus.PENDING:
                    continue
                if not _still_valid(session, mail):
                    mail.status, mail.claimed_until = MailStatus.CANCELLED, None
                    mail.last_error = "no longer applies (the case moved on)"
                    report.cancelled += 1
                    continue
                error = smtp_down
                if error is None:
                    try:
                        message = render(session, mail)
                    except Exception as exc:  # noqa: BLE001 - one broken notice must not stop the rest
                        error = f"cannot render: {type(exc).__name__}: {exc}"
                    else:
                        try:
                            send(settings, message)
                        except MailError as exc:
                            error = smtp_down = str(exc)  # do not knock on a closed door again
                if error is None:
                    mail.status, mail.sent_at, mail.claimed_until = MailStatus.SENT, now(), None
                    mail.attempts += 1
                    report.sent += 1
                    continue
                mail.attempts += 1
                mail.last_error, mail.claimed_until = error[:2000], None
                if mail.attempts >= max_attempts:
                    mail.status = MailStatus.FAILED
                    audit.record(session, "enforcement.mail_failed", actor=ACTOR,
                                 customer_id=mail.customer_id, new_value=mail.kind,
                                 details={"error": error[:500]})
                    report.failed += 1
                else:
                    delay = min(retry_max_seconds, retry_base_seconds * 2 ** (mail.attempts - 1))
                    mail.next_attempt_at = now() + timedelta(seconds=delay * rng.uniform(0.5, 1.0))
                    report.retried += 1
                report.errors.append(f"#{mail.id} {mail.kind} to {mail.to_address}: {error}")


def _still_valid(session: Session, mail: EnforcementMail) -> bool:
    states = STILL_VALID.get(mail.kind)
    if states is None:
        return True
    state = session.scalar(
        select(EnforcementCase.state).where(EnforcementCase.customer_id == mail.customer_id)
    )
    return state in states


# -- rendering (Flask templates, in an app context) -----------------------------------------


def notice_context(session: Session, mail: EnforcementMail, on: date) -> dict:
    """What the templates show: the customer, their open invoices with QR Platba, the case."""
    from billing.documents.qrplatba import QrPlatbaError, spayd_for_invoice
    from billing.ledger.balances import account_summary, open_invoices
    from billing.models import Customer

    customer = session.get(Customer, mail.customer_id)
    case = session.get(EnforcementCase, mail.customer_id)
    invoices = []
    for state in open_invoices(session, mail.customer_id, on):
        try:
            spayd = spayd_for_invoice(state.invoice, state.open_amount)
        except QrPlatbaError:
            spayd = None
        invoices.append({"invoice": state.invoice, "open": state.open_amount,
                         "overdue": state.invoice.due_date < on, "spayd": spayd})
    return {
        "customer": customer,
        "case": case,
        "invoices": invoices,
        "summary": account_summary(session, mail.customer_id, on),
        "extra": json.loads(mail.context) if mail.context else {},
    }


def qr_png(spayd: str) -> bytes:
    import segno

    buffer = io.BytesIO()
    segno.make(spayd, error="m", micro=False).save(buffer, kind="png", scale=5, border=4)
    return buffer.getvalue()
