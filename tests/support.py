"""Plain helpers the conftests and the test helper modules (fake_routeros, nas, ...) share.

Test modules do not import this: they ask for the fixtures of tests/conftest.py (``need``,
``pg_url``, ``auth``, ...), as pytest recommends (a conftest is not a module to import from).
"""

from __future__ import annotations

import os

import pytest

PG_URL = os.environ.get("TEST_DATABASE_URL")
REQUIRE_INTEGRATION = os.environ.get("ISPZONE_REQUIRE_INTEGRATION") == "1"


def need(condition: bool, reason: str) -> None:
    """Skip on a developer laptop when an external component is missing; fail in CI."""
    if condition:
        return
    if REQUIRE_INTEGRATION:
        pytest.fail(f"ISPZONE_REQUIRE_INTEGRATION=1 but {reason}")
    pytest.skip(reason)


def pg_schema_url(base: str, schema_name: str) -> str:
    """``base`` with its search_path set to ``schema_name``."""
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{schema_name}"


# -- a real browser on the real app (the live_browser fixture of tests/conftest.py) -------------

CHROMIUM = "/usr/bin/chromium"  # Debian's chromium, driven by Playwright
CHROMIUM_ARGS = ("--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync")


class LiveBrowser:
    """The app served by werkzeug on a free port of 127.0.0.1 (a thread) and a headless
    Chromium: ``base`` (the URL), ``app``, ``sessions``, ``browser``, ``page`` (a fresh
    context's page, made on first use with the fixture's context options), ``new_page(**context
    options)`` for more, ``messages`` (what the pages logged: console messages and errors) and
    ``csp_violations()``. :meth:`stop` ends it all (the fixture calls it at teardown)."""

    def __init__(self, app, server, thread, context_options: dict) -> None:
        self.app, self._server, self._thread = app, server, thread
        self.base = f"http://127.0.0.1:{server.server_port}"
        self.sessions = app.extensions["ispzone.sessions"]
        self.context_options = context_options
        self.messages: list[str] = []
        self.playwright = self.browser = None
        self._page = None

    def launch(self, sync_playwright, extra_args=()) -> None:
        self.playwright = sync_playwright().start()
        self.browser = self.playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *extra_args])

    def new_page(self, **context_options):
        page = self.browser.new_context(**context_options).new_page()
        page.set_default_timeout(20_000)
        page.on("console", lambda message: self.messages.append(message.text))
        page.on("pageerror", lambda error: self.messages.append(str(error)))
        return page

    @property
    def page(self):
        if self._page is None:
            self._page = self.new_page(**self.context_options)
        return self._page

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m]

    def stop(self) -> None:
        try:
            if self.browser is not None:
                self.browser.close()
            if self.playwright is not None:
                self.playwright.stop()
        finally:
            self._server.shutdown()
            self._thread.join(timeout=10)
            self._server.server_close()
            self.app.extensions["ispzone.engine"].dispose()


# -- a real SMTP server on loopback (aiosmtpd) -------------------------------------------------

class LoopbackSMTP:
    """aiosmtpd's handler on a free loopback port. Keeps, for every message it accepted (250):
    ``received`` (To, Message-ID) pairs, ``recipients`` (the envelope's addresses) and
    ``messages`` (the parsed messages). Refuses at RCPT the addresses in ``refuse`` (550).
    ``stop()`` then ``start()`` simulates the server down and back on the same port."""

    def __init__(self) -> None:
        import threading

        self.received: list[tuple[str, str]] = []
        self.recipients: list[str] = []
        self.messages: list = []
        self.refuse: set[str] = set()
        self.lock = threading.Lock()
        self.port = 0
        self._controller = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # aiosmtpd hook
        if address in self.refuse:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope) -> str:  # aiosmtpd's hook
        from email import policy
        from email.parser import BytesParser

        msg = BytesParser(policy=policy.default).parsebytes(envelope.content)
        with self.lock:
            self.received.append((str(msg["To"]), str(msg["Message-ID"])))
            self.recipients.extend(envelope.rcpt_tos)
            self.messages.append(msg)
        return "250 Message accepted for delivery"

    def start(self) -> LoopbackSMTP:
        import socket

        from aiosmtpd.controller import Controller

        if not self.port:  # aiosmtpd needs a real port (it connects to itself when ready)
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
            self.recipients.clear()
            self.messages.clear()

    @property
    def distinct(self) -> set[str]:
        """The distinct Message-IDs received."""
        return {mid for _, mid in self.received}
