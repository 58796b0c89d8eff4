"""Benchmark: VoIP tariff lookups and rating + importing Asterisk CDRs into PostgreSQL.

    .venv/bin/python bench/voip.py [--prefixes 50000] [--lookups 500000] [--cdrs 1000000]
        [--services 2000] [--url postgresql://postgres@127.0.0.1:5432/test] [--no-db]
        [--repeat 1]

1. Lookups: a tariff of N random prefixes (1-9 digits), the in-process index
   (voip.tariffs.TariffIndex), longest-prefix lookups of random 11-12 digit numbers; prints
   lookups/s and the ratio to a plain ``dict.get`` of the whole number. Target >= 200,000/s.
2. CDRs: a scratch schema (created here, migrated with core.schema.upgrade, dropped at the
   end) with S VoIP services and that tariff; generates a Master.csv of M answered calls
   (Asterisk cdr-csv, 18 columns), then times voip.cdr.import_cdr + commit (parse, rate,
   COPY, charge), and a re-import of the same file (all duplicates); with the CPU time of
   this process and of its PostgreSQL backend (when the server runs on this machine).
   --repeat N: N times (the calls deleted in between; the credits, ledger postings, are not reset).
   Target: 1,000,000 CDRs <= 30 s.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from voip.rating import Rate  # noqa: E402
from voip.tariffs import TariffIndex  # noqa: E402


def random_prefixes(n: int, rng: random.Random) -> list[str]:
    prefixes = {"420", "4206", "4207", "49", "43", "1"}
    while len(prefixes) < n:
        prefixes.add(str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(0, 8))))
    return sorted(prefixes)


def random_numbers(n: int, rng: random.Random) -> list[str]:
    return [str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(10, 11)))
            for _ in range(n)]


def bench_lookups(prefixes: list[str], lookups: int, rng: random.Random) -> None:
    rates = [Rate(p, f"Dest {p}", Decimal(rng.randint(1, 50000)).scaleb(-4), Decimal(0),
                  Decimal(21), 60, rng.choice((1, 60))) for p in prefixes]
    t0 = time.perf_counter()
    index = TariffIndex(1, "bench", date.today(), None, rates)
    built = time.perf_counter() - t0
    numbers = random_numbers(lookups, rng)
    plain = {n: n for n in numbers[::2]}  # half of them hit
    lookup = index.lookup
    best_index = best_plain = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for number in numbers:
            lookup(number)
        best_index = min(best_index, time.perf_counter() - t0)
        get = plain.get
        t0 = time.perf_counter()
        for number in numbers:
            get(number)
        best_plain = min(best_plain, time.perf_counter() - t0)
    found = sum(1 for n in numbers if lookup(n) is not None)
    print(f"tariff index: {len(prefixes):,} prefixes in {len(index.tables)} lengths, built in {built:.3f} s")
    print(f"  longest-prefix lookups: {lookups / best_index:,.0f}/s "
          f"({best_index / lookups * 1e6:.2f} µs each, {found / lookups:.0%} matched)")
    print(f"  plain dict lookup of the whole number: {lookups / best_plain:,.0f}/s "
          f"-> the index is {best_index / best_plain:.1f}x slower than one dict.get")


def write_master_csv(path: Path, cdrs: int, phones: list[str], prefixes: list[str],
                     rng: random.Random) -> None:
    start = datetime(2026, 10, 20, 8, 0, 0)  # spans the end of summer time (25 Oct)
    # destinations: mostly Czech numbers, the rest an extension of a random prefix
    with path.open("w", encoding="utf-8", newline="") as f:
        write = f.write
        for i in range(cdrs):
            src = phones[i % len(phones)]
            if i % 3:
                dst = rng.choice(("6", "7", "2", "3")) + str(rng.randint(10_000_000, 99_999_999))
            else:
                p = prefixes[rng.randrange(len(prefixes))]
                dst = "00" + p + str(rng.randint(10**5, 10**6 - 1))[: max(1, 12 - len(p))]
            t = start + timedelta(seconds=i * 2)
            s = t.strftime("%Y-%m-%d %H:%M:%S")
            billsec = rng.randint(0, 900)
            write(f'"","{src}","{dst}","from-customers","\\"{src}\\" <{src}>","PJSIP/{src}-{i:08x}",'
                  f'"PJSIP/trunk-{i:08x}","Dial","PJSIP/{dst}@trunk,60","{s}","{s}","{s}",'
                  f'{billsec + 3},{billsec},"ANSWERED","DOCUMENTATION","bench-{1700000000 + i}.{i}",""\n')


def _backend_cpu(session) -> float | None:
    """CPU seconds of the session's PostgreSQL backend so far (None: not on this machine)."""
    from sqlalchemy import text

    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench_cdrs(url: str, prefixes: list[str], cdrs: int, services: int, rng: random.Random,
               repeat: int = 1) -> None:
    from sqlalchemy import func, select, text

    from bench._db import create_schema, drop_schema
    from billing.models import LedgerAccount, LedgerLeg
    from core import schema
    from core.db import make_engine, make_session_factory, money_sum
    from voip.cdr import import_cdr
    from voip.models import CallRecord
    from voip.tariff_import import import_tariff_csv

    name = f"bench_voip_{os.getpid()}"
    engine = make_engine(create_schema(url, name))
    tmp = Path(tempfile.mkdtemp(prefix="v1_bench_voip_"))
    try:
        schema.upgrade(engine)
        phones = [f"60{1000000 + i:07d}" for i in range(services)]
        raw = engine.raw_connection()
        try:
            cur = raw.cursor()

            def copy(table, columns, rows):
                with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                    for row in rows:
                        cp.write_row(row)

            ids = range(1, services + 1)
            copy("customer", ["id", "customer_number", "is_company", "name", "street", "city",
                              "postal_code", "country", "language", "created_at", "enforcement_exempt"],
                 ((i, str(100000 + i), False, f"Zákazník {i}", "Hlavní 1", "Kolín", "280 02", "CZ",
                   "cs", "2026-01-01T00:00:00Z", False) for i in ids))
            copy("contract", ["id", "customer_id", "number", "signed_on"],
                 ((i, i, str(100000 + i), "2025-01-01") for i in ids))
            copy("service", ["id", "customer_id", "contract_id", "kind", "name", "price", "vat_rate",
                             "period", "valid_from", "phone_number"],
                 ((i, i, i, "voip", "VoIP", "0", "21", "month", "2025-01-01", "+420" + phones[i - 1])
                  for i in ids))
            raw.commit()
        finally:
            raw.close()
        sessions = make_session_factory(engine)
        csv_path = tmp / "tariff.csv"
        with csv_path.open("w", encoding="utf-8") as f:
            f.write("prefix;destination;price_per_minute;connect_fee;increments;vat_rate\n")
            for p in prefixes:
                f.write(f"{p};Dest {p};{rng.randint(1, 50000) / 10000:.4f};0;{rng.choice(('60/1', '60/60', '1/1'))};21\n")
        with sessions() as session:
            t0 = time.perf_counter()
            import_tariff_csv(session, csv_path, valid_from=date(2026, 1, 1), actor="bench")
            session.commit()
            print(f"tariff import: {len(prefixes):,} prefixes in {time.perf_counter() - t0:.2f} s")

        master = tmp / "Master.csv"
        t0 = time.perf_counter()
        write_master_csv(master, cdrs, phones, prefixes, rng)
        generated = time.perf_counter() - t0
        print(f"generated {cdrs:,} CDRs ({master.stat().st_size / 1e6:.0f} MB) in {generated:.1f} s")

        for run in range(repeat):
            if run:
                with sessions() as session:
                    # the credits are ledger postings (append-only): they go on falling
                    session.execute(text("TRUNCATE voip_call"))
                    session.commit()
            for label in ("rate + import", "re-import (all duplicates)"):
                with sessions() as session:
                    backend, cpu = _backend_cpu(session), time.process_time()
                    t0 = time.perf_counter()
                    result = import_cdr(session, master, actor="bench", skip_unrated=True)
                    session.commit()
                    took = time.perf_counter() - t0
                    cpu = f"CPU: python {time.process_time() - cpu:.1f} s"
                    if backend is not None:
                        cpu += f", postgres backend {_backend_cpu(session) - backend:.1f} s"
                print(f"{label}: {took:.1f} s ({cdrs / took:,.0f} CDRs/s; {cpu}): {result}")
        with sessions() as session:
            stored = session.scalar(select(func.count()).select_from(CallRecord))
            charged = session.scalar(select(func.sum(CallRecord.cost)))
            credits = -session.scalar(
                select(money_sum(LedgerLeg.amount))
                .join(LedgerAccount, LedgerAccount.id == LedgerLeg.account_id)
                .where(LedgerAccount.kind == "voip_line_credit")
            )
            print(f"check: {stored:,} calls stored, their cost {charged} Kč, credits sum {credits} Kč")
    finally:
        engine.dispose()
        drop_schema(url, name)
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefixes", type=int, default=50_000)
    parser.add_argument("--lookups", type=int, default=500_000)
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--services", type=int, default=2_000)
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL",
                                                        "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--no-db", action="store_true", help="Only the lookup benchmark.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=1, help="Time the CDR import N times.")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    prefixes = random_prefixes(args.prefixes, rng)
    bench_lookups(prefixes, args.lookups, rng)
    if not args.no_db:
        bench_cdrs(args.url, prefixes, args.cdrs, args.services, rng, args.repeat)
    print(f"(taken on a machine shared with other work; load average {os.getloadavg()[0]:.1f})")


if __name__ == "__main__":
    main()
