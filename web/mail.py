"""E-mail from the web app: render a template (subject on its first line) and send it."""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import force_locale

from core.mail import MailError, MailSettings, build_message, compose, send

log = logging.getLogger(__name__)


def settings() -> MailSettings:
    return MailSettings.from_config(current_app.config)


def render_message(to: str, template: str, lang: str = "cs", attachments=(),
                   message_id: str | None = None, *, build=compose, **context):
    """``templates/email/<template>.txt`` (subject on its first line) as a message (by
    ``build``: core.mail's ``compose``, an EmailMessage, or ``build_message``, bytes)."""
    with force_locale(lang):
        text = render_template(f"email/{template}.txt", **context)
    subject, _, body = text.strip().partition("\n")
    return build(settings(), to, subject.strip(), body.strip() + "\n", list(attachments),
                 message_id=message_id)


def invoice_message(invoice, to: str, lang: str, pdf: bytes, open_amount, message_id: str):
    """An issued invoice's e-mail with its PDF (the monthly run's mailer,
    billing.invoicing.monthly_run.Mailer), built as bytes (core.mail.build_message)."""
    return render_message(
        to, "invoice_issued", lang=lang,
        attachments=[(f"faktura-{invoice.number}.pdf", "application/pdf", pdf)],
        message_id=message_id, build=build_message, invoice=invoice, open_amount=open_amount)


def send_template(to: str, template: str, lang: str = "cs", attachments=(), **context) -> bool:
    """Render ``templates/email/<template>.txt`` and send it. False (logged) on SMTP failure."""
    msg = render_message(to, template, lang, attachments, **context)
    try:
        send(settings(), msg)
    except MailError:
        log.exception("mail %s to %s not sent", template, to)
        return False
    return True
