"""The credit's outbox: e-mails recorded in the transaction that calls for them and sent
after it committed (a rolled-back top-up tells nobody). ``queue`` in domain code;
``send_pending`` from the CLI and the daily job (and the web after its commit) with the
web's ``send`` (web.mail.send_template). Templates are under templates/email/."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from billing.models import Customer
from billing.models.credit import CreditAccount, CreditMail, CreditStatement
from core.clock import now
from core.db import bulk_insert, is_in, run_in_transaction

log = logging.getLogger(__name__)
MAX_FAILURES = 5


def queue(session: Session, customer_id: int, template: str, *, attachment: str | None = None,
          ref: str | None = None, **context) -> None:
    """An e-mail to the customer, sent after commit (``context`` is JSON: plain values).
    ``ref`` names what it is about (see :func:`queue_many`)."""
    session.add(CreditMail(customer_id=customer_id, template=template,
                           context=json.dumps(context, default=str, ensure_ascii=False),
                           attachment=attachment, ref=ref, created_at=now(), failed=0))


def queue_many(session: Session, rows: Sequence[tuple[int, str, dict]],
               refs: Sequence[str] | None = None) -> int:
    """Set-based :func:`queue`: ``[(customer id, template, context), ...]`` in one insert.
    With ``refs`` (one per row), a row whose template and ref were queued before is left
    out: such a notice goes out once. Returns how many were queued."""
    if refs is not None and rows:
        template = rows[0][1]
        seen = set(session.scalars(select(CreditMail.ref).where(
            CreditMail.template == template, is_in(session, CreditMail.ref, list(refs)))))
        kept = [(row, ref) for row, ref in zip(rows, refs, strict=True) if ref not in seen]
    else:
        kept = [(row, None) for row in rows]
    moment = now()
    bulk_insert(session, CreditMail.__table__, [
        {"customer_id": cid, "template": template, "attachment": None, "failed": 0,
         "context": json.dumps(context, default=str, ensure_ascii=False), "ref": ref,
         "created_at": moment, "sent_at": None}
        for (cid, template, context), ref in kept
    ])
    return len(kept)


Send = Callable[..., bool]
Attach = Callable[[Session, str], tuple[str, str, bytes] | None]


def send_pending(sessions: sessionmaker[Session], send: Send, attach: Attach | None = None,
                 limit: int = 5000) -> int:
    """Send what waits (each in its customer's language), then the monthly statements not
    mailed yet, each with its PDF (``attach``); a customer without an e-mail address is
    skipped (marked sent). Returns how many were sent."""
    sent = 0

    def work(session: Session) -> int:
        nonlocal sent
        rows = session.execute(
            select(CreditMail, Customer.email, Customer.language)
            .join(Customer, Customer.id == CreditMail.customer_id)
            .where(CreditMail.sent_at.is_(None), CreditMail.failed < MAX_FAILURES)
            .order_by(CreditMail.id).limit(limit)
        ).all()
        for mail, email, language in rows:
            if not email:
                mail.sent_at = now()
                continue
            context = json.loads(mail.context or "{}")
            attachments = []
            if mail.attachment and attach is not None:
                found = attach(session, mail.attachment)
                if found:
                    attachments.append(found)
            try:
                ok = send(email, mail.template, lang=language or "cs",
                          attachments=attachments, **context)
            except Exception:  # noqa: BLE001 - one bad mail must not stop the others
                log.exception("credit mail %s not sent", mail.id)
                ok = False
            if ok:
                mail.sent_at = now()
                sent += 1
            else:
                mail.failed += 1
        statements = session.execute(
            select(CreditStatement, Customer.email, Customer.language, CreditAccount.currency)
            .join(CreditAccount, CreditAccount.id == CreditStatement.account_id)
            .join(Customer, Customer.id == CreditAccount.customer_id)
            .where(CreditStatement.mailed_at.is_(None))
            .order_by(CreditStatement.id).limit(limit)
        ).all()
        for statement, email, language, currency in statements:
            if email:
                found = attach(session, f"statement:{statement.id}") if attach else None
                try:
                    ok = send(email, "credit_statement", lang=language or "cs",
                              attachments=[found] if found else [], month=statement.month,
                              currency=currency)
                except Exception:  # noqa: BLE001 - one bad mail must not stop the others
                    log.exception("credit statement %s not sent", statement.id)
                    ok = False
                if not ok:
                    continue
                sent += 1
            statement.mailed_at = now()
        return sent

    run_in_transaction(sessions, work)
    return sent
