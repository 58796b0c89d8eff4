"""VoIP settings (environment variables, see README "Configuration")."""

from __future__ import annotations

from decimal import Decimal

DEFAULTS = {
    # the login: this many last digits of the phone number
    "VOIP_SUFFIX_LENGTH": 3,
    # coupon face values in CZK, VAT included
    "VOIP_COUPONS": (Decimal("100"), Decimal("200"), Decimal("300"), Decimal("500")),
    # top-ups per calendar month (Europe/Prague) per account, unless the account has its own cap
    "VOIP_TOPUP_CAP": Decimal("1000"),
    "VOIP_TOPUP_VAT_RATE": Decimal("21"),
    "VOIP_TOPUP_DUE_DAYS": 14,
    # Asterisk writes CDR times in the PBX's local time
    "VOIP_CDR_TIMEZONE": "Europe/Prague",
    # login throttling: failures per client IP, per suffix, and in all (suffix spraying)
    "VOIP_LOGIN_IP_FAILURES": "20/minute;200/hour",
    "VOIP_LOGIN_SUFFIX_FAILURES": "20/hour",
    "VOIP_LOGIN_GLOBAL_FAILURES": "300/hour",
}
