"""Benchmark: the monthly run as jobs (docs/monthly-run.md) for 100,000 customers.

    .venv/bin/python bench/monthly_run.py [--customers 100000] [--invoices-per-customer 12]
        [--database-url postgresql://postgres@127.0.0.1:5432/bench_monthly]
        [--month YYYY-MM] [--workers 2] [--kill] [--regenerate] [--drop]

1. The data of bench/web.py (its ``prepare``: N customers with a contract, an internet
   service and an e-mail address each, M months of invoices and payments) in a database of
   our own (default ``bench_monthly``).
2. A real SMTP server on loopback (aiosmtpd, in this process) that accepts every message and
   counts messages received and distinct Message-IDs.
3. ``ispzone invoices issue --month M --workers W`` (M: the month after the newest invoiced
   one, so the benchmark can run again on the same data): plans the month, W worker
   processes issue every chunk, then render and mail them (the planner works too once they
   are done). Printed: plan+issue time (until every chunk is issued and the paid advances
   settled; target <= 60 s), the time until every PDF and e-mail is done (target <= 10 min),
   the peak RSS of each process (VmHWM from /proc; target <= 500 MB), the SMTP counts.
4. ``--kill``: the same, but a worker is killed with SIGKILL while the month is being
   issued and the planner while the e-mails go out; the command is then started again
   (it resumes). Printed: invoices per customer (exactly one each), e-mails recorded, messages
   and distinct Message-IDs at the SMTP server (a message can arrive twice only if a process
   died between the server's 250 and the commit of its record: the duplicates are counted).

The machine's load average is printed: other work on the same 2 cores slows every figure.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

TARGET_ISSUE_S = 60.0
TARGET_ALL_S = 600.0
TARGET_RSS_MB = 500.0


def _bench_web():
    spec = importlib.util.spec_from_file_location("bench_web", BENCH / "web.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_web"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


class CountingSMTP:
    """aiosmtpd handler: counts messages and distinct Message-IDs (read from the header
    block only; the PDFs are not parsed)."""

    def __init__(self) -> None:
        self.messages = 0
        self.ids: set[bytes] = set()
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        content = envelope.content
        head = content[:content.find(b"\r\n\r\n")]
        mid = b""
        for line in head.split(b"\r\n"):
            if line[:11].lower() == b"message-id:":
                mid = line[11:].strip()
                break
        with self.lock:
            self.messages += 1
            self.ids.add(mid)
        return "250 OK"


def start_smtp() -> tuple[object, CountingSMTP, int]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = CountingSMTP()
    controller = Controller(handler, hostname="127.0.0.1", port=port,
                            data_size_limit=10 * 1024 * 1024)
    controller.start()
    return controller, handler, port


def next_month(conn) -> str:
    latest = conn.execute("SELECT max(period_key) FROM invoice WHERE period_key IS NOT NULL"
                          ).fetchone()[0]
    year, month = (int(p) for p in latest.split("-"))
    year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return f"{year:04d}-{month:02d}"


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def peak_rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


class Watch:
    """Polls the run's progress (the job table) and the processes' peak RSS."""

    def __init__(self, url: str, month: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True)
        self.key = f"monthly_run:{month}"
        self.rss: dict[int, tuple[str, float]] = {}
        self.cpu: dict[int, float] = {}  # user + system seconds, as last seen

    def status(self) -> dict:
        rows = self.conn.execute(
            "SELECT state, step, total, progress FROM job WHERE run_key = %s AND kind = %s",
            (self.key, "monthly_run.chunk")).fetchall()
        parent = self.conn.execute("SELECT step FROM job WHERE key = %s", (self.key,)).fetchone()
        import json

        s = {"chunks": len(rows), "issued_chunks": 0, "done": 0, "customers": 0, "issued": 0,
             "mailed": 0, "settled": bool(parent and parent[0] == "settled")}
        for state, step, total, progress in rows:
            p = json.loads(progress or "{}")
            s["issued_chunks"] += step != "issue"
            s["done"] += state == "done"
            s["customers"] += total
            s["issued"] += int(p.get("issued", 0))
            s["mailed"] += int(p.get("mailed", 0))
        return s

    def sample(self, roots: dict[int, str]) -> None:
        for pid in list(roots):
            for child in children(pid):
                roots.setdefault(child, f"worker {child}")
        for pid, label in roots.items():
            mb = peak_rss_mb(pid)
            if mb is not None:
                self.rss[pid] = (label, max(mb, self.rss.get(pid, (label, 0.0))[1]))
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                self.cpu[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            except (OSError, IndexError, ValueError):
                pass


def issue_command(month: str, workers: int, no_email: bool = False,
                  chunk_size: int = 1000) -> list[str]:
    return [sys.executable, "-c", "from app import main; main()", "invoices", "issue",
            "--month", month, "--workers", str(workers), "--no-progress",
            "--chunk-size", str(chunk_size)] + (["--no-email"] if no_email else [])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url",
                    default="postgresql://postgres@127.0.0.1:5432/bench_monthly")
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--invoices-per-customer", type=int, default=12)
    ap.add_argument("--month", default=None, help="default: the month after the newest one")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--chunk-size", type=int, default=0,
                    help="customers per chunk (default: 1000, or 1/20 of a smaller run)")
    ap.add_argument("--kill", action="store_true",
                    help="kill -9 a worker and the planner in the middle, then resume")
    ap.add_argument("--no-email", action="store_true",
                    help="plan and issue only (the issue figure on a machine too busy to mail "
                         "100k invoices in the time at hand)")
    ap.add_argument("--regenerate", action="store_true")
    ap.add_argument("--drop", action="store_true", help="drop the database at the end")
    args = ap.parse_args()

    import psycopg

    bw = _bench_web()
    url = args.database_url
    try:  # the data of an earlier run (with its months issued) is reused
        have = bw.counts(url)
    except psycopg.Error:
        have = {}
    if args.regenerate or have.get("customer") != args.customers or have.get("invoice", 0) \
            < args.customers * args.invoices_per_customer:
        bw.prepare(url, args.customers, args.invoices_per_customer, args.regenerate)
    else:
        print(f"data already there ({have['customer']:,} customers, {have['invoice']:,} "
              "invoices, earlier months issued included); not regenerated")
    with psycopg.connect(bw.psycopg_url(url), autocommit=True) as conn:
        month = args.month or next_month(conn)
        if conn.execute("SELECT count(*) FROM invoice WHERE period_key = %s", (month,)
                        ).fetchone()[0] and not args.kill:
            print(f"{month} has invoices already: pass another --month or --regenerate")
            return 2

    chunk = args.chunk_size or min(1000, max(50, args.customers // 20))
    controller, smtp, port = start_smtp()
    sup = bw.bench_supplier()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "MAIL_OUTBOX_DIR")}
    env.update(DATABASE_URL=url, SECRET_KEY=bw.SECRET_KEY, PUBLIC_URL="http://127.0.0.1",
               PROXY_FIX="none", SMTP_HOST="127.0.0.1", SMTP_PORT=str(port), SMTP_TIMEOUT="30",
               MAIL_FROM="Příkladnet <fakturace@priklad.net>",
               SUPPLIER_ACCOUNT=sup.account or "", SUPPLIER_IBAN=sup.iban or "",
               PYTHONPATH=str(ROOT))
    print(f"monthly run {month}: {args.customers:,} customers, {args.workers} workers, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at the start "
          "(PostgreSQL, the SMTP server and other work share them)")
    watch = Watch(bw.psycopg_url(url), month)
    t0 = time.perf_counter()
    planner = subprocess.Popen(issue_command(month, args.workers, args.no_email, chunk), cwd=ROOT, env=env)
    roots = {planner.pid: "planner"}
    t_issued = None
    killed: list[str] = []
    orphans: list[int] = []
    restarted = None
    try:
        while True:
            watch.sample(roots)
            s = watch.status()
            if t_issued is None and s["chunks"] and s["issued_chunks"] == s["chunks"] \
                    and s["settled"]:
                t_issued = time.perf_counter() - t0
                print(f"  plan+issue done in {t_issued:.1f} s ({s['issued']:,} invoices)")
            if args.kill:
                workers = [pid for pid in children(planner.pid)] if planner.poll() is None else []
                if not killed and s["chunks"] and s["issued_chunks"] >= s["chunks"] // 3 \
                        and workers:
                    os.kill(workers[0], signal.SIGKILL)
                    killed.append(f"worker {workers[0]} while issuing "
                                  f"({s['issued_chunks']}/{s['chunks']} chunks issued)")
                    print(f"  kill -9 {killed[-1]}")
                elif len(killed) == 1 and s["customers"] and s["mailed"] >= s["customers"] // 2:
                    orphans = [pid for pid in children(planner.pid)]
                    os.kill(planner.pid, signal.SIGKILL)
                    planner.wait()
                    killed.append(f"planner {planner.pid} while mailing ({s['mailed']:,} mailed)")
                    print(f"  kill -9 {killed[-1]}; its worker(s) {orphans} go on; "
                          "started again")
                    planner = subprocess.Popen(issue_command(month, args.workers, args.no_email, chunk), cwd=ROOT,
                                               env=env)
                    roots[planner.pid] = "planner (restarted)"
                    restarted = planner.pid
            if planner.poll() is not None and (not args.kill or restarted):
                alive = [p for p in orphans if Path(f"/proc/{p}").exists()
                         and "Z" not in Path(f"/proc/{p}/stat").read_text().split()[2]]
                if not alive:
                    break
            time.sleep(0.5)
    finally:
        if planner.poll() is None:
            planner.terminate()
    total = time.perf_counter() - t0
    if planner.returncode:
        print(f"the planner ended with exit status {planner.returncode}")
    time.sleep(1.0)
    controller.stop()
    load_end = os.getloadavg()
    with psycopg.connect(bw.psycopg_url(url), autocommit=True) as conn:
        invoices, customers, most = conn.execute(
            "SELECT count(*), count(DISTINCT customer_id), coalesce(max(n), 0) FROM "
            "(SELECT customer_id, count(*) OVER (PARTITION BY customer_id) AS n FROM invoice "
            "WHERE period_key = %s AND kind = 'regular') AS x", (month,)).fetchone()
        sent = conn.execute(
            "SELECT count(*) FROM invoice_mail m JOIN invoice i ON i.id = m.invoice_id "
            "WHERE i.period_key = %s AND m.state = 'sent'", (month,)).fetchone()[0]
        unbalanced = conn.execute(
            "SELECT count(*) FROM (SELECT transaction_id FROM ledger_leg GROUP BY "
            "transaction_id HAVING sum(amount) <> 0) AS x").fetchone()[0]
    s = watch.status()
    print()
    print(f"month {month}: {invoices:,} invoices for {customers:,} customers "
          f"(most for one customer: {most}); {sent:,} e-mails recorded as sent; "
          f"unbalanced ledger transactions: {unbalanced}")
    print(f"SMTP server: {smtp.messages:,} messages received, {len(smtp.ids):,} distinct "
          f"Message-IDs ({smtp.messages - len(smtp.ids)} received twice)")
    issue_s = t_issued if t_issued is not None else float("nan")
    print(f"plan+issue: {issue_s:.1f} s   target <= {TARGET_ISSUE_S:.0f} s: "
          f"{'OK' if issue_s <= TARGET_ISSUE_S else 'MISSED'}")
    print(f"all invoices issued, rendered and mailed: {total:.1f} s "
          f"({invoices / total:.1f} invoices/s; mailing {total - issue_s:.1f} s)   "
          f"target <= {TARGET_ALL_S:.0f} s: {'OK' if total <= TARGET_ALL_S else 'MISSED'}")
    for pid, (label, mb) in sorted(watch.rss.items()):
        print(f"peak RSS {label} (pid {pid}): {mb:.0f} MB   target <= {TARGET_RSS_MB:.0f} MB: "
              f"{'OK' if mb <= TARGET_RSS_MB else 'MISSED'}; CPU {watch.cpu.get(pid, 0):.1f} s")
    cpu = sum(watch.cpu.values())
    if invoices:
        print(f"CPU of our processes (PostgreSQL and the SMTP server not included): {cpu:.1f} s, "
              f"{cpu / invoices * 1000:.1f} ms per invoice; on {os.cpu_count()} idle cores "
              f"that is at least {cpu / os.cpu_count():.0f} s")
    if args.kill:
        print("killed: " + "; ".join(killed))
        exact = most == 1 and customers == s["customers"] and sent == invoices \
            and len(smtp.ids) == invoices
        print(f"exactly once: {'yes' if exact else 'NO'} (one invoice per customer: "
              f"{most == 1}, one recorded e-mail per invoice: {sent == invoices}, one distinct "
              f"Message-ID per invoice: {len(smtp.ids) == invoices}; messages received twice: "
              f"{smtp.messages - len(smtp.ids)})")
    print(f"load average at the end: {load_end[0]:.2f} {load_end[1]:.2f} {load_end[2]:.2f}")
    watch.conn.close()
    if args.drop:
        bw.drop_database(url) if hasattr(bw, "drop_database") else _drop(url)
    return 0


def _drop(url: str) -> None:
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    from core.db import make_engine

    target = make_url(url)
    admin = make_engine(target.set(database="postgres").render_as_string(hide_password=False),
                        isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{target.database}"'))
    admin.dispose()
    print(f"dropped database {target.database}")


if __name__ == "__main__":
    sys.exit(main())
