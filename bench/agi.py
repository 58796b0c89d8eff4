"""Benchmark: FastAGI call authorization (issue 15 item 9) on PostgreSQL.

    .venv/bin/python bench/agi.py [--lines 2000] [--prefixes 5000] [--requests 20000]
        [--concurrency 16 | --rate 2000] [--workers 1] [--db-connections 2] [--url postgresql://postgres@127.0.0.1:5432/test]

A scratch schema (created here, migrated with core.schema.upgrade, dropped at the end) with
L VoIP lines, each with an opening credit (a ledger posting) and 1-5 past call charges, and a
tariff of P random prefixes. The server (voip.agi, ``--workers`` processes on one port, as
``ispzone voip agi`` runs it) is started in child processes; a client process speaks the
FastAGI protocol with ``--concurrency`` connections at once, each a full AGI session (the
environment, the SET VARIABLE command(s) answered ``200 result=1``, the hang-up), for random
lines and destinations. Prints authorizations/s and the latency percentiles (connect to
hang-up, as the PBX waits). Target: >= 2,000/s with p99 <= 5 ms.

Two ways to load it: ``--concurrency N`` (closed loop, the default: N calls back to back,
which finds the most it can do, latency then being queueing at saturation) and ``--rate R``
(open loop: calls arrive at R a second, as a PBX sends them, latency counted from each
call's scheduled arrival). The target is a rate *with* a latency, so ``--rate 2000`` is
the run that answers it.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import os
import random
import socket
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def setup(url: str, name: str, lines: int, prefixes: int, rng: random.Random) -> list[str]:
    from datetime import date

    from sqlalchemy import text

    from billing.ledger import postings
    from billing.models import TransactionKind as TK
    from core import schema
    from core.db import make_engine, make_session_factory
    from voip.models import Tariff, TariffRate

    admin = make_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {name}"))
    admin.dispose()
    engine = make_engine(scoped(url, name))
    schema.upgrade(engine)
    phones = [f"+42060{1000000 + i:07d}" for i in range(lines)]
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()

        def copy(table, columns, rows):
            with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

        ids = range(1, lines + 1)
        copy("customer", ["id", "customer_number", "is_company", "name", "street", "city",
                          "postal_code", "country", "language", "created_at", "enforcement_exempt"],
             ((i, str(100000 + i), False, f"Zákazník {i}", "Hlavní 1", "Kolín", "280 02", "CZ",
               "cs", "2026-01-01T00:00:00Z", False) for i in ids))
        copy("contract", ["id", "customer_id", "number", "signed_on"],
             ((i, i, str(100000 + i), "2025-01-01") for i in ids))
        copy("service", ["id", "customer_id", "contract_id", "kind", "name", "price", "vat_rate",
                         "period", "valid_from", "phone_number", "billed_monthly"],
             ((i, i, i, "voip", "VoIP", "0", "21", "month", "2025-01-01", phones[i - 1], False)
              for i in ids))
        raw.commit()
    finally:
        raw.close()
    sessions = make_session_factory(engine)
    with sessions() as session:
        batch = []
        for sid in range(1, lines + 1):
            credit = Decimal(rng.choice([0, 1, 5, 20, 100, 500]))
            batch.append(postings.Posting(
                TK.OPENING, [(postings.account_key("voip_line_credit", sid), -credit - 50),
                             (postings.account_key("opening_balance"), credit + 50)],
                customer_id=sid, service_id=sid))
            for _ in range(rng.randint(1, 5)):  # a few CDR imports' charges
                batch.append(postings.Posting(
                    TK.VOIP_CALLS, [(postings.account_key("voip_line_credit", sid), Decimal(10)),
                                    (postings.account_key("voip_prepaid"), Decimal(-10))]))
        postings.record(session, batch)
        tariff = Tariff(name="bench", valid_from=date(2026, 1, 1))
        session.add(tariff)
        session.flush()
        chosen = {"420", "4206", "4207", "49", "4915", "1"}
        while len(chosen) < prefixes:
            chosen.add(str(rng.randint(1, 9)) + "".join(rng.choices("0123456789", k=rng.randint(1, 6))))
        session.add_all([
            TariffRate(tariff_id=tariff.id, prefix=p, destination=f"Dest {p}",
                       price_per_minute=Decimal(rng.randint(1000, 40000)).scaleb(-4),
                       connect_fee=Decimal(rng.choice([0, 0, 2000])).scaleb(-4), vat_rate=Decimal(21),
                       initial_increment=60, increment=rng.choice([1, 60]))
            for p in sorted(chosen)])
        session.commit()
    engine.dispose()
    return phones


def scoped(url: str, name: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{name}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process on this machine (/proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def switches(pid: int) -> int:
    """Voluntary context switches of a process so far (all its threads; /proc): each one is a
    wait (for a socket, another thread), a figure that hardly depends on the machine's load."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        for line in (task / "status").read_text().splitlines():
            if line.startswith("voluntary_ctxt_switches"):
                total += int(line.split()[1])
    return total


