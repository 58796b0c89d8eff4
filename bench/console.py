"""Benchmark: the operators' customer search and the customer card on PostgreSQL.

    .venv/bin/python bench/console.py [--customers 100000] [--queries 300]
        [--admin-url postgresql://postgres@127.0.0.1:5432/postgres] [--database bench_console]
        [--reuse]

1. Builds a fresh database ``bench_console`` (dropped and created, migrated), then COPYs N
   customers straight into the tables: each with a contract (its number, the VS, is not the
   customer number), an internet service with a PPPoE user name and an IP address, and one
   invoice; names are Czech first names and surnames with diacritics (15 surnames, so a
   surname query matches ~13 % of the customers: "novak" finds Novák and Nováková), the
   folded search column computed with the model's own function. VACUUM (ANALYZE), as
   autovacuum would have done.
2. Adds one customer with ten years of history through the domain functions (as the
   system writes it): 120 monthly invoices, each paid by a bank payment paired to it (the
   ledger: invoice, payment and allocation postings), a VoIP line with its opening credit
   and 3,000 calls, an enforcement case that went reminded -> ok ten times, 400 audit
   events besides, 30 operator notes.
3. Times ``billing.customers.search.search`` per kind of query (customer number, a name
   without diacritics, an IP address, a VS), ``--queries`` random queries each after a
   warm-up, and prints p50 and p99. Target: p99 <= 50 ms.
4. Times the customer card's data of the customer with history (billing.customers.card.card
   + enforcement.cases.case_overview + voip.lines.customer_lines, what the console's card
   page reads) 50 times, and, when the console's card page exists, the page itself through
   the app (rendered, as an admin). Target: <= 100 ms.

``--reuse`` skips step 1-2 when the database is there (re-measure).
"""

from __future__ import annotations

import argparse
import os
import random
import re
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB = "bench_console"
NUMBER_BASE = 1_000_000  # customer numbers 1000001..
VS_BASE = 5_000_000  # contract numbers (VS) 5000001..
RICH_NUMBER = "999999"
TARGET_SEARCH_P99_MS = 50.0
TARGET_CARD_MS = 100.0

FIRST = ("Jan", "Petr", "Jana", "Eva", "Tomáš", "Lucie", "Martin", "Hana", "Jiří",
         "Kateřina", "Pavel", "Lenka", "Josef", "Marie", "Ondřej", "Zuzana")
FEMALE = {"Jana", "Eva", "Lucie", "Hana", "Kateřina", "Lenka", "Marie", "Zuzana"}
LAST = (("Novák", "Nováková"), ("Svoboda", "Svobodová"), ("Novotný", "Novotná"),
        ("Dvořák", "Dvořáková"), ("Černý", "Černá"), ("Procházka", "Procházková"),
        ("Kučera", "Kučerová"), ("Veselý", "Veselá"), ("Horák", "Horáková"),
        ("Němec", "Němcová"), ("Marek", "Marková"), ("Pospíšil", "Pospíšilová"),
        ("Hájek", "Hájková"), ("Jelínek", "Jelínková"), ("Král", "Králová"))
CITIES = (("Kolín", "280 02"), ("Kutná Hora", "284 01"), ("Český Brod", "282 01"),
          ("Pečky", "289 11"), ("Týnec nad Labem", "281 26"), ("Velim", "281 01"))


def ascii_slug(text: str) -> str:
    from billing.models.customers import fold_words

    return "".join(fold_words(text))


