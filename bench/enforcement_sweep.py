"""Benchmark: one enforcement sweep over 10,000 and 100,000 customers in PostgreSQL.

    .venv/bin/python bench/enforcement_sweep.py [--url postgresql://postgres@127.0.0.1:5432/test]
                                                [--sizes 10000,100000]

For each size, a scratch schema (dropped at the end) gets N customers, each with a contract,
an internet service with an address and three monthly invoices; 90 % paid everything (by
bank payments allocated to the invoices, as billing pairs them), 10 % owe their latest
invoice, due 5, 12 or 20 days ago (-> reminded, reminded + reminder 2, warned). Then it times

* the first sweep (opens ~N/10 cases: case rows, audit events, router actions, e-mails), and
* a second sweep the same day (nothing to change: the daily steady state),

and counts the SQL statements each sends (a ``before_cursor_execute`` counter, plus one per
COPY, which psycopg runs on the raw cursor), which must not grow with N. Target: <= 10 s for 100,000 customers.
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

    from core.clock import today

    t = today()
    months = [t - timedelta(days=d) for d in (65, 35, 5)]
    late = {0: 5, 1: 12, 2: 20}  # customer i with i % 10 == 0 owes; i % 3 picks the age
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
        copy("service", ["id", "customer_id", "contract_id", "kind", "name", "price", "vat_rate",
                         "valid_from", "period", "router_name", "pppoe_username"],
             ((i, i, i, "internet", "Internet 100", "450.00", "21", "2025-01-01", "month",
               f"bras{i % 20}", f"u{i}") for i in ids))
        copy("service_address", ["id", "service_id", "address"],
             ((i, i, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}") for i in ids))

        def invoices():
            for i in ids:
                for m, issued in enumerate(months):
                    due = issued + timedelta(days=14)
                    if m == 2 and i % 10 == 0:
                        due = t - timedelta(days=late[i % 3])
                    k = 3 * i + m
                    yield (k, i, i, f"2026{k:07d}", "regular", issued, issued, due,
                           str(100000 + i), f"{k}", "CZK", "371.90", "78.10", "450.00",
                           "Příkladnet s.r.o.", "Nádražní 12, Kolín", f"Zákazník {i}",
                           "Hlavní 1, Kolín", stamp)

        copy("invoice", ["id", "customer_id", "contract_id", "number", "kind", "issue_date",
                         "taxable_date", "due_date", "variable_symbol", "specific_symbol",
                         "currency", "total_net", "total_vat", "total", "supplier_name",
                         "supplier_address", "customer_name", "customer_address", "created_at"],
             invoices())
        copy("bank_transaction", ["id", "source_account", "bank_tx_id", "booked_on", "amount",
                                  "currency", "variable_symbol", "status", "customer_id",
                                  "created_at"],
             ((i, "2001234588/2010", f"B{i}", t, "1350.00" if i % 10 else "900.00", "CZK",
               str(100000 + i), "matched", i, stamp) for i in ids))
        copy("allocation", ["invoice_id", "bank_transaction_id", "amount", "created_at"],
             ((3 * i + m, i, "450.00", stamp) for i in ids for m in range(3)
              if not (m == 2 and i % 10 == 0)))
        for table in ("customer", "contract", "service", "service_address", "invoice",
                      "bank_transaction"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
        cur.execute("ANALYZE")


def timed_sweep(url: str) -> tuple[float, int, int]:
    from sqlalchemy import event

    from core.clock import today
    from core.db import make_engine, make_session_factory
    from enforcement import service
    from enforcement.config import Policy

    engine = make_engine(url)
    counter = {"n": 0}

    @event.listens_for(engine, "before_cursor_execute")
    def count(*_args):
        counter["n"] += 1

    # COPY runs on the raw psycopg cursor, unseen by the event: count each bulk insert too
    original = service.bulk_insert

    def counted_bulk_insert(session, table, rows):
        if rows:
            counter["n"] += 1
        return original(session, table, rows)

    service.bulk_insert = counted_bulk_insert
    session = make_session_factory(engine)()
    session.connection()  # connect outside the timing
    counter["n"] = 0
    t0 = time.perf_counter()
    report = service.sweep(session, today(), Policy())
    session.commit()
    seconds = time.perf_counter() - t0
    session.close()
    engine.dispose()
    service.bulk_insert = original
    return seconds, counter["n"], len(report.changes)


def run(base_url: str, n: int) -> None:
    from bench._db import scratch_schema
    from core import schema
    from core.db import make_engine

    with scratch_schema(base_url, f"e3a_bench_{os.getpid()}_{n}") as url:
        engine = make_engine(url)
        schema.upgrade(engine)
        engine.dispose()
        t0 = time.perf_counter()
        populate(url, n)
        print(f"{n:>7} customers: data generated in {time.perf_counter() - t0:.1f} s")
        first = timed_sweep(url)
        second = timed_sweep(url)
        print(f"{n:>7} customers: first sweep  {first[0]:6.2f} s, {first[1]:3d} SQL statements, "
              f"{first[2]} cases changed")
        print(f"{n:>7} customers: second sweep {second[0]:6.2f} s, {second[1]:3d} SQL statements, "
              f"{second[2]} cases changed")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--sizes", default="10000,100000")
    args = ap.parse_args()
    for n in (int(s) for s in args.sizes.split(",")):
        run(args.url, n)
    print("target: first sweep over 100,000 customers <= 10 s; statements independent of N")


if __name__ == "__main__":
    main()
