"""Rating of one call: increments, connect fee, VAT rounding (pure functions)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from voip.rating import Rate, charged_seconds, gross


@pytest.mark.parametrize(
    ("billsec", "initial", "increment", "charged"),
    [
        (0, 60, 60, 0),  # not connected: nothing
        (1, 60, 60, 60),
        (60, 60, 60, 60),
        (61, 60, 60, 120),  # per started minute
        (119, 60, 60, 120),
        (120, 60, 60, 120),
        (121, 60, 60, 180),
        (1, 60, 1, 60),  # first minute whole ...
        (60, 60, 1, 60),
        (61, 60, 1, 61),  # ... then per second
        (125, 60, 1, 125),
        (1, 1, 1, 1),
        (59, 1, 1, 59),
        (3601, 1, 1, 3601),
        (31, 30, 6, 36),
        (36, 30, 6, 36),
        (37, 30, 6, 42),
        (-5, 60, 60, 0),
    ],
)
def test_charged_seconds(billsec, initial, increment, charged):
    assert charged_seconds(billsec, initial, increment) == charged
    assert Rate("1", "x", D("1"), D("0"), D("21"), initial, increment).charged(billsec) == charged


@pytest.mark.parametrize(
    ("price", "fee", "vat", "increments", "billsec", "cost"),
    [
        # 1 Kč/min net, 21 % VAT
        ("1.0000", "0", "21", (60, 60), 0, "0.00"),
        ("1.0000", "0", "21", (60, 60), 1, "1.21"),
        ("1.0000", "0", "21", (60, 60), 61, "2.42"),
        ("1.0000", "0", "21", (60, 1), 61, "1.23"),  # 61/60 * 1.21 = 1.2302
        ("1.0000", "0", "21", (1, 1), 30, "0.61"),  # 0.605 rounds half-up
        ("1.0000", "0", "21", (1, 1), 1, "0.02"),  # 0.0201666..
        # the connect fee is charged once per connected call, never for 0 s
        ("0.4950", "1.5000", "21", (60, 1), 0, "0.00"),
        ("0.4950", "1.5000", "21", (60, 1), 1, "2.41"),  # (1.5 + 0.495) * 1.21 = 2.41395
        ("0.4950", "1.5000", "21", (60, 1), 90, "2.71"),  # (1.5 + 0.7425) * 1.21 = 2.713425
        # another VAT rate, zero VAT, free destination
        ("2.0000", "0", "12", (60, 60), 600, "22.40"),
        ("2.0000", "0", "0", (60, 60), 600, "20.00"),
        ("0", "0", "21", (60, 60), 600, "0.00"),
        # the net cost is exact and only the gross is rounded: 0.0125 * 1.21 = 0.015125
        ("0.0125", "0", "21", (60, 60), 60, "0.02"),
        ("0.0041", "0", "21", (60, 60), 60, "0.00"),  # 0.004961 -> 0.00
        ("0.0042", "0", "21", (60, 60), 60, "0.01"),  # 0.005082 -> 0.01
        # 10-minute call at 60/1 with 0.0001-precision price
        ("6.1234", "0", "21", (60, 1), 600, "74.09"),  # 61.234 * 1.21 = 74.09314
    ],
)
def test_cost_table(price, fee, vat, increments, billsec, cost):
    rate = Rate("49", "Germany", D(price), D(fee), D(vat), *increments)
    assert rate.cost(billsec) == D(cost)
    # the integer path agrees with the exact decimal definition
    expected = gross(rate.net_cost(billsec), D(vat)) if billsec > 0 else D("0.00")
    assert rate.cost(billsec) == expected


def test_exact_half_cent_rounds_up():
    # net 0.5/1.21... pick a case where gross is exactly x.xx5: 0.0500 net * 1.10 = 0.055
    rate = Rate("1", "x", D("0.0500"), D("0"), D("10"), 60, 60)
    assert rate.cost(60) == D("0.06")


def test_invalid_rates_are_refused():
    with pytest.raises(ValueError):
        Rate("1", "x", D("1"), D("0"), D("21"), 0, 60)
    with pytest.raises(ValueError):
        Rate("1", "x", D("-1"), D("0"), D("21"), 60, 60)
    with pytest.raises(ValueError):
        Rate("1", "x", D("0.00001"), D("0"), D("21"), 60, 60)
