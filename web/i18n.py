"""Language choice: the user's explicit choice (session), then the customer's, then Czech."""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, g, request, session
from flask.globals import _cv_app
from jinja2 import pass_context
from markupsafe import Markup

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
    lang = g.get("recognised_language")
    if lang in LANGUAGES:
        return lang
    if request and request.args.get("lang") in LANGUAGES:  # read-only hint, never stored
        return request.args["lang"]
    return "cs"


def speak_language_of(customer_id: int) -> None:
    """A customer recognised without logging in (the warning page knows them by their
    address) reads the page in their own language, unless this browser chose one."""
    from flask_babel import refresh
    from sqlalchemy import select

    from billing.models import Customer
    from web.database import db

    g.recognised_language = db().scalar(
        select(Customer.language).where(Customer.id == customer_id))
    refresh()  # the locale may have been chosen already in this request


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
    """Before Flask-Babel's init_app: compile the catalogs."""
    translations = Path(app.root_path) / "translations"
    if translations.exists():
        compile_translations(translations)


def init_jinja(app: Flask) -> None:
    """After Flask-Babel's init_app: templates translate through :func:`translations`, the
    same catalogs by a shorter path (a page calls gettext some 30 times; Flask-Babel's path
    resolved ``g`` and the locale again on each call, a tenth of the page's time)."""
    app.jinja_env.globals["current_lang"] = current_lang
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True,
    )
    # ``_()`` and ``gettext()`` by the shortest path: Jinja's newstyle gettext went through
    # the ``_`` alias, resolved ``gettext`` in the context and called it, and that called
    # the catalog lookup, each by ``Context.call`` (three calls of it per message, some 30
    # messages per page). Same result: the translation, Markup under autoescape, and always
    # formatted with the keyword arguments (``%%`` is ``%`` also without any).
    app.jinja_env.globals["_"] = app.jinja_env.globals["gettext"] = _template_gettext


@pass_context
def _template_gettext(context, string: str, /, **variables) -> str:
    text = translations().ugettext(string)
    if context.eval_ctx.autoescape:
        text = Markup(text)
    if not variables and "%" not in text:
        return text  # what ``text % {}`` gives, without Markup's escaping helper around {}
    return text % variables


def _babel_state():
    """Flask-Babel's per-context namespace (``g._flask_babel``: the locale it chose or that
    ``force_locale`` set, and the domain), read without the ``g`` proxy; None outside an
    application context or before Flask-Babel first looked."""
    ctx = _cv_app.get(None)
    if ctx is None:
        return None
    return ctx.g.__dict__.get("_flask_babel")


def current_locale():
    """flask_babel.get_locale(), by the short path once it has been chosen."""
    state = _babel_state()
    locale = getattr(state, "babel_locale", None) if state is not None else None
    if locale is None:
        from flask_babel import get_locale

        locale = get_locale()
    return locale


def current_lang() -> str:
    """``cs`` or ``en`` for this request (or the locale forced by ``force_locale``)."""
    locale = current_locale()
    return locale.language if locale else "cs"


def translations():
    """flask_babel.get_translations(), cached per application, locale and domain (the
    catalogs are read once per process, as Flask-Babel's own cache does)."""
    ctx = _cv_app.get(None)
    if ctx is None:
        from flask_babel import get_translations

        return get_translations()
    namespace = ctx.g.__dict__
    state = namespace.get("_flask_babel")
    locale = getattr(state, "babel_locale", None) if state is not None else None
    domain = getattr(state, "babel_domain", None) if state is not None else None
    # the last answer of this context, while its locale and domain are the same objects
    # (a page asks some 30 times; the app-wide cache below compares a new Locale object of
    # each request by value, in Python, on every lookup)
    last = namespace.get("_ispzone_translations")
    if last is not None and last[0] is locale and last[1] is domain and locale is not None:
        return last[2]
    cache = ctx.app.extensions.setdefault("ispzone.translations", {})
    found = cache.get((locale, domain)) if locale is not None and domain is not None else None
    if found is None:
        from flask_babel import get_translations

        found = get_translations()  # chooses (and stores) the locale and domain if needed
        state = ctx.g.__dict__.get("_flask_babel")
        locale = getattr(state, "babel_locale", None)
        domain = getattr(state, "babel_domain", None)
        if locale is not None and domain is not None:
            cache[(locale, domain)] = found
    if locale is not None and domain is not None:
        namespace["_ispzone_translations"] = (locale, domain, found)
    return found