def backend_pids(url: str) -> list[int]:
    """The PostgreSQL backends of the AGI servers (application_name bench-agi)."""
    from sqlalchemy import text

    from core.db import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        pids = list(conn.execute(text(
            "SELECT pid FROM pg_stat_activity WHERE application_name = 'bench-agi'")).scalars())
    engine.dispose()
    return pids


def server_process(url: str, port: int, reuse: bool, ready, db_connections: int | None = None) -> None:
    from core.db import make_engine, make_session_factory
    from voip.agi import engine_options, serve

    url += "&application_name=bench-agi"
    sessions = make_session_factory(make_engine(url, **engine_options(url)))
    extra = {} if db_connections is None else {"db_connections": db_connections}
    serve(sessions, "127.0.0.1", port, reuse_port=reuse, ready=lambda _p: ready.set(), **extra)


class _Asterisk(asyncio.Protocol):
    """The PBX's side of one FastAGI session (a protocol: the client must cost less than the
    server it measures), as Asterisk's res_agi.c (run_agi) behaves: each time the socket is
    readable, ONE command line is read (fgets on a buffered stream after poll), executed and
    answered ``200 result=1``; at the end of the stream the lines still buffered, then AGI()
    returns. So a server pipelining commands and waiting for their answers would hang here
    too. ``SET VARIABLE ARRAY(A,B) "x,y"`` sets A and B."""

    def __init__(self, env: tuple[bytes, bytes], done: asyncio.Future):
        self.env, self.done, self.buffer, self.auth = env, done, b"", ""
        self.first = 0.0  # when the first byte of the answer came

    def connection_made(self, transport) -> None:
        self.transport = transport
        for part in self.env:  # as Asterisk sends it (see one_session)
            transport.write(part)

    def data_received(self, data: bytes) -> None:
        if not self.first:
            self.first = time.perf_counter()
        self.buffer += data
        self._one()

    def eof_received(self) -> bool:
        while self._one():
            pass
        return False  # AGI() returns: close

    def _one(self) -> bool:
        if b"\n" not in self.buffer:
            return False
        line, _, self.buffer = self.buffer.partition(b"\n")
        if line.startswith(b"SET VARIABLE "):
            _, _, name, value = line.decode().split(" ", 3)
            names, values = [name], [value.strip().strip('"')]
            if name.startswith("ARRAY("):
                names, values = name[6:-1].split(","), values[0].split(",")
            if "CREDIT_AUTH" in names:
                self.auth = values[names.index("CREDIT_AUTH")]
        self.transport.write(b"200 result=1\n")
        return True

    def connection_lost(self, exc) -> None:
        if not self.done.done():
            self.done.set_result(self.auth)


async def one_session(port: int, caller: str, destination: str) -> tuple[float, str, float]:
    """(seconds from connecting to the end of the session, CREDIT_AUTH, seconds from
    connecting to the answer's first byte)."""
    loop = asyncio.get_running_loop()
    # Asterisk's whole environment (launch_netscript, then setup_env: a write per line on a
    # socket without TCP_NODELAY, so Nagle sends the first line alone and the rest together
    # once it is acknowledged): two segments
    env = (b"agi_network: yes\n", (
        f"agi_network_script: authorize\nagi_request: agi://127.0.0.1:{port}/authorize\n"
        f"agi_channel: PJSIP/{caller[-4:]}-0000{destination[-4:]}\nagi_language: cs\n"
        f"agi_type: PJSIP\nagi_uniqueid: 1765000000.{destination[-5:]}\nagi_version: 20.5.0\n"
        f"agi_callerid: {caller}\nagi_calleridname: Linka\nagi_callingpres: 0\n"
        f"agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: {destination}\n"
        f"agi_rdnis: unknown\nagi_context: ispzone-outbound\nagi_extension: {destination}\n"
        f"agi_priority: 2\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140234567890\n"
        f"agi_arg_1: {destination}\nagi_arg_2: {caller}\n\n").encode())
    t0 = time.perf_counter()
    done = loop.create_future()
    protocol = _Asterisk(env, done)
    await loop.create_connection(lambda: protocol, "127.0.0.1", port)
    auth = await done
    return time.perf_counter() - t0, auth, protocol.first - t0


