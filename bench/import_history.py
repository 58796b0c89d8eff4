"""Benchmark: the statement import on a database WITH history.

    .venv/bin/python bench/import_history.py [--template bench_monthly] [--database import_history]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres]

bench/import.py imports into customers who have nothing but the one open invoice the
statement pays, so the settlement's reading of each paying customer's history (every invoice
with its allocations, every matched payment with its allocations: docs/performance.md)
costs nothing there. This copies a database that has history (``CREATE DATABASE ...
TEMPLATE``; by default ``bench_monthly``, which bench/monthly_run.py leaves: bench/web.py's
100k customers with 12 months of invoices and payments, plus the month the run issued),
renders a GPC statement paying every customer's newest invoice (VS = the contract number,
the invoice's total), runs VACUUM (ANALYZE), and imports it with bench/import.py's
``measure`` (wall time, and the CPU of this process plus its PostgreSQL backend). Compare
with ``bench/import.py --no-floor`` run right after it. The copy is dropped at the end.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH.parent))
_spec = importlib.util.spec_from_file_location("bench_import", BENCH / "import.py")
bench_import = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench_import)


def main() -> None:
    import psycopg

    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--template", default="bench_monthly")
    ap.add_argument("--database", default="import_history")
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = ap.parse_args()
    admin = psycopg.conninfo.conninfo_to_dict(args.admin_url)
    url = psycopg.conninfo.make_conninfo(args.admin_url, dbname=args.database)
    with psycopg.connect(args.admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{args.database}"')
        t0 = time.perf_counter()
        conn.execute(f'CREATE DATABASE "{args.database}" TEMPLATE "{args.template}"')
        print(f"copied {args.template} in {time.perf_counter() - t0:.1f} s")
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT DISTINCT ON (i.customer_id) k.number, i.total "
                "FROM invoice i JOIN contract k ON k.customer_id = i.customer_id "
                "ORDER BY i.customer_id, i.issue_date DESC, i.id DESC").fetchall()
            invoices, payments = conn.execute(
                "SELECT (SELECT count(*) FROM invoice), (SELECT count(*) FROM bank_transaction)"
            ).fetchone()
            conn.execute("VACUUM (ANALYZE)")
        print(f"history: {invoices:,} invoices and {payments:,} bank payments of "
              f"{len(rows):,} customers; the statement pays each one's newest invoice")
        on = date.today()
        txs = [ParsedTransaction(
            bank_tx_id=str(900_000_000 + n), booked_on=on, amount=Decimal(total),
            currency="CZK", variable_symbol=str(number), specific_symbol=None,
            constant_symbol=None, counter_account="123456789/0800", counter_name="Plátce",
            message="platba", line=0) for n, (number, total) in enumerate(rows, 1)]
        with tempfile.TemporaryDirectory() as folder:
            statement = Path(folder) / "history.gpc"
            statement.write_bytes(render_gpc(ParsedStatement("gpc", "2001234588/2010", txs)))
            dsn = "postgresql://{user}@{host}:{port}/{db}".format(
                user=admin.get("user", "postgres"), host=admin.get("host", "127.0.0.1"),
                port=admin.get("port", "5432"), db=args.database)
            bench_import.measure(dsn, statement)
    finally:
        with psycopg.connect(args.admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')


if __name__ == "__main__":
    main()
