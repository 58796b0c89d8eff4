"""Czech catalog entries whose English text no code uses any more are removed with it (the
statement upload's text from before it became a background job; the cash cancellation's
"correct it by hand first" refusal): the catalogs still compile and translate the texts
that replaced them."""

from __future__ import annotations

from pathlib import Path

from flask_babel import force_locale, gettext

from web.i18n import load_catalog

ROOT = Path(__file__).resolve().parents[2]
CS = ROOT / "translations" / "cs" / "LC_MESSAGES"
RETIRED = (
    "The page waits while the file is imported and paired",
    "correct it by hand first",
)
SOURCES = ("*.py", "*.html", "*.txt")


def _sources():
    for pattern in SOURCES:
        for path in ROOT.rglob(pattern):
            rel = path.relative_to(ROOT).as_posix()
            if not rel.startswith((".venv/", "tests/", "bench/", "build/")):
                yield path


def test_retired_texts_are_neither_in_the_code_nor_in_the_catalog():
    for text in RETIRED:
        assert not [p for p in _sources() if text in p.read_text(encoding="utf-8")], text
        for po in CS.glob("*.po"):
            assert text not in po.read_text(encoding="utf-8"), (po.name, text)


def test_the_upload_form_reads_its_current_text_in_czech(app):
    catalog = load_catalog(CS, locale="cs")
    current = ("At most %(size)s. The file is checked at once; its import and pairing then run "
               "in the background and its page shows the progress and the summary. A file "
               "already imported adds nothing.")
    assert catalog.get(current) is not None and catalog.get(current).string
    with app.test_request_context("/"), force_locale("cs"):
        assert gettext(current, size="5 MB").startswith("Nejvýše 5 MB")
