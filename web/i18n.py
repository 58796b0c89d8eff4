"""Language choice: the user's explicit choice (session), then the customer's, then Czech."""

from __future__ import annotations

from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, request, session

LANGUAGES = ("cs", "en")


def select_locale() -> str:
    lang = session.get("lang")
    if lang in LANGUAGES:
        return lang
    from flask_login import current_user

    if getattr(current_user, "is_authenticated", False):
        lang = getattr(current_user.customer, "language", None)
        if lang in LANGUAGES:
            return lang
    if request and request.args.get("lang") in LANGUAGES:  # read-only hint, never stored
        return request.args["lang"]
    return "cs"


def compile_translations(root: Path) -> None:
    """Compile ``.po`` catalogs to ``.mo`` when missing or stale (no build step needed)."""
    for po_path in root.glob("*/LC_MESSAGES/*.po"):
        mo_path = po_path.with_suffix(".mo")
        if mo_path.exists() and mo_path.stat().st_mtime >= po_path.stat().st_mtime:
            continue
        with po_path.open("rb") as f:
            catalog = read_po(f)
        tmp = mo_path.with_suffix(".mo.tmp")
        with tmp.open("wb") as f:
            write_mo(f, catalog)
        tmp.replace(mo_path)


def init_app(app: Flask) -> None:
    translations = Path(app.root_path) / "translations"
    if translations.exists():
        compile_translations(translations)
    app.jinja_env.globals["current_lang"] = current_lang


def current_lang() -> str:
    from flask_babel import get_locale

    loc = get_locale()
    return loc.language if loc else "cs"
