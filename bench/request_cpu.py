"""CPU per request of the client zone's /info and /invoices, and of the floor page, in one
process: what the pages cost our Python, whatever else runs on the machine.

    .venv/bin/python bench/request_cpu.py [--database-url URL] [--customers 10000]
        [--requests 500] [--rounds 3] [--profile 25] [--only info,invoices,floor]

A wrk figure on a shared 2-core machine says as much about the other jobs as about the app;
the CPU time this process spends per request (``time.process_time``: user + system of this
process, not PostgreSQL's) and the number of Python function calls (cProfile) do not. So:

1. bench/web.py's data (``prepare``: created and filled when missing, reused otherwise) in a
   database of its own (default ``bench_pages``, 10,000 customers x 12 invoices);
2. the real app (``create_app()``) in this process, its benchmark customer logged in through
   the login form with its CSRF token (the Flask test client, as bench/web_floor.py does);
   the three statements /info runs are captured for the floor;
3. per page, ``app.wsgi_app(environ, start_response)`` called directly with a prepared
   WSGI environ carrying the session cookie (a fresh copy per request; the body is read and
   closed as a server would), after a warm-up: the CPU microseconds per request (best and
   median of the rounds), then one more round under cProfile for the Python function calls
   per request, and the SQL statements per request;
4. the same for bench/floor_app.py's ``/page`` (the three statements through raw psycopg
   and a lean Jinja page; no Flask-Login, SQLAlchemy, Flask-Babel, Flask-WTF) and ``/page1``
   (one statement), with the same cookie.

``--profile N`` prints cProfile's N most expensive functions (cumulative and own time) of
each of our pages. The database is left behind; drop it with ``dropdb``.
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pickle
import pstats
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_web", BENCH / "web.py")
bench_web = importlib.util.module_from_spec(_spec)
sys.modules["bench_web"] = bench_web  # its dataclasses look their module up
_spec.loader.exec_module(bench_web)  # also puts the project root on sys.path


def login(app, number: str) -> tuple[str, dict]:
    """Log ``number`` in through the form; returns the Cookie header of that session and the
    client's address and User-Agent (a request from elsewhere would make Flask-Login mark
    the session no longer fresh, and the app re-sign the cookie, on every request, since
    this cookie is never updated)."""
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    answer = client.post("/login", data={"csrf_token": csrf, "customer_number": number,
                                         "password": bench_web.BENCH_PASSWORD})
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login as {number} failed ({answer.status_code})")
    client.get("/info")  # the first request of a session may write (last seen); not that one
    return (f"ispzone_session={client.get_cookie('ispzone_session').value}",
            dict(client.environ_base))


class Caller:
    """``wsgi_app(environ, start_response)`` for one path with a cookie, as a server calls it."""

    def __init__(self, wsgi_app, path: str, cookie: str, environ_base: dict):
        from werkzeug.test import EnvironBuilder

        builder = EnvironBuilder(path=path, base_url="http://127.0.0.1",
                                 headers={"Cookie": cookie}, environ_base=environ_base)
        self.environ = builder.get_environ()
        builder.close()
        self.wsgi_app = wsgi_app
        self.status = ""
        self.headers: list = []

    def _start_response(self, status, headers, exc_info=None):
        self.status = status
        self.headers = headers
        return lambda _data: None

    def __call__(self) -> bytes:
        environ = dict(self.environ)
        environ["wsgi.input"] = io.BytesIO(b"")
        body = self.wsgi_app(environ, self._start_response)
        try:
            return b"".join(body)
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()


def check(call: Caller, n: int, expect: bytes) -> bytes:
    """The page as expected (200, ``expect`` on it, the cookie not written again), then a
    warm-up (caches, prepared statements)."""
    page = call()
    if any(name == "Set-Cookie" for name, _ in call.headers):
        raise RuntimeError(f"{call.environ['PATH_INFO']}: the answer sets the cookie again")
    if not call.status.startswith("200") or expect not in page:
        raise RuntimeError(f"{call.environ['PATH_INFO']}: {call.status}, "
                           f"{expect!r} {'found' if expect in page else 'not on the page'}")
    for _ in range(max(20, n // 10)):
        call()
    return page


def cpu_us(call: Caller, n: int) -> float:
    t0 = time.process_time()
    for _ in range(n):
        call()
    return (time.process_time() - t0) / n * 1e6


def profile(call: Caller, n: int, statements=None, profile_top: int = 0) -> dict:
    """Python function calls per request (cProfile), SQL statements per request."""
    count = None
    if statements is not None:
        before = len(statements)
        call()
        count = len(statements) - before
    prof = cProfile.Profile(time.process_time)  # CPU, not the waits for PostgreSQL
    m = max(50, n // 5)
    prof.enable()
    for _ in range(m):
        call()
    prof.disable()
    stats = pstats.Stats(prof)
    result = {"calls": stats.total_calls / m, "statements": count}
    if profile_top:
        result["profile"] = [by_package(stats, m)]
        for key in ("cumulative", "tottime"):
            out = io.StringIO()
            pstats.Stats(prof, stream=out).sort_stats(key).print_stats(profile_top)
            text = out.getvalue()
            result["profile"].append(text[text.find("   ncalls"):])
    return result


def by_package(stats: pstats.Stats, m: int) -> str:
    """Own CPU time per request, summed by package (where the time is spent, not who called)."""
    sums: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        if "site-packages/" in filename:
            key = filename.split("site-packages/")[1].split("/")[0]
        elif "/templates/" in filename:
            key = "templates (Jinja code)"
        elif filename.startswith(str(BENCH.parent)):
            key = filename[len(str(BENCH.parent)) + 1:].split("/")[0]
        elif filename == "~":
            key = "built-ins"
        else:
            key = "stdlib"
        sums[key] = sums.get(key, 0.0) + tt
    total = sum(sums.values())
    lines = [f"   ncalls  own CPU by package (us/request; total {total / m * 1e6:.0f})"]
    for key, tt in sorted(sums.items(), key=lambda kv: -kv[1]):
        lines.append(f"{tt / m * 1e6:>9.0f}  {key}")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--database-url",
                    default="postgresql://postgres@127.0.0.1:5432/bench_pages")
    ap.add_argument("--customers", type=int, default=10_000)
    ap.add_argument("--invoices-per-customer", type=int, default=12)
    ap.add_argument("--requests", type=int, default=500, help="requests per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", type=int, default=0, metavar="N",
                    help="print cProfile's top N functions of each of our pages")
    ap.add_argument("--only", default="info,invoices,floor",
                    help="comma-separated: info, invoices, floor")
    args = ap.parse_args()
    only = set(args.only.split(","))

    url = args.database_url
    number = bench_web.prepare(url, args.customers, args.invoices_per_customer, False)
    load = os.getloadavg()[0]
    os.environ.update(DATABASE_URL=url, SECRET_KEY=bench_web.SECRET_KEY,
                      PUBLIC_URL="http://127.0.0.1", PROXY_FIX="none")
    for key in ("REDIS_URL", "SMTP_HOST"):
        os.environ.pop(key, None)
    from sqlalchemy import event

    from app import create_app

    targets = []  # (name, caller, expected text, statements list or None, profile?)
    with tempfile.TemporaryDirectory(prefix="ispzone-cpu-") as tmp:
        app = create_app({"MAIL_OUTBOX_DIR": str(Path(tmp) / "outbox")})
        cookie, client_env = login(app, number)
        statements: list = []
        engine = app.extensions["ispzone.engine"]
        event.listen(engine, "before_cursor_execute",
                     lambda _c, _cur, sql, params, _ctx, _many: statements.append((sql, params)))
        for page, expect in (("info", number.encode()), ("invoices", b"PDF")):
            if page in only:
                targets.append((f"ours /{page}", Caller(app.wsgi_app, f"/{page}", cookie,
                                                        client_env), expect, statements))
        if "floor" in only:
            # the floor replays the three statements of one /info request
            statements.clear()
            Caller(app.wsgi_app, "/info", cookie, client_env)()
            if len(statements) != 3:
                raise RuntimeError(f"/info ran {len(statements)} statements; the floor "
                                   "replays exactly three (update bench/floor_app.py)")
            captured = Path(tmp) / "capture.pickle"
            captured.write_bytes(pickle.dumps({"statements": list(statements), "page": b""}))
            os.environ.update(FLOOR_CAPTURE=str(captured),
                              FLOOR_DATABASE_URL=bench_web.psycopg_url(url))
            spec = importlib.util.spec_from_file_location("floor_app", BENCH / "floor_app.py")
            floor = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(floor)
            for path in ("/page", "/page1"):
                targets.append((f"floor {path}", Caller(floor.app.wsgi_app, path, cookie,
                                                        client_env), number.encode(), None))
        sizes = {name: len(check(call, args.requests, expect))
                 for name, call, expect, _ in targets}
        # rounds alternate between the targets: a change in the machine's load hits all
        times: dict[str, list[float]] = {name: [] for name, *_ in targets}
        for _ in range(args.rounds):
            for name, call, _, _ in targets:
                times[name].append(cpu_us(call, args.requests))
        rows, profiles = [], []
        for name, call, _, sql in targets:
            result = profile(call, args.requests, sql,
                             args.profile if name.startswith("ours") else 0)
            result.update(us=times[name], bytes=sizes[name])
            rows.append((name, result))
            profiles += [(name, text) for text in result.get("profile", ())]
        engine.dispose()

    print(f"\nCPU of this process per request (time.process_time), {args.rounds} rounds of "
          f"{args.requests}; load average {load:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'page':<16}{'best us':>10}{'median us':>11}{'calls/req':>11}{'SQL':>5}"
          f"{'bytes':>8}")
    for name, r in rows:
        print(f"{name:<16}{min(r['us']):>10.0f}{statistics.median(r['us']):>11.0f}"
              f"{r['calls']:>11.0f}{'' if r['statements'] is None else r['statements']:>5}"
              f"{r['bytes']:>8}")
    for name, text in profiles:
        print(f"\n--- cProfile {name} ---\n{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