def client_process(port: int, phones: list[str], requests: int, concurrency: int, seed: int, out,
                   rate: float = 0.0) -> None:
    rng = random.Random(seed)
    destinations = ["212345678", "601234567", "777123456", "+4930123456", "+4915123456789",
                    "+12125550100", "+431234567", "+33123456789"]
    jobs = [(rng.choice(phones), rng.choice(destinations)) for _ in range(requests)]

    async def main():
        latencies, answers, firsts = [], {}, []
        queue = iter(jobs)

        async def worker():
            for caller, destination in queue:
                took, auth, first = await one_session(port, caller, destination)
                latencies.append(took)
                firsts.append(first)
                answers[auth] = answers.get(auth, 0) + 1

        async def paced(start: float, caller: str, destination: str):
            # open loop: a call arrives at its scheduled time whatever the server's speed, and
            # its latency counts from then (a late start is the server's delay, not hidden)
            _took, auth, first = await one_session(port, caller, destination)
            latencies.append(time.perf_counter() - start)
            firsts.append(first)
            answers[auth] = answers.get(auth, 0) + 1

        async def pacer():
            # one task per call, created when the call is due (not 20,000 up front)
            running = set()
            for i, (caller, destination) in enumerate(jobs):
                due = t0 + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                task = asyncio.ensure_future(paced(due, caller, destination))
                running.add(task)
                task.add_done_callback(running.discard)
            await asyncio.gather(*running)

        t0 = time.perf_counter()
        if rate:
            await pacer()
        else:
            await asyncio.gather(*(worker() for _ in range(concurrency)))
        return time.perf_counter() - t0, latencies, answers, firsts

    from voip.agi import run

    result = {}

    async def measured():
        result["value"] = await main()

    cpu = time.process_time()
    run(measured())
    elapsed, latencies, answers, firsts = result["value"]
    out.put((elapsed, latencies, answers, firsts, time.process_time() - cpu))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("BENCH_DATABASE_URL",
                                                        "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--lines", type=int, default=2000)
    parser.add_argument("--prefixes", type=int, default=5000)
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db-connections", type=int, default=None,
                        help="PostgreSQL connections per server process (default: voip.agi's)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="open loop: start calls at this many per second (as a PBX sends "
                             "them) instead of --concurrency back to back; latency counts from "
                             "each call's scheduled start")
    args = parser.parse_args()
    rng = random.Random(15)
    name = f"bench_agi_{os.getpid()}"
    phones = setup(args.url, name, args.lines, args.prefixes, rng)
    url = scoped(args.url, name)
    port = free_port()
    ctx = mp.get_context("spawn")
    servers = []
    try:
        for _ in range(args.workers):
            ready = ctx.Event()
            proc = ctx.Process(target=server_process, args=(url, port, args.workers > 1, ready, args.db_connections))
            proc.start()
            assert ready.wait(30), "the AGI server did not start"
            servers.append(proc)
        out = ctx.Queue()
        # warm up (connections, the tariff index), then measure
        warm = ctx.Process(target=client_process, args=(port, phones, 500, 4, 1, out))
        warm.start()
        out.get()
        warm.join()
        backends = backend_pids(args.url)
        watched = [p.pid for p in servers] + backends
        before = {pid: cpu_seconds(pid) for pid in watched}
        waits = {pid: switches(pid) for pid in watched}
        client = ctx.Process(target=client_process,
                             args=(port, phones, args.requests, args.concurrency, 2, out,
                                   args.rate))
        client.start()
        elapsed, latencies, answers, firsts, client_cpu = out.get()
        client.join()
        used = {pid: cpu_seconds(pid) - before[pid] for pid in watched}
        waited = {pid: switches(pid) - waits[pid] for pid in watched}
        server_cpu = sum(used[p.pid] for p in servers)
        backend_cpu = sum(used[pid] for pid in backends)
        latencies.sort()
        n = len(latencies)

        def pct(p: float) -> float:
            return latencies[min(n - 1, int(p * n))] * 1000

        how = (f"offered at {args.rate:,.0f}/s (open loop)" if args.rate
               else f"{args.concurrency} at once")
        print(f"FastAGI authorization: {n:,} sessions, {how}, "
              f"{args.workers} server process(es), {args.lines:,} lines, {args.prefixes:,} prefixes")
        print(f"  {n / elapsed:,.0f} authorizations/s; latency p50 {pct(0.50):.2f} ms, "
              f"p90 {pct(0.90):.2f} ms, p99 {pct(0.99):.2f} ms, max {latencies[-1] * 1000:.2f} ms "
              f"(mean {statistics.fmean(latencies) * 1000:.2f} ms)")
        firsts.sort()
        print(f"  from connecting to the answer's first byte (the environment, the decision): "
              f"p50 {firsts[n // 2] * 1000:.2f} ms, p99 {firsts[min(n - 1, int(0.99 * n))] * 1000:.2f} ms; "
              f"the rest of the session (the command's 200, the end) is the difference")
        print(f"  answers: {answers}")
        print(f"  CPU per authorization: server {server_cpu / n * 1e6:.0f} µs, its PostgreSQL "
              f"backend(s) {backend_cpu / n * 1e6:.0f} µs -> one free core each would serve "
              f"{n / max(server_cpu, backend_cpu, 1e-9):,.0f}/s; load average now "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        print(f"  the client (the PBX's side, on the same cores): {client_cpu / n * 1e6:.0f} µs CPU "
              f"per session; it used {client_cpu / elapsed:.0%} of a core"
              + (" (the offered rate was not reached)"
                 if args.rate and n / elapsed < 0.97 * args.rate else ""))
        print(f"  voluntary context switches (waits) per authorization: server "
              f"{sum(waited[p.pid] for p in servers) / n:.2f}, PostgreSQL backend(s) "
              f"{sum(waited[pid] for pid in backends) / n:.2f}")
        ok = n / elapsed >= 2000 and pct(0.99) <= 5
        print(f"  target >= 2,000/s with p99 <= 5 ms: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        for proc in servers:
            proc.terminate()
            proc.join(5)
        from sqlalchemy import text

        from core.db import make_engine

        admin = make_engine(args.url)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
