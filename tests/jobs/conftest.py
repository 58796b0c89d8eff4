"""The monthly run's fixtures: a real SMTP server on loopback (aiosmtpd) that counts what
it receives, and the app configured to send through it."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_config(app_config, smtp):
    return {**app_config, "SMTP_HOST": "127.0.0.1", "SMTP_PORT": smtp.port,
            "MAIL_FROM": "Příkladnet <fakturace@priklad.net>"}
