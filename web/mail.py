"""E-mail from the web app: render a template (subject on its first line) and send it."""

from __future__ import annotations

import logging

from flask import current_app, render_template
from flask_babel import force_locale

from core.mail import MailError, MailSettings, compose, send

log = logging.getLogger(__name__)


def settings() -> MailSettings:
    return MailSettings.from_config(current_app.config)


def send_template(to: str, template: str, lang: str = "cs", attachments=(), **context) -> bool:
    """Render ``templates/email/<template>.txt`` and send it. False (logged) on SMTP failure."""
    with force_locale(lang):
        text = render_template(f"email/{template}.txt", **context)
    subject, _, body = text.strip().partition("\n")
    msg = compose(settings(), to, subject.strip(), body.strip() + "\n", list(attachments))
    try:
        send(settings(), msg)
    except MailError:
        log.exception("mail %s to %s not sent", template, to)
        return False
    return True
