"""The admin's settings page: the effective settings, never a secret."""

from __future__ import annotations

import pytest


@pytest.fixture
def app_config(app_config):
    return {**app_config, "SECRET_KEY": "very-secret-key-value-123",
            "SMTP_PASSWORD": "smtp-pass-456", "FIO_TOKEN": "fio-token-789",
            "REDIS_URL": "redis://:redis-pw-000@127.0.0.1:6379/3",
            "DATABASE_OWNER_URL": "postgresql://owner:owner-pw-111@db.example/ispzone",
            "CONSOLE_ALLOWED_NETWORKS": "127.0.0.0/8, 192.0.2.0/24", "SMTP_HOST": "mail.example.cz"}


def test_the_admin_sees_the_settings_without_secrets(console_client):
    response = console_client("admin").get("/console/settings")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    for secret in ("very-secret-key-value-123", "smtp-pass-456", "fio-token-789",
                   "redis-pw-000", "owner-pw-111"):
        assert secret not in html
    assert "192.0.2.0/24" in html and "mail.example.cz" in html
    assert "postgresql://owner:***@db.example/ispzone" in html
    assert "redis://***@127.0.0.1:6379/3" in html
    assert "<code>SECRET_KEY</code></th><td><code>(set)</code>" in html
    assert "CONSOLE_TOTP_REQUIRED" in html and "VOIP_TOPUP_CAP" in html


def test_only_the_admin(console_client):
    for role in ("billing", "support", "readonly"):
        assert console_client(role).get("/console/settings").status_code == 403
