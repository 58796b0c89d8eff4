"""Benchmark: import and pair a 100,000-line GPC statement into PostgreSQL.

    .venv/bin/python bench/import.py [--lines 100000] [--database bench_import]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-vacuum]

Builds a fresh database ``bench_import`` with N customers, each with one contract and one
open 450 Kč invoice, renders a GPC statement paying every invoice (VS = contract number;
every tenth by SS, every hundredth with an unknown VS), runs VACUUM (ANALYZE) as autovacuum
would have on a live database (``--no-vacuum``: import into the freshly COPYed tables, as
the earlier figures were taken), then in a separate process (so that its peak memory is the
import's own) times:

* parse only (billing.bank.statements.parse_statement),
* import + pairing (billing.bank.importing.import_statement + commit),

and prints both, their ratio and the peak RSS. Targets: import + pairing <= 10 s and
<= 3x parse-only; peak memory <= 300 MB.

Then, on a database set up the same way again, the floor of any import that pairs: only the
rows such an import must store for these payments (one movement, one ledger entry and one
allocation each, already resolved, COPYed in one transaction with the schema's indexes,
constraints and foreign keys), timed against the same parse-only time. ``--no-floor`` skips it.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

DB = "bench_import"


def setup(admin_url: str, lines: int, statement: Path, db: str = DB, vacuum: bool = True) -> str:
    import re

    import psycopg

    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc
    from core import schema
    from core.clock import today
    from core.db import make_engine

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", db):
        raise SystemExit(f"unsupported database name {db!r}")
    with psycopg.connect(admin_url.replace("+psycopg", ""), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {db}")
        conn.execute(f"CREATE DATABASE {db}")
    url = admin_url.rsplit("/", 1)[0] + f"/{db}"
    engine = make_engine(url)
    schema.upgrade(engine)
    engine.dispose()

    issued = today() - timedelta(days=30)
    due = issued + timedelta(days=14)
    t0 = time.perf_counter()
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        def copy(table, columns, rows):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        n = range(1, lines + 1)
        copy("customer", ["id", "customer_number", "is_company", "name", "street", "city",
                          "postal_code", "country", "language", "created_at", "enforcement_exempt"],
             ((i, str(100000 + i), False, f"Zákazník {i}", "Hlavní 1", "Kolín", "280 02", "CZ",
               "cs", "2026-01-01T00:00:00Z", False) for i in n))
        copy("contract", ["id", "customer_id", "number", "signed_on"],
             ((i, i, str(100000 + i), "2025-01-01") for i in n))
        copy("invoice", ["id", "customer_id", "contract_id", "number", "kind", "issue_date",
                         "taxable_date", "due_date", "variable_symbol", "specific_symbol",
                         "currency", "total_net", "total_vat", "total", "supplier_name",
                         "supplier_address", "customer_name", "customer_address", "created_at"],
             ((i, i, i, f"2026{i:06d}", "regular", issued, issued, due, str(100000 + i),
               f"2026{i:06d}", "CZK", "371.90", "78.10", "450.00", "Příkladnet s.r.o.",
               "Nádražní 12, Kolín", f"Zákazník {i}", "Hlavní 1, Kolín",
               "2026-01-01T00:00:00Z") for i in n))
        copy("ledger_entry", ["customer_id", "booked_on", "kind", "amount", "invoice_id",
                              "description", "created_at"],
             ((i, issued, "invoice", "-450.00", i, "Faktura", "2026-01-01T00:00:00Z") for i in n))
        for table in ("customer", "contract", "invoice"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()

    txs = []
    for i in n:
        vs = str(100000 + i) if i % 100 else "999999999"
        ss = f"2026{i:06d}" if i % 10 == 0 else None
        txs.append(ParsedTransaction(str(10_000_000 + i), today(), Decimal("450.00"), "CZK", vs,
                                     ss, "0308", "123456789/0800", f"Zákazník {i}", None, 0))
    statement.write_bytes(render_gpc(ParsedStatement("gpc", "2001234567/2010", txs, Decimal("0"))))
    print(f"setup: {lines} customers + invoices and a {lines}-line GPC in {time.perf_counter() - t0:.1f} s")
    if vacuum:
        # what autovacuum has done to a live database long before a statement arrives:
        # statistics (the planner otherwise guesses ~8,000 invoices) and hint bits (the
        # first reader of freshly COPYed rows otherwise writes every page out again)
        t0 = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM (ANALYZE)")
        print(f"setup: VACUUM (ANALYZE) in {time.perf_counter() - t0:.1f} s")
    return url


def measure(url: str, statement: Path) -> None:
    from billing.bank.importing import import_statement
    from billing.bank.statements import parse_statement
    from core.db import make_engine, make_session_factory

    data = statement.read_bytes()
    t0 = time.perf_counter()
    parsed = parse_statement(data)
    parse_s = time.perf_counter() - t0
    del parsed
    engine = make_engine(url)
    session = make_session_factory(engine)()
    t0 = time.perf_counter()
    report = import_statement(session, data, statement.name)
    session.commit()
    import_s = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"statement:        {report}")
    print(f"parse only:       {parse_s:7.2f} s")
    print(f"import + pairing: {import_s:7.2f} s   (target <= 10 s)")
    print(f"ratio:            {import_s / parse_s:7.2f} x (target <= 3x)")
    print(f"peak RSS:         {peak_mb:7.0f} MB  (target <= 300 MB)")


def measure_floor(url: str, statement: Path) -> None:
    """COPY the rows a pairing import of ``statement`` must write, resolved beforehand; time
    only the COPYs and the commit."""
    import psycopg

    from billing.bank.statements import parse_statement
    from core.clock import now

    data = statement.read_bytes()
    t0 = time.perf_counter()
    parsed = parse_statement(data)
    parse_s = time.perf_counter() - t0
    created = now().isoformat()
    with psycopg.connect(url.replace("+psycopg", "")) as conn:
        by_contract, by_ss = {}, {}
        for number, customer_id, invoice_id, ss in conn.execute(
                "SELECT c.number, c.customer_id, i.id, i.specific_symbol FROM contract c "
                "JOIN invoice i ON i.contract_id = c.id"):
            by_contract[number] = (customer_id, invoice_id)
            by_ss[ss] = (customer_id, invoice_id)
        import_id = conn.execute(
            "INSERT INTO statement_import (filename, file_format, sha256, account, imported_at, "
            "new_transactions, duplicate_transactions) VALUES ('floor', 'gpc', '', %s, now(), "
            "0, 0) RETURNING id", (parsed.account,)).fetchone()[0]
        first_id = conn.execute("SELECT nextval('bank_transaction_id_seq')").fetchone()[0]
        movements, ledger, allocations = [], [], []
        for n, tx in enumerate(parsed.transactions):
            customer_id, invoice_id = by_ss.get(tx.specific_symbol) or by_contract[
                tx.variable_symbol]
            tx_id = first_id + n
            movements.append(
                f"{tx_id}\t{parsed.account}\t{tx.bank_tx_id}\t{tx.booked_on}\t{tx.amount}\tCZK\t"
                f"{tx.variable_symbol or ''}\t{tx.specific_symbol or ''}\t"
                f"{tx.constant_symbol or ''}\tmatched\t{customer_id}\t{import_id}\t{created}\n")
            ledger.append(f"{customer_id}\t{tx.booked_on}\tpayment\t{tx.amount}\t{tx_id}\t"
                          f"Platba\t{created}\n")
            allocations.append(f"{invoice_id}\t{tx_id}\t{tx.amount}\t{created}\n")
        conn.commit()
        t0 = time.perf_counter()
        with conn.cursor() as cur:
            for table, columns, lines in (
                ("bank_transaction", "id, source_account, bank_tx_id, booked_on, amount, "
                 "currency, variable_symbol, specific_symbol, constant_symbol, status, "
                 "customer_id, statement_import_id, created_at", movements),
                ("ledger_entry", "customer_id, booked_on, kind, amount, bank_transaction_id, "
                 "description, created_at", ledger),
                ("allocation", "invoice_id, bank_transaction_id, amount, created_at",
                 allocations),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join(lines))
        conn.commit()
        floor_s = time.perf_counter() - t0
    rows = len(movements) + len(ledger) + len(allocations)
    print(f"floor: storing the {rows:,} rows any pairing import must write "
          f"(movements, ledger entries, allocations; resolved beforehand)")
    print(f"parse only:       {parse_s:7.2f} s")
    print(f"floor:            {floor_s:7.2f} s = {floor_s / parse_s:.2f} x parse-only "
          f"(3x parse-only: {3 * parse_s:.2f} s)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default=DB, help=f"database to (re)create (default {DB})")
    ap.add_argument("--no-vacuum", action="store_true", help="skip VACUUM (ANALYZE) after the setup")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor measurement")
    ap.add_argument("--measure", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    ap.add_argument("--measure-floor", nargs=2, metavar=("URL", "FILE"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.measure:
        measure(args.measure[0], Path(args.measure[1]))
        return
    if args.measure_floor:
        measure_floor(args.measure_floor[0], Path(args.measure_floor[1]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        statement = Path(tmp) / "statement.gpc"
        url = setup(args.admin_url, args.lines, statement, args.database, not args.no_vacuum)
        subprocess.run([sys.executable, __file__, "--measure", url, str(statement)], check=True)
        if not args.no_floor:
            print()
            url = setup(args.admin_url, args.lines, statement, args.database, not args.no_vacuum)
            subprocess.run([sys.executable, __file__, "--measure-floor", url, str(statement)],
                           check=True)


if __name__ == "__main__":
    main()