def person(i: int) -> tuple[str, str, str]:
    first = FIRST[i % len(FIRST)]
    last = LAST[(i // len(FIRST)) % len(LAST)][1 if first in FEMALE else 0]
    return first, last, f"{first} {last}"


def ip_of(i: int) -> str:
    return f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"


def setup(admin_url: str, n: int, db: str) -> str:
    import psycopg

    from billing.models.customers import search_name_of
    from core import schema
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
    t0 = time.perf_counter()
    created = "2020-01-01T00:00:00Z"
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        def copy(table, columns, rows):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        ids = range(1, n + 1)
        rows = []
        for i in ids:
            first, last, name = person(i)
            email = f"{ascii_slug(first)}.{ascii_slug(last)}{i}@example.cz"
            city, postal = CITIES[i % len(CITIES)]
            rows.append((i, str(NUMBER_BASE + i), False, name, f"Husova {i % 200 + 1}", city,
                         postal, "CZ", email, f"+420{600000000 + i * 7 % 100000000:09d}"[:13],
                         "cs", created, False, search_name_of(name, None, email)))
        copy("customer", ["id", "customer_number", "is_company", "name", "street", "city",
                          "postal_code", "country", "email", "phone", "language", "created_at",
                          "enforcement_exempt", "search_name"], rows)
        del rows
        copy("contract", ["id", "customer_id", "number", "signed_on"],
             ((i, i, str(VS_BASE + i), "2020-01-01") for i in ids))
        copy("service", ["id", "customer_id", "contract_id", "kind", "name", "price", "vat_rate",
                         "period", "valid_from", "download_kbps", "upload_kbps",
                         "pppoe_username", "router_name"],
             ((i, i, i, "internet", "Internet 100", "450.00", "21", "month", "2020-01-01",
               100000, 20000, f"{ascii_slug(person(i)[1])}{NUMBER_BASE + i}", "kolin-bras1")
              for i in ids))
        copy("service_address", ["id", "service_id", "address"],
             ((i, i, ip_of(i)) for i in ids))
        issued = date.today().replace(day=1)
        copy("invoice", ["id", "customer_id", "contract_id", "number", "kind", "issue_date",
                         "taxable_date", "due_date", "variable_symbol", "specific_symbol",
                         "currency", "total_net", "total_vat", "total", "supplier_name",
                         "supplier_address", "customer_name", "customer_address", "created_at"],
             ((i, i, i, f"{issued.year}{i:07d}", "regular", issued, issued,
               issued + timedelta(days=14), str(VS_BASE + i), f"{issued.year % 100}{i:07d}",
               "CZK", "371.90", "78.10", "450.00", "Příkladnet s.r.o.", "Nádražní 12, Kolín",
               person(i)[2], "Husova 1, Kolín", created) for i in ids))
        for table in ("customer", "contract", "service", "service_address", "invoice"):
            cur.execute(f"SELECT setval('{table}_id_seq', (SELECT max(id) FROM {table}))")
        conn.commit()
    print(f"setup: {n:,} customers (contract, service, IP, PPPoE, invoice) in "
          f"{time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    rich_history(url)
    print(f"setup: the customer with ten years of history in {time.perf_counter() - t0:.1f} s")
    t0 = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE)")
    print(f"setup: VACUUM (ANALYZE) in {time.perf_counter() - t0:.1f} s")
    return url


def rich_history(url: str) -> None:
    """One customer with ten years of history, written by the domain functions."""
    from billing.bank.pairing import pair
    from billing.customers.register import add_note
    from billing.invoicing.issue import IssueOptions, issue_invoice
    from billing.invoicing.supplier import Supplier
    from billing.invoicing.vat import LineInput
    from billing.models import BankTransaction, Contract, Customer, Service, ServiceAddress
    from core import audit
    from core.db import make_engine, make_session_factory
    from enforcement.cases import get_case, transition
    from enforcement.models import CaseState
    from voip.lines import open_line
    from voip.models import CallRecord

    engine = make_engine(url)
    session = make_session_factory(engine)()
    supplier = Supplier()
    start = date.today().replace(day=1)
    months = []
    for _ in range(120):
        start = (start - timedelta(days=1)).replace(day=1)
        months.append(start)
    months.reverse()
    customer = Customer(customer_number=RICH_NUMBER, name="Bohumil Dlouhodobý",
                        street="Husova 1", city="Kolín", postal_code="280 02",
                        email="bohumil@example.cz", phone="+420603999999")
    session.add(customer)
    session.flush()
    contract = Contract(customer_id=customer.id, number=RICH_NUMBER, signed_on=months[0])
    session.add(contract)
    session.flush()
    internet = Service(customer_id=customer.id, contract_id=contract.id, kind="internet",
                       name="Internet 100", price=Decimal("450.00"), valid_from=months[0],
                       download_kbps=100000, upload_kbps=20000, pppoe_username="dlouhodoby1",
                       router_name="kolin-bras1")
    internet.addresses.append(ServiceAddress(address="172.16.0.1"))
    voip = Service(customer_id=customer.id, contract_id=contract.id, kind="voip",
                   name="VoIP", price=Decimal("0.00"), valid_from=months[0],
                   phone_number="+420312999999")
    session.add_all([internet, voip])
    session.flush()
    open_line(session, voip.id, Decimal("500.00"), actor="system:bench")
    case = get_case(session, customer.id)
    for k, month in enumerate(months):
        invoice = issue_invoice(
            session, customer, [LineInput("Internet 100", Decimal("1"), Decimal("450.00"))],
            supplier, IssueOptions(issue_date=month, due_date=month + timedelta(days=14),
                                   period_key=month.strftime("%Y-%m"), actor="system:bench"),
            contract)
        late = k % 12 == 5
        tx = BankTransaction(source_account="2001234567/2010", bank_tx_id=f"RICH-{k}",
                             booked_on=month + timedelta(days=30 if late else 10),
                             amount=invoice.total, variable_symbol=invoice.variable_symbol,
                             counter_name=customer.name, status="unmatched")
        session.add(tx)
        if late:  # reminded, then paid: the case goes back to ok
            transition(session, case, CaseState.REMINDED, actor="system:sweep",
                       at=datetime.combine(month + timedelta(days=20), datetime.min.time(),
                                           tzinfo=UTC))
        pair(session, tx, actor="system:bench")
        if late and case.state != CaseState.OK:
            transition(session, case, CaseState.OK, actor="system:bench")
    for k in range(400):
        audit.record(session, "contact.changed", actor="customer:" + RICH_NUMBER,
                     customer_id=customer.id, field="phone", old_value=k, new_value=k + 1)
    for k in range(30):
        add_note(session, customer, f"Poznámka {k}: zákazník volal kvůli rychlosti.",
                 actor="operator:bench")
    rng = random.Random(1)
    first = datetime.combine(months[0], datetime.min.time(), tzinfo=UTC)
    session.add_all(
        CallRecord(cdr_uniqueid=f"bench-{k}", service_id=voip.id,
                   started_at=first + timedelta(hours=k * 29), source="+420312999999",
                   destination_number=f"+4206{rng.randint(0, 10**8 - 1):08d}",
                   destination="Mobil CZ", prefix="4206", billsec=rng.randint(5, 600),
                   charged_seconds=60, cost=Decimal("1.50"))
        for k in range(3000))
    session.commit()
    session.close()
    engine.dispose()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(p / 100 * len(ordered)) - 1))
    return ordered[k]


