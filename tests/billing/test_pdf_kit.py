"""pdf_kit's fast paths make what reportlab's slow paths make: a plain paragraph skips the
markup parser but gets the same fragments; seeded font subsets are embedded once per process
and the PDF still carries every character as text."""

from __future__ import annotations

import random
from io import BytesIO

import pytest
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Paragraph, SimpleDocTemplate

from billing.documents.pdf_kit import (
    FONT,
    _styles,
    _xml_escape,
    ensure_fonts,
    para,
    seed_subsets,
)

TEXTS = [
    "Faktura – daňový doklad č. 2026000123",
    "Žaneta Řeháková",
    "Bankovní účet: 2001234561/2010",
    "AT&T <router> \"a\" 'b'",
    "Celkem k úhradě: 1\u00a0234,50\u00a0Kč",
    "x",
    "zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345",
    "  leading and trailing  ",
    "two\nlines",
    "Připsáno: 100,00 Kč    Odečteno: 50,00 Kč",
    "",
]


def frag_attributes(paragraph: Paragraph) -> list[dict]:
    return [dict(sorted(vars(f).items())) for f in paragraph.frags]


@pytest.mark.parametrize("style", ["base", "title", "heading", "total", "paid", "caption"])
@pytest.mark.parametrize("text", TEXTS)
def test_plain_paragraph_has_the_parsers_fragments(text, style):
    ensure_fonts()
    parsed = Paragraph(_xml_escape(text), _styles[style])
    fast = para(text, style)
    assert frag_attributes(fast) == frag_attributes(parsed)
    width = 60 * 2.83
    assert fast.wrap(width, 1000) == parsed.wrap(width, 1000)
    assert drawn(fast, width) == drawn(parsed, width)


def drawn(paragraph: Paragraph, width: float) -> list[str]:
    """The page operators that drawing ``paragraph`` produces."""
    canvas = Canvas(BytesIO(), pagesize=A4)
    paragraph.wrapOn(canvas, width, 1000)
    paragraph.drawOn(canvas, 50, 500)
    return canvas._code


def render(texts: list[str]) -> bytes:
    ensure_fonts()
    buffer = BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=A4)
    doc.build([para(t) for t in texts], onFirstPage=lambda canvas, _doc: seed_subsets(canvas))
    return buffer.getvalue()


def test_seeded_subsets_are_built_once_and_text_stays_extractable():
    from reportlab.pdfbase import pdfmetrics

    first = render(["Příliš žluťoučký kůň úpěl ďábelské ódy", "Ünïcode ∑ outside the seed"])
    cache = pdfmetrics.getFont(FONT).face._subset_cache
    entries = len(cache)
    second = render(["Jiná faktura, jiný zákazník: Řehoř Ňuňák", "Ünïcode ∑ outside the seed"])
    assert len(cache) == entries  # same subsets: the cached font programs were reused
    for pdf, words in ((first, ["Příliš žluťoučký kůň", "∑"]), (second, ["Řehoř Ňuňák", "∑"])):
        text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
        for word in words:
            assert word in text


ODD_CHARACTERS = list("ab Č.,:;-–&<>\"'/%€\t\n") + [
    "\u00a0", "\u2009", "\u2003", "\u202f", "\x85", "\u2028", "\x1c", "\u3000", "  ", "\u200b",
    "\ufeff", "\u200d", "\x00", "\x7f",
]


def test_any_text_gets_the_parsers_fragments():
    """Whitespace the parser collapses or strips, control characters, markup: whatever the
    fast path does not take as it is goes through the parser."""
    ensure_fonts()
    rng = random.Random(2026)
    for _ in range(5000):
        text = "".join(rng.choice(ODD_CHARACTERS) for _ in range(rng.randint(0, 12)))
        parsed = Paragraph(_xml_escape(text), _styles["base"])
        assert frag_attributes(para(text)) == frag_attributes(parsed), repr(text)


def table_operators(table_class, rows, style) -> list[str]:
    """The page operators that drawing a table of ``rows`` produces."""
    from reportlab.platypus import TableStyle

    canvas = Canvas(BytesIO(), pagesize=A4)
    table = table_class(rows, colWidths=[70, 60, 60, 80])
    table.setStyle(TableStyle(style))
    table.wrapOn(canvas, 400, 1000)
    table.drawOn(canvas, 40, 300)
    return canvas._code


