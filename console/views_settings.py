"""The effective settings (admin only, read only): what the app runs with, from app.py's
and each package's defaults overridden by the environment. Secrets are never shown: a
setting that holds one says only whether it is set, and a URL's password is masked."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, render_template

from console.auth import allow
from console.blueprint import bp

# names that hold a secret (SECRET_KEY, SMTP_PASSWORD, FIO_TOKEN, a router's or NAS secret...)
SECRET_NAME = re.compile(r"SECRET|PASSWORD|PASSWD|TOKEN|PRIVATE|_KEY$|CREDENTIAL", re.I)
# Flask's and its extensions' own keys: not the operator's settings
INTERNAL = re.compile(r"^(RATELIMIT_|SESSION_COOKIE_|REMEMBER_COOKIE_|WTF_|BABEL_|JSON|"
                      r"TEMPLATES_|EXPLAIN_|PREFERRED_|MAX_COOKIE|TRAP_|PROPAGATE_|"
                      r"APPLICATION_ROOT|SERVER_NAME|USE_X_SENDFILE|SEND_FILE|"
                      r"PERMANENT_SESSION|TESTING$|DEBUG$|MAX_CONTENT|MAX_FORM|PROVIDE_AUTOMATIC|"
                      r"SESSION_REFRESH|TRUSTED_HOSTS)")


def shown(key: str, value) -> str:
    """How a setting is shown: secrets as set / not set, a URL without its password."""
    if SECRET_NAME.search(key):
        return "(set)" if value not in (None, "") else "(not set)"
    text = ", ".join(map(str, value)) if isinstance(value, tuple | list) else str(value)
    return _mask_url_passwords(text)


def _mask_url_passwords(text: str) -> str:
    if "://" not in text:
        return text
    parts = []
    for piece in text.split(","):
        try:
            url = urlsplit(piece.strip())
        except ValueError:
            parts.append(piece)
            continue
        if url.password:
            host = url.hostname or ""
            if url.port:
                host = f"{host}:{url.port}"
            netloc = f"{url.username}:***@{host}" if url.username else f"***@{host}"
            piece = (" " if piece.startswith(" ") else "") + urlunsplit(url._replace(netloc=netloc))
        parts.append(piece)
    return ",".join(parts)


def effective_settings(config) -> list[tuple[str, str]]:
    return [(key, shown(key, value)) for key, value in sorted(config.items())
            if key.isupper() and not INTERNAL.match(key)]


@bp.get("/settings")
@allow("admin")
def settings():
    from web.settings import environment

    return render_template("console/settings.html", rows=effective_settings(current_app.config),
                           environment=environment(current_app.config))