def measure(url: str, n: int, queries: int) -> bool:
    from sqlalchemy import select

    from billing.customers.card import card, customer_by_number
    from billing.customers.search import search
    from billing.models import Customer
    from core.clock import today
    from core.db import make_engine, make_session_factory
    from enforcement.cases import case_overview
    from enforcement.models import EnforcementCase
    from voip.lines import customer_lines

    engine = make_engine(url)
    session = make_session_factory(engine)()
    rng = random.Random(7)
    picks = [rng.randint(1, n) for _ in range(queries)]
    kinds = {
        "number": ([str(NUMBER_BASE + i) for i in picks], lambda q, hits: hits and
                   hits[0].customer_number == q),
        # a surname alone (every other query) or first name and surname, folded
        "name (no diacritics)": ([ascii_slug(person(i)[1]) if k % 2 else
                                  " ".join(ascii_slug(w) for w in person(i)[:2])
                                  for k, i in enumerate(picks)],
                                 lambda q, hits: len(hits) > 0),
        "IP address": ([ip_of(i) for i in picks], lambda q, hits: hits and
                       hits[0].matched == "ip"),
        "VS": ([str(VS_BASE + i) for i in picks], lambda q, hits: hits and
               hits[0].matched == "vs"),
    }
    ok = True
    load = os.getloadavg()
    print(f"\nload average {load[0]:.1f} / {load[1]:.1f} / {load[2]:.1f} on {os.cpu_count()} CPUs")
    print(f"search over {session.scalar(select(Customer.id).order_by(Customer.id.desc()).limit(1)):,}"
          f" customers, {queries} queries per kind (limit 20, in-process, one session):")
    for kind, (qs, check) in kinds.items():
        for q in qs[:20]:  # warm-up
            search(session, q)
        times = []
        for q in qs:
            t0 = time.perf_counter()
            hits = search(session, q)
            times.append((time.perf_counter() - t0) * 1000)
            if not check(q, hits):
                raise SystemExit(f"search {q!r} found the wrong thing: {hits[:3]}")
            session.rollback()  # each query its own transaction, as each request is
        p50, p99 = statistics.median(times), percentile(times, 99)
        ok &= p99 <= TARGET_SEARCH_P99_MS
        print(f"  {kind:22s} p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   "
              f"(target p99 <= {TARGET_SEARCH_P99_MS:.0f} ms)")

    def card_data():
        customer = customer_by_number(session, RICH_NUMBER)
        data = card(session, customer, today())
        case = (session.get(EnforcementCase, customer.id),
                case_overview(session, customer.id, limit=30).timeline)
        lines = customer_lines(session, customer.id)
        session.rollback()
        return data, case, lines

    data, case, lines = card_data()
    print(f"\ncard of {RICH_NUMBER}: {data.invoices.total_count} invoices, {data.payments_count} "
          f"payments, {data.ledger_count} ledger entries, {data.audit_count} audit events, "
          f"{len(data.notes)} notes, {len(case[1])} timeline items shown, "
          f"{sum(line.calls_count for line in lines)} calls")
    for _ in range(5):
        card_data()
    times = []
    for _ in range(50):
        t0 = time.perf_counter()
        card_data()
        times.append((time.perf_counter() - t0) * 1000)
    med = statistics.median(times)
    ok &= med <= TARGET_CARD_MS
    print(f"  card data (domain)     median {med:6.2f} ms   p99 {percentile(times, 99):6.2f} ms"
          f"   (target <= {TARGET_CARD_MS:.0f} ms)")
    server = card_server_time(engine, card_data)
    print(f"  card data, PostgreSQL's own time (EXPLAIN ANALYZE of its {server[0]} statements): "
          f"planning {server[1]:.2f} ms + execution {server[2]:.2f} ms")
    page = card_page_times(url)
    if page is not None:
        med = statistics.median(page)
        ok &= med <= TARGET_CARD_MS
        print(f"  card page (rendered)   median {med:6.2f} ms   p99 {percentile(page, 99):6.2f} ms"
              f"   (target <= {TARGET_CARD_MS:.0f} ms)")
    session.close()
    engine.dispose()
    return ok


