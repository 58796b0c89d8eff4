"""Tariffs: number normalization, longest-prefix lookup, quotes, CSV import and its CLI."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal as D
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from billing.models import AuditEvent
from core.clock import today
from voip.models import Tariff, TariffRate
from voip.rating import Rate
from voip.tariff_import import TariffFileError, import_tariff_csv
from voip.tariffs import (
    InvalidNumber,
    TariffIndex,
    minutes_for,
    normalize_number,
    quote,
)

SAMPLES = Path(__file__).parent / "samples"
HEADER = "prefix;destination;price_per_minute;connect_fee;increments;vat_rate\n"


def tariff_text(*rows: str) -> io.StringIO:
    return io.StringIO(HEADER + "".join(r + "\n" for r in rows))


def load_sample_tariff(session, valid_from=None):
    valid_from = valid_from or today() - timedelta(days=30)
    tariff = import_tariff_csv(session, SAMPLES / "tariff.csv", valid_from=valid_from, actor="test")
    session.commit()
    return tariff


# --- numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "digits"),
    [
        ("+420 601 234 567", "420601234567"),
        ("00420601234567", "420601234567"),
        ("601234567", "420601234567"),
        ("601 234 567", "420601234567"),
        ("420601234567", "420601234567"),
        ("+420-601-234-567", "420601234567"),
        ("+49 30 1234567", "49301234567"),
        ("0049301234567", "49301234567"),
        ("+1 (212) 555-0123", "12125550123"),
    ],
)
def test_normalize_number(raw, digits):
    assert normalize_number(raw) == digits


@pytest.mark.parametrize(
    "raw", ["", "   ", "abc", "60123456a", "123", "+420 601 23", "+420 601 234 5678",
            "+49 1234 5678 9012 345", "+0 123 456 789", "0601234567", "+", "00"],
)
def test_normalize_number_refuses(raw):
    with pytest.raises(InvalidNumber):
        normalize_number(raw)


# --- longest prefix: the index against a brute-force reference -----------------------------

prefixes = st.text(alphabet="0123456789", min_size=1, max_size=6).filter(lambda p: p[0] != "0")
numbers = st.text(alphabet="0123456789", min_size=1, max_size=12)


def brute_force(rates: dict[str, Rate], number: str) -> Rate | None:
    matching = [p for p in rates if number.startswith(p)]
    return rates[max(matching, key=len)] if matching else None


@settings(max_examples=300, deadline=None)
@given(st.sets(prefixes, min_size=1, max_size=60), st.lists(numbers, min_size=1, max_size=30))
def test_longest_prefix_matches_brute_force(prefix_set, probes):
    rates = {p: Rate(p, f"dest {p}", D(len(p)), D("0"), D("21"), 60, 60) for p in prefix_set}
    index = TariffIndex(1, "t", today(), None, rates.values())
    # probe the prefixes themselves and their extensions too, not only random digits
    probes = probes + [p + n for p in prefix_set for n in probes[:3]] + list(prefix_set)
    for number in probes:
        assert index.lookup(number) is brute_force(rates, number)


# --- quotes from the database --------------------------------------------------------------


def test_quote_finds_longest_prefix(session):
    load_sample_tariff(session)
    mobile = quote(session, "+420 601 234 567", today())
    assert (mobile.prefix, mobile.destination) == ("4206", "Česká republika – mobilní sítě")
    assert mobile.price_per_minute == D("0.9900")
    assert mobile.price_per_minute_vat == D("1.1979")
    assert mobile.increments_label == "60/1"
    assert mobile.cost(60) == D("1.20") and mobile.cost(300) == D("5.99")

    landline = quote(session, "212 345 678", today())
    assert (landline.prefix, landline.price_per_minute) == ("420", D("0.4950"))

    german_mobile = quote(session, "0049 151 1234567", today())
    assert german_mobile.prefix == "4915"
    assert german_mobile.connect_fee == D("1.0000") and german_mobile.connect_fee_vat == D("1.2100")
    # (1 + 4.5) * 1.21 = 6.655 -> 6.66 for the first minute, connect fee once
    assert german_mobile.cost(60) == D("6.66")
    assert german_mobile.cost(600) == D("55.66")  # (1 + 45) * 1.21
    assert quote(session, "+49 30 1234567", today()).destination == "Německo"

    assert quote(session, "+33 1 23 45 67 89", today()) is None  # France is not in it
    with pytest.raises(InvalidNumber):
        quote(session, "six hundred", today())


def test_no_tariff_valid_yet(session):
    load_sample_tariff(session, valid_from=today() + timedelta(days=1))
    assert quote(session, "601234567", today()) is None
    assert quote(session, "601234567", today() + timedelta(days=1)) is not None


def test_future_tariff_is_used_from_its_day(session):
    load_sample_tariff(session, valid_from=today() - timedelta(days=10))
    import_tariff_csv(
        session, tariff_text("420;Česko;0,2500;0;1/1;21"),
        valid_from=today() + timedelta(days=5), name="Nový ceník", actor="test",
    )
    session.commit()
    assert quote(session, "601234567", today()).price_per_minute == D("0.9900")
    assert quote(session, "601234567", today() + timedelta(days=4)).tariff_name == "tariff"
    later = quote(session, "601234567", today() + timedelta(days=5))
    assert (later.tariff_name, later.price_per_minute, later.prefix) == ("Nový ceník", D("0.25"), "420")
    assert quote(session, "+49 30 1234567", today() + timedelta(days=30)) is None


def test_minutes_for_credit(session):
    load_sample_tariff(session)
    mobile = quote(session, "601234567", today())  # 1.1979 Kč/min with VAT, 60/1
    assert minutes_for(D("0"), mobile) == 0
    assert minutes_for(D("1.19"), mobile) == 0
    assert minutes_for(D("1.20"), mobile) == 1
    assert minutes_for(D("100"), mobile) == 83  # 83 min = 99.43; 84 min = 100.62
    assert mobile.cost(83 * 60) <= D("100") < mobile.cost(84 * 60)
    german_mobile = quote(session, "+49 151 1234567", today())  # connect 1.21 + 5.445/min
    n = minutes_for(D("200"), german_mobile)
    assert german_mobile.cost(n * 60) <= D("200") < german_mobile.cost((n + 1) * 60)
    assert minutes_for(D("50"), quote(session, "+420 800 123 456", today())) is None  # free


# --- CSV import ----------------------------------------------------------------------------


def test_import_sample_and_audit(session):
    tariff = load_sample_tariff(session)
    assert len(tariff.rates) == 9
    assert {r.prefix for r in tariff.rates} >= {"420", "4206", "49", "4915", "1"}
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "voip.tariff_imported")).one()
    assert event.actor == "test" and "tariff" in event.new_value


def test_import_errors_list_every_row_and_change_nothing(session):
    with pytest.raises(TariffFileError) as info:
        import_tariff_csv(session, SAMPLES / "tariff_errors.csv", actor="test")
    message = str(info.value)
    assert not message.startswith("row 2") and "\nrow 2:" not in message  # the good row
    assert "row 3: bad prefix '42a'" in message
    assert "row 4: price_per_minute 'abc' is not a number" in message
    assert "row 5: increments '60/0'" in message
    assert "row 6: prefix 420 already on row 2" in message
    assert "row 7: price_per_minute '0,12345' has more than 4 decimal places" in message
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Tariff)) == 0
    assert session.scalar(select(func.count()).select_from(TariffRate)) == 0


@pytest.mark.parametrize("encoding", ["utf-8", "cp1250"])
def test_nul_characters_are_refused_on_their_rows_and_change_nothing(session, tmp_path, encoding):
    """PostgreSQL text cannot hold U+0000: the rows are named, no database error."""
    lines = (SAMPLES / "tariff.csv").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace("mobilní", "mobil\x00ní")
    lines[4] = lines[4].replace("0;1/1", "0\x00;1/1")
    path = tmp_path / "nul.csv"
    path.write_bytes("\n".join(lines).encode(encoding))
    with pytest.raises(TariffFileError) as info:
        import_tariff_csv(session, path, actor="test")
    assert str(info.value) == (
        "row 3: destination contains a NUL character (U+0000)\n"
        "row 5: connect_fee contains a NUL character (U+0000)"
    )
    session.rollback()
    assert session.scalar(select(func.count()).select_from(Tariff)) == 0
    assert session.scalar(select(func.count()).select_from(TariffRate)) == 0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "the file is empty"),
        ("\n\n", "the file is empty"),
        (HEADER, "no rates: the file has only the header (row 1)"),
        ("prefix;price_per_minute\n420;1\n", "row 1: missing column(s) destination"),
        ("prefix;destination;price;x\n", "row 1: missing column(s) price_per_minute; unknown"),
        (HEADER + "420;Česko;1;0;60/60;21;extra\n", "row 2: 7 columns, the header has 6"),
        (HEADER + "420;;1;0;60/60;21\n", "row 2: destination must be 1 to 100 characters"),
        (HEADER + "420;Česko;-1;0;60/60;21\n", "row 2: price_per_minute '-1' must be between"),
        (HEADER + "420;Česko;1;0;60/60;121\n", "row 2: vat_rate '121' must be between"),
        (HEADER + "\n\n420;Česko;1;0;abc;21\n", "row 4: increments 'abc'"),
        # PostgreSQL text cannot hold U+0000: refused here, not as a database error
        (HEADER + "420;Čes\x00ko;1;0;60/60;21\n", "row 2: destination contains a NUL character"),
        (HEADER + "420\x00;Česko;1;0;60/60;21\n", "row 2: prefix contains a NUL character"),
        (HEADER.replace("vat", "v\x00at"), "row 1: a column name contains a NUL character"),
    ],
)
def test_import_refuses(session, text, expected):
    with pytest.raises(TariffFileError) as info:
        import_tariff_csv(session, io.StringIO(text), actor="test")
    assert expected in str(info.value)


def test_comma_delimited_with_defaults(session):
    text = io.StringIO(
        'prefix,destination,price_per_minute\n'
        '+420,"Česko, pevné","0,4950"\n'
        '00421,Slovensko,1.5\n'
    )
    tariff = import_tariff_csv(session, text, valid_from=today(), name="CSV", actor="test")
    session.commit()
    rates = {r.prefix: r for r in tariff.rates}
    assert rates["420"].destination == "Česko, pevné"
    assert rates["420"].price_per_minute == D("0.4950")
    assert rates["421"].price_per_minute == D("1.5000")
    assert (rates["421"].initial_increment, rates["421"].increment) == (60, 60)
    assert rates["421"].vat_rate == D("21") and rates["421"].connect_fee == D("0")


def test_same_day_needs_replace_and_replace_refreshes_quotes(session):
    load_sample_tariff(session, valid_from=today())
    assert quote(session, "601234567", today()).price_per_minute == D("0.9900")
    with pytest.raises(TariffFileError, match="already exists"):
        import_tariff_csv(session, tariff_text("420;Česko;0,1;0;1/1;21"),
                          valid_from=today(), actor="test")
    session.rollback()
    import_tariff_csv(session, tariff_text("420;Česko;0,1;0;1/1;21"), valid_from=today(),
                      actor="test", replace=True)
    session.commit()
    # the cached index is keyed by imported_at: the new rates are used at once
    q = quote(session, "601234567", today())
    assert (q.prefix, q.price_per_minute, q.increments_label) == ("420", D("0.1000"), "1/1")
    assert session.scalar(select(func.count()).select_from(Tariff)) == 1
    assert session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "voip.tariff_replaced")
    ) == 1


def test_cli_import(app, tmp_path):
    runner = app.test_cli_runner()
    day = (today() + timedelta(days=3)).isoformat()
    ok = runner.invoke(args=["voip", "tariffs", "import", str(SAMPLES / "tariff.csv"),
                             "--valid-from", day, "--name", "Ceník 2027"])
    assert ok.exit_code == 0, ok.output
    assert f"tariff 'Ceník 2027' valid from {day}: 9 prefixes" in ok.output

    again = runner.invoke(args=["voip", "tariffs", "import", str(SAMPLES / "tariff.csv"),
                                "--valid-from", day])
    assert again.exit_code != 0 and "--replace" in again.output

    bad = runner.invoke(args=["voip", "tariffs", "import", str(SAMPLES / "tariff_errors.csv")])
    assert bad.exit_code != 0
    assert "row 3" in bad.output and "row 7" in bad.output and "nothing was imported" in bad.output
    with app.app_context():
        session = app.extensions["ispzone.sessions"]()
        assert session.scalar(select(func.count()).select_from(Tariff)) == 1
        session.close()
