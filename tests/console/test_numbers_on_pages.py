"""Counts and quantities on the console's pages in the reader's language (the ``number``
filter of web.formatting): ``1 234,5678`` in Czech (non-breaking space groups, decimal comma),
``1,234.5678`` in English, as core.i18n's number() writes them in a translated refusal."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal as D

import pytest
from flask_babel import force_locale

from core.clock import today
from tests.voip.test_cdr import add_voip, cdr
from voip.tariff_import import import_tariff_csv

NBSP = "\u00a0"

PRICES = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4915;Německo – mobilní sítě;3,5000;0,5000;60/1;21
"""
NEW_PRICES = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko – pevné linky;0,4000;0;60/1;21
4915;Německo – mobilní sítě;1234,5678;0,5000;60/1;21
"""


@pytest.mark.parametrize("lang", ["cs", "en"])
def test_the_filter_writes_as_core_i18n(app, lang):
    from core.i18n import number
    from web.formatting import format_number

    with app.test_request_context("/"), force_locale(lang):
        for value in (0, 7, 1000, 270000, D("0.4950"), D("1234.5678"), D("-1500.5"), 12.5):
            assert format_number(value) == number(value).format(lang), value
        assert format_number(D("2.345"), 2) == number(D("2.345"), 2).format(lang)
        assert format_number(None) == "" and format_number("21") == number(21).format(lang)
        assert app.jinja_env.from_string("[{{ missing|number }}]").render() == "[]"
        rendered = app.jinja_env.from_string("{{ v|number }}|{{ w|number(2) }}").render(
            v=D("1234.5678"), w=D("1234.5"))
    if lang == "cs":
        assert rendered == f"1{NBSP}234,5678|1{NBSP}234,50"
    else:
        assert rendered == "1,234.5678|1,234.50"


def _in_czech(client):
    client.post("/language", data={"lang": "cs"})
    return client


def test_price_list_preview_in_czech(session, console_client):
    import_tariff_csv(session, io.StringIO(PRICES), valid_from=today() - timedelta(days=30),
                      name="Starý", actor="test")
    session.commit()
    client = _in_czech(console_client("support"))
    preview = client.post("/console/voip/tariffs/preview", data={
        "file": (io.BytesIO(NEW_PRICES.encode()), "cenik.csv"),
        "valid_from": (today() + timedelta(days=1)).isoformat(), "name": "Nový"},
        content_type="multipart/form-data")
    assert preview.status_code == 200
    html = preview.get_data(as_text=True)
    changed = html.split('class="changed"')[1].split("</table>")[0]
    assert "3,5000" in changed and f"1{NBSP}234,5678" in changed and "0,5000" in changed
    assert "1234.5678" not in changed and "3.5000" not in changed

    english = console_client("support")
    english.post("/language", data={"lang": "en"})
    html = english.post("/console/voip/tariffs/preview", data={
        "file": (io.BytesIO(NEW_PRICES.encode()), "cenik.csv"),
        "valid_from": (today() + timedelta(days=1)).isoformat(), "name": "Nový"},
        content_type="multipart/form-data").get_data(as_text=True)
    assert "1,234.5678" in html.split('class="changed"')[1].split("</table>")[0]


def test_cdr_import_summary_in_czech(session, make_customer, console_client):
    import_tariff_csv(session, io.StringIO(PRICES), valid_from=today() - timedelta(days=30),
                      name="Ceník", actor="test")
    add_voip(session, make_customer(number="7971"), "+420601222444", credit="100.00")
    session.commit()
    day = today() - timedelta(days=2)
    master = cdr("n-1", "601222444", "222333444", f"{day} 10:00:00", 60)
    master += "".join(cdr(f"x-{i}", "777000111", "222333444", f"{day} 11:00:00", 30)
                      for i in range(1233))  # calls of a number that is not ours
    client = _in_czech(console_client("support"))
    response = client.post("/console/voip/cdr", data={
        "file": (io.BytesIO(master.encode()), "Master.csv")}, content_type="multipart/form-data")
    assert response.status_code == 200, response.get_data(as_text=True)
    summary = response.get_data(as_text=True).split('class="cdr-result"')[1].split("</section>")[0]
    assert f"1{NBSP}234" in summary and f"1{NBSP}233" in summary, summary
    assert "1234" not in summary and "1233" not in summary
