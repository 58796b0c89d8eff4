"""Language choice: the user's explicit choice (session), then the customer's, then Czech."""

from __future__ import annotations

import os
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


def catalog_files(lang_dir: Path) -> list[Path]:
    """``messages.po`` plus each package's ``messages-<part>.po`` (one file per package, so
    that packages translate their own strings without editing one shared file)."""
    main = lang_dir / "messages.po"
    parts = sorted(lang_dir.glob("messages-*.po"))
    return ([main] if main.exists() else []) + parts


def load_catalog(lang_dir: Path, locale: str | None = None):
    """The merged catalog of a language (the first file that has a message wins)."""
    merged = None
    for path in catalog_files(lang_dir):
        with path.open("rb") as f:
            catalog = read_po(f, locale=locale)
        if merged is None:
            merged = catalog
            continue
        for message in catalog:
            if message.id and merged.get(message.id, message.context) is None:
                merged[message.id] = message
    return merged


def compile_translations(root: Path) -> None:
    """Compile the ``.po`` catalogs of each language into one ``messages.mo`` when it is
    missing or older than any of them (no build step needed)."""
    for lang_dir in root.glob("*/LC_MESSAGES"):
        sources = catalog_files(lang_dir)
        if not sources:
            continue
        mo_path = lang_dir / "messages.mo"
        newest = max(p.stat().st_mtime for p in sources)
        if mo_path.exists() and mo_path.stat().st_mtime >= newest:
            continue
        catalog = load_catalog(lang_dir)
        tmp = mo_path.with_name(f"messages.mo.{os.getpid()}.tmp")
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
