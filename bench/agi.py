"""Benchmark: FastAGI call authorization (issue 15 item 9) on PostgreSQL.

    .venv/bin/python bench/agi.py [--lines 2000] [--prefixes 5000] [--requests 20000]
        [--concurrency 16 | --rate 2000] [--workers 1] [--db-connections 2] [--url postgresql://postgres@127.0.0.1:5432/test]

A scratch schema (created here, migrated with core.schema.upgrade, dropped at the end) with
L VoIP lines, each with an opening credit (a ledger posting) and 1-5 past call charges, and a
tariff of P random prefixes. The server (voip.agi, ``--workers`` processes on one port, as
``ispzone voip agi`` runs it) is started in child processes; a client process speaks the
FastAGI protocol with ``--concurrency`` connections at once, each a full AGI session (the
environment, the SET VARIABLE command(s) answered ``200 result=1``, the hang-up), for random
lines and destinations (one process, one epoll loop over raw sockets: ``client_process``).
Prints authorizations/s and the latency percentiles (from when the call was due to AGI()
returning, as the PBX waits), the CPU per authorization of the server, its PostgreSQL
backend and the client, waits per call and the server's garbage collections. Target:
>= 2,000/s with p99 <= 5 ms.

Two ways to load it: ``--concurrency N`` (closed loop, the default: N calls back to back,
which finds the most it can do, latency then being queueing at saturation) and ``--rate R``
(open loop: calls arrive at R a second, as a PBX sends them, started on time by a timerfd,
latency counted from each call's scheduled arrival, so no coordinated omission). The
target is a rate *with* a latency, so ``--rate 2000`` is the run that answers it.
``--stub``: the same client against a stub server without a database, the floor of the
measurement on this machine at that moment (run it beside the real one).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import signal
import socket
import statistics
import sys
import time
from contextlib import suppress
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
    # the planner's statistics, as autovacuum keeps them in a database in use: without them
    # the server's prepared statement scanned all of service per call (0.33 ms of the
    # backend's time instead of 0.06 ms with the index on phone_number)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE"))
    engine.dispose()
    return phones


def scoped(url: str, name: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{name}"


def cpu_seconds(pid: int, part: slice = slice(11, 13)) -> float:
    """User + system CPU time of a process on this machine (/proc); ``part`` slice(11, 12)
    the user time alone, slice(12, 13) the system's (the kernel's work for it: here mostly
    TCP over the loopback, whose delivery to the peer runs in the sender's system call)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[part]) / os.sysconf("SC_CLK_TCK")


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


def server_process(url: str, port: int, reuse: bool, ready, db_connections: int | None = None,
                   gc_out=None) -> None:
    import gc
    import signal

    from core.db import make_engine, make_session_factory
    from voip.agi import engine_options, serve

    url += "&application_name=bench-agi"
    sessions = make_session_factory(make_engine(url, **engine_options(url)))
    extra = {} if db_connections is None else {"db_connections": db_connections}
    if gc_out is not None:  # the garbage collector's pauses, measured from the warm-up's end
        pauses: list[tuple[int, float]] = []
        started = [0.0]

        def timed(phase, info):
            if phase == "start":
                started[0] = time.perf_counter()
            else:
                pauses.append((info["generation"], time.perf_counter() - started[0]))

        def report(*_):
            gc_out.send((pauses, [g["collections"] for g in gc.get_stats()]))  # synchronous
            os._exit(0)

        gc.callbacks.append(timed)
        signal.signal(signal.SIGUSR1, lambda *_: pauses.clear())
        signal.signal(signal.SIGTERM, report)
    serve(sessions, "127.0.0.1", port, reuse_port=reuse, ready=lambda _p: ready.set(), **extra)


