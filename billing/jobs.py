"""After-commit work that the CLI and the operator console both trigger.

Each job runs once the work that calls for it has been committed, in transactions of its
own (``core.db.run_in_transaction``: retried on serialization failures), so that its
failure never undoes that work:

- :func:`issue_receipts_after_pairing`: the tax documents for payments received on advance
  invoices, after a statement import, a manual assignment or an unassignment (and daily);
- :func:`send_invoice_emails`: each newly issued invoice e-mailed with its PDF.

No Flask here: the caller passes its session factory and, for e-mails, its ``send``
function (the web's ``web.mail.send_template``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from core.db import run_in_transaction

log = logging.getLogger(__name__)


def issue_receipts_after_pairing(
    sessions: sessionmaker[Session], on: date | None = None, *, actor: str,
    supplier=None, credit_settings=None,
) -> list[str]:
    """Issue the missing receipts (billing.invoicing.receipts) in a transaction of their
    own; returns their numbers. A refusal (``ReceiptError``, e.g. a full number series)
    propagates to the caller, who reports it; the payments committed before stay.

    The prepaid credit's part comes with it (billing.credit.topups.receipts_and_credit):
    payments to a credit account's permanent VS are paired to a top-up request first, and
    the receipts of top-up requests are booked to the credit after."""
    from billing.credit.topups import receipts_and_credit

    return run_in_transaction(
        sessions, lambda session: [r.number for r in receipts_and_credit(
            session, on, actor=actor, supplier=supplier, settings=credit_settings)]
    )


# send(to, template, lang=..., attachments=[...], **context) -> bool (False: not sent, logged)
Send = Callable[..., bool]


@dataclass
class MailReport:
    sent: int = 0
    without_email: int = 0
    switched_off: int = 0  # the customer switched payment-request e-mails off (billing.credit.notices)
    failed: list[str] = field(default_factory=list)  # invoice numbers not sent


def send_invoice_emails(sessions: sessionmaker[Session], invoice_ids: Sequence[int],
                        send: Send) -> MailReport:
    """E-mail issued invoices with their PDF attached, each in its customer's language
    (template ``invoice_issued``). A failed send is logged and reported; the others go on.
    Reads only."""
    from billing.credit.notices import payment_request_emails_on
    from billing.documents.pdf import render_invoice_pdf
    from billing.ledger.balances import states_for
    from billing.models import Customer, Invoice
    from core.clock import today

    report = MailReport()
    with sessions() as session:
        for invoice_id in invoice_ids:
            invoice = session.get(Invoice, invoice_id)
            customer = session.get(Customer, invoice.customer_id)
            if not customer.email:
                report.without_email += 1
                continue
            if not payment_request_emails_on(session, customer.id):
                report.switched_off += 1
                continue
            state = states_for(session, [invoice], today())[0]
            pdf = render_invoice_pdf(invoice, state.open_amount)
            if send(
                customer.email, "invoice_issued", lang=customer.language or "cs",
                attachments=[(f"faktura-{invoice.number}.pdf", "application/pdf", pdf)],
                invoice=invoice, open_amount=state.open_amount,
            ):
                report.sent += 1
            else:
                report.failed.append(invoice.number)
    return report


def resend_invoice_email(sessions: sessionmaker[Session], invoice_id: int, send: Send, *,
                         actor: str) -> MailReport:
    """E-mail one issued invoice (or credit note) again with its PDF, on an operator's
    request, and audit it (``invoice.email_resent``, with whether it went). Refused, sending
    nothing, for an unknown invoice or a customer without an e-mail address
    (``InvoicingError``)."""
    from billing.invoicing.issue import InvoicingError
    from billing.models import Customer, Invoice
    from core import audit

    with sessions() as session:
        invoice = session.get(Invoice, invoice_id)
        if invoice is None:
            raise InvoicingError(f"no invoice {invoice_id}")
        customer = session.get(Customer, invoice.customer_id)
        if not customer.email:
            raise InvoicingError(
                f"customer {customer.customer_number} has no e-mail address: nothing was sent")
        number, customer_id, address = invoice.number, customer.id, customer.email
    report = send_invoice_emails(sessions, [invoice_id], send)

    def record(session: Session) -> None:
        from billing.invoicing.monthly_run import mark_mail_sent

        audit.record(session, "invoice.email_resent", actor=actor, customer_id=customer_id,
                     new_value=number, details={"to": address, "sent": report.sent == 1})
        if report.sent == 1:  # a failed e-mail of the monthly run is no longer failed
            mark_mail_sent(session, invoice_id)

    run_in_transaction(sessions, record)
    return report
