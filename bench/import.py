"""Benchmark: import and pair a 100,000-line GPC statement into PostgreSQL.

    .venv/bin/python bench/import.py [--lines 100000] [--database bench_import]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--no-vacuum]
        [--first-payments]

Builds a fresh database ``bench_import`` with N customers, each with one contract, one
open 450 Kč invoice and the ledger accounts of a customer who has paid before (receivable
and prepaid credit; ``--first-payments``: no prepaid-credit accounts, as if no customer had
ever paid, so that the import creates 100,000 of them), renders a GPC statement paying every
invoice (VS = contract number; every tenth by SS, every hundredth with an unknown VS), runs
VACUUM (ANALYZE) as autovacuum
would have on a live database (``--no-vacuum``: import into the freshly COPYed tables, as
the earlier figures were taken), then in a separate process (so that its peak memory is the
import's own) times:

* parse only (billing.bank.statements.parse_statement),
* import + pairing (billing.bank.importing.import_statement + commit),

and prints both, their ratio and the peak RSS. Targets: import + pairing <= 10 s and
<= 3x parse-only; peak memory <= 300 MB.

Then, on a database set up the same way again, the floor of any import that pairs: only the
rows such an import must store for these payments (one movement, one allocation, and one
ledger transaction of two legs: bank clearing +450, receivable -450; already resolved,
COPYed in one transaction with the schema's indexes, constraints, foreign keys and ledger
guards), timed against the same parse-only time, and the import's time against the floor
(target: import + pairing <= 1.3x the floor, issue 17). ``--no-floor`` skips it. The load
average is printed before each timed part: the machine's other work counts.
"""

from __future__ import annotations

import argparse
import json
import os
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


def setup(admin_url: str, lines: int, statement: Path, db: str = DB, vacuum: bool = True,
          first_payments: bool = False) -> str:
    import psycopg

    from bench._db import fresh_database
    from billing.bank.statements import ParsedStatement, ParsedTransaction
    from billing.bank.statements.gpc_render import render_gpc
    from core import schema
    from core.clock import today
    from core.db import make_engine

    url = fresh_database(admin_url, db)
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
        # each invoice's ledger transaction (billing.ledger.postings.invoice_posting): the
        # customer's receivable +450.00, revenue -371.90, output VAT -78.10; legs first
        revenue, vat = lines + 1, lines + 2
        # the prepaid credit a customer's payments go to exists since their first payment
        # (postings create an account on first use): a live database has it for everyone who
        # has paid before (``--first-payments``: for nobody)
        prepaid = [] if first_payments else [
            (lines + 2 + i, f"prepaid_credit:{i}", "prepaid_credit", i, "2026-01-01T00:00:00Z")
            for i in n]
        copy("ledger_account", ["id", "key", "kind", "customer_id", "created_at"],
             [(i, f"receivable:{i}", "receivable", i, "2026-01-01T00:00:00Z") for i in n]
             + [(revenue, "revenue", "revenue", None, "2026-01-01T00:00:00Z"),
                (vat, "output_vat", "output_vat", None, "2026-01-01T00:00:00Z")] + prepaid)
        copy("ledger_leg", ["transaction_id", "account_id", "amount"],
             (leg for i in n for leg in ((i, i, "450.00"), (i, revenue, "-371.90"),
                                         (i, vat, "-78.10"))))
        copy("ledger_transaction", ["id", "kind", "booked_on", "actor", "description",
                                    "customer_id", "invoice_id", "created_at"],
             ((i, "invoice", issued, "bench", f"Faktura 2026{i:06d}", i, i,
               "2026-01-01T00:00:00Z") for i in n))
        for table in ("customer", "contract", "invoice", "ledger_account", "ledger_transaction"):
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


def _load() -> str:
    return "load average {:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