def stub_process(_url: str, port: int, reuse: bool, ready, _db_connections=None, gc_out=None) -> None:
    """``--stub``: a FastAGI server that answers every session with the same command and no
    database, in the same way as voip.agi (the environment read at accept, the command and
    the end of the stream in one segment, the 200 read at the next wake-up), as small as a
    Python server gets: what the measurement costs by itself (the client, the TCP sessions
    on the loopback, the scheduling on these cores), the floor under the real server's
    figures."""
    import select

    answer = (b'SET VARIABLE ARRAY(CREDIT_AUTH,CREDIT_LIMIT_MS,CREDIT_SECONDS,CREDIT_REASON) '
              b'"ALLOW,1240000,1240,ok"\n')
    more = getattr(socket, "MSG_MORE", 0)
    listening = socket.socket()
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse:
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
    listening.bind(("127.0.0.1", port))
    listening.listen(1024)
    listening.setblocking(False)
    ep = select.epoll()
    ep.register(listening.fileno(), select.EPOLLIN)
    reading: dict[int, list] = {}  # fd -> [socket, buffer] of sessions still sending their environment
    answered: list[socket.socket] = []
    signal.signal(signal.SIGUSR1, lambda *_: None)
    signal.signal(signal.SIGTERM, lambda *_: (gc_out.send(([], [])), os._exit(0)))

    def environment_read(conn: socket.socket, buffer: bytes) -> bool:
        try:
            data = conn.recv(4096)
        except BlockingIOError:
            reading[conn.fileno()] = [conn, buffer]
            return False
        buffer += data
        if not data or b"\n\n" in buffer:
            if data:
                conn.send(answer, more)
                conn.shutdown(socket.SHUT_WR)
                answered.append(conn)
            else:
                conn.close()
            return True
        reading[conn.fileno()] = [conn, buffer]
        return False

    ready.set()
    while True:
        for fd, _ in ep.poll():
            if fd == listening.fileno():
                for conn in answered:  # their 200, read now
                    with suppress(OSError):
                        conn.recv(4096)
                    conn.close()
                answered.clear()
                while True:
                    try:
                        conn, _ = listening.accept()
                    except BlockingIOError:
                        break
                    conn.setblocking(False)
                    if not environment_read(conn, b"") and conn.fileno() in reading:
                        ep.register(conn.fileno(), select.EPOLLIN)
            elif fd in reading:
                conn, buffer = reading.pop(fd)
                ep.unregister(fd)
                if not environment_read(conn, buffer):
                    ep.register(fd, select.EPOLLIN)


def environment(port: int, caller: str, destination: str) -> tuple[bytes, bytes]:
    """Asterisk's whole AGI environment for one call, as it sends it (launch_netscript, then
    setup_env: a write per line on a socket without TCP_NODELAY, so Nagle sends the first line
    alone and the rest together once it is acknowledged): two segments. Built before the run."""
    return (b"agi_network: yes\n", (
        f"agi_network_script: authorize\nagi_request: agi://127.0.0.1:{port}/authorize\n"
        f"agi_channel: PJSIP/{caller[-4:]}-0000{destination[-4:]}\nagi_language: cs\n"
        f"agi_type: PJSIP\nagi_uniqueid: 1765000000.{destination[-5:]}\nagi_version: 20.5.0\n"
        f"agi_callerid: {caller}\nagi_calleridname: Linka\nagi_callingpres: 0\n"
        f"agi_callingani2: 0\nagi_callington: 0\nagi_callingtns: 0\nagi_dnid: {destination}\n"
        f"agi_rdnis: unknown\nagi_context: ispzone-outbound\nagi_extension: {destination}\n"
        f"agi_priority: 2\nagi_enhanced: 0.0\nagi_accountcode: \nagi_threadid: 140234567890\n"
        f"agi_arg_1: {destination}\nagi_arg_2: {caller}\n\n").encode())


