"""The console's settings (environment variables; docs/console.md)."""

from __future__ import annotations

DEFAULTS = {
    # comma-separated networks (CIDR) allowed to reach /console; empty: everywhere. The client
    # address is the one ProxyFix reports (PROXY_FIX), so behind nginx it is the real client.
    "CONSOLE_ALLOWED_NETWORKS": "",
    # the roles that must use a TOTP second factor: "auto" (admin and billing in production,
    # nobody otherwise), "" (nobody), or a comma-separated list of roles
    "CONSOLE_TOTP_REQUIRED": "auto",
    # an operator's session ends after this much inactivity, and at the latest after MAX_HOURS
    "CONSOLE_SESSION_IDLE_MINUTES": 60,
    "CONSOLE_SESSION_MAX_HOURS": 12,
    # wrong second-factor codes per operator before the code page refuses (429)
    "CONSOLE_TOTP_FAILURES": "5/minute;20/hour",
    # the issuer name an authenticator app shows beside the login
    "CONSOLE_TOTP_ISSUER": "ispzone",
}
