"""VAT per § 37 of the Czech VAT act as in force since 2019.

From a net price: VAT = base x rate. From a gross price: VAT = gross - gross / (1 + rate),
i.e. gross x rate / (100 + rate) computed exactly and only then rounded. Both are kept to
haléře, rounded half up. The pre-2019 "koeficient" (rate / (100 + rate) rounded to four
places, 0.1736 for 21 %) is NOT used: :func:`vat_from_gross_old_coefficient` exists only so
the tests can show the difference. Sources and the rules: docs/facts/vat.md.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
RATES = (Decimal("21"), Decimal("12"), Decimal("0"))


def money(value) -> Decimal:
    """Round to haléře, half up. Refuses floats: money never passes through binary floats."""
    if isinstance(value, float):
        raise TypeError("float reached a money path")
    return Decimal(value).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class VatSplit:
    rate: Decimal
    base: Decimal
    vat: Decimal
    total: Decimal


def vat_from_net(base, rate) -> VatSplit:
    base, rate = money(base), Decimal(rate)
    vat = money(base * rate / 100)
    return VatSplit(rate, base, vat, base + vat)


def vat_from_gross(total, rate) -> VatSplit:
    total, rate = money(total), Decimal(rate)
    vat = money(total * rate / (100 + rate))
    return VatSplit(rate, total - vat, vat, total)


def vat_from_gross_old_coefficient(total, rate) -> VatSplit:  # pragma: no cover - test aid
    """The pre-2019 method, kept only to demonstrate that it differs. Never call it."""
    total, rate = money(total), Decimal(rate)
    coefficient = (rate / (100 + rate)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
    vat = money(total * coefficient)
    return VatSplit(rate, total - vat, vat, total)


def net_unit_price(unit_price, rate, prices_include_vat: bool) -> Decimal:
    if not prices_include_vat:
        return money(unit_price)
    return money(Decimal(unit_price) * 100 / (100 + Decimal(rate)))


@dataclass(frozen=True)
class LineInput:
    description: str
    quantity: Decimal
    unit_price: Decimal
    vat_rate: Decimal = Decimal("21")
    unit: str = "ks"
    service_id: int | None = None
    corrects_line_id: int | None = None  # a credit note's line: the invoice line it credits


@dataclass(frozen=True)
class ComputedLine:
    line: LineInput
    net: Decimal
    vat: Decimal
    gross: Decimal


@dataclass(frozen=True)
class ComputedDocument:
    lines: list[ComputedLine]
    recap: list[VatSplit]
    total_net: Decimal
    total_vat: Decimal
    total: Decimal


def compute_document(lines: Iterable[LineInput], prices_include_vat: bool) -> ComputedDocument:
    """Line amounts and the per-rate recap of a document.

    The VAT of each rate is computed once from that rate's summed amount (not summed from
    rounded line VATs), which is what § 37 asks and what the recap prints. Line VATs are
    informative; within a rate the last line absorbs the rounding so that lines add up to
    the recap exactly.
    """
    lines = list(lines)
    by_rate: dict[Decimal, list[tuple[int, LineInput, Decimal]]] = {}
    for index, line in enumerate(lines):
        if isinstance(line.quantity, float) or isinstance(line.unit_price, float):
            raise TypeError("float reached a money path")
        if Decimal(line.vat_rate) not in RATES:
            raise ValueError(f"unknown VAT rate {line.vat_rate} %")
        amount = money(Decimal(line.quantity) * Decimal(line.unit_price))
        by_rate.setdefault(Decimal(line.vat_rate), []).append((index, line, amount))

    recap: list[VatSplit] = []
    computed: dict[int, ComputedLine] = {}  # by position: one LineInput may be given twice
    for rate in sorted(by_rate, reverse=True):
        entries = by_rate[rate]
        summed = sum((amount for _, _, amount in entries), Decimal("0.00"))
        split = vat_from_gross(summed, rate) if prices_include_vat else vat_from_net(summed, rate)
        recap.append(split)
        vat_left = split.vat
        for i, (index, line, amount) in enumerate(entries):
            if i == len(entries) - 1:
                line_vat = vat_left
            else:
                part = vat_from_gross(amount, rate) if prices_include_vat else vat_from_net(amount, rate)
                line_vat = part.vat
                vat_left -= line_vat
            if prices_include_vat:
                cl = ComputedLine(line, amount - line_vat, line_vat, amount)
            else:
                cl = ComputedLine(line, amount, line_vat, amount + line_vat)
            computed[index] = cl
    ordered = [computed[index] for index in range(len(lines))]
    total_net = sum((s.base for s in recap), Decimal("0.00"))
    total_vat = sum((s.vat for s in recap), Decimal("0.00"))
    return ComputedDocument(ordered, recap, total_net, total_vat, total_net + total_vat)
