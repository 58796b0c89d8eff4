"""Login throttling that stops guessing but lets the real customer in.

Three counters, all in Flask-Limiter's storage (memory, or Redis when REDIS_URL is set):

* per client IP: failed logins per minute/hour (a decorator on the login views);
* per account, for browsers we do not know: at most ``LOGIN_ACCOUNT_FAILURES`` (default
  100/hour) failures reach password verification; beyond that the attempt is refused
  without checking the password;
* per account *and known device*: a browser that has logged in to this account before holds
  a signed device cookie (OWASP "device cookies"). Its failures are counted on their own
  (``LOGIN_DEVICE_FAILURES``, default 10/hour) and not against the account limit, so an
  attacker exhausting the account limit does not lock out the real customer's browser.

Unknown account numbers are counted exactly like known ones: the answer does not tell them apart.
"""

from __future__ import annotations

import secrets

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse

from web.extensions import limiter

DEVICE_COOKIE = "ispzone_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="device-cookie")


def _device_nonce(scope: str, account: str) -> str | None:
    raw = request.cookies.get(f"{DEVICE_COOKIE}_{scope}")
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or data.get("a") != account:
        return None
    return str(data.get("n"))


def _keys(scope: str, account: str) -> tuple[object, tuple[str, ...]]:
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "ispzone"
    nonce = _device_nonce(scope, account)
    if nonce:
        item = parse(current_app.config["LOGIN_DEVICE_FAILURES"])
        return item, (prefix, "login-fail-device", scope, account, nonce)
    item = parse(current_app.config["LOGIN_ACCOUNT_FAILURES"])
    return item, (prefix, "login-fail-account", scope, account)


def may_try(scope: str, account: str) -> bool:
    """Whether this attempt may reach password verification."""
    item, ids = _keys(scope, account)
    return limiter.limiter.test(item, *ids)


def failed(scope: str, account: str) -> None:
    item, ids = _keys(scope, account)
    limiter.limiter.hit(item, *ids)


def remember_device(response, scope: str, account: str) -> None:
    """After a successful login: mark this browser as known for ``account``."""
    value = _serializer().dumps({"a": account, "n": secrets.token_urlsafe(12)})
    response.set_cookie(
        f"{DEVICE_COOKIE}_{scope}",
        value,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
    )


def ip_limit() -> str:
    return current_app.config["LOGIN_IP_FAILURES"]


def only_failures(response) -> bool:
    """Flask-Limiter ``deduct_when``: count a login POST against the IP only when it failed."""
    return response.status_code not in (302, 303)
