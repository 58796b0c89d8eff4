"""The monthly run's fixtures: a real SMTP server on loopback (aiosmtpd) that counts what
it receives, and the app configured to send through it."""

from __future__ import annotations

import socket
import threading

import pytest


class CountingSMTP:
    """aiosmtpd's handler: keeps (To, Message-ID) of every message accepted (250)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.port = 0
        self._controller = None

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        from email import policy
        from email.parser import BytesParser

        msg = BytesParser(policy=policy.default).parsebytes(envelope.content, headersonly=True)
        with self.lock:
            self.received.append((str(msg["To"]), str(msg["Message-ID"])))
        return "250 Message accepted for delivery"

    def start(self) -> CountingSMTP:
        from aiosmtpd.controller import Controller

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def reset(self) -> None:
        with self.lock:
            self.received.clear()

    @property
    def distinct(self) -> set[str]:
        return {mid for _, mid in self.received}


@pytest.fixture
def smtp():
    server = CountingSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port,
            "MAIL_FROM": "Příkladnet <fakturace@priklad.net>"}
