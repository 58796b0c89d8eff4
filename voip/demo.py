"""The VoIP part of ``ispzone demo`` (runs after billing's demo, in its transaction).

1001's line +420 601 234 567 (login ``567`` / ``voip1001``) gets: a price list with
domestic fixed, mobile and foreign prefixes (imported from CSV like an operator would),
an opening credit, a month of calls (an Asterisk Master.csv rated by the CDR import) and
one top-up this month with its invoice. Lines 1006 and 1014 end with the same digits (106),
so their login asks for the full number.
"""

from __future__ import annotations

import csv
import io
import random
import secrets
from datetime import datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.invoicing.supplier import Supplier
from billing.models import Service
from core.clock import PRAGUE, now, today
from voip import config as voip_config
from voip.cdr import import_cdr
from voip.lines import line_row, open_line
from voip.tariff_import import import_tariff_csv
from voip.topups import top_up

DEMO_NUMBER = "+420601234567"
ACTOR = "system:demo"
# prefix, destination, net price per minute, net connect fee, increments
TARIFF = [
    ("4202", "Česko – pevné linky", "0.4950", "0", "60/1"),
    ("4203", "Česko – pevné linky", "0.4950", "0", "60/1"),
    ("4204", "Česko – pevné linky", "0.4950", "0", "60/1"),
    ("4205", "Česko – pevné linky", "0.4950", "0", "60/1"),
    ("4206", "Česko – mobilní sítě", "0.9900", "0", "60/1"),
    ("4207", "Česko – mobilní sítě", "0.9900", "0", "60/1"),
    ("420800", "Česko – zelená linka", "0", "0", "1/1"),
    ("4209", "Česko – neveřejné a VoIP sítě", "0.4950", "0", "60/1"),
    ("420112", "Tísňové volání", "0", "0", "1/1"),
    ("49", "Německo – pevné linky", "0.9900", "0", "60/1"),
    ("4915", "Německo – mobilní sítě", "3.9000", "0.5000", "60/1"),
    ("4916", "Německo – mobilní sítě", "3.9000", "0.5000", "60/1"),
    ("4917", "Německo – mobilní sítě", "3.9000", "0.5000", "60/1"),
    ("421", "Slovensko – pevné linky", "1.2000", "0", "60/1"),
    ("4219", "Slovensko – mobilní sítě", "2.9000", "0", "60/1"),
    ("43", "Rakousko – pevné linky", "1.2000", "0", "60/1"),
    ("436", "Rakousko – mobilní sítě", "4.5000", "0.5000", "60/1"),
    ("48", "Polsko – pevné linky", "1.2000", "0", "60/1"),
    ("485", "Polsko – mobilní sítě", "2.5000", "0", "60/1"),
    ("487", "Polsko – mobilní sítě", "2.5000", "0", "60/1"),
    ("488", "Polsko – mobilní sítě", "2.5000", "0", "60/1"),
    ("44", "Velká Británie – pevné linky", "0.9900", "0", "60/1"),
    ("447", "Velká Británie – mobilní sítě", "3.5000", "0", "60/1"),
    ("1", "USA a Kanada", "0.9900", "0", "60/1"),
    ("33", "Francie – pevné linky", "0.9900", "0", "60/1"),
    ("39", "Itálie – pevné linky", "0.9900", "0", "60/1"),
    ("36", "Maďarsko – pevné linky", "1.2000", "0", "60/1"),
    ("41", "Švýcarsko – pevné linky", "1.5000", "0", "60/60"),
    ("881", "Satelitní sítě", "59.0000", "10.0000", "60/60"),
]
# the destinations' English names (the price list's optional destination_en column)
DESTINATIONS_EN = {
    "Česko – pevné linky": "Czechia – landlines",
    "Česko – mobilní sítě": "Czechia – mobile networks",
    "Česko – zelená linka": "Czechia – freephone",
    "Česko – neveřejné a VoIP sítě": "Czechia – private and VoIP networks",
    "Tísňové volání": "Emergency calls",
    "Německo – pevné linky": "Germany – landlines",
    "Německo – mobilní sítě": "Germany – mobile networks",
    "Slovensko – pevné linky": "Slovakia – landlines",
    "Slovensko – mobilní sítě": "Slovakia – mobile networks",
    "Rakousko – pevné linky": "Austria – landlines",
    "Rakousko – mobilní sítě": "Austria – mobile networks",
    "Polsko – pevné linky": "Poland – landlines",
    "Polsko – mobilní sítě": "Poland – mobile networks",
    "Velká Británie – pevné linky": "United Kingdom – landlines",
    "Velká Británie – mobilní sítě": "United Kingdom – mobile networks",
    "USA a Kanada": "USA and Canada",
    "Francie – pevné linky": "France – landlines",
    "Itálie – pevné linky": "Italy – landlines",
    "Maďarsko – pevné linky": "Hungary – landlines",
    "Švýcarsko – pevné linky": "Switzerland – landlines",
    "Satelitní sítě": "Satellite networks",
}
# who the demo line calls: weight, a number generator
CALLEES = [
    (34, lambda r: f"60{r.randint(2, 8)}{r.randint(0, 999999):06d}"),  # Czech mobiles
    (12, lambda r: f"77{r.choice('4579')}{r.randint(0, 999999):06d}"),
    (26, lambda r: f"3{r.choice('12257')}{r.randint(1000000, 9999999)}"),  # fixed, Kolín area
    (8, lambda r: f"+4930{r.randint(1000000, 9999999)}"),  # Berlin
    (4, lambda r: f"+49151{r.randint(10000000, 99999999)}"),  # German mobile
    (6, lambda r: f"00421{r.choice(['2', '905', '911'])}{r.randint(100000, 999999)}"),
    (4, lambda r: f"+431{r.randint(1000000, 9999999)}"),  # Vienna
    (3, lambda r: f"+4822{r.randint(1000000, 9999999)}"),  # Warsaw
    (2, lambda r: f"+4420{r.randint(10000000, 99999999)}"),  # London
    (1, lambda r: f"+1212{r.randint(1000000, 9999999)}"),  # New York
]
OPENING_CREDIT = {DEMO_NUMBER: Decimal("300.00")}
OTHER_OPENING_CREDIT = Decimal("150.00")