@pytest.mark.parametrize("valign", ["TOP", "MIDDLE", "BOTTOM"])
def test_fast_table_draws_what_reportlabs_table_draws(valign):
    """FastTable writes plain-text cells itself: the same operators as reportlab's Table,
    for every alignment, multi-line and empty cells, characters outside the seeded subset,
    escapes, font and colour changes between cells, and flowables in cells."""
    from reportlab.lib import colors
    from reportlab.platypus import Table

    from billing.documents.pdf_kit import FONT_BOLD, FastTable

    ensure_fonts()
    rows = [
        ["Popis", "Cena za j.\nbez DPH", "Sazba\nDPH", "Celkem\ns DPH"],
        ["Internet (300/300)", "1\u00a0234,50\u00a0Kč", "21\u00a0%", "\\ back (slash)"],
        ["", "Ωμέγα ∑ Жж", para("Odstavec v buňce"), "x"],
        ["Součet", "", "12\u00a0%", "-1\u00a0961,00\u00a0Kč"],
    ]
    style = [
        ("FONT", (0, 0), (-1, -1), FONT, 8.5),
        ("FONT", (0, 0), (-1, 0), FONT_BOLD, 8, 9.5),
        ("TEXTCOLOR", (0, 1), (0, 1), colors.grey),
        ("ALIGN", (1, 0), (-1, -1), "RIGHT"),
        ("ALIGN", (2, 1), (2, -1), "CENTRE"),
        ("VALIGN", (0, 0), (-1, -1), valign),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.grey),
    ]
    assert table_operators(FastTable, rows, style) == table_operators(Table, rows, style)


def test_cached_font_objects_and_seed_are_reportlabs(monkeypatch):
    """The per-subset /Widths and ToUnicode objects formatted once per process, and the seed
    copied into each document, give the bytes reportlab's own TTFont.addObjects and
    splitString give (rl_config.invariant: no timestamps, so PDFs compare byte for byte)."""
    from reportlab import rl_config
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    from billing.documents import pdf_kit

    monkeypatch.setattr(rl_config, "invariant", 1)
    texts = ["Příliš žluťoučký kůň úpěl ďábelské ódy", "Ωμέγα ∑ outside the seed"]
    ours = [render(texts), render(texts)]
    fonts = [pdfmetrics.getFont(name) for name in (pdf_kit.FONT, pdf_kit.FONT_BOLD)]

    def split_seed(canvas):
        for font in fonts:
            font.splitString(pdf_kit.SUBSET_SEED, canvas._doc)

    monkeypatch.setitem(globals(), "seed_subsets", split_seed)  # render()'s
    for font in fonts:
        monkeypatch.setattr(font, "__class__", TTFont)
    assert render(texts) == ours[0] == ours[1]


def test_plain_paragraph_lines_are_reused_and_draw_the_same():
    """para()'s line breaking is computed once per style, text and width: a second paragraph
    of the same text reuses it and draws what reportlab's parser-made paragraph draws, at
    that width and at another."""
    from billing.documents.pdf_kit import _BROKEN_LINES

    ensure_fonts()
    text = "zapsaná v OR vedeném Městským soudem v Praze, oddíl C, vložka 12345"
    first, second = para(text), para(text)
    first.wrap(150, 1000)
    second.wrap(150, 1000)
    assert second.blPara is first.blPara
    assert ("base", text, 150, 150) in _BROKEN_LINES
    parsed = Paragraph(_xml_escape(text), _styles["base"])
    for width in (150, 400):
        assert drawn(para(text), width) == drawn(parsed, width)


def test_fast_page_compression_keeps_the_page_operators():
    """compress_pages_fast only changes zlib's effort: the pages decompress to the operators
    reportlab's own compression carries."""
    from billing.documents.pdf_kit import compress_pages_fast

    ensure_fonts()
    texts = ["Faktura – daňový doklad č. 2026000123", "Ωμέγα ∑ outside the seed"] * 60

    def build(fast: bool) -> bytes:
        buffer = BytesIO()
        doc = SimpleDocTemplate(buffer, pagesize=A4)

        def first(canvas, _doc):
            seed_subsets(canvas)
            if fast:
                compress_pages_fast(canvas)

        doc.build([para(t) for t in texts], onFirstPage=first, onLaterPages=lambda c, d: None)
        return buffer.getvalue()

    fast, default = PdfReader(BytesIO(build(True))), PdfReader(BytesIO(build(False)))
    assert len(fast.pages) == len(default.pages) > 1
    for ours, theirs in zip(fast.pages, default.pages, strict=True):
        assert ours.get_contents().get_data() == theirs.get_contents().get_data()
        assert ours.extract_text() == theirs.extract_text()
