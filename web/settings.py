"""Package settings: each package declares its defaults; the environment overrides them and
the test configuration overrides both.

``apply(app, {"VOIP_TOPUP_CAP": Decimal("1000"), ...})`` in a package's ``init_app`` sets
each key that the app's configuration does not already hold, reading ``os.environ[key]``
first and converting it to the default's type (int, Decimal, bool, tuple of str/int/Decimal).
"""

from __future__ import annotations

import os
from decimal import Decimal, InvalidOperation

from flask import Flask

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def convert(key: str, raw: str, default):
    try:
        if isinstance(default, bool):
            value = raw.strip().lower()
            if value not in TRUE | FALSE:
                raise ValueError(raw)
            return value in TRUE
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, Decimal):
            return Decimal(raw.strip().replace(",", "."))
        if isinstance(default, tuple):
            kind = type(default[0]) if default else str
            parts = [p.strip() for p in raw.replace(";", ",").split(",") if p.strip()]
            if kind is Decimal:
                return tuple(Decimal(p.replace(" ", "")) for p in parts)
            return tuple(kind(p) for p in parts)
    except (ValueError, InvalidOperation) as exc:
        raise RuntimeError(f"setting {key}={raw!r} is not a valid {type(default).__name__}") from exc
    return raw


def apply(app: Flask, defaults: dict) -> None:
    for key, default in defaults.items():
        if key in app.config:
            continue
        if key in os.environ:
            app.config[key] = convert(key, os.environ[key], default)
        else:
            app.config[key] = default


# -- production --------------------------------------------------------------------------------


class ConfigurationError(RuntimeError):
    """A setting that production needs is missing or malformed: the app does not start."""


# What an operator must set; without one the app refuses to start in production (README,
# "Production"). Development (`make run`: ISPZONE_ENV=development) and tests (TESTING) fall
# back to the defaults in app.py.
REQUIRED_IN_PRODUCTION: dict[str, str] = {
    "PUBLIC_URL": "the address customers use, e.g. https://zona.priklad.net (every link in "
    "e-mails is built from it, and only its host names are served)",
    "SECRET_KEY": "a long random secret, the same for every app server (signs cookies)",
    "DATABASE_URL": "the application's database role, e.g. postgresql://ispzone@db/ispzone",
    "PROXY_FIX": "the reverse proxy in front, e.g. x_for=1,x_proto=1,x_host=1 behind one "
    "nginx, or 'none' when clients connect to gunicorn directly",
}
ENVIRONMENTS = ("production", "development")


def environment(config) -> str:
    if config.get("TESTING"):
        return "testing"
    value = (config.get("ISPZONE_ENV") or os.environ.get("ISPZONE_ENV") or "production")
    value = value.strip().lower()
    if value not in ENVIRONMENTS:
        raise RuntimeError(f"ISPZONE_ENV={value!r}: use 'production' or 'development'")
    return value


def check_production(config) -> None:
    """Refuse to start in production when a required setting is missing or malformed; the
    message names every one of them and what to put there."""
    if environment(config) != "production":
        return
    problems = [
        f"  {key}: {meaning}"
        for key, meaning in REQUIRED_IN_PRODUCTION.items()
        if not str(config.get(key) or "").strip()
    ]
    url = str(config.get("PUBLIC_URL") or "").strip()
    if url:
        try:
            public_url_parts(url)
        except ValueError as exc:
            problems.append(f"  PUBLIC_URL: {exc}")
    proxy = str(config.get("PROXY_FIX") or "").strip()
    if proxy:
        try:
            proxy_fix_options(proxy)
        except ValueError as exc:
            problems.append(f"  PROXY_FIX: {exc}")
    if problems:
        raise ConfigurationError(
            "ispzone refuses to start in production without these settings (environment "
            "variables; see README, 'Production'; ISPZONE_ENV=development runs the local demo "
            "with defaults instead):\n" + "\n".join(problems)
        )


def public_url_parts(url: str):
    """``PUBLIC_URL`` split; ValueError unless it is ``http(s)://host[:port][/prefix]``."""
    from urllib.parse import urlsplit

    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an absolute http(s) URL such as https://zona.priklad.net")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError(f"{url!r} must be scheme, host and at most a path prefix")
    return parts


PROXY_FIX_KEYS = ("x_for", "x_proto", "x_host", "x_port", "x_prefix")


def proxy_fix_options(value: str | None) -> dict[str, int] | None:
    """``PROXY_FIX`` as Werkzeug ProxyFix arguments; None for '' / 'none' (no proxy)."""
    value = (value or "").strip()
    if value.lower() in ("", "none", "off", "0"):
        return None
    options: dict[str, int] = {}
    for part in value.split(","):
        key, sep, number = part.partition("=")
        key = key.strip()
        if not sep or key not in PROXY_FIX_KEYS or not number.strip().isdigit():
            raise ValueError(
                f"{value!r}: expected e.g. x_for=1,x_proto=1,x_host=1 "
                f"(keys {', '.join(PROXY_FIX_KEYS)}), or 'none'"
            )
        options[key] = int(number)
    return options
