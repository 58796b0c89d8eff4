"""Benchmark: 1,000 RFC 5176 Disconnect-Requests from the radius driver to the test NAS.

    .venv/bin/python bench/enforcement_coa.py [--requests 1000] [--answer ack] [--nas process]

Starts the pyrad test NAS of the test suite (tests/enforcement/nas.py) on 127.0.0.1, in its
own process by default (``--nas thread`` keeps it in this one, sharing the GIL), then sends
N Disconnect-Requests one after the other through ONE ``RadiusDriver`` (one UDP socket, as
the outbox worker uses it), each for a different session, and prints the total time, the
rate, latency percentiles and what the NAS counted. Target: 1,000 requests <= 5 s, none
lost, none retransmitted.
"""

from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from enforcement.drivers import RouterConfig, SessionRef, driver_for  # noqa: E402
from enforcement.models import RouterAction  # noqa: E402
from tests.enforcement.nas import TestNAS  # noqa: E402

SECRET = b"bench-secret"


def nas_process(conn, answer: str) -> None:
    """Child: serve until told to stop, then report (received, distinct requests, answered)."""
    with TestNAS(secret=SECRET) as nas:
        nas.respond(answer)
        conn.send((nas.host, nas.port))
        conn.recv()
        got = nas.received
    conn.send(_counts(got))


def _counts(got) -> tuple[int, int, int]:
    distinct = {(g.identifier, g.authenticator) for g in got}
    return len(got), len(distinct), sum(1 for g in got if g.answer)


def run(requests: int, answer: str, mode: str) -> int:
    if mode == "process":
        parent, child = multiprocessing.Pipe()
        proc = multiprocessing.Process(target=nas_process, args=(child, answer), daemon=True)
        proc.start()
        host, port = parent.recv()
    else:
        nas = TestNAS(secret=SECRET).start()
        nas.respond(answer)
        host, port = nas.host, nas.port

    router = RouterConfig(
        name="bench", driver="radius", host=host, port=port, secret=SECRET.decode()
    )
    driver = driver_for(router, timeout=1.0, retries=3)
    latencies = []
    failures = 0
    started = time.perf_counter()
    for i in range(requests):
        ip = f"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}"
        action = RouterAction(router_name="bench", kind="kick", username=f"user{i}", address=ip)
        ref = SessionRef(username=f"user{i}", acct_session_id=f"{i:08x}", framed_ip=ip, nas_ip=host)
        t0 = time.perf_counter()
        try:
            driver.apply(action, ref)
        except Exception as exc:  # counted and shown, the run goes on
            failures += 1
            if failures <= 3:
                print(f"  request {i}: {exc}")
        latencies.append(time.perf_counter() - t0)
    total = time.perf_counter() - started
    driver.close()

    if mode == "process":
        parent.send("stop")
        received, distinct, answered = parent.recv()
        proc.join(timeout=5)
    else:
        received, distinct, answered = _counts(nas.received)
        nas.stop()

    ms = sorted(x * 1000 for x in latencies)
    print(
        f"{requests} Disconnect-Requests (NAS answer {answer!r}, NAS in a {mode}): {total:.2f} s,"
        f" {requests / total:,.0f} requests/s"
    )
    print(
        f"  latency ms: median {statistics.median(ms):.2f}, p95 {ms[int(len(ms) * 0.95) - 1]:.2f},"
        f" max {ms[-1]:.2f}"
    )
    print(
        f"  NAS received {received} datagrams, {distinct} distinct requests, answered {answered};"
        f" driver errors {failures}"
    )
    ok = total <= 5.0 and failures == 0 and distinct == requests
    print(
        f"  target <= 5 s, none lost: {'OK' if ok else 'MISSED'} (machine shared with other jobs)"
    )
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument(
        "--answer", default="ack", help="ack, nak:503, ... (see tests/enforcement/nas.py)"
    )
    parser.add_argument("--nas", choices=("process", "thread"), default="process")
    args = parser.parse_args()
    return run(args.requests, args.answer, args.nas)


if __name__ == "__main__":
    sys.exit(main())
