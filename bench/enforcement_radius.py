"""Benchmark: FreeRADIUS authorize through the app, the way a router reboot stresses it.

    .venv/bin/python bench/enforcement_radius.py [--database-url postgresql://postgres@127.0.0.1:5432/test]
        [--customers 1000] [--requests 10000] [--parallel 100] [--workers 3] [--threads 8]
        [--profile]

1. Creates a schema of its own (``e2b_bench_radius``, dropped at the end) in the PostgreSQL
   database, migrates it and inserts N customers with one internet service each (PPPoE user
   ``bench<N>``, an address, 100/20 Mbit/s); every 10th is warned, every 50th disconnected.
2. Serves the app with ``gunicorn -k gthread -w W --threads T`` on loopback, starts
   FreeRADIUS with the shipped ``deploy/freeradius`` (tests/enforcement/freeradius_runner.py),
   and sends R PAP Access-Requests over the N users with ``radclient -p P -r 3 -s`` after a
   short warm-up. Prints accepts/s and the lost count. Target: >= 1,000 accepts/s, none lost.
3. ``--profile``: also profiles the authorize endpoint in-process (cProfile over 2,000 requests
   through the test client) and prints where the time goes.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SCHEMA = "e2b_bench_radius"
TOKEN = "bench-radius-token-e2b"
TARGET_RATE = 1000.0


APP_NAME = "e2b-bench-radius"  # application_name of the app's PostgreSQL connections
CLK_TCK = os.sysconf("SC_CLK_TCK")


def schema_url(base: str) -> str:
    sep = "&" if "?" in base else "?"
    return f"{base}{sep}options=-csearch_path%3D{SCHEMA}&application_name={APP_NAME}"


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


def postgres_backends(base_url: str) -> list[int]:
    from sqlalchemy import text

    from core.db import make_engine

    admin = make_engine(base_url)
    with admin.connect() as conn:
        pids = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE application_name = :n"),
                            {"n": APP_NAME}).scalars().all()
    admin.dispose()
    return list(pids)


class CpuMeter:
    """CPU seconds used by each part of the chain while the measured run goes."""

    def __init__(self, parts: dict[str, list[int]]):
        self.parts = parts
        self.start = {name: sum(cpu_seconds(p) for p in pids) for name, pids in parts.items()}

    def used(self) -> dict[str, float]:
        return {name: sum(cpu_seconds(p) for p in pids) - self.start[name]
                for name, pids in self.parts.items()}


def prepare(base_url: str, customers: int) -> str:
    from sqlalchemy import insert, text

    from billing.models import Contract, Customer, Service, ServiceAddress
    from core import schema
    from core.db import make_engine
    from enforcement.models import EnforcementCase

    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {SCHEMA}"))
    admin.dispose()
    url = schema_url(base_url)
    engine = make_engine(url)
    schema.upgrade(engine)
    ids = range(1, customers + 1)
    with engine.begin() as conn:
        conn.execute(insert(Customer), [
            {"id": i, "customer_number": str(2_000_000 + i), "name": f"Bench {i}"} for i in ids])
        conn.execute(insert(Contract), [
            {"id": i, "customer_id": i, "number": str(2_000_000 + i),
             "signed_on": date(2024, 1, 1)} for i in ids])
        conn.execute(insert(Service), [
            {"id": i, "customer_id": i, "contract_id": i, "kind": "internet",
             "name": "Internet 100", "valid_from": date(2024, 1, 1), "download_kbps": 100_000,
             "upload_kbps": 20_000, "pppoe_username": f"bench{i}", "pppoe_password": f"pw{i}"}
            for i in ids])
        conn.execute(insert(ServiceAddress), [
            {"service_id": i, "address": f"100.{64 + i // 65536}.{i // 256 % 256}.{i % 256}"}
            for i in ids])
        cases = [{"customer_id": i, "state": "disconnected" if i % 50 == 0 else "warned"}
                 for i in ids if i % 10 == 0 or i % 50 == 0]
        if cases:
            conn.execute(insert(EnforcementCase), cases)
    engine.dispose()
    return url


def drop_schema(base_url: str) -> None:
    from sqlalchemy import text

    from core.db import make_engine

    admin = make_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {SCHEMA} CASCADE"))
    admin.dispose()


def free_tcp_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gunicorn:
    def __init__(self, env: dict, workers: int, threads: int, log: Path):
        self.port = free_tcp_port()
        self.url = f"http://127.0.0.1:{self.port}"
        exe = Path(sys.executable).parent / "gunicorn"
        cmd = [str(exe) if exe.exists() else shutil.which("gunicorn"), "-k", "gthread",
               "-w", str(workers), "--threads", str(threads), "--backlog", "2048",
               # longer than rlm_rest's idle_timeout (60 s): FreeRADIUS closes an idle
               # connection first, never sends on one gunicorn is closing (docs/radius.md)
               "--keep-alive", "75",
               "-b", f"127.0.0.1:{self.port}", "--chdir", str(ROOT), "app:create_app()"]
        self._log = open(log, "wb")  # noqa: SIM115 - closed in stop()
        self.log = log
        self.proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT)
        self._wait()

    def _wait(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        request = urllib.request.Request(
            self.url + "/radius/authorize", data=b'{"User-Name": {"value": ["nobody"]}}',
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"})
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited:\n{self.log.read_text()[-3000:]}")
            try:
                urllib.request.urlopen(request, timeout=2)
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not get ready")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


def run_radclient(radius, count: int, customers: int, parallel: int, offset: int = 0):
    """Send ``count`` PAP requests; returns (seconds, accepted, rejected, lost)."""
    lines = []
    for n in range(count):
        i = (n + offset) % customers + 1
        lines.append(f'User-Name = "bench{i}"\nUser-Password = "pw{i}"\n'
                     f"NAS-IP-Address = 127.0.0.1\n")
    with tempfile.NamedTemporaryFile("w", prefix="e2b-radclient-", suffix=".txt",
                                     delete=False) as f:
        f.write("\n".join(lines))
        path = f.name
    try:
        import resource

        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        result = subprocess.run(
            ["radclient", "-q", "-s", "-p", str(parallel), "-r", "3", "-t", "5", "-f", path,
             f"127.0.0.1:{radius.auth_port}", "auth", radius.secret],
            capture_output=True, text=True, timeout=600,
        )
        seconds = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        run_radclient.cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    finally:
        os.unlink(path)
    out = result.stdout + result.stderr

    def figure(label: str) -> int:
        m = re.search(rf"{label}\s*:\s*(\d+)", out)
        return int(m.group(1)) if m else -1

    return seconds, figure("Accepted"), figure("Rejected"), figure("Lost"), out


def profile(url: str, customers: int, outbox: Path, requests: int = 2000) -> str:
    from app import create_app

    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "bench", "RADIUS_API_TOKEN": TOKEN,
                      "PUBLIC_URL": "http://127.0.0.1", "PROXY_FIX": "none",
                      "MAIL_OUTBOX_DIR": str(outbox)})
    client = app.test_client()
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bodies = [{"User-Name": {"type": "string", "value": [f"bench{i % customers + 1}"]},
               "User-Password": {"type": "string", "value": ["x"]}} for i in range(requests)]
    for body in bodies[:200]:
        client.post("/radius/authorize", json=body, headers=headers)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for body in bodies:
        client.post("/radius/authorize", json=body, headers=headers)
    profiler.disable()
    per_request = (time.perf_counter() - started) / requests * 1000
    stats = pstats.Stats(profiler)
    parts = {
        "the whole request (RadiusApi.__call__)": ("enforcement/radius/api.py", "__call__"),
        "  caller check (allow-list, token)": ("enforcement/radius/api.py", "_refusal"),
        "  reading the JSON body": ("json/__init__.py", "loads"),
        "  the authorize handler": ("enforcement/radius/api.py", "authorize"),
        "    pool checkout": ("sqlalchemy/engine/base.py", "__init__"),
        "    the SELECT (answer_for)": ("enforcement/radius/authorize.py", "answer_for"),
        "  writing the JSON answer": ("enforcement/radius/api.py", "_respond"),
    }
    lines = [f"in-process (test client, profiled): {per_request:.2f} ms per authorize; "
             "cumulative ms per request:"]
    for label, (path, name) in parts.items():
        total = sum(v[3] for (file, _line, func), v in stats.stats.items()
                    if func == name and file.endswith(path))
        lines.append(f"  {label:<52} {1000 * total / requests:6.3f}")
    app.extensions["ispzone.engine"].dispose()
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", default=os.environ.get(
        "BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--parallel", type=int, default=100)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    from tests.enforcement.freeradius_runner import FreeRadius

    print(f"preparing {args.customers} customers in schema {SCHEMA} ...", flush=True)
    url = prepare(args.database_url, args.customers)
    workdir = Path(tempfile.mkdtemp(prefix="e2b-bench-"))
    env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": "bench-radius",
           "PUBLIC_URL": "http://127.0.0.1", "PROXY_FIX": "none",  # production settings
           "RADIUS_API_TOKEN": TOKEN, "MAIL_OUTBOX_DIR": str(workdir / "outbox")}
    server = radius = None
    try:
        server = Gunicorn(env, args.workers, args.threads, workdir / "gunicorn.log")
        radius = FreeRadius(server.url, TOKEN, tag="e2b").start()
        run_radclient(radius, min(1000, args.requests), args.customers, args.parallel)  # warm-up
        meter = CpuMeter({
            "app (gunicorn)": [server.proc.pid, *children(server.proc.pid)],
            "PostgreSQL": postgres_backends(args.database_url),
            "FreeRADIUS": [radius.process.pid],
        })
        seconds, accepted, rejected, lost, out = run_radclient(
            radius, args.requests, args.customers, args.parallel, offset=7)
        cpu = {**meter.used(), "radclient": run_radclient.cpu}
        rate = accepted / seconds if seconds else 0.0
        print(f"app: gunicorn gthread {args.workers} workers x {args.threads} threads, "
              f"PostgreSQL; FreeRADIUS 3.2 deploy/freeradius; radclient -p {args.parallel}")
        print(f"{args.requests} Access-Requests over {args.customers} customers in "
              f"{seconds:.2f} s: accepted {accepted}, rejected {rejected}, lost {lost}")
        ok = rate >= TARGET_RATE and lost == 0 and accepted == args.requests
        print(f"accepts/s: {rate:.0f} (target >= {TARGET_RATE:.0f}, none lost): "
              f"{'OK' if ok else 'MISSED'}")
        total = sum(cpu.values())
        print("CPU per request: " + ", ".join(
            f"{name} {1000 * used / args.requests:.2f} ms" for name, used in cpu.items())
            + f"; total {1000 * total / args.requests:.2f} ms")
        if total:
            print(f"=> on 2 otherwise idle CPUs the chain would do about "
                  f"{2 * args.requests / total:.0f} requests/s (CPU-bound estimate)")
        if accepted != args.requests:
            print(out[-2000:])
            print("FreeRADIUS log (tail):\n" + "\n".join(
                line for line in radius.log.splitlines()
                if "rest" in line.lower() or "reject" in line.lower() or "error" in line.lower()
            )[-3000:])
            print("app log (tail):\n" + server.log.read_text(errors="replace")[-3000:])
        print("(taken on a shared 2-CPU machine under load from other jobs)")
    finally:
        if radius:
            radius.__exit__(None, None, None)
        if server:
            server.stop()
    try:
        if args.profile:
            print(profile(url, args.customers, workdir / "outbox"))
    finally:
        drop_schema(args.database_url)
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
