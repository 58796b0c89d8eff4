"""Translated labels of the status values stored in the database (``status``, ``state``,
``kind``, ``role`` columns are English StrEnum values; pages show these labels instead).

One table for the console and the client zone, used in templates through the ``label``
filter (registered in :mod:`web.formatting`): ``{{ tx.status|label("payment") }}``. A value
the table does not know prints unchanged, so a new enum value is never lost, only
untranslated. CSS classes and ``data-*`` attributes keep the raw value."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

# the client zone's service kinds (zone/views.py SERVICE_KINDS), also the console's
SERVICE_KINDS = {
    "internet": _l("Internet"),
    "insurance": _l("Device insurance"),
    "voip": _l("VoIP telephony"),
    "other": _l("Other services"),
}

# how often a service's price is billed (service.period, billing.models.ServicePeriod), as
# its price reads: "450,00 Kč měsíčně"; the client zone's too (zone/views.py PERIODS)
SERVICE_PERIODS = {
    "month": _l("per month"),
    "year": _l("per year"),
    "once": _l("one-off"),
}

# customer.language
LANGUAGES = {"cs": _l("Czech language"), "en": _l("English language")}

# operator roles (console/forms.py role_choices offers the same labels)
ROLE_LABELS = {
    "admin": _l("admin (everything)"),
    "billing": _l("billing (money)"),
    "support": _l("support (customers, services)"),
    "readonly": _l("read only"),
}

LABELS: dict[str, dict[str, object]] = {
    # bank_transaction.status (billing.models.payments.BankTransactionStatus)
    "payment": {
        "matched": _l("matched"),
        "unmatched": _l("unmatched"),
        "outgoing": _l("outgoing"),
        "dismissed": _l("dismissed"),
        "cancelled": _l("cancelled (storno)"),
    },
    # enforcement_case.state (enforcement.models.CaseState)
    "case": {
        "ok": _l("ok"),
        "reminded": _l("reminded"),
        "warned": _l("warned"),
        "acknowledged": _l("acknowledged"),
        "disconnected": _l("disconnected"),
    },
    # why a case moved (enforcement.policy's steps; an operator's own reason prints as typed)
    "case_reason": {
        "overdue": _l("overdue invoice"),
        "warn": _l("warning"),
        "disconnect": _l("disconnection"),
        "reconnect": _l("reconnection"),
        "ack": _l("acknowledged by the customer"),
        "expired": _l("service expired"),
        "renewed": _l("service renewed"),
        "moved": _l("moved to another router"),
        "reconcile": _l("reconciled with the router"),
    },
    # router_action.kind and .status (enforcement.models.ActionKind, ActionStatus)
    "action_kind": {
        "list_add": _l("add to list"),
        "list_remove": _l("remove from list"),
        "kick": _l("drop the session"),
    },
    "action_status": {
        "pending": _l("pending"),
        "done": _l("done"),
        "failed": _l("failed"),
    },
    # enforcement_mail.kind and .status (enforcement.models.MailKind, MailStatus)
    "mail_kind": {
        "reminder1": _l("first reminder"),
        "reminder2": _l("second reminder"),
        "warning": _l("warning"),
        "disconnected": _l("disconnection notice"),
        "payment_received": _l("payment received"),
    },
    "mail_status": {
        "pending": _l("pending"),
        "sent": _l("sent"),
        "failed": _l("failed"),
        "cancelled": _l("cancelled"),
    },
    # the enforcement audit events on a case's timeline (enforcement/cases.py, service.py)
    "case_event": {
        "enforcement.ok": _l("back to ok"),
        "enforcement.reminded": _l("reminded"),
        "enforcement.warned": _l("warned"),
        "enforcement.acknowledged": _l("acknowledged"),
        "enforcement.disconnected": _l("disconnected"),
        "enforcement.reminder1": _l("first reminder"),
        "enforcement.reminder2": _l("second reminder"),
        "enforcement.warning": _l("warning"),
        "enforcement.exempt": _l("exempted"),
        "enforcement.moved": _l("moved to another router"),
        "enforcement.action_failed": _l("router action failed"),
        "enforcement.mail_failed": _l("notice not sent"),
    },
    # invoice.kind (billing.models.invoices.InvoiceKind): the console's short names; the
    # client zone titles its documents in full (zone/views.py INVOICE_KINDS, as the PDF)
    "invoice_kind": {
        "regular": _l("invoice"),
        "goods": _l("goods invoice"),
        "voip_topup": _l("VoIP top-up"),
        "advance": _l("advance invoice"),
        "credit_note": _l("credit note"),
    },
    # an invoice's payment state (billing.ledger.balances; macros.status_badge)
    "invoice_status": {
        "paid": _l("paid"),
        "partly_paid": _l("partly paid"),
        "unpaid": _l("unpaid"),
        "overdue": _l("overdue"),
        "credit_note": _l("credit note"),
    },
    "service_kind": SERVICE_KINDS,
    "period": SERVICE_PERIODS,
    "language": LANGUAGES,
    "role": ROLE_LABELS,
    # ledger_transaction.kind (billing.models.ledger.TransactionKind)
    "ledger": {
        "invoice": _l("invoice"),
        "credit_note": _l("credit note"),
        "payment": _l("payment"),
        "reversal": _l("reversal"),
        "allocation": _l("allocation"),
        "voip_topup": _l("VoIP top-up"),
        "voip_calls": _l("VoIP calls"),
        "opening": _l("opening balance"),
        "credit_topup": _l("credit top-up"),
        "credit_payment": _l("paid from credit"),
        "credit_refund": _l("credit refund"),
    },
}


def label(value: object, group: str) -> str:
    """The translated label of ``value`` in ``group`` (a key of :data:`LABELS`); the value
    itself (as text) when the table does not know it; ``""`` for None."""
    if value is None:
        return ""
    text = str(value)
    found = LABELS[group].get(text)
    return str(found) if found is not None else text
