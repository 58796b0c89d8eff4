"""Building blocks of our PDFs (reportlab): the vendored DejaVu fonts, registered once per
process so that Czech diacritics render and stay extractable as text; paragraph styles;
Czech formatting of money, dates and quantities; a QR code flowable. billing/documents/pdf.py lays the
invoice out with them.
"""

from __future__ import annotations

import re
import threading
import zlib
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import cache, lru_cache
from pathlib import Path

import segno
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.rl_accel import fp_str
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfdoc, pdfmetrics
from reportlab.pdfbase.ttfonts import (
    FF_NONSYMBOLIC,
    FF_SYMBOLIC,
    SUBSETN,
    TTFont,
    TTFontFace,
    makeToUnicodeCMap,
)
from reportlab.platypus import Flowable, Paragraph, Table

from billing.documents.qr_alnum import qr_matrix

FONT = "DejaVuSans"
FONT_BOLD = "DejaVuSans-Bold"
FONT_DIR = Path(__file__).parent / "fonts"
NBSP = "\u00a0"
CENT = Decimal("0.01")
QR_SIZE = 36 * mm
CURRENCY_SYMBOLS = {"CZK": "Kč", "EUR": "€"}

_fonts_lock = threading.Lock()
_fonts_ready = False
_styles: dict[str, ParagraphStyle] = {}


# -- formatting ------------------------------------------------------------------------------


def format_money(amount: Decimal, currency: str = "CZK") -> str:
    """Czech style: ``1 234,50 Kč`` with non-breaking spaces (U+00A0)."""
    value = Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)
    grouped = f"{abs(value):,.2f}".replace(",", NBSP).replace(".", ",")
    sign = "-" if value < 0 else ""
    return f"{sign}{grouped}{NBSP}{CURRENCY_SYMBOLS.get(currency, currency)}"


def format_date(value: date) -> str:
    """Czech style: ``22. 11. 2026`` (non-breaking spaces)."""
    return f"{value.day}.{NBSP}{value.month}.{NBSP}{value.year}"


def format_quantity(value: Decimal) -> str:
    """``1``, ``2,5``, ``0,125``: no trailing zeros, decimal comma."""
    text = f"{Decimal(value).normalize():f}"
    return text.replace(".", ",")


def format_rate(rate: Decimal) -> str:
    return f"{format_quantity(rate)}{NBSP}%"


# -- fonts and styles ------------------------------------------------------------------------


def ensure_fonts() -> None:
    """Register the DejaVu fonts once per process (parsing a TTF takes tens of ms)."""
    global _fonts_ready
    if _fonts_ready:
        return
    with _fonts_lock:
        if _fonts_ready:
            return
        # binary streams: ASCII85 would cost CPU and make every stream a quarter larger
        rl_config.useA85 = 0
        for name, file in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
            font = TTFont(name, str(FONT_DIR / file))
            font.__class__ = _CachedSubsetFont
            font.face.__class__ = _CachedSubsetFace
            pdfmetrics.registerFont(font)
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
        )
        _styles.update(_make_styles())
        _fonts_ready = True


# Every document's font subsets start with these characters, in this order (seed_subsets):
# the subsets of most documents are then the same list, and their embedded font programs are
# built and compressed once per process instead of once per PDF (a third of a PDF's CPU).
# A few unused glyphs more in the file (a few kB); characters outside are added as before.
SUBSET_SEED = (
    "".join(chr(c) for c in range(33, 127))
    + "áčďéěíňóřšťúůýžÁČĎÉĚÍŇÓŘŠŤÚŮÝŽäöüÄÖÜß–—„“”‚‘’…·•€§°×"
)


def seed_subsets(canvas) -> None:
    """Assign SUBSET_SEED's codes first in this document's font subsets (call it in the first
    page's onPage, before anything is drawn).

    The assignments are those of ``font.splitString(SUBSET_SEED, doc)`` on a fresh document,
    computed once per font and copied into the document's state (splitting the seed character
    by character was ~5 % of a PDF's CPU)."""
    doc = canvas._doc
    for name in (FONT, FONT_BOLD):
        font = pdfmetrics.getFont(name)
        if doc in font.state:  # something was already split: the ordinary way
            font.splitString(SUBSET_SEED, doc)
            continue
        seeded = _seeded_state(name)
        state = font.state[doc] = TTFont.State(font._asciiReadable, font)
        state.assignments = dict(seeded.assignments)
        state.subsets = [list(subset) for subset in seeded.subsets]
        state.nextCode = seeded.nextCode


