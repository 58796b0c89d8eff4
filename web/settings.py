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