def tariff_csv() -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["prefix", "destination", "price_per_minute", "connect_fee", "increments", "vat_rate",
                     "destination_en"])
    for prefix, destination, price, fee, increments in TARIFF:
        writer.writerow([prefix, destination, price.replace(".", ","), fee.replace(".", ","), increments, "21",
                         DESTINATIONS_EN[destination]])
    return out.getvalue()


def master_csv(lines: list[Service], days: int, rng: random.Random) -> tuple[str, int]:
    """An Asterisk Master.csv (loguniqueid layout, local Prague time) of ``days`` days of
    calls; returns it with the number of answered calls."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    weights = [w for w, _ in CALLEES]
    answered = 0
    end = now().astimezone(PRAGUE)
    for service in lines:
        per_day = 1.5 if service.phone_number == DEMO_NUMBER else 0.3
        src = service.phone_number[4:]  # Asterisk writes the national number
        for ago in range(days, 0, -1):
            day = today() - timedelta(days=ago)
            for _ in range(int(per_day) + (rng.random() < per_day % 1)):
                _, make = rng.choices(CALLEES, weights)[0]
                dst = make(rng)
                start = datetime.combine(day, time(rng.randint(7, 20), rng.randint(0, 59), rng.randint(0, 59)))
                if start.replace(tzinfo=PRAGUE) >= end:
                    continue
                ok = rng.random() < 0.85
                billsec = int(rng.triangular(5, 480, 45)) if ok else 0
                ring = rng.randint(3, 25)
                answer = start + timedelta(seconds=ring) if ok else None
                stop = (answer or start) + timedelta(seconds=billsec)
                uid = f"demo-{service.id}-{start:%Y%m%d%H%M%S}.{rng.randint(1, 99999)}"
                writer.writerow([
                    "", src, dst, "from-internal", f'"{service.customer.name}" <{src}>',
                    f"PJSIP/{src}-{rng.randint(0, 0xFFFFFF):08x}", "PJSIP/trunk-00000001",
                    "Dial", f"PJSIP/{dst}@trunk,60", f"{start:%Y-%m-%d %H:%M:%S}",
                    f"{answer:%Y-%m-%d %H:%M:%S}" if answer else "", f"{stop:%Y-%m-%d %H:%M:%S}",
                    ring + billsec, billsec, "ANSWERED" if ok else rng.choice(["NO ANSWER", "BUSY"]),
                    "DOCUMENTATION", uid,
                ])
                answered += ok
    return out.getvalue(), answered


def load(session: Session, supplier: Supplier, config) -> str:
    line = session.scalar(select(Service).where(Service.phone_number == DEMO_NUMBER))
    if line is None:
        return ""
    settings = {**voip_config.DEFAULTS, **{k: config[k] for k in voip_config.DEFAULTS if k in config}}
    start = today() - timedelta(days=90)
    tariff = import_tariff_csv(
        session, io.StringIO(tariff_csv()), valid_from=start, name=f"Ceník VoIP {start.year}", actor=ACTOR
    )
    lines = list(session.scalars(select(Service).where(Service.kind == "voip").order_by(Service.id)))
    for service in lines:
        opening = OPENING_CREDIT.get(service.phone_number, OTHER_OPENING_CREDIT)
        open_line(session, service.id, opening, actor=ACTOR,
                  threshold=Decimal("50.00") if service.phone_number == DEMO_NUMBER else None)
    session.flush()

    text, _answered = master_csv(lines, 30, random.Random(1001))
    calls = import_cdr(session, io.StringIO(text), actor=ACTOR)
    topup = top_up(
        session,
        line.id,
        Decimal("200"),
        "demo-" + secrets.token_urlsafe(16),
        actor=ACTOR,
        ip=None,
        cap_default=settings["VOIP_TOPUP_CAP"],
        supplier=supplier,
        coupons=settings["VOIP_COUPONS"],
        vat_rate=settings["VOIP_TOPUP_VAT_RATE"],
        due_days=settings["VOIP_TOPUP_DUE_DAYS"],
    )
    session.refresh(row := line_row(session, line.id))
    return (
        f"VoIP demo: price list {tariff.name!r} with {len(TARIFF)} prefixes, {calls.stored} calls "
        f"({calls.total_cost} Kč) on {len(lines)} lines, a top-up of {topup.amount} Kč; "
        f"+420 601 234 567 has {row.credit} Kč. VoIP zone /voip/: log in as 567 / voip1001 "
        f"(106 is shared by two lines: the full number is asked for)."
    )
