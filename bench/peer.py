"""Benchmark: our client zone's overview and invoice list against PHPNuxBill's dashboard and
history (issue 17 item 2), in ONE run of the shared ``bench.sh``.

    .venv/bin/python bench/peer.py [--peer-dir ../shared/peers/phpnuxbill]
        [--database-url postgresql://postgres@127.0.0.1:5432/peer_ispzone]
        [--rounds 3] [--duration 10s] [--setup-peer] [--keep] [--ceiling | --bare]
        [--workers 2] [--threads 1]

1. The peer: when nothing answers on 127.0.0.1:8081 (or with ``--setup-peer``), runs the
   peer's ``setup.sh SOURCE --with-indexes`` (php-fpm, nginx, MariaDB, 100k customers,
   1.2M transactions, the five indexes; idempotent, ~1-2 min the first time).
2. Ours: bench/web.py's ``prepare`` fills the database (100k customers x 12 invoices; reused
   when the counts match), then ``gunicorn -w 2 'app:create_app()'`` is started as
   bench/web.py starts it, and the benchmark customer is logged in through the form.
3. ``bench.sh OURS_URL OURS_COOKIE`` with ROUNDS rounds (wrk -t2 -c16, the targets
   alternated round by round, the peer with 16 sessions, ours with the one cookie).
4. Prints per page the medians of the rounds: both req/s, both p99, the ratio ours/peer,
   and whether ratio >= 2.0 and our p99 <= 30 ms; the load average before and after.

Two reference runs, same procedure, to read a result against: ``--ceiling`` serves
bench/ceiling_app.py (the real pages rendered once per worker and then served from memory
behind the login: what a perfect page cache would cost) and ``--bare`` bench/bare_pair_app.py
(a bare Flask "hello": what no Flask page can beat).

Our gunicorn is stopped at the end (``--keep`` leaves it running and prints its URL and
cookie); the peer's services and both databases are left for the next run (the peer's
README says how to stop and drop them).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import statistics
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
_spec = importlib.util.spec_from_file_location("bench_web", BENCH / "web.py")
bench_web = importlib.util.module_from_spec(_spec)
sys.modules["bench_web"] = bench_web  # its dataclasses look their module up
_spec.loader.exec_module(bench_web)  # also puts the project root on sys.path

PEER_URL = "http://127.0.0.1:8081"
TARGET_RATIO = 2.0
TARGET_P99_MS = 30.0
# ours' page -> the peer's page it is compared with (bench.sh's target names)
PAIRS = (("ours-info", "peer-dashboard"), ("ours-invoices", "peer-history"))
CEILING_PAIRS = (("ours-ceiling-info", "peer-dashboard"),
                 ("ours-ceiling-invoices", "peer-history"))
BARE_PAIRS = (("ours-bare-info", "peer-dashboard"), ("ours-bare-invoices", "peer-history"))
ROUND_LINE = re.compile(
    r"^\s+(?P<name>[\w/-]+)\s+(?P<rps>[\d.]+) req/s\s+p99\s+(?P<p99>[\d.]+) ms", re.M)


def peer_answers() -> bool:
    try:
        with urllib.request.urlopen(PEER_URL + "/?_route=login", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def setup_peer(peer_dir: Path) -> None:
    source = next(peer_dir.glob("phpnuxbill-*.tar.gz"))
    print(f"setting up the peer: {peer_dir / 'setup.sh'} {source.name} --with-indexes",
          flush=True)
    subprocess.run([str(peer_dir / "setup.sh"), str(source), "--with-indexes"], cwd=ROOT,
                   check=True)


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def parse_rounds(output: str) -> dict[str, list[tuple[float, float]]]:
    """bench.sh's per-round lines: target -> [(req/s, p99 ms), ...] (warm-ups print none)."""
    rounds: dict[str, list[tuple[float, float]]] = {}
    for m in ROUND_LINE.finditer(output):
        rounds.setdefault(m["name"], []).append((float(m["rps"]), float(m["p99"])))
    return rounds