@cache
def _seeded_state(name: str):
    """A font's subset state after splitting SUBSET_SEED in an otherwise empty document."""
    font = pdfmetrics.getFont(name)
    document = _SeedDocument()  # the states are keyed by document (a WeakKeyDictionary)
    font.splitString(SUBSET_SEED, document)
    return font.state.pop(document)


PAGE_COMPRESSION_LEVEL = 1
"""zlib level of our PDFs' page streams (reportlab compresses at zlib's default, 6): an
invoice's ~14 kB of page operators compress to ~3.7 kB instead of ~3.1 kB in well under
half the CPU (0.09 instead of 0.23 ms)."""


def compress_pages_fast(canvas) -> None:
    """Have this document's pages compressed at PAGE_COMPRESSION_LEVEL (call it in the first
    page's onPage, like seed_subsets). The page keeps reportlab's stream, FlateDecode as the
    only filter; only the compressor's effort differs."""
    doc = canvas._doc
    if doc.encrypt.__class__ is not pdfdoc.NoEncryption or rl_config.useA85:
        return
    add_page = doc.addPage

    def add_compressed_page(page) -> None:
        stream = page.stream
        if page.compression and not page.Contents and stream:
            contents = pdfdoc.PDFStream()
            data = stream.encode("utf8") if isinstance(stream, str) else stream
            contents.content = zlib.compress(data, PAGE_COMPRESSION_LEVEL)
            contents.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
            contents.filters = []
            contents.__Comment__ = "page stream"
            page.Contents = contents
        add_page(page)

    doc.addPage = add_compressed_page


class _SeedDocument:
    """A stand-in document for _seeded_state (only a weak-referenceable key)."""


class _CachedSubsetFont(TTFont):
    """A TTF font whose per-subset PDF objects that do not depend on the document (the
    /Widths array, the ToUnicode CMap, Flate-compressed) are formatted once per process and
    subset instead of once per PDF (formatting the widths number by number was ~15 % of a
    PDF's CPU). The output is byte for byte reportlab's (TTFont.addObjects, reportlab 4-5)."""

    _subset_objects: dict[tuple[int, tuple[int, ...]], tuple[bytes, bytes]]

    def splitString(self, text, doc, encoding="utf-8"):  # noqa: N802 (reportlab's name)
        """reportlab's TTFont.splitString, with a fast path for the usual case: every
        character already has its code in the document's first subset (the seed), so the
        result is one chunk of those codes; anything else goes reportlab's way."""
        state = self.state.get(doc)
        if state is not None and text.__class__ is str:
            assignments = state.assignments
            try:  # NBSP is drawn as a space (code 32), as reportlab does
                codes = bytes([assignments[c] for c in map(ord, text.replace(NBSP, " "))])
            except (KeyError, ValueError):  # a new character, or a code beyond subset 0
                pass
            else:
                return [(0, codes)] if codes else []
        return super().splitString(text, doc, encoding)

    def addObjects(self, doc):  # noqa: N802 (reportlab's name)
        if doc.encrypt.__class__ is not pdfdoc.NoEncryption or not doc.compression:
            return super().addObjects(doc)
        try:
            state = self.state[doc]
        except KeyError:
            state = self.state[doc] = TTFont.State(self._asciiReadable)
        state.frozen = 1
        cache = self.__dict__.setdefault("_subset_objects", {})
        basic_fonts = doc.idToObject["BasicFonts"].dict
        for n, subset in enumerate(state.subsets):
            internal_name = self.getSubsetInternalName(n, doc)[1:]
            base_font_name = b"".join(
                (SUBSETN(n), b"+", self.face.name, self.face.subfontNameX)
            ).decode("pdfdoc")
            key = (n, tuple(subset))
            entry = cache.get(key)
            if entry is None:
                widths = pdfdoc.PDFArray(list(map(self.face.getCharWidth, subset)))
                entry = (
                    widths.format(doc),
                    zlib.compress(makeToUnicodeCMap(base_font_name, subset).encode("utf8")),
                )
                if len(cache) < 256:
                    cache[key] = entry
            widths_bytes, cmap_compressed = entry
            pdf_font = pdfdoc.PDFTrueTypeFont()
            pdf_font.__Comment__ = f"Font {self.fontName} subset {n}"
            pdf_font.Name = internal_name
            pdf_font.BaseFont = base_font_name
            pdf_font.FirstChar = 0
            pdf_font.LastChar = len(subset) - 1
            pdf_font.Widths = widths_bytes  # pdfdoc.format passes bytes through
            cmap_stream = pdfdoc.PDFStream()
            cmap_stream.content = cmap_compressed
            cmap_stream.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
            cmap_stream.filters = []
            pdf_font.ToUnicode = doc.Reference(cmap_stream, "toUnicodeCMap:" + base_font_name)
            pdf_font.FontDescriptor = self.face.addSubsetObjects(doc, base_font_name, subset)
            doc.Reference(pdf_font, internal_name)
            basic_fonts[internal_name] = pdf_font
        del self.state[doc]


