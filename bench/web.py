"""Benchmark: the client zone under load, against a bare Flask app served the same way.

    .venv/bin/python bench/web.py [--customers 100000] [--invoices-per-customer 12]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench_ispzone]
        [--duration 10s] [--connections 16] [--threads 2] [--regenerate]

Needs PostgreSQL and ``wrk`` (``apt-get install wrk``); gunicorn comes with the venv.

1. Creates the database if it is missing, migrates it, and fills it straight into the tables
   with COPY (skipped when the counts already match): N customers with one contract and one
   internet service each, M monthly invoices per customer (one line, one VAT recap row, the
   ledger transaction), and the bank payments that paid them (bank transaction, allocation,
   the payment's and the allocation's ledger transactions): all but the newest month are paid; every 20th customer still owes the newest
   invoice, every 50th an older, overdue one. Totals are consistent (450 Kč at 21 % =
   371.90 + 78.10, as billing.invoicing.vat computes it; each customer's ledger balance is minus what
   is open). One Python pass feeds one COPY per table, each on its own connection and
   transaction, with the table's secondary indexes dropped and rebuilt in bulk before the
   commit (FK triggers off via session_replication_role). ~80 s for 100,000 customers on a
   busy 2-CPU machine.
   Invoice numbers are YYYY + 7 digits and specific symbols YY + 7 digits: the app's own
   series (YYYY + 6 digits, billing.invoicing.issue.next_number) holds at most 999,999 invoices a
   year, fewer than 100,000 customers x 12 months.
2. Gives the customer in the middle a known password (argon2id, core.passwords).
3. Serves the bare app (bench/hello_app.py) and then the real app with
   ``gunicorn -w 2 -b 127.0.0.1:PORT``, logs in through the form (with its CSRF token), and
   loads /info and /invoices of that customer with ``wrk -tT -cC -dD --latency`` (after a
   short warm-up). Prints requests/s, p99 and the ratio to the bare app.
   Targets: >= 30 % of the bare app's requests/s, p99 <= 50 ms.
4. Renders the customer's newest open invoice (with its QR Platba) and newest paid one 50
   times each (billing.documents.pdf.render_invoice_pdf) and prints the medians. Target: <= 50 ms.
   Should the configured supplier's account or IBAN fail its checksum (then no invoice gets
   a QR Platba), the generated invoices carry the nearest valid account, and a note says so.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

WRK = "/usr/bin/wrk"
NUMBER_BASE = 1_000_000  # customer numbers 1000001..: never the demo's 1001..
BENCH_PASSWORD = "bench-password-2024"
SECRET_KEY = "bench-web-secret-key-shared-by-all-workers"
PDF_RUNS = 50
CREATED_AT = "2020-01-01 00:00:00+00"
NULL = r"\N"  # COPY text format

TARGET_RATIO = 0.30
TARGET_P99_MS = 50.0
TARGET_PDF_MS = 50.0

FIRST_NAMES = ("Jan", "Petr", "Jana", "Eva", "Tomáš", "Lucie", "Martin", "Hana", "Jiří",
               "Kateřina", "Pavel", "Lenka", "Josef", "Marie", "Ondřej", "Zuzana")
LAST_NAMES = ("Novák", "Svoboda", "Novotný", "Dvořák", "Černý", "Procházka", "Kučera",
              "Veselý", "Horák", "Němec", "Marek", "Pospíšil", "Hájek", "Jelínek", "Král")
STREETS = ("Husova", "Palackého", "Nádražní", "Komenského", "Jiráskova", "Tyršova",
           "Masarykova", "Školní", "Zahradní", "Polní", "Luční", "Sokolská")
CITIES = (("Kolín", "280 02"), ("Kutná Hora", "284 01"), ("Český Brod", "282 01"),
          ("Pečky", "289 11"), ("Týnec nad Labem", "281 26"), ("Velim", "281 01"))
# tariff: name, gross price, download kbps, upload kbps; chosen by customer id % 10
TARIFFS = (("Internet 50", "350.00", 50_000, 10_000),) * 3 + (
    ("Internet 100", "450.00", 100_000, 20_000),) * 5 + (
    ("Internet 300", "650.00", 300_000, 50_000),) * 2


# -- database --------------------------------------------------------------------------------


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist (connected to the server's ``postgres`` db)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine

    target = make_url(url)
    name = target.database
    if not name or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"unsupported database name {name!r}")
    admin = make_engine(
        target.set(database="postgres").render_as_string(hide_password=False),
        isolation_level="AUTOCOMMIT",
    )
    try:
        with admin.connect() as conn:
            exists = conn.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name})
            if not exists:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
                print(f"created database {name}")
    finally:
        admin.dispose()


def psycopg_url(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


@dataclass(frozen=True)
class Month:
    index: int
    issue: date
    due: date
    period: str  # YYYY-MM
    label: str  # MM/YYYY
    year: int
    in_year: int  # position among the generated months of its year
    per_year: int  # how many generated months share its year


def month_plan(on: date, count: int) -> list[Month]:
    """The 1st of the last ``count`` months (the current one included), oldest first."""
    starts = [on.replace(day=1)]
    while len(starts) < count:
        starts.append((starts[-1] - timedelta(days=1)).replace(day=1))
    starts.reverse()
    per_year: dict[int, int] = {}
    months = []
    for i, start in enumerate(starts):
        in_year = per_year.get(start.year, 0)
        per_year[start.year] = in_year + 1
        months.append((i, start, in_year))
    return [
        Month(i, start, start + timedelta(days=14), start.strftime("%Y-%m"),
              start.strftime("%m/%Y"), start.year, in_year, per_year[start.year])
        for i, start, in_year in months
    ]


def bench_supplier():
    """The supplier as configured (SUPPLIER_* variables), with a bank account and IBAN that
    pass their checksums: open invoices print a QR Platba, and the PDF timing should include
    it (billing.documents.qrplatba refuses an invalid IBAN or a Czech account failing its mod 11)."""
    import dataclasses

    from stdnum import iban
    from stdnum.cz import bankaccount

    from billing.invoicing.supplier import Supplier

    sup = Supplier.from_config(os.environ)
    if not sup.iban or not sup.account:
        return sup
    try:
        qr_ok = iban.is_valid(sup.iban) and bankaccount.is_valid(_account_of(sup.iban))
    except ValueError:
        qr_ok = False
    if qr_ok:
        return sup
    number, _, bank = sup.account.partition("/")
    prefix, _, number = number.rpartition("-")
    n = int(number)
    while not bankaccount.is_valid(f"{prefix + '-' if prefix else ''}{n}/{bank}"):
        n += 1
    account = f"{prefix + '-' if prefix else ''}{n}/{bank}"
    bban = f"{bank:0>4}{prefix or '0':0>6}{n:010d}"
    fixed = "CZ" + iban.calc_check_digits("CZ00" + bban) + bban
    print(f"note: no QR Platba is possible with the supplier's account {sup.account} / IBAN "
          f"{sup.iban} (checksum); the benchmark data uses {account} / {fixed}")
    return dataclasses.replace(sup, account=account, iban=fixed)


def _account_of(compact_iban: str) -> str:
    bban = compact_iban.replace(" ", "")[4:]
    prefix, number = bban[4:10].lstrip("0"), bban[10:]
    return f"{prefix + '-' if prefix else ''}{number}/{bban[:4]}"


def counts(url: str) -> dict[str, int]:
    import psycopg

    with psycopg.connect(psycopg_url(url)) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("customer", "invoice", "service")
        }


class _Sink:
    """Rows (COPY text lines) collected for one table; written by :meth:`flush`."""

    def __init__(self, copy) -> None:
        self.copy = copy
        self.rows: list[str] = []
        self.add = self.rows.append

    def flush(self) -> None:
        if self.rows:
            self.copy.write("".join(self.rows))
            self.rows.clear()


def generate(url: str, n_customers: int, per_customer: int) -> None:
    """Fill the (empty) tables with COPY; one Python pass feeds several COPY streams."""
    import psycopg

    from billing.invoicing.vat import vat_from_gross
    from core.clock import today

    on = today()
    months = month_plan(on, per_customer)
    sup = bench_supplier()
    sup_cols = "\t".join(
        v if v else NULL
        for v in (sup.name, sup.address, sup.ico, sup.dic, sup.account, sup.iban)
    )
    tariffs = []
    for name, price, down, up in TARIFFS:
        split = vat_from_gross(Decimal(price), Decimal("21"))
        tariffs.append((name, price, down, up, str(split.base), str(split.vat), str(split.total)))
    signed_base = months[0].issue - timedelta(days=30)
    n_invoices = n_customers * per_customer
    # per month, as text: issue date, due date, period, label, and for each payment delay
    # (2..12 days) the date paid, or None when that is still in the future
    month_text = [
        (m, str(m.issue), str(m.due), m.period, m.label,
         [str(d) if d <= on else None for d in (m.issue + timedelta(days=2 + k)
                                               for k in range(11))])
        for m in months
    ]
    last = per_customer - 1

    def person(i: int) -> tuple[str, str, str, str, str]:
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        last_name = LAST_NAMES[(i // len(FIRST_NAMES)) % len(LAST_NAMES)]
        street = f"{STREETS[i % len(STREETS)]} {i % 250 + 1}"
        city, postal = CITIES[(i // 7) % len(CITIES)]
        return f"{first} {last_name}", street, city, postal, f"{street}, {postal} {city}"

    # One connection (and transaction) per table: its secondary indexes are dropped, the
    # rows copied, the indexes built again in bulk, and everything committed at the end, so
    # a failed run leaves the tables as they were.
    loads: list[tuple[psycopg.Connection, list[str]]] = []

    def connect() -> psycopg.Connection:
        conn = psycopg.connect(psycopg_url(url))
        conn.execute("SET synchronous_commit = off")
        try:  # no FK triggers during the load: the generated rows are consistent by design
            conn.execute("SET session_replication_role = replica")
        except psycopg.Error:
            conn.rollback()
            conn.execute("SET synchronous_commit = off")
        return conn

    @contextmanager
    def stream(table: str, columns: str):
        conn = connect()
        loads.append((conn, drop_secondary_indexes(conn, table)))
        with conn.cursor() as cur, cur.copy(f"COPY {table} ({columns}) FROM STDIN") as cp:
            sink = _Sink(cp)
            yield sink
            sink.flush()

    t0 = time.perf_counter()
    try:
        with ExitStack() as stack:
            customer, contract, service = sinks = [
                stack.enter_context(stream(table, columns)) for table, columns in (
                    ("customer", "id, customer_number, is_company, name, street, city, "
                     "postal_code, country, email, phone, language, created_at, "
                     "enforcement_exempt"),
                    ("contract", "id, customer_id, number, signed_on"),
                    ("service", "id, customer_id, contract_id, kind, name, price, vat_rate, "
                     "period, valid_from, location, download_kbps, upload_kbps, "
                     "pppoe_username, router_name"),
                )
            ]
            for i in range(1, n_customers + 1):
                number = str(NUMBER_BASE + i)
                name, street, city, postal, address = person(i)
                tname, price, down, up = tariffs[i % 10][:4]
                signed = signed_base - timedelta(days=i % 900)
                customer.add(f"{i}\t{number}\tf\t{name}\t{street}\t{city}\t{postal}\tCZ\t"
                             f"zakaznik{number}@example.cz\t+420{600_000_000 + i}\tcs\t"
                             f"{CREATED_AT}\tf\n")
                contract.add(f"{i}\t{i}\t{number}\t{signed}\n")
                service.add(f"{i}\t{i}\t{i}\tinternet\t{tname}\t{price}\t21.00\tmonth\t"
                            f"{signed}\t{address}\t{down}\t{up}\tb{number}\t"
                            f"kolin-bras{i % 4 + 1}\n")
                if i % 2000 == 0:
                    for sink in sinks:
                        sink.flush()
        print(f"  customers, contracts, services: {time.perf_counter() - t0:6.1f} s")

        t1 = time.perf_counter()
        with ExitStack() as stack:
            invoice, line, recap, accounts, legs, ledger, bank, alloc = sinks = [
                stack.enter_context(stream(table, columns)) for table, columns in (
                    ("invoice", "id, customer_id, contract_id, number, kind, issue_date, "
                     "taxable_date, due_date, variable_symbol, specific_symbol, currency, "
                     "total_net, total_vat, total, period_key, supplier_name, "
                     "supplier_address, supplier_ico, supplier_dic, supplier_account, "
                     "supplier_iban, customer_name, customer_address, created_at"),
                    ("invoice_line", "id, invoice_id, position, description, quantity, unit, "
                     "unit_price, prices_include_vat, vat_rate, net, vat, gross, service_id"),
                    ("invoice_vat_recap", "id, invoice_id, rate, base, vat, total"),
                    # the double-entry ledger (docs/ledger.md): per invoice, its payment and
                    # that payment's allocation one transaction each (ids: the invoice's,
                    # + n_invoices, + 2 n_invoices), legs as billing.ledger.postings writes them
                    ("ledger_account", "id, key, kind, customer_id, created_at"),
                    ("ledger_leg", "transaction_id, account_id, amount"),
                    ("ledger_transaction", "id, kind, booked_on, actor, description, "
                     "customer_id, invoice_id, bank_transaction_id, allocation_id, created_at"),
                    ("bank_transaction", "id, source_account, bank_tx_id, booked_on, amount, "
                     "currency, variable_symbol, specific_symbol, counter_name, status, "
                     "customer_id, created_at"),
                    ("allocation", "id, invoice_id, bank_transaction_id, amount, created_at"),
                )
            ]
            add_invoice, add_line, add_recap = invoice.add, line.add, recap.add
            add_ledger, add_bank, add_alloc = ledger.add, bank.add, alloc.add
            add_leg = legs.add
            account = sup.account or "bench"
            revenue, output_vat, clearing = (2 * n_customers + k for k in (1, 2, 3))
            for key, id_ in (("revenue", revenue), ("output_vat", output_vat),
                             ("bank_clearing", clearing)):
                accounts.add(f"{id_}\t{key}\t{key}\t{NULL}\t{CREATED_AT}\n")
            for i in range(1, n_customers + 1):
                receivable, prepaid = 2 * i - 1, 2 * i
                accounts.add(f"{receivable}\treceivable:{i}\treceivable\t{i}\t{CREATED_AT}\n"
                             f"{prepaid}\tprepaid_credit:{i}\tprepaid_credit\t{i}\t{CREATED_AT}\n")
                number = str(NUMBER_BASE + i)
                name, _street, _city, _postal, address = person(i)
                tname, price, _d, _u, net, vat, gross = tariffs[i % 10]
                invoice_tail = f"{net}\t{vat}\t{gross}"
                party = f"{sup_cols}\t{name}\t{address}\t{CREATED_AT}\n"
                line_tail = f"\t1.000\tměs.\t{price}\tt\t21.00\t{net}\t{vat}\t{gross}\t{i}\n"
                recap_tail = f"\t21.00\t{net}\t{vat}\t{gross}\n"
                by_ss = i % 3 == 0
                owes_latest = i % 20 == 0
                owes_older = i % 50 == 0 and per_customer > 2
                first_id = (i - 1) * per_customer + 1
                for m, issue, due, period, label, paid_dates in month_text:
                    inv_id = first_id + m.index
                    seq = (i - 1) * m.per_year + m.in_year + 1
                    inv_no = f"{m.year}{seq:07d}"
                    ss = f"{m.year % 100:02d}{seq:07d}"
                    add_invoice(f"{inv_id}\t{i}\t{i}\t{inv_no}\tregular\t{issue}\t{issue}\t"
                                f"{due}\t{number}\t{ss}\tCZK\t{invoice_tail}\t{period}\t{party}")
                    add_line(f"{inv_id}\t{inv_id}\t1\t{tname} – období {label}{line_tail}")
                    add_recap(f"{inv_id}\t{inv_id}{recap_tail}")
                    add_leg(f"{inv_id}\t{receivable}\t{gross}\n{inv_id}\t{revenue}\t-{net}\n"
                            f"{inv_id}\t{output_vat}\t-{vat}\n")
                    add_ledger(f"{inv_id}\tinvoice\t{issue}\tbench\tFaktura {inv_no}\t{i}\t"
                               f"{inv_id}\t{NULL}\t{NULL}\t{CREATED_AT}\n")
                    paid_on = paid_dates[(i * 7 + m.index) % 11]
                    if paid_on is None or (m.index == last and owes_latest) or (
                        m.index == last - 2 and owes_older
                    ):
                        continue
                    # the payment: id = the invoice's id (ids stay unique, gaps are fine)
                    add_bank(f"{inv_id}\t{account}\tBENCH-{inv_id}\t{paid_on}\t{gross}\tCZK\t"
                             f"{number}\t{ss if by_ss else NULL}\t{name}\tmatched\t{i}\t"
                             f"{CREATED_AT}\n")
                    add_alloc(f"{inv_id}\t{inv_id}\t{inv_id}\t{gross}\t{CREATED_AT}\n")
                    pay_tx, alloc_tx = n_invoices + inv_id, 2 * n_invoices + inv_id
                    add_leg(f"{pay_tx}\t{clearing}\t{gross}\n{pay_tx}\t{prepaid}\t-{gross}\n"
                            f"{alloc_tx}\t{prepaid}\t{gross}\n{alloc_tx}\t{receivable}\t-{gross}\n")
                    add_ledger(f"{pay_tx}\tpayment\t{paid_on}\tbench\t"
                               f"Platba VS {number} SS {ss if by_ss else '-'}\t{i}\t{NULL}\t"
                               f"{inv_id}\t{NULL}\t{CREATED_AT}\n"
                               f"{alloc_tx}\tallocation\t{paid_on}\tbench\t\t{i}\t{inv_id}\t"
                               f"{inv_id}\t{inv_id}\t{CREATED_AT}\n")
                if i % 1000 == 0:
                    for sink in sinks:
                        sink.flush()
        print(f"  invoices, lines, VAT recap, payments, ledger: {time.perf_counter() - t1:6.1f} s")

        t2 = time.perf_counter()

        def rebuild(load: tuple[psycopg.Connection, list[str]]) -> None:
            conn, statements = load
            conn.execute("SET maintenance_work_mem = '256MB'")
            for statement in statements:
                conn.execute(statement)

        with ThreadPoolExecutor(max_workers=2) as pool:  # big tables first
            list(pool.map(rebuild, sorted(loads, key=lambda load: -len(load[1]))))
        for conn, _ in loads:
            conn.commit()
        print(f"  indexes and unique constraints: {time.perf_counter() - t2:6.1f} s")
    finally:
        for conn, _ in loads:
            conn.close()

    t3 = time.perf_counter()
    with psycopg.connect(psycopg_url(url), autocommit=True) as conn:
        for table in ("customer", "contract", "service", "invoice", "invoice_line",
                      "invoice_vat_recap", "ledger_account", "ledger_transaction", "ledger_leg",
                      "bank_transaction", "allocation"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT coalesce(max(id), 1) FROM {table}))"
            )
        conn.execute("ANALYZE")
    print(f"  sequences, ANALYZE: {time.perf_counter() - t3:6.1f} s")


def drop_secondary_indexes(conn, table: str) -> list[str]:
    """Drop the table's unique constraints and indexes (not its primary key) in the current
    transaction; returns the statements that create them again."""
    uniques = conn.execute(
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = %s::regclass AND contype = 'u'",
        (table,),
    ).fetchall()
    indexes = conn.execute(
        "SELECT i.relname, pg_get_indexdef(i.oid) FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid "
        "WHERE x.indrelid = %s::regclass AND NOT x.indisprimary AND NOT EXISTS "
        "(SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
        (table,),
    ).fetchall()
    for name, _ in uniques:
        conn.execute(f'ALTER TABLE {table} DROP CONSTRAINT "{name}"')
    for name, _ in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    return [f'ALTER TABLE {table} ADD CONSTRAINT "{n}" {d}' for n, d in uniques] + [
        d for _, d in indexes
    ]


def prepare(url: str, n_customers: int, per_customer: int, regenerate: bool) -> str:
    """The database filled and migrated; returns the benchmark customer's number."""
    import psycopg

    from core import schema
    from core.db import Base, make_engine
    from core.passwords import hash_password

    ensure_database(url)
    engine = make_engine(url)
    try:
        schema.upgrade(engine)
    finally:
        engine.dispose()

    have = counts(url)
    want = {"customer": n_customers, "invoice": n_customers * per_customer,
            "service": n_customers}
    if have == want and not regenerate:
        print(f"data already there ({have['customer']:,} customers, "
              f"{have['invoice']:,} invoices); not regenerated")
    else:
        if any(have.values()):
            print(f"emptying the database (had {have['customer']:,} customers, "
                  f"{have['invoice']:,} invoices)")
            tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
            with psycopg.connect(psycopg_url(url)) as conn:
                # the ledger's append-only triggers would refuse TRUNCATE
                conn.execute("SET LOCAL session_replication_role = replica")
                conn.execute(f"TRUNCATE {tables} RESTART IDENTITY CASCADE")
        print(f"generating {n_customers:,} customers x {per_customer} invoices with COPY ...")
        t0 = time.perf_counter()
        generate(url, n_customers, per_customer)
        print(f"data generated in {time.perf_counter() - t0:.1f} s")

    number = str(NUMBER_BASE + max(1, n_customers // 2))
    with psycopg.connect(psycopg_url(url)) as conn:
        conn.execute(
            "UPDATE customer SET password_hash = %s WHERE customer_number = %s",
            (hash_password(BENCH_PASSWORD), number),
        )
    return number


# -- servers and load --------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command() -> list[str]:
    exe = Path(sys.executable).parent / "gunicorn"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("gunicorn")
    return [found] if found else [sys.executable, "-m", "gunicorn"]


class Server:
    """``gunicorn -w 2 -b 127.0.0.1:PORT APP`` in the background; stopped by :meth:`stop`.

    ``workers`` and ``threads`` change gunicorn's ``-w`` and ``--threads`` (more than one
    thread makes the workers gthread workers); the benchmarks' default is 2 sync workers."""

    def __init__(self, app: str, chdir: Path, env: dict[str, str], log: Path, ready_path: str,
                 workers: int = 2, threads: int = 1):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        self._log_file = open(log, "wb")  # noqa: SIM115 - closed in stop()
        cmd = [*gunicorn_command(), "-w", str(workers), "-b", f"127.0.0.1:{self.port}",
               *(["--threads", str(threads)] if threads > 1 else []),
               "--chdir", str(chdir), app]
        self.proc = subprocess.Popen(cmd, cwd=chdir, env=env, stdout=self._log_file,
                                     stderr=subprocess.STDOUT)
        try:
            self._wait_ready(ready_path)
        except BaseException:
            self.stop()
            raise

    def _wait_ready(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.tail()}")
            try:
                with urllib.request.urlopen(self.base + path, timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer {path} within {timeout} s:\n{self.tail()}")

    def tail(self) -> str:
        self._log_file.flush()
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log_file.close()


def login(base: str, number: str, password: str) -> str:
    """Log in through the form like a browser; returns the Cookie header for later requests."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    # no User-Agent, as wrk sends none: the login session remembers the client's address
    # and agent (Flask-Login's session protection), and a cookie used from another agent
    # is marked no longer fresh, i.e. written again on every answer. A browser stores that
    # once; wrk replays the same cookie, so with urllib's agent here every request of the
    # benchmark re-signed and re-sent the cookie, work no browser causes.
    opener.addheaders = []
    with opener.open(f"{base}/login", timeout=30) as r:
        html = r.read().decode()
    m = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html)
    if not m:
        raise RuntimeError("no CSRF token on the login page")
    data = urllib.parse.urlencode({"csrf_token": m.group(1), "customer_number": number,
                                   "password": password}).encode()
    with opener.open(f"{base}/login", data=data, timeout=30) as r:
        landed = urllib.parse.urlparse(r.geturl()).path
    if landed != "/info":
        raise RuntimeError(f"login as {number} failed (ended on {landed})")
    return "; ".join(f"{c.name}={c.value}" for c in jar)


def check_page(base: str, path: str, cookie: str, expect: str) -> int:
    req = urllib.request.Request(base + path, headers={"Cookie": cookie})
    with urllib.request.urlopen(req, timeout=30) as r:
        body = r.read()
        if urllib.parse.urlparse(r.geturl()).path != path:
            raise RuntimeError(f"{path}: redirected to {r.geturl()} (not logged in?)")
    if expect.encode() not in body:
        raise RuntimeError(f"{path}: the page does not show {expect!r}")
    return len(body)


@dataclass(frozen=True)
class WrkResult:
    rps: float
    p99_ms: float
    requests: int
    errors: str | None


def parse_wrk(output: str) -> WrkResult:
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
    total = re.search(r"(\d+) requests in", output)
    if not (rps and p99 and total):
        raise RuntimeError(f"cannot read wrk's output:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}[p99.group(2)]
    problems = []
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    if non2xx:
        problems.append(f"{non2xx.group(1)} non-2xx/3xx responses")
    sock = re.search(r"Socket errors: (.*)", output)
    if sock:
        problems.append(f"socket errors: {sock.group(1)}")
    return WrkResult(float(rps.group(1)), float(p99.group(1)) * scale, int(total.group(1)),
                     "; ".join(problems) or None)


def wrk(url: str, args, cookie: str | None = None, duration: str | None = None) -> WrkResult:
    cmd = [WRK, f"-t{args.threads}", f"-c{args.connections}", f"-d{duration or args.duration}",
           "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    cmd.append(url)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return parse_wrk(out)


def load(server: Server, paths: list[str], args, cookie: str | None = None) -> dict:
    results = {}
    for path in paths:
        wrk(server.base + path, args, cookie, duration="2s")  # warm-up: both workers, caches
        results[path] = wrk(server.base + path, args, cookie)
        r = results[path]
        print(f"  {path:<10} {r.rps:9.1f} req/s  p99 {r.p99_ms:7.2f} ms  "
              f"({r.requests} requests{'; ' + r.errors if r.errors else ''})")
    return results


# -- PDF ---------------------------------------------------------------------------------------


def pdf_medians(url: str, number: str) -> list[tuple[str, str, float, int]]:
    """Median render time of the customer's newest open invoice (with its QR Platba) and of
    the newest paid one: (label, invoice number, median ms, PDF bytes) each."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from billing.documents.pdf import render_invoice_pdf
    from billing.ledger.balances import states_for
    from billing.models import Customer, Invoice
    from core.clock import today
    from core.db import make_engine, make_session_factory

    engine = make_engine(url)
    session = make_session_factory(engine)()
    try:
        customer = session.scalar(select(Customer).where(Customer.customer_number == number))
        invoices = session.scalars(
            select(Invoice)
            .where(Invoice.customer_id == customer.id)
            .options(selectinload(Invoice.lines), selectinload(Invoice.vat_recap))
            .order_by(Invoice.issue_date.desc(), Invoice.id.desc())
        ).all()
        states = states_for(session, list(invoices), today())
        picks = [
            ("open, with QR Platba", next((s for s in states if s.is_open), None)),
            ("paid", next((s for s in states if not s.is_open), None)),
        ]
        results = []
        for label, state in picks:
            if state is None:
                continue
            invoice, open_amount = state.invoice, state.open_amount
            size = len(render_invoice_pdf(invoice, open_amount))  # warm-up: fonts, imports
            times = []
            for _ in range(PDF_RUNS):
                t0 = time.perf_counter()
                render_invoice_pdf(invoice, open_amount)
                times.append((time.perf_counter() - t0) * 1000)
            results.append((label, invoice.number, statistics.median(times), size))
        return results
    finally:
        session.close()
        engine.dispose()


# -- main --------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def add_load_arguments(ap: argparse.ArgumentParser) -> None:
    """The database and the wrk load, shared with bench/web_floor.py (its floor must be
    measured on the same data under the same load)."""
    ap.add_argument("--database-url",
                    default="postgresql://postgres@127.0.0.1:5432/bench_ispzone")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--invoices-per-customer", type=int, default=12)
    ap.add_argument("--duration", default="10s", help="wrk -d (default 10s)")
    ap.add_argument("--connections", type=int, default=16, help="wrk -c (default 16)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    add_load_arguments(ap)
    ap.add_argument("--regenerate", action="store_true",
                    help="generate the data again even when the counts match")
    args = ap.parse_args()
    if not Path(WRK).exists():
        print(f"{WRK} not found: apt-get install wrk", file=sys.stderr)
        return 2
    if args.customers < 1 or args.invoices_per_customer < 1:
        ap.error("--customers and --invoices-per-customer must be at least 1")

    url = args.database_url
    number = prepare(url, args.customers, args.invoices_per_customer, args.regenerate)
    print(f"benchmark customer {number}; wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}; gunicorn -w 2; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (wrk, gunicorn and PostgreSQL share them)")

    with tempfile.TemporaryDirectory(prefix="ispzone-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_HOST")}
        env.update(DATABASE_URL=url, SECRET_KEY=SECRET_KEY, PUBLIC_URL="http://127.0.0.1",
                   PROXY_FIX="none",
                   MAIL_OUTBOX_DIR=str(Path(tmp) / "outbox"))
        servers: list[Server] = []
        try:
            print("bare Flask app (bench/hello_app.py):")
            bare = Server("hello_app:app", BENCH, env, Path(tmp) / "hello.log", "/")
            servers.append(bare)
            bare_result = load(bare, ["/"], args)["/"]
            bare.stop()

            print("ispzone (app:create_app()):")
            zone = Server("app:create_app()", ROOT, env, Path(tmp) / "zone.log", "/healthz")
            servers.append(zone)
            cookie = login(zone.base, number, BENCH_PASSWORD)
            for path in ("/info", "/invoices"):
                check_page(zone.base, path, cookie, number if path == "/info" else "PDF")
            zone_results = load(zone, ["/info", "/invoices"], args, cookie)
            zone.stop()
        finally:
            for server in servers:
                server.stop()

    pdfs = pdf_medians(url, number)

    print()
    print(f"{'page':<16}{'req/s':>10}{'p99 ms':>10}{'vs bare':>10}   targets: "
          f">= {TARGET_RATIO:.0%} of bare, p99 <= {TARGET_P99_MS:.0f} ms")
    print(f"{'bare hello /':<16}{bare_result.rps:>10.1f}{bare_result.p99_ms:>10.2f}"
          f"{'100.0 %':>10}")
    for path, r in zone_results.items():
        ratio = r.rps / bare_result.rps
        print(f"{path:<16}{r.rps:>10.1f}{r.p99_ms:>10.2f}{ratio * 100:>8.1f} %   "
              f"req/s {verdict(ratio >= TARGET_RATIO)}, p99 {verdict(r.p99_ms <= TARGET_P99_MS)}"
              f"{'   (' + r.errors + ')' if r.errors else ''}")
    for label, invoice_no, median_ms, size in pdfs:
        print(f"invoice PDF {invoice_no} ({label}): median {median_ms:.1f} ms over {PDF_RUNS} "
              f"renders ({size:,} bytes)   target <= {TARGET_PDF_MS:.0f} ms: "
              f"{verdict(median_ms <= TARGET_PDF_MS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
