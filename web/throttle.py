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

A limit over all accounts (the VoIP zone's suffix spraying, :mod:`voip.auth`) must not lock
everyone out: :func:`slowdown` turns it into a growing, capped delay instead of a refusal.
"""

from __future__ import annotations

import secrets
import time

from flask import current_app, request
from itsdangerous import BadSignature, URLSafeSerializer
from limits import parse, parse_many

from web.extensions import limiter

DEVICE_COOKIE = "ispzone_device"


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.secret_key, salt="device-cookie")


def _device_nonce(scope: str, account: str) -> str | None:
    found = remembered(scope)
    return found[1] if found and found[0] == account else None


def remembered(scope: str) -> tuple[str, str] | None:
    """The (account, nonce) this browser's device cookie of ``scope`` names, if it is ours."""
    raw = request.cookies.get(f"{DEVICE_COOKIE}_{scope}")
    if not raw:
        return None
    try:
        data = _serializer().loads(raw)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("a"), str) or not data.get("n"):
        return None
    return data["a"], str(data["n"])


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


# -- slowing down instead of refusing -------------------------------------------------------

# how many times the limit the counter behind a slowdown can count (it only needs to reach
# the cap of the delay)
_SLOW_HEADROOM = 100
sleep = time.sleep  # tests record the delays instead of waiting


def _counting(item):
    return type(item)(item.amount * _SLOW_HEADROOM, item.multiples, item.namespace)


def count_toward_slowdown(limits_spec: str, *ids: str) -> None:
    for item in parse_many(limits_spec):
        limiter.limiter.hit(_counting(item), *ids)


def slowdown(limits_spec: str, *ids: str, base: float, cap: float) -> float:
    """The delay for one more attempt: 0 below each limit of ``limits_spec`` (e.g.
    ``"300/hour"``), then ``base`` seconds, doubling with every further tenth of the limit,
    at most ``cap``. A delay, never a refusal: a real customer still gets in, slower."""
    delay = 0.0
    for item in parse_many(limits_spec):
        counter = _counting(item)
        count = counter.amount - limiter.limiter.get_window_stats(counter, *ids).remaining
        over = count - item.amount
        if over >= 0:
            step = max(1, item.amount // 10)
            delay = max(delay, min(cap, base * 2 ** min(over // step, 30)))
    return delay


def ip_limit() -> str:
    return current_app.config["LOGIN_IP_FAILURES"]


def only_failures(response) -> bool:
    """Flask-Limiter ``deduct_when``: count a login POST against the IP only when it failed."""
    return response.status_code not in (302, 303)