def summary(rounds: dict[str, list[tuple[float, float]]],
            pairs=PAIRS) -> tuple[list[str], bool]:
    """The verdict lines (medians of the rounds) and whether every target was met."""
    lines, ok = [], True
    med = {name: (statistics.median(v[0] for v in vals), statistics.median(v[1] for v in vals))
           for name, vals in rounds.items()}
    for ours, peer in pairs:
        if ours not in med or peer not in med:
            lines.append(f"{ours} / {peer}: missing from bench.sh's output")
            ok = False
            continue
        ratio = med[ours][0] / med[peer][0]
        good = ratio >= TARGET_RATIO and med[ours][1] <= TARGET_P99_MS
        ok &= good
        lines.append(
            f"{ours:<21} {med[ours][0]:8.1f} req/s (p99 {med[ours][1]:5.1f} ms)  vs  "
            f"{peer:<15} {med[peer][0]:8.1f} req/s (p99 {med[peer][1]:6.1f} ms)  "
            f"ratio {ratio:4.2f}x  [{'met' if good else 'MISSED'}: >= {TARGET_RATIO:.1f}x, "
            f"our p99 <= {TARGET_P99_MS:.0f} ms]")
    return lines, ok


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--peer-dir", type=Path,
                    default=(ROOT / ".." / ".." / "shared" / "peers" / "phpnuxbill"))
    ap.add_argument("--database-url",
                    default="postgresql://postgres@127.0.0.1:5432/peer_ispzone")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", default="10s")
    ap.add_argument("--setup-peer", action="store_true",
                    help="run the peer's setup.sh even when it answers")
    ap.add_argument("--keep", action="store_true", help="leave our gunicorn running")
    ap.add_argument("--workers", type=int, default=2,
                    help="our gunicorn's -w (default 2, as the peer's 2 php-fpm workers)")
    ap.add_argument("--threads", type=int, default=1,
                    help="our gunicorn's --threads: more than 1 makes the workers gthread "
                         "workers (default 1: sync workers, the harness's setting)")
    ap.add_argument("--ceiling", action="store_true",
                    help="serve bench/ceiling_app.py and load /ceiling-info and "
                         "/ceiling-invoices instead: the real pages rendered once and then "
                         "served from memory behind the login (what a perfect page cache "
                         "would cost)")
    ap.add_argument("--bare", action="store_true",
                    help="serve bench/bare_pair_app.py instead (a bare Flask \"hello\" on "
                         "/bare-info and /bare-invoices, no session, no database): what no "
                         "Flask page can beat in the same run")
    args = ap.parse_args()
    peer_dir = args.peer_dir.resolve()
    if not (peer_dir / "bench.sh").exists():
        for candidate in (ROOT.parent / "shared", ROOT.parent.parent / "shared",
                          Path("/work/shared")):
            if (candidate / "peers/phpnuxbill/bench.sh").exists():
                peer_dir = candidate / "peers/phpnuxbill"
                break
        else:
            ap.error(f"no bench.sh in {peer_dir}")

    if args.setup_peer or not peer_answers():
        setup_peer(peer_dir)
    number = bench_web.prepare(args.database_url, 100_000, 12, regenerate=False)

    with tempfile.TemporaryDirectory(prefix="ispzone-peer-") as tmp:
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_HOST")}
        env.update(DATABASE_URL=args.database_url, SECRET_KEY=bench_web.SECRET_KEY,
                   PUBLIC_URL="http://127.0.0.1", PROXY_FIX="none",
                   MAIL_OUTBOX_DIR=str(Path(tmp) / "outbox"))
        log = Path(tempfile.gettempdir()) / "ispzone-peer-gunicorn.log" if args.keep \
            else Path(tmp) / "gunicorn.log"
        if args.ceiling or args.bare:
            env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT),
                                                              env.get("PYTHONPATH")]))
        if args.bare:
            app, ready, paths, pairs = ("bench.bare_pair_app:app", "/bare-info",
                                        ("/bare-info", "/bare-invoices"), BARE_PAIRS)
        elif args.ceiling:
            app, ready, paths, pairs = ("bench.ceiling_app:app", "/healthz",
                                        ("/ceiling-info", "/ceiling-invoices"), CEILING_PAIRS)
        else:
            app, ready, paths, pairs = ("app:create_app()", "/healthz", ("/info", "/invoices"),
                                        PAIRS)
        server = bench_web.Server(app, ROOT, env, log, ready, workers=args.workers,
                                  threads=args.threads)
        try:
            if args.bare:
                cookie = "bare=1"
            else:
                cookie = bench_web.login(server.base, number, bench_web.BENCH_PASSWORD)
                bench_web.check_page(server.base, paths[0], cookie, number)
                bench_web.check_page(server.base, paths[1], cookie, "PDF")
            before = loadavg()
            shape = f"-w {args.workers}" + (f" --threads {args.threads}"
                                            if args.threads > 1 else "")
            print(f"ours: {server.base} (gunicorn {shape}, pid {server.proc.pid}), customer "
                  f"{number}; load average {before}", flush=True)
            run = subprocess.run(
                [str(peer_dir / "bench.sh"), server.base, cookie],
                env={**os.environ, "ROUNDS": str(args.rounds), "DURATION": args.duration,
                     "OURS_PATHS": " ".join(paths)},
                capture_output=True, text=True)
            print(run.stdout, end="")
            if run.returncode:
                print(run.stderr, file=sys.stderr)
                return run.returncode
            lines, ok = summary(parse_rounds(run.stdout), pairs)
            print(f"\nissue 17 item 2 (medians of {args.rounds} rounds; load average "
                  f"{before} before, {loadavg()} after):")
            for line in lines:
                print("  " + line)
            print(f"  => {'both targets met' if ok else 'target missed'}")
            if args.keep:
                print(f"left running: {server.base}  cookie: {cookie}  (kill {server.proc.pid})")
        finally:
            if not args.keep:
                server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
