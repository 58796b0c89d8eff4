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
    message_id: str | None = None,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = settings.sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = message_id or make_msgid(domain=sender_domain(settings))
    msg.set_content(body)
    for filename, mimetype, data in attachments:
        maintype, subtype = mimetype.split("/", 1)
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def sender_domain(settings: MailSettings) -> str:
    return settings.sender.rsplit("@", 1)[-1].strip(">").strip() or "localhost"


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


class SmtpConnection:
    """One SMTP connection kept open for many messages (the monthly run's worker): opened
    on the first message, reopened once when it was dropped (idle timeout, server restart).
    A refusal by the server, or a second failure, raises :class:`MailError`. Without
    SMTP_HOST the messages go to the outbox folder, as :func:`send` does.

    A message whose connection broke after the server may have accepted it is sent again
    on the new connection, with the same Message-ID (docs/monthly-run.md)."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        self._client: smtplib.SMTP | None = None
        self.connects = 0

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.smtp_security == "ssl":
            client = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout,
                                      context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.smtp_timeout)
        if s.smtp_security == "starttls":
            client.starttls(context=ssl.create_default_context())
        if s.smtp_user:
            client.login(s.smtp_user, s.smtp_password or "")
        self.connects += 1
        return client

    def send(self, msg: EmailMessage) -> None:
        if not self.settings.smtp_host:
            send(self.settings, msg)
            return
        for attempt in (1, 2):
            try:
                if self._client is None:
                    self._client = self._connect()
                self._client.send_message(msg)
                return
            except (smtplib.SMTPServerDisconnected, OSError) as exc:
                self.close()
                if attempt == 2:
                    raise MailError(f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}: "
                                    f"{exc}") from exc
            except smtplib.SMTPException as exc:  # refused by the server: not retried here
                if isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code == 421:
                    self.close()
                raise MailError(f"SMTP {self.settings.smtp_host}:{self.settings.smtp_port}: "
                                f"{exc}") from exc

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            try:
                client.quit()
            except (smtplib.SMTPException, OSError):
                client.close()
