"""Server-rendered inline SVG charts (no JavaScript, nothing loaded from elsewhere)."""

from __future__ import annotations

import math
from collections.abc import Sequence

from flask_babel import gettext as _
from markupsafe import Markup, escape

from billing.customers.usage import DayTraffic
from web.formatting import NBSP, format_bytes, format_date

WIDTH, HEIGHT = 800, 300
LEFT, RIGHT, TOP, BOTTOM = 70, 12, 34, 26
UNITS = ("B", "kB", "MB", "GB", "TB", "PB")
COLORS = {"down": "#2563eb", "up": "#ea580c"}


def nice_scale(largest: int, target_ticks: int = 5) -> tuple[int, int]:
    """(step, top) of a y axis: a 1-2-5 step in bytes and the first multiple >= ``largest``."""
    if largest <= 0:
        return 200_000, 1_000_000  # an empty chart still gets a readable 0..1 MB axis
    raw = largest / target_ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    step = max(int(step), 1)
    return step, -(-largest // step) * step


def axis_unit(top: int) -> int:
    """Index into UNITS of the decimal unit the axis labels use (that of its top value)."""
    unit = 0
    while top >= 1000 ** (unit + 1) and unit < len(UNITS) - 1:
        unit += 1
    return unit


def tick_label(value: int, unit: int, lang: str) -> str:
    number = f"{value / 1000**unit:.2f}".rstrip("0").rstrip(".")
    if lang != "en":
        number = number.replace(".", ",")
    return f"{number}{NBSP}{UNITS[unit]}"


def exact_bytes(value: int, lang: str) -> str:
    text = f"{value:,}"
    return (text if lang == "en" else text.replace(",", NBSP)) + f"{NBSP}B"


def day_label(day, lang: str) -> str:
    return f"{day.day} {day.strftime('%b')}" if lang == "en" else f"{day.day}.{NBSP}{day.month}."


def _bar(kind: str, x: float, width: float, value: int, scale: float, title: str) -> str:
    height = value * scale
    y = TOP + (HEIGHT - TOP - BOTTOM) - height
    return (
        f'<rect class="bar {kind}" fill="{COLORS[kind]}" x="{x:.2f}" y="{y:.2f}" '
        f'width="{width:.2f}" height="{height:.2f}"><title>{escape(title)}</title></rect>'
    )


def _y_axis(step: int, top: int, lang: str) -> list[str]:
    plot_h = HEIGHT - TOP - BOTTOM
    unit = axis_unit(top)
    parts = []
    for value in range(0, top + 1, step):
        y = TOP + plot_h - value * plot_h / top
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.2f}" y2="{y:.2f}" '
            f'stroke="#d4d4d8" stroke-width="1"/>'
            f'<text class="tick" x="{LEFT - 6}" y="{y + 4:.2f}" text-anchor="end">'
            f"{escape(tick_label(value, unit, lang))}</text>"
        )
    return parts


def _legend() -> list[str]:
    parts = []
    x = LEFT
    for kind, label in (("down", _("Download")), ("up", _("Upload"))):
        parts.append(
            f'<rect class="bar {kind}" fill="{COLORS[kind]}" x="{x}" y="8" width="12" height="12"/>'
            f'<text class="legend" x="{x + 18}" y="18">{escape(label)}</text>'
        )
        x += 30 + 8 * len(label)
    return parts


MONTHLY_FROM_DAYS = 62  # a longer range is drawn as monthly bars (a year of daily slivers is unreadable)


def by_month(days: Sequence[DayTraffic]) -> list[DayTraffic]:
    """The days summed per calendar month (``day`` = the month's first day in the range)."""
    months: dict[tuple[int, int], DayTraffic] = {}
    for d in days:
        key = (d.day.year, d.day.month)
        found = months.get(key)
        months[key] = DayTraffic(
            found.day if found else d.day,
            (found.bytes_down if found else 0) + d.bytes_down,
            (found.bytes_up if found else 0) + d.bytes_up,
        )
    return list(months.values())


def month_label(day, lang: str, with_year: bool) -> str:
    if lang == "en":
        return day.strftime("%b %Y") if with_year else day.strftime("%b")
    return f"{day.month}/{day.year}" if with_year else f"{day.month}/{day.year % 100:02d}"


def traffic_svg(days: Sequence[DayTraffic], lang: str) -> Markup:
    """Grouped bars (download, upload) per day with a y axis in decimal units and a legend;
    a range longer than two months as monthly bars with the year on the axis."""
    if not days:
        return Markup("")
    if len(days) > MONTHLY_FROM_DAYS:
        return _svg(by_month(days), lang, monthly=True, first=days[0].day, last=days[-1].day)
    return _svg(list(days), lang, monthly=False, first=days[0].day, last=days[-1].day)


def _svg(days: list[DayTraffic], lang: str, *, monthly: bool, first, last) -> Markup:
    largest = max(max(d.bytes_down, d.bytes_up) for d in days)
    step, top = nice_scale(largest)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    scale = plot_h / top
    group = plot_w / len(days)
    bar_w = group * 0.4
    label_every = max(1, math.ceil(len(days) / 12))
    parts = _y_axis(step, top, lang) + _legend()
    for i, d in enumerate(days):
        x = LEFT + i * group + group * 0.1
        when = month_label(d.day, lang, True) if monthly else format_date(d.day, lang)
        for kind, value, offset in (("down", d.bytes_down, 0), ("up", d.bytes_up, bar_w)):
            if value > 0:
                what = _("Download") if kind == "down" else _("Upload")
                title = f"{when}: {what} {format_bytes(value, lang)} ({exact_bytes(value, lang)})"
                parts.append(_bar(kind, x + offset, bar_w, value, scale, title))
        if i % label_every == 0:
            cx = LEFT + (i + 0.5) * group
            if monthly:  # the year on the axis: on the first bar and on each January
                text = month_label(d.day, lang, i == 0 or d.day.month == 1)
            else:
                text = day_label(d.day, lang)
                if i == 0 or (d.day.month == 1 and d.day.day == 1):
                    text = format_date(d.day, lang)
            parts.append(
                f'<text class="tick" x="{cx:.2f}" y="{HEIGHT - 8}" text-anchor="middle">'
                f"{escape(text)}</text>"
            )
    parts.append(
        f'<line class="axis" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" '
        f'y2="{TOP + plot_h}" stroke="#52525b" stroke-width="1"/>'
    )
    down = sum(d.bytes_down for d in days)
    up = sum(d.bytes_up for d in days)
    values = {"start": format_date(first, lang), "end": format_date(last, lang),
              "down": format_bytes(down, lang), "up": format_bytes(up, lang)}
    if monthly:
        label = _("Data transferred per month from %(start)s to %(end)s: download %(down)s, upload %(up)s.", **values)
    else:
        label = _("Data transferred per day from %(start)s to %(end)s: download %(down)s, upload %(up)s.", **values)
    return Markup(
        f'<svg class="chart traffic" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" preserveAspectRatio="xMidYMid meet" '
        f'xmlns="http://www.w3.org/2000/svg" font-size="11">{"".join(parts)}</svg>'
    )