def _cpu(backend_pid: int) -> float:
    """CPU seconds used so far by this process plus the given PostgreSQL backend (when the
    server runs on this machine and /proc shows it; else this process only). Less at the
    mercy of other work on the machine than wall time, though not of cache misses or disk."""
    own = os.times()
    total = own.user + own.system
    try:
        fields = Path(f"/proc/{backend_pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        pass
    return total


def _peak_mb() -> float:
    """This process's peak RSS (VmHWM: its own memory; getrusage's ru_maxrss also counts
    what the parent held when it forked us, which the setup's data inflated)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _save(statement: Path, **figures) -> None:
    """Figures for the parent process (the runs are separate processes)."""
    path = statement.with_suffix(".times")
    saved = json.loads(path.read_text()) if path.exists() else {}
    path.write_text(json.dumps({**saved, **figures}))


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
    print(f"import: {_load()}")
    backend = session.connection().connection.driver_connection.info.backend_pid
    cpu0, t0 = _cpu(backend), time.perf_counter()
    report = import_statement(session, data, statement.name)
    session.commit()
    import_s = time.perf_counter() - t0
    import_cpu = _cpu(backend) - cpu0
    peak_mb = _peak_mb()
    print(f"statement:        {report}")
    print(f"parse only:       {parse_s:7.2f} s")
    print(f"import + pairing: {import_s:7.2f} s   (target <= 10 s; CPU of client and server "
          f"{import_cpu:.2f} s)")
    print(f"ratio:            {import_s / parse_s:7.2f} x (target <= 3x)")
    print(f"peak RSS:         {peak_mb:7.0f} MB  (target <= 300 MB)")
    _save(statement, import_s=import_s, import_cpu=import_cpu)


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
        # the accounts exist beforehand (an import creates an account at most once), and
        # so do the ids of the transactions
        conn.execute(
            "INSERT INTO ledger_account (key, kind, customer_id, created_at) "
            "VALUES ('bank_clearing', 'bank_clearing', NULL, now()) "
            "ON CONFLICT (key) DO NOTHING")
        account = dict(conn.execute("SELECT key, id FROM ledger_account").fetchall())
        first_tx = conn.execute(
            "SELECT setval(pg_get_serial_sequence('ledger_transaction', 'id'), "
            "nextval(pg_get_serial_sequence('ledger_transaction', 'id')) "
            "+ %s::bigint)", (len(parsed.transactions),)).fetchone()[0] \
            - len(parsed.transactions)
        first_alloc = conn.execute("SELECT nextval('allocation_id_seq')").fetchone()[0]
        conn.execute("SELECT setval('allocation_id_seq', %s::bigint)",
                     (first_alloc + len(parsed.transactions),))
        movements, legs, headers, allocations = [], [], [], []
        bank = account["bank_clearing"]
        for n, tx in enumerate(parsed.transactions):
            customer_id, invoice_id = by_ss.get(tx.specific_symbol) or by_contract[
                tx.variable_symbol]
            tx_id = first_id + n
            movements.append(
                f"{tx_id}\t{parsed.account}\t{tx.bank_tx_id}\t{tx.booked_on}\t{tx.amount}\tCZK\t"
                f"{tx.variable_symbol or ''}\t{tx.specific_symbol or ''}\t"
                f"{tx.constant_symbol or ''}\tmatched\t{customer_id}\t{import_id}\t{created}\n")
            # the payment, which pays the invoice in full: one transaction of two legs, bank
            # clearing +amount, the customer's receivable -amount (the smallest balanced
            # posting of a payment that settles an invoice; docs/ledger.md)
            pay_tx, alloc_id = first_tx + n, first_alloc + n
            receivable = account[f"receivable:{customer_id}"]
            legs.append(f"{pay_tx}\t{bank}\t{tx.amount}\n{pay_tx}\t{receivable}\t-{tx.amount}\n")
            headers.append(f"{pay_tx}\tpayment\t{tx.booked_on}\tbench\tPlatba\t{customer_id}\t"
                           f"{tx_id}\t\\N\t{created}\n")
            allocations.append(f"{alloc_id}\t{invoice_id}\t{tx_id}\t{tx.amount}\t{created}\n")
        conn.commit()
        print(f"floor: {_load()}")
        cpu0, t0 = _cpu(conn.info.backend_pid), time.perf_counter()
        with conn.cursor() as cur:
            for table, columns, lines in (
                ("bank_transaction", "id, source_account, bank_tx_id, booked_on, amount, "
                 "currency, variable_symbol, specific_symbol, constant_symbol, status, "
                 "customer_id, statement_import_id, created_at", movements),
                ("allocation", "id, invoice_id, bank_transaction_id, amount, created_at",
                 allocations),
                ("ledger_leg", "transaction_id, account_id, amount", legs),
                ("ledger_transaction", "id, kind, booked_on, actor, description, customer_id, "
                 "bank_transaction_id, allocation_id, created_at", headers),
            ):
                with cur.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    copy.write("".join(lines))
        conn.commit()
        floor_s = time.perf_counter() - t0
        floor_cpu = _cpu(conn.info.backend_pid) - cpu0
    rows = len(movements) + 2 * len(legs) + len(headers) + len(allocations)
    print(f"floor: storing the {rows:,} rows any pairing import must write "
          f"(movements, allocations, ledger transactions and legs; resolved beforehand)")
    print(f"parse only:       {parse_s:7.2f} s")
    print(f"floor:            {floor_s:7.2f} s = {floor_s / parse_s:.2f} x parse-only "
          f"(3x parse-only: {3 * parse_s:.2f} s; CPU of client and server {floor_cpu:.2f} s)")
    _save(statement, floor_s=floor_s, floor_cpu=floor_cpu)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=100_000)
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default=DB, help=f"database to (re)create (default {DB})")
    ap.add_argument("--no-vacuum", action="store_true", help="skip VACUUM (ANALYZE) after the setup")
    ap.add_argument("--no-floor", action="store_true", help="skip the floor measurement")
    ap.add_argument("--first-payments", action="store_true",
                    help="no customer has a prepaid-credit account yet (the import creates them)")
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
        url = setup(args.admin_url, args.lines, statement, args.database, not args.no_vacuum,
                    args.first_payments)
        subprocess.run([sys.executable, __file__, "--measure", url, str(statement)], check=True)
        if not args.no_floor:
            print()
            url = setup(args.admin_url, args.lines, statement, args.database, not args.no_vacuum,
                        args.first_payments)
            subprocess.run([sys.executable, __file__, "--measure-floor", url, str(statement)],
                           check=True)
            times = json.loads(statement.with_suffix(".times").read_text())
            print(f"\nimport + pairing / floor: {times['import_s']:.2f} s / {times['floor_s']:.2f} s "
                  f"= {times['import_s'] / times['floor_s']:.2f} x (target <= 1.3x); CPU "
                  f"{times['import_cpu']:.2f} s / {times['floor_cpu']:.2f} s "
                  f"= {times['import_cpu'] / times['floor_cpu']:.2f} x")


if __name__ == "__main__":
    main()
