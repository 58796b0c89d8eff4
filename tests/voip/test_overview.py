"""The operator's read side of VoIP (voip/overview.py): lines with credit and cap, top-ups,
and the preview of a price list (new, changed, removed prefixes) that writes nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.clock import today
from voip.lines import set_cap
from voip.models import Tariff, TariffRate
from voip.overview import line_list, preview_tariff
from voip.tariff_import import TariffFileError

NEW_CSV = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4206;Česko – mobilní sítě;0,9000;0;60/1;21
4207;Česko – mobilní sítě;0,8000;0;60/1;21
49;Německo – pevné linky;1,0000;0;60/60;21
43;Rakousko;1,2000;0;60/1;21
"""


def test_lines_with_credit_and_cap(session, make_line):
    line = make_line("+420601234567")
    make_line("+420602000000")
    set_cap(session, "+420601234567", Decimal("800.00"), actor="operator:test")
    session.commit()
    page = line_list(session)
    assert [r.number for r in page.rows] == ["+420601234567", "+420602000000"]
    first = page.rows[0]
    assert (first.service_id, first.cap, first.credit) == (line.id, Decimal("800.00"),
                                                           Decimal("0.00"))
    assert page.rows[1].cap is None
    assert [r.number for r in line_list(session, search="602 000").rows] == ["+420602000000"]


def test_tariff_preview_lists_what_changes_and_writes_nothing(session, tariff):
    rates_before = session.scalar(select(func.count(TariffRate.id)))
    preview = preview_tariff(session, NEW_CSV, today())
    assert preview.against.id == tariff.id and not preview.replaces
    assert [c.prefix for c in preview.new] == ["43"]
    assert {c.prefix: c.fields for c in preview.changed} == {
        "4206": ["price_per_minute"], "49": ["increment"]}
    assert [c.prefix for c in preview.removed] == ["4915"]
    assert preview.unchanged == 2 and preview.rates == 5
    same_day = preview_tariff(session, NEW_CSV, tariff.valid_from)
    assert same_day.replaces and same_day.against.id == tariff.id
    before = preview_tariff(session, NEW_CSV, tariff.valid_from - timedelta(days=1))
    assert before.against is None and len(before.new) == 5
    assert session.scalar(select(func.count(TariffRate.id))) == rates_before
    assert session.scalar(select(func.count(Tariff.id))) == 1
    with pytest.raises(TariffFileError, match="row 2"):
        preview_tariff(session, "prefix;destination;price_per_minute\nabc;X;1\n")