def _timerfd(interval: float) -> int | None:
    """A periodic timer (Linux timerfd, through libc) firing every ``interval`` seconds, as a
    file descriptor for epoll: the open loop's calls start on time to the microsecond (an
    epoll timeout has a millisecond's resolution, asyncio's timers too, and a call started up
    to 1 ms late is latency the server did not cause). None where there is none."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.timerfd_create(1, 0o4000 | 0o2000000)  # CLOCK_MONOTONIC, TFD_NONBLOCK|CLOEXEC
        if fd < 0:
            return None

        class Timespec(ctypes.Structure):
            _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]

        class Itimerspec(ctypes.Structure):
            _fields_ = [("it_interval", Timespec), ("it_value", Timespec)]

        ns = max(1000, int(interval * 1e9))
        period = Timespec(ns // 10**9, ns % 10**9)
        if libc.timerfd_settime(fd, 0, ctypes.byref(Itimerspec(period, period)), None) != 0:
            os.close(fd)
            return None
        return fd
    except (OSError, AttributeError):
        return None


def client_process(port: int, phones: list[str], requests: int, concurrency: int, seed: int, out,
                   rate: float = 0.0) -> None:
    """The PBX's side: one process, one epoll loop over raw non-blocking sockets (the client
    must cost much less than the server it measures), each session a full FastAGI session
    as Asterisk's res_agi.c (run_agi) runs it: connect, the environment (two segments), then
    each time the socket is readable ONE command line is taken (fgets on a buffered stream
    after poll), executed and answered ``200 result=1``; at the end of the stream the lines
    still buffered are executed and AGI() returns. So a server that pipelined commands and
    waited for their answers would hang here too. ``SET VARIABLE ARRAY(A,B) "x,y"`` sets A
    and B. The requests are built before the run; the garbage collector is off.

    ``rate`` (open loop): call i is due at start + i/rate (a timerfd wakes the loop on time),
    starts then whatever the server's state, and its latency counts from its due time to the
    end of its session (AGI() returning), so a late start is not hidden. Else
    ``concurrency`` sessions back to back (closed loop). Puts (elapsed, latencies, answers,
    firsts = due to the answer's first byte, client CPU seconds) on ``out``."""
    import errno
    import gc
    import select

    rng = random.Random(seed)
    destinations = ["212345678", "601234567", "777123456", "+4930123456", "+4915123456789",
                    "+12125550100", "+431234567", "+33123456789"]
    jobs = [environment(port, rng.choice(phones), rng.choice(destinations)) for _ in range(requests)]
    gc.collect()
    gc.disable()
    latencies, firsts, answers = [], [], {}
    ep = select.epoll()
    sessions: dict[int, list] = {}  # fd -> [socket, due, first byte at, buffer, CREDIT_AUTH, env]
    IN, OUT, ERR = select.EPOLLIN, select.EPOLLOUT, select.EPOLLERR | select.EPOLLHUP
    clock = time.perf_counter
    pending = errno.EINPROGRESS
    address = ("127.0.0.1", port)
    ok_answer = b"200 result=1\n"

    def start(env, due):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the two segments, not one
        fd = s.fileno()
        state = [s, due, 0.0, b"", "", env]
        sessions[fd] = state
        code = s.connect_ex(address)
        if code == 0 or code == pending:
            try:  # on loopback the connection is usually made within connect()
                s.send(env[0])
                s.send(env[1])
            except (BlockingIOError, OSError):
                ep.register(fd, OUT)  # not yet: send when writable
                return
            ep.register(fd, IN)
        else:
            finish(fd, state, f"error:{errno.errorcode.get(code, code)}")

    def finish(fd, state, auth):
        latencies.append(clock() - state[1])
        if state[2]:
            firsts.append(state[2] - state[1])
        answers[auth] = answers.get(auth, 0) + 1
        del sessions[fd]
        state[0].close()  # also leaves the epoll set

    def execute(state, line):
        if line.startswith(b"SET VARIABLE "):
            _, _, name, value = line.split(b" ", 3)
            value = value.strip().strip(b'"')
            if name.startswith(b"ARRAY("):
                names, values = name[6:-1].split(b","), value.split(b",")
            else:
                names, values = [name], [value]
            if b"CREDIT_AUTH" in names:
                state[4] = values[names.index(b"CREDIT_AUTH")].decode()
        state[0].send(ok_answer)

    def readable(fd, state):
        s = state[0]
        while True:
            try:
                data = s.recv(4096)
            except BlockingIOError:
                return
            except OSError as error:
                finish(fd, state, f"error:{errno.errorcode.get(error.errno, error.errno)}")
                return
            if not data:  # the end of the stream: what is still buffered, then AGI() returns
                while b"\n" in state[3]:
                    line, _, state[3] = state[3].partition(b"\n")
                    execute(state, line)
                finish(fd, state, state[4] or "none")
                return
            if not state[2]:
                state[2] = clock()
            state[3] += data
            if b"\n" in state[3]:  # one command per readable socket, as run_agi
                line, _, state[3] = state[3].partition(b"\n")
                try:
                    execute(state, line)
                except OSError as error:
                    finish(fd, state, f"error:{errno.errorcode.get(error.errno, error.errno)}")
                    return

    cpu = time.process_time()
    timer = _timerfd(1 / rate) if rate else None
    if timer is not None:
        ep.register(timer, IN)
    t0 = clock()
    started = 0
    total = len(jobs)
    if not rate:
        for env in jobs[:concurrency]:
            start(env, clock())
        started = min(concurrency, total)
    done_before = 0
    while len(latencies) < total:
        if rate and started < total:
            now = clock()
            while started < total and t0 + started / rate <= now:
                start(jobs[started], t0 + started / rate)
                started += 1
            if timer is None and started < total:  # no timerfd: epoll's millisecond timeout
                timeout = max(0.0, t0 + started / rate - clock())
            else:
                timeout = -1
        else:
            timeout = -1
        for fd, event in ep.poll(timeout):
            if fd == timer:
                with suppress(BlockingIOError):
                    os.read(timer, 8)
                continue
            state = sessions.get(fd)
            if state is None:
                continue
            if event & OUT:
                try:
                    state[0].send(state[5][0])
                    state[0].send(state[5][1])
                except OSError as error:
                    finish(fd, state, f"error:{errno.errorcode.get(error.errno, error.errno)}")
                    continue
                ep.modify(fd, IN)
            elif event & (IN | ERR):
                readable(fd, state)
        if not rate:
            finished = len(latencies) - done_before
            done_before = len(latencies)
            for env in jobs[started:started + finished]:
                start(env, clock())
            started = min(total, started + finished)
    elapsed = clock() - t0
    if timer is not None:
        os.close(timer)
    ep.close()
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
    parser.add_argument("--stub", action="store_true",
                        help="measure the measurement: the same client against a stub server "
                             "that answers at once, without a database (the floor)")
    args = parser.parse_args()
    rng = random.Random(15)
    name = f"bench_agi_{os.getpid()}"
    if args.stub:
        phones = [f"+42060{1000000 + i:07d}" for i in range(args.lines)]
    else:
        phones = setup(args.url, name, args.lines, args.prefixes, rng)
    url = scoped(args.url, name)
    port = free_port()
    ctx = mp.get_context("spawn")
    servers = []
    gc_in, gc_out = ctx.Pipe(duplex=False)
    try:
        for _ in range(args.workers):
            ready = ctx.Event()
            proc = ctx.Process(target=stub_process if args.stub else server_process,
                               args=(url, port, args.workers > 1, ready, args.db_connections, gc_out))
            proc.start()
            assert ready.wait(30), "the AGI server did not start"
            servers.append(proc)
        out = ctx.Queue()
        # warm up (connections, the tariff index), then measure
        warm = ctx.Process(target=client_process, args=(port, phones, 500, 4, 1, out))
        warm.start()
        out.get()
        warm.join()
        backends = [] if args.stub else backend_pids(args.url)
        for proc in servers:  # count the collector's pauses from here
            os.kill(proc.pid, signal.SIGUSR1)
        watched = [p.pid for p in servers] + backends
        before = {pid: cpu_seconds(pid) for pid in watched}
        system_before = {p.pid: cpu_seconds(p.pid, slice(12, 13)) for p in servers}
        waits = {pid: switches(pid) for pid in watched}
        client = ctx.Process(target=client_process,
                             args=(port, phones, args.requests, args.concurrency, 2, out,
                                   args.rate))
        client.start()
        elapsed, latencies, answers, firsts, client_cpu = out.get()
        client.join()
        used = {pid: cpu_seconds(pid) - before[pid] for pid in watched}
        server_system = sum(cpu_seconds(p.pid, slice(12, 13)) - system_before[p.pid] for p in servers)
        waited = {pid: switches(pid) - waits[pid] for pid in watched}
        pauses, since_start = [], []
        for proc in servers:  # each reports its collector's pauses as it ends
            proc.terminate()
        for _ in servers:
            with suppress(Exception):
                if not gc_in.poll(10):
                    break
                measured, total = gc_in.recv()
                pauses += measured
                since_start.append(total)
        server_cpu = sum(used[p.pid] for p in servers)
        backend_cpu = sum(used[pid] for pid in backends)
        latencies.sort()
        n = len(latencies)

        def pct(p: float) -> float:
            return latencies[min(n - 1, int(p * n))] * 1000

        how = (f"offered at {args.rate:,.0f}/s (open loop)" if args.rate
               else f"{args.concurrency} at once")
        print(("STUB server (no database): " if args.stub else "")
              + f"FastAGI authorization: {n:,} sessions, {how}, "
              f"{args.workers} server process(es), {args.lines:,} lines, {args.prefixes:,} prefixes")
        print(f"  {n / elapsed:,.0f} authorizations/s; latency p50 {pct(0.50):.2f} ms, "
              f"p90 {pct(0.90):.2f} ms, p99 {pct(0.99):.2f} ms, max {latencies[-1] * 1000:.2f} ms "
              f"(mean {statistics.fmean(latencies) * 1000:.2f} ms)")
        firsts.sort()
        if firsts:
            m = len(firsts)
            print(f"  to the answer's first byte (the environment, the decision): "
                  f"p50 {firsts[m // 2] * 1000:.2f} ms, p99 {firsts[min(m - 1, int(0.99 * m))] * 1000:.2f} ms; "
                  f"the rest of the session (the command's 200, the end) is the difference")
        print(f"  answers: {answers}")
        print(f"  CPU per authorization: server {server_cpu / n * 1e6:.0f} µs (of which system "
              f"{server_system / n * 1e6:.0f} µs), its PostgreSQL "
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
        by_generation = {g: [p for gen, p in pauses if gen == g] for g in (0, 1, 2)}
        print("  the server's garbage collector: " + ", ".join(
            f"generation {g} {len(p)}x (max {max(p, default=0) * 1000:.2f} ms)" for g, p in by_generation.items())
              + f" during the run; since each process started: {since_start}")
        ok = n / elapsed >= 2000 and pct(0.99) <= 5
        print(f"  target >= 2,000/s with p99 <= 5 ms: {'met' if ok else 'NOT met'}")
        return 0
    finally:
        for proc in servers:
            proc.terminate()
            proc.join(5)
        if not args.stub:  # (the stub created nothing)
            from sqlalchemy import text

            from core.db import make_engine

            admin = make_engine(args.url)
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA {name} CASCADE"))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
