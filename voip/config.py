"""VoIP settings (environment variables, see README "Configuration")."""

from __future__ import annotations

from decimal import Decimal

DEFAULTS = {
    # the login: this many last digits of the phone number
    "VOIP_SUFFIX_LENGTH": 3,
    # coupon face values in CZK, VAT included
    "VOIP_COUPONS": (Decimal("100"), Decimal("200"), Decimal("300"), Decimal("500")),
    # top-ups per calendar month (Europe/Prague) per line, unless the line has its own cap
    "VOIP_TOPUP_CAP": Decimal("1000"),
    "VOIP_TOPUP_VAT_RATE": Decimal("21"),
    "VOIP_TOPUP_DUE_DAYS": 14,
    # Asterisk writes CDR times in the PBX's local time
    "VOIP_CDR_TIMEZONE": "Europe/Prague",
    # login throttling (voip/auth.py): failures per client IP and per suffix refuse (429);
    # a browser that has logged in to the line before (device cookie) is not counted per
    # suffix but on its own; failures in all (suffix spraying) beyond the global limit slow
    # every unknown browser down (a delay from DELAY seconds, doubling, at most DELAY_MAX)
    "VOIP_LOGIN_IP_FAILURES": "20/minute;200/hour",
    "VOIP_LOGIN_SUFFIX_FAILURES": "20/hour",
    "VOIP_LOGIN_DEVICE_FAILURES": "10/hour",
    "VOIP_LOGIN_GLOBAL_FAILURES": "300/hour",
    "VOIP_LOGIN_GLOBAL_DELAY": Decimal("0.5"),
    "VOIP_LOGIN_GLOBAL_DELAY_MAX": Decimal("5"),
}