def card_server_time(engine, card_data) -> tuple[int, float, float]:
    """The statements the card's data runs, each EXPLAIN ANALYZEd: (count, planning ms,
    execution ms): the database's share of the card, apart from round trips and waiting."""
    from sqlalchemy import event

    statements = []

    def keep(conn, cursor, statement, params, context, executemany):
        statements.append((statement, params))

    event.listen(engine, "before_cursor_execute", keep)
    try:
        card_data()
    finally:
        event.remove(engine, "before_cursor_execute", keep)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        planning = execution = 0.0
        for statement, params in statements:
            cur.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + statement, params)
            plan = cur.fetchone()[0][0]
            planning += plan["Planning Time"]
            execution += plan["Execution Time"]
        raw.rollback()
    finally:
        raw.close()
    return len(statements), planning, execution


def card_page_times(url: str) -> list[float] | None:
    """The console's card page through the app (Flask's test client, in-process: routing,
    the operator's session, the queries, the template; no HTTP server), logged in as an
    admin made for the bench; None when the console is not in this checkout."""
    try:
        import console.views_customers  # noqa: F401
    except ImportError:
        print("  card page: the console is not in this checkout (only the data is timed)")
        return None
    from sqlalchemy import select

    from app import create_app
    from billing import operators
    from billing.models import Customer
    from core.db import make_engine, make_session_factory

    engine = make_engine(url)
    session = make_session_factory(engine)()
    if operators.find(session, "bench") is None:
        operators.create(session, "bench", role="admin", password="bench-password-1",
                         actor="system:bench")
        session.commit()
    customer_id = session.scalar(select(Customer.id).where(Customer.customer_number == RICH_NUMBER))
    session.close()
    engine.dispose()
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench-console", "TESTING": True,
                      "WTF_CSRF_ENABLED": False, "PUBLIC_URL": "http://localhost",
                      "CONSOLE_TOTP_REQUIRED": ""})
    client = app.test_client()
    response = client.post("/console/login", data={"login": "bench",
                                                   "password": "bench-password-1"})
    if response.status_code != 302:
        raise SystemExit(f"console login: {response.status_code}")
    path = f"/console/customers/{customer_id}"
    for _ in range(5):
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code}")
    times, cpu = [], []
    for _ in range(50):
        t0, c0 = time.perf_counter(), time.process_time()
        client.get(path)
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)
    print(f"  card page: of which CPU of this process (Python: routing, ORM, template) median "
          f"{statistics.median(cpu):.2f} ms; the rest is waiting for PostgreSQL and for a CPU")
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--queries", type=int, default=300)
    ap.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    ap.add_argument("--database", default=DB)
    ap.add_argument("--reuse", action="store_true", help="measure the existing database")
    args = ap.parse_args()
    url = args.admin_url.rsplit("/", 1)[0] + f"/{args.database}"
    if not args.reuse:
        url = setup(args.admin_url, args.customers, args.database)
    ok = measure(url, args.customers, args.queries)
    print("\nall targets met" if ok else "\nTARGET MISSED")


if __name__ == "__main__":
    main()
