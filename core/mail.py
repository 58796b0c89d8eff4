"""Sending e-mail: SMTP when configured, otherwise a folder of .eml files (demo, development).

No Flask here so CLI jobs and the worker use it too. Transient SMTP failures raise
:class:`MailError`; callers that must not lose a message retry later.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path


class MailError(RuntimeError):
    pass


@dataclass(frozen=True)
class MailSettings:
    sender: str = "ispzone <noreply@localhost>"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_user: str | None = None
    smtp_password: str | None = None
    smtp_security: str = "none"  # none | starttls | ssl
    smtp_timeout: float = 10.0
    outbox_dir: str | None = None  # used when smtp_host is not set

    @classmethod
    def from_config(cls, config) -> MailSettings:
        return cls(
            sender=config.get("MAIL_FROM") or cls.sender,
            smtp_host=config.get("SMTP_HOST") or None,
            smtp_port=int(config.get("SMTP_PORT") or 25),
            smtp_user=config.get("SMTP_USER") or None,
            smtp_password=config.get("SMTP_PASSWORD") or None,
            smtp_security=(config.get("SMTP_SECURITY") or "none").lower(),
            smtp_timeout=float(config.get("SMTP_TIMEOUT") or 10),
            outbox_dir=config.get("MAIL_OUTBOX_DIR"),
        )


def compose(
    settings: MailSettings,
    to: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, str, bytes]] = (),
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=settings.sender.rsplit("@", 1)[-1].strip(">"))
    msg.set_content(body)
    for filename, mimetype, data in attachments:
        maintype, subtype = mimetype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def send(settings: MailSettings, msg: EmailMessage) -> None:
    if not settings.smtp_host:
        if not settings.outbox_dir:
            raise MailError("no SMTP_HOST and no outbox folder configured")
        folder = Path(settings.outbox_dir)
        folder.mkdir(parents=True, exist_ok=True)
        name = msg["Message-ID"].strip("<>").replace("@", "_").replace("/", "_")
        (folder / f"{name}.eml").write_bytes(bytes(msg))
        return
    try:
        if settings.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(
                settings.smtp_host,
                settings.smtp_port,
                timeout=settings.smtp_timeout,
                context=ssl.create_default_context(),
            )
        else:
            client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout)
        with client:
            if settings.smtp_security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc
