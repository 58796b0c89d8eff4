"""Building blocks of our PDFs (reportlab): the vendored DejaVu fonts, registered once per
process so that Czech diacritics render and stay extractable as text; paragraph styles;
Czech formatting of money, dates and quantities; a QR code flowable. billing/documents/pdf.py lays the
invoice out with them.
"""

from __future__ import annotations

import threading
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from itertools import groupby
from pathlib import Path

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph

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
        pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "DejaVuSans.ttf")))
        pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "DejaVuSans-Bold.ttf")))
        pdfmetrics.registerFontFamily(
            FONT, normal=FONT, bold=FONT_BOLD, italic=FONT, boldItalic=FONT_BOLD
        )
        _styles.update(_make_styles())
        _fonts_ready = True


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
    """A paragraph of plain text (escaped for reportlab's markup) in one of our styles."""
    return Paragraph(_xml_escape(text), _styles[style])


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


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
    tests/billing/test_pdf.py decodes the printed code with zbar."""
    matrix = segno.make(data, error="m", boost_error=False, micro=False, mask=0).matrix
    count = len(matrix)
    top = count + border - 1
    ops = []
    for r, row in enumerate(matrix):
        c = border
        for dark, run in groupby(row):
            length = len(list(run))
            if dark:
                ops.append(f"{c} {top - r} {length} 1 re")
            c += length
    ops.append("f")
    return "\n".join(ops), count
