"""Sending e-mail: SMTP when configured, otherwise a folder of .eml files (demo, development).

No Flask here so CLI jobs and the worker use it too. Transient SMTP failures raise
:class:`MailError`; callers that must not lose a message retry later.

:func:`compose` builds an ``EmailMessage`` (the email package: flexible, but a
multipart message with a PDF costs milliseconds to build and to flatten again for SMTP);
:func:`build_message` writes the one shape the monthly run sends 100,000 times (a text
part and attachments) straight as bytes (docs/monthly-run.md, "The e-mail").
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import ssl
from dataclasses import dataclass
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote


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


@dataclass(frozen=True)
class RawMessage:
    """A message built as bytes by :func:`build_message` (CRLF line ends, ready for SMTP's
    DATA), with its envelope. ``bytes(msg)`` and ``msg["Message-ID"]`` work as for an
    ``EmailMessage`` (the outbox folder needs no more)."""

    sender: str  # the envelope's MAIL FROM: the From header's address
    recipients: tuple[str, ...]
    message_id: str
    data: bytes

    def __bytes__(self) -> bytes:
        return self.data

    def __getitem__(self, name: str) -> str | None:
        return self.message_id if name.lower() == "message-id" else None


_MAX_LINE = 78  # RFC 5322 2.1.1: lines SHOULD be no longer than 78 characters
_UNSAFE_ADDRESS = frozenset("\r\n\t\"<>,;()\\")


def build_message(
    settings: MailSettings,
    to: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, str, bytes]] = (),
    message_id: str | None = None,
) -> RawMessage | EmailMessage:
    """The message :func:`compose` makes, written directly as bytes: headers From, To,
    Subject (RFC 2047 encoded-words for the words outside ASCII), Date, Message-ID,
    MIME-Version; a ``multipart/mixed`` body (a random boundary) with the text in UTF-8
    (7bit when it is short-lined printable ASCII, otherwise base64 of its canonical CRLF
    form) and each attachment in base64, 76-character lines (RFC 2045). An address this shape does
    not cover (outside ASCII: SMTPUTF8, or anything else but a bare address) is left to
    :func:`compose` and the email package."""
    sender_header, sender_address = _sender(settings.sender)
    if sender_header is None or not _plain_address(to):
        return compose(settings, to, subject, body, attachments, message_id)
    message_id = message_id or make_msgid(domain=sender_domain(settings))
    lines = body.replace("\r\n", "\n").rstrip("\n").split("\n")
    text = "\r\n".join(lines) + "\r\n"
    # 7bit: no control character but tab (a bare CR would reach the server as it is: smtplib
    # dot-stuffs only after LF, and "\r.\r\n" ends the DATA on some servers, RFC 5321 4.1.1.4)
    if text.isascii() and all(len(line) <= _MAX_LINE and line.replace("\t", "").isprintable()
                              for line in lines):
        text_cte, text_payload = "7bit", text.encode("ascii")
    else:
        text_cte, text_payload = "base64", _base64(text.encode("utf-8"))
    boundary = "=_" + secrets.token_hex(16)  # "_" is not in base64's alphabet
    while boundary.encode("ascii") in text_payload:  # a 7bit text could, in theory, hold it
        boundary = "=_" + secrets.token_hex(16)
    delimiter = f"--{boundary}\r\n".encode("ascii")
    parts = [
        (f"From: {sender_header}\r\n"
         f"To: {to}\r\n"
         f"{_header('Subject', subject)}"
         f"Date: {formatdate(localtime=False)}\r\n"
         f"Message-ID: {_one_line(message_id)}\r\n"
         "MIME-Version: 1.0\r\n"
         f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n'
         "\r\n").encode("ascii"),
        delimiter,
        ('Content-Type: text/plain; charset="utf-8"\r\n'
         f"Content-Transfer-Encoding: {text_cte}\r\n\r\n").encode("ascii"),
        text_payload,
    ]
    for filename, mimetype, data in attachments:
        parts += [
            b"\r\n", delimiter,
            (f"Content-Type: {_one_line(mimetype)}\r\n"
             "Content-Transfer-Encoding: base64\r\n"
             f"Content-Disposition: attachment; {_filename_param(filename)}\r\n"
             "\r\n").encode("ascii"),
            _base64(data),
        ]
    parts.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    return RawMessage(sender_address, (to,), message_id, b"".join(parts))


def _plain_address(address: str) -> bool:
    """A bare ASCII addr-spec (``name@domain``): written into To as it is."""
    return (address.isascii() and address.count("@") == 1 and " " not in address
            and not _UNSAFE_ADDRESS.intersection(address) and address.isprintable())


@lru_cache(maxsize=8)
def _sender(sender: str) -> tuple[str | None, str]:
    """(the From header's value as the email package folds it, the envelope address); the
    header is None when the address itself is not a plain ASCII one."""
    _, address = parseaddr(sender)
    if not _plain_address(address):
        return None, address
    folded = email_policy.SMTP.header_factory("From", sender).fold(policy=email_policy.SMTP)
    return folded.split(":", 1)[1].strip(), address


def _base64(data: bytes) -> bytes:
    """Base64 in lines of 76 characters, CRLF after each (RFC 2045 6.8)."""
    return base64.encodebytes(data).replace(b"\n", b"\r\n")


def _one_line(value: str) -> str:
    if "\r" in value or "\n" in value:
        raise ValueError("a header value cannot contain a line break")
    return value


def _header(name: str, value: str) -> str:
    """``Name: value`` with CRLF: words outside ASCII as RFC 2047 encoded-words (UTF-8, "Q"),
    folded at spaces into lines of at most 78 characters where the words allow it."""
    words = _one_line(value).split(" ") if value else []
    longest = min(75, _MAX_LINE - len(name) - 2)  # an encoded-word fits on any line
    tokens: list[str] = []
    run: list[str] = []  # consecutive words to encode: one encoded text, spaces kept
    for word in words:
        if run and not word:  # a second space after an encoded word: kept inside it (the
            run.append(word)  # white space between two encoded-words is not text)
        elif not word or (word.isascii() and word.isprintable() and "=?" not in word):
            if run:
                tokens.extend(_encoded_words(" ".join(run), longest))
                run = []
            tokens.append(word)
        else:
            run.append(word)
    if run:
        tokens.extend(_encoded_words(" ".join(run), longest))
    lines = [f"{name}:"]
    for token in tokens:
        if token and len(lines[-1]) + 1 + len(token) > _MAX_LINE and lines[-1] != f"{name}:":
            lines.append("")
        lines[-1] += " " + token
    return "\r\n".join(lines) + "\r\n"


_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")


def _encoded_words(text: str, longest: int = 75) -> list[str]:
    """``text`` as "Q" encoded-words of at most ``longest`` (RFC 2047 2: 75) characters,
    never splitting a character's UTF-8 bytes between two words (5(3))."""
    words: list[str] = []
    current = ""
    for char in text:
        if char == " ":
            piece = "_"
        else:
            piece = "".join(chr(b) if b in _Q_SAFE else f"={b:02X}" for b in char.encode("utf-8"))
        if current and len(current) + len(piece) > longest - len("=?utf-8?q??="):
            words.append(f"=?utf-8?q?{current}?=")
            current = ""
        current += piece
    words.append(f"=?utf-8?q?{current}?=")
    return words


def _filename_param(filename: str) -> str:
    """``filename="..."``; outside ASCII (or with quotes) ``filename*=utf-8''...``
    (RFC 2231)."""
    if filename.isascii() and filename.isprintable() and not set('"\\').intersection(filename):
        return f'filename="{filename}"'
    return f"filename*=utf-8''{quote(filename, safe='')}"


def sender_domain(settings: MailSettings) -> str:
    """The domain of MAIL_FROM's address (the Message-IDs'), whatever form it is written in
    (``Name <a@b>``, ``a@b (Name)``, ``a@b``)."""
    address = parseaddr(settings.sender)[1]
    return address.rsplit("@", 1)[-1].strip() if "@" in address else "localhost"


def send(settings: MailSettings, msg: EmailMessage | RawMessage) -> None:
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
            _deliver(client, msg)
    except (OSError, smtplib.SMTPException) as exc:
        raise MailError(f"SMTP {settings.smtp_host}:{settings.smtp_port}: {exc}") from exc


def _deliver(client: smtplib.SMTP, msg: EmailMessage | RawMessage) -> None:
    if isinstance(msg, RawMessage):  # its bytes as they are, to its envelope
        client.sendmail(msg.sender, list(msg.recipients), msg.data)
    else:
        client.send_message(msg)


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

    def send(self, msg: EmailMessage | RawMessage) -> None:
        if not self.settings.smtp_host:
            send(self.settings, msg)
            return
        for attempt in (1, 2):
            try:
                if self._client is None:
                    self._client = self._connect()
                _deliver(self._client, msg)
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
