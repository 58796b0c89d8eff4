"""The daily credit job's benchmark (issue 15): ``credit daily``'s steps over N customers
with credit accounts, 20 % of them with a payment request due for auto-pay that day (half
of those with too little credit), on PostgreSQL: the time and the number of SQL statements,
which must not grow with N. Target: <= 30 s for 100,000 customers.

    .venv/bin/python bench/credit.py [--url postgresql://postgres@127.0.0.1:5432/test] [--sizes 10000 100000]

A scratch schema per size (dropped at the end); the data is written with COPY. The
statements are counted with a ``before_cursor_execute`` counter plus one per COPY
(core.db.bulk_insert, which psycopg runs on the raw cursor). The steps measured are this
branch's (top-ups, auto-pay, statements, closing); credit-services' renewals and notices
plug into the same runner.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def populate(url: str, n: int) -> None:
    import psycopg

    from billing.credit.accounts import variable_symbol_for
    from core.clock import today

    t = today()
    issued = t - timedelta(days=10)
    stamp = "2026-01-01T00:00:00Z"
    with psycopg.connect(url.replace("+psycopg", "")) as conn, conn.cursor() as cur:
        def copy(table, columns, rows):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        ids = range(1, n + 1)
        copy("customer", ["id", "customer_number", "is_company", "name", "street", "city",
                          "postal_code", "country", "language", "created_at", "enforcement_exempt",
                          "email"],
             ((i, str(100000 + i), False, f"Zákazník {i}", "Hlavní 1", "Kolín", "280 02", "CZ",
               "cs", stamp, False, f"z{i}@example.cz") for i in ids))
        copy("contract", ["id", "customer_id", "number", "signed_on"],
             ((i, i, str(100000 + i), "2025-01-01") for i in ids))
        copy("credit_account", ["id", "customer_id", "currency", "variable_symbol", "auto_pay",
                                "opened_at", "opened_by"],
             ((i, i, "CZK", variable_symbol_for(i), True, stamp, "bench") for i in ids))
        # every customer's credit: 1000 Kč (one opening transaction), the other side once
        # the accounts a running system has: each customer's credit and receivable (their
        # invoices were posted), the shared ones
        due = [i for i in ids if i % 5 == 0]
        shared = ["opening_balance", "revenue", "output_vat", "advances"]
        copy("ledger_account", ["id", "key", "kind", "customer_id", "created_at"],
             [(k, key, key, None, stamp) for k, key in enumerate(shared, start=1)]
             + [(len(shared) + i, f"credit:{i}", "credit", i, stamp) for i in ids]
             + [(len(shared) + n + i, f"receivable:{i}", "receivable", i, stamp) for i in due])
        copy("ledger_leg", ["transaction_id", "account_id", "amount"],
             (leg for i in ids for leg in ((i, 4 + i, "-1000.00"), (i, 1, "1000.00"))))
        copy("ledger_transaction", ["id", "kind", "booked_on", "actor", "description",
                                    "customer_id", "created_at"],
             ((i, "opening", t - timedelta(days=40), "bench", "", i, stamp) for i in ids))
        # 20 % have a request due today: 605 Kč (500 without VAT) or, every other one,
        # 1815 Kč (1500 without VAT: the credit is short)
        copy("invoice", ["id", "customer_id", "contract_id", "number", "kind", "issue_date",
                         "taxable_date", "due_date", "variable_symbol", "specific_symbol",
                         "currency", "total_net", "total_vat", "total", "supplier_name",
                         "supplier_address", "customer_name", "customer_address", "created_at"],
             ((k, i, i, f"2026{k:06d}", "regular", issued, issued, issued + timedelta(days=14),
               str(100000 + i), f"2026{k:06d}", "CZK",
               *(("500.00", "105.00", "605.00") if k % 2 else ("1500.00", "315.00", "1815.00")),
               "Příkladnet s.r.o.", "Nádražní 12, Kolín", f"Zákazník {i}", "Hlavní 1, Kolín",
               stamp) for k, i in enumerate(due, start=1)))
        for table in ("customer", "contract", "credit_account", "ledger_account",
                      "ledger_transaction", "invoice"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
        for table in ("customer", "credit_account", "ledger_account", "ledger_leg",
                      "ledger_transaction", "invoice"):
            cur.execute(f"ANALYZE {table}")


def timed_daily(url: str) -> tuple[float, int, dict]:
    from sqlalchemy import event

    import core.db
    from billing.credit.accounts import CreditSettings
    from billing.credit.daily import DailyContext, run_daily
    from core.clock import today
    from core.db import make_engine, make_session_factory

    engine = make_engine(url)
    counter = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_args):
        counter["n"] += 1

    original = core.db.bulk_insert

    def counted(session, table, rows):
        if rows:
            counter["n"] += 1
        return original(session, table, rows)

    import billing.credit.autopay
    import billing.credit.mail
    import billing.ledger.postings

    for module in (core.db, billing.credit.autopay, billing.credit.mail, billing.ledger.postings):
        module.bulk_insert = counted
    sessions = make_session_factory(engine)
    with sessions() as s:
        s.connection()
    counter["n"] = 0
    t0 = time.perf_counter()
    report = run_daily(sessions, DailyContext(today(), CreditSettings(), actor="system:bench"))
    seconds = time.perf_counter() - t0
    for module in (core.db, billing.credit.autopay, billing.credit.mail, billing.ledger.postings):
        module.bulk_insert = original
    engine.dispose()
    return seconds, counter["n"], {name: (f"{report.seconds[name]:.2f} s", result)
                                    for name, result in {**report.steps, **report.refused}.items()}


def run(base_url: str, n: int) -> None:
    from bench._db import scratch_schema
    from core import schema
    from core.db import make_engine

    with scratch_schema(base_url, f"credit_bench_{os.getpid()}_{n}") as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        t0 = time.perf_counter()
        populate(url, n)
        print(f"{n:>7} customers: data generated in {time.perf_counter() - t0:.1f} s")
        for label in ("first run ", "second run"):
            seconds, statements, steps = timed_daily(url)
            print(f"{n:>7} customers: {label} {seconds:6.2f} s, {statements:3d} SQL statements, "
                  f"{steps}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    for n in args.sizes:
        run(args.url, n)


if __name__ == "__main__":
    main()
