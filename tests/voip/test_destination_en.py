"""Issue 16 item 10: English destination names from the price list's optional
``destination_en`` column: English pages show "Germany – landlines", Czech pages the Czech
name; a price list without the column imports as before."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest

from core.clock import now, today
from tests.voip.test_pages import local
from voip.demo import TARIFF, tariff_csv
from voip.lines import open_line
from voip.models import TariffRate
from voip.tariff_import import TariffFileError, import_tariff_csv

CSV = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate;destination_en
420;Česko – pevné linky;0,4950;0;60/1;21;Czechia – landlines
4207;Česko – mobilní sítě;0,9900;0;60/1;21;
49;Německo – pevné linky;0,9900;0;60/1;21;Germany – landlines
"""


@pytest.fixture
def english_tariff(session):
    t = import_tariff_csv(session, io.StringIO(CSV), valid_from=today() - timedelta(days=30),
                          name="EN", actor="test")
    session.commit()
    return t


def test_the_column_is_optional_and_stored(session, english_tariff):
    names = {r.prefix: r.destination_en for r in english_tariff.rates}
    assert names == {"420": "Czechia – landlines", "4207": None, "49": "Germany – landlines"}
    old = import_tariff_csv(session, io.StringIO(
        "prefix;destination;price_per_minute\n421;Slovensko;1,20\n"),
        valid_from=today() - timedelta(days=60), name="old", actor="test")
    assert [r.destination_en for r in old.rates] == [None]
    with pytest.raises(TariffFileError, match="row 2: destination_en must be at most 100"):
        import_tariff_csv(session, io.StringIO(
            "prefix;destination;price_per_minute;destination_en\n43;Rakousko;1;" + "x" * 101 + "\n"),
            valid_from=today() + timedelta(days=1), actor="test")


def test_the_demo_price_list_has_english_names():
    text = tariff_csv()
    assert text.splitlines()[0].endswith(";destination_en")
    assert "Německo – pevné linky;0,9900;0;60/1;21;Germany – landlines" in text
    assert all(line.count(";") == 6 for line in text.splitlines()[1:])
    assert len(text.splitlines()) == len(TARIFF) + 1


def test_english_pages_show_english_names_czech_pages_czech(
        client, session, voip_auth, make_line, make_customer, english_tariff, cdr_row,
        import_calls):
    line = make_line("+420601234567", password="voip-pass",
                     customer=make_customer(number="3091", password="zone-pass-1"))
    open_line(session, line.id, Decimal("100.00"), actor="test")
    session.commit()
    import_calls(session, [
        cdr_row("e1", "601234567", "+4930123456", local(now() - timedelta(hours=2)), 65),
        cdr_row("e2", "601234567", "777123456", local(now() - timedelta(hours=1)), 30),
    ])
    assert voip_auth.login("567", "voip-pass").status_code == 302
    # Czech (the default)
    tariff_page = client.get("/voip/tariff?number=%2B4930123456").get_data(as_text=True)
    assert "Německo – pevné linky" in tariff_page and "Germany" not in tariff_page
    calls = client.get("/voip/").get_data(as_text=True).split('class="calls"')[1]
    assert "Německo – pevné linky" in calls and "Germany" not in calls
    # English
    client.post("/language", data={"lang": "en", "next": "/voip/"})
    tariff_page = client.get("/voip/tariff?number=%2B4930123456").get_data(as_text=True)
    assert "Germany – landlines" in tariff_page and "Německo" not in tariff_page
    calls = client.get("/voip/").get_data(as_text=True).split('class="calls"')[1]
    assert "Germany – landlines" in calls and "Německo" not in calls
    # a rate without an English name: the Czech one, rather than nothing
    assert "Česko – mobilní sítě" in calls
    rate = session.query(TariffRate).filter_by(prefix="49").one()
    assert rate.destination_en == "Germany – landlines"