class _CachedSubsetFace(TTFontFace):
    """A TTF face whose embedded subsets (the font program, Flate-compressed) are cached by
    the subset's code list: the same glyphs in the same order give the same bytes."""

    _subset_cache: dict[tuple[int, ...], tuple[bytes, int]]

    def addSubsetObjects(self, doc, fontname, subset):  # noqa: N802 (reportlab's name)
        if not doc.compression or doc.encrypt.__class__ is not pdfdoc.NoEncryption:
            return super().addSubsetObjects(doc, fontname, subset)
        cache = self.__dict__.setdefault("_subset_cache", {})
        key = tuple(subset)
        entry = cache.get(key)
        if entry is None:
            raw = self.makeSubset(subset)
            entry = (zlib.compress(raw), len(raw))
            if len(cache) < 64:
                cache[key] = entry
        compressed, length1 = entry
        font_file = pdfdoc.PDFStream()
        font_file.content = compressed
        font_file.dictionary["Length1"] = length1
        font_file.dictionary["Filter"] = pdfdoc.PDFArray([pdfdoc.PDFName("FlateDecode")])
        font_file.filters = []
        font_file_ref = doc.Reference(font_file, f"fontFile:{self.filename}({fontname})")
        # the rest as reportlab's TTFontFace.addSubsetObjects (reportlab 4-5)
        descriptor = pdfdoc.PDFDictionary({
            "Type": "/FontDescriptor",
            "Ascent": self.ascent,
            "CapHeight": self.capHeight,
            "Descent": self.descent,
            "Flags": (self.flags & ~FF_NONSYMBOLIC) | FF_SYMBOLIC,
            "FontBBox": pdfdoc.PDFArray(self.bbox),
            "FontName": pdfdoc.PDFName(fontname),
            "ItalicAngle": self.italicAngle,
            "StemV": self.stemV,
            "FontFile2": font_file_ref,
            "MissingWidth": self.defaultWidth,
        })
        return doc.Reference(descriptor, "fontDescriptor:" + fontname)


def _make_styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName=FONT, fontSize=9, leading=11.5)
    return {
        "base": base,
        "title": ParagraphStyle("title", parent=base, fontName=FONT_BOLD, fontSize=15, leading=19),
        "heading": ParagraphStyle(
            "heading", parent=base, fontName=FONT_BOLD, fontSize=8, textColor=colors.grey
        ),
        "party": ParagraphStyle(
            "party", parent=base, fontName=FONT_BOLD, fontSize=10.5, leading=13
        ),
        "total": ParagraphStyle(
            "total", parent=base, fontName=FONT_BOLD, fontSize=12, leading=15, alignment=TA_RIGHT
        ),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, alignment=TA_CENTER),
        "right": ParagraphStyle("right", parent=base, alignment=TA_RIGHT),
        # a paid invoice says so first, large (issue 16)
        "paid": ParagraphStyle(
            "paid", parent=base, fontName=FONT_BOLD, fontSize=20, leading=24,
            alignment=TA_RIGHT, textColor=colors.HexColor("#166534"),
        ),
    }


def para(text: str, style: str = "base") -> Paragraph:
    """A paragraph of plain text in one of our styles.

    Plain one-line text skips reportlab's markup parser (an HTMLParser per paragraph, a
    tenth of a PDF's CPU): its one fragment is the style's fragment with this text, which is
    what the parser makes of escaped plain text (tests/billing/test_pdf_kit.py compares)."""
    if not _is_plain(text):  # the parser's way
        return Paragraph(_xml_escape(text), _styles[style])
    frag = _style_frag(style).clone(text=text)
    paragraph = _PlainParagraph(text, _styles[style], frags=[frag])
    paragraph._plain_key = (style, text)
    return paragraph


class _PlainParagraph(Paragraph):
    """A plain-text paragraph of para(): its line breaking depends only on the style, the
    text and the widths, so it is computed once per process for each of them (the same
    labels, supplier block and amounts recur on every invoice of a run; breaking lines was
    a tenth of a PDF's CPU). The lines are only read when drawing and splitting. Paragraphs
    that reportlab makes from this one (split) have no key and break their lines anew."""

    _plain_key: tuple[str, str] | None = None

    def breakLines(self, width):  # noqa: N802 (reportlab's name)
        if self._plain_key is None:
            return super().breakLines(width)
        key = (*self._plain_key, *width)
        lines = _BROKEN_LINES.get(key)
        if lines is None:
            lines = super().breakLines(width)
            if len(_BROKEN_LINES) >= 8192:  # a run's distinct texts are far fewer
                _BROKEN_LINES.clear()
            _BROKEN_LINES[key] = lines
        return lines


_BROKEN_LINES: dict[tuple, object] = {}


def _is_plain(text: str) -> bool:
    """Text the parser would take as it is: printable (no control, format or unusual space
    characters: it strips or collapses those; NBSP is fine), no markup or entity, no run of
    spaces, no space at either end."""
    return (
        text.replace(NBSP, "x").isprintable()
        and text[:1] not in ("", " ")
        and text[-1] != " "
        and "  " not in text
        and not _MARKUP.search(text)
    )


_MARKUP = re.compile(r"[&<>]")


@cache
def _style_frag(style: str):
    """The fragment reportlab's parser makes of a plain word in ``style``."""
    (frag,) = Paragraph("x", _styles[style]).frags
    return frag


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# -- tables ------------------------------------------------------------------------------------


class FastTable(Table):
    """reportlab's Table whose plain-text cells are written straight into the page's content
    stream: the same operators, byte for byte, as Table._drawCell's canvas.drawString /
    drawRightString / drawCentredString (a text object per line: origin, subset font, the
    string, T*), without building a PDFTextObject per cell (a seventh of a PDF's CPU went
    there). Anything else (flowables in cells, direction, shaping, links, a non-TrueType
    font, a top-down canvas) is drawn by reportlab's own code."""

    def _drawCell(self, cellval, cellstyle, pos, size):  # noqa: N802 (reportlab's name)
        canv = self.canv
        just = cellstyle.alignment
        if (
            type(cellval) is not str
            or just not in _TEXT_ALIGN
            or cellstyle.direction
            or cellstyle.shaping
            or cellstyle.href
            or cellstyle.destination
            or not canv.bottomup
        ):
            return super()._drawCell(cellval, cellstyle, pos, size)
        if self._curcellstyle is not cellstyle:  # as Table._drawCell
            cur = self._curcellstyle
            if cur is None or cellstyle.color != cur.color:
                canv.setFillColor(cellstyle.color)
            if (cur is None or cellstyle.leading != cur.leading
                    or cellstyle.fontname != cur.fontname or cellstyle.fontsize != cur.fontsize):
                canv.setFont(cellstyle.fontname, cellstyle.fontsize, cellstyle.leading)
            self._curcellstyle = cellstyle
        font = pdfmetrics.getFont(canv._fontname)
        if not font._dynamicFont:  # TrueType (what we register); not a standard font
            return super()._drawCell(cellval, cellstyle, pos, size)
        colpos, rowpos = pos
        colwidth, rowheight = size
        if just == "LEFT":
            x = colpos + cellstyle.leftPadding
        elif just == "RIGHT":
            x = colpos + colwidth - cellstyle.rightPadding
        else:
            x = colpos + (colwidth + cellstyle.leftPadding - cellstyle.rightPadding) * 0.5
        vals = cellval.split("\n")
        leading = cellstyle.leading
        fontsize = cellstyle.fontsize
        valign = cellstyle.valign
        if valign == "BOTTOM":
            y = rowpos + cellstyle.bottomPadding + len(vals) * leading - fontsize
        elif valign == "TOP":
            y = rowpos + rowheight - cellstyle.topPadding - fontsize
        elif valign == "MIDDLE":
            y = (rowpos + (cellstyle.bottomPadding + rowheight - cellstyle.topPadding
                           + len(vals) * leading) / 2.0 - fontsize)
        else:
            return super()._drawCell(cellval, cellstyle, pos, size)
        doc = canv._doc
        name, size_now, leading_now = canv._fontname, canv._fontsize, canv._leading
        tf = f"{fp_str(size_now)} Tf {fp_str(leading_now)} TL"
        escape = canv._escape
        code = canv._code
        for v in vals:
            if just == "LEFT":
                x0 = x
            elif just == "RIGHT":
                x0 = x - pdfmetrics.stringWidth(v, name, size_now)
            else:
                x0 = x - 0.5 * pdfmetrics.stringWidth(v, name, size_now)
            ops = []
            current = -1
            for subset, chunk in font.splitString(v, doc):
                if subset != current:
                    ops.append(f"{font.getSubsetInternalName(subset, doc)} {tf}")
                    current = subset
                ops.append(f"({escape(chunk)}) Tj")
            code.append(f"BT 1 0 0 1 {fp_str(x0, y)} Tm {' '.join(ops)} T* ET")
            y -= leading
        return None


_TEXT_ALIGN = frozenset(("LEFT", "RIGHT", "CENTRE", "CENTER"))


# -- QR code -----------------------------------------------------------------------------------


class QrFlowable(Flowable):
    """A QR code (error correction level M) of ``size`` points, quiet zone included.

    Encoded by segno (several times faster than reportlab's pure-Python encoder) and
    painted as one filled path in module units; the path is cached by the SPAYD string, so
    printing the same open invoice again costs no encoding at all.
    """

    def __init__(self, data: str, size: float = QR_SIZE, border: int = 4) -> None:
        super().__init__()
        self._ops, self._count = _qr_path(data, border)
        self._border = border
        self.width = self.height = size

    def wrap(self, available_width: float, available_height: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        scale = self.width / (self._count + 2 * self._border)
        canvas = self.canv
        canvas.saveState()
        canvas.setFillColor(colors.black)
        canvas.scale(scale, scale)
        canvas.addLiteral(self._ops)
        canvas.restoreState()


@lru_cache(maxsize=512)
def _qr_path(data: str, border: int) -> tuple[str, int]:
    """(PDF path operators, modules per side) of the QR code of ``data``, level M.

    With a fixed mask pattern (0): choosing the "best" of the eight masks evaluates all of
    them and was three quarters of the encoding time, a tenth of a PDF's (the monthly run
    renders 100k); any mask is valid QR (ISO/IEC 18004 lets the encoder choose), and
    tests/billing/test_pdf.py decodes the printed code with zbar. A QR Platba string (upper
    case, alphanumeric) is encoded by billing/documents/qr_alnum.py, the same modules as
    segno's in a quarter of the time; anything else by segno."""
    fast = qr_matrix(data)
    if fast is not None:
        flat, count = fast
        rows = [flat[r * count:(r + 1) * count] for r in range(count)]
    else:
        matrix = segno.make(data, error="m", boost_error=False, micro=False, mask=0).matrix
        count = len(matrix)
        rows = [bytes(row) for row in matrix]
    top = count + border - 1
    ops = []
    for r, row in enumerate(rows):
        for run in _DARK_RUN.finditer(row):
            ops.append(f"{border + run.start()} {top - r} {run.end() - run.start()} 1 re")
    ops.append("f")
    return "\n".join(ops), count


_DARK_RUN = re.compile(rb"\x01+")
