"""How fast could any Flask page that shows /info be on this machine? The floor of issue 2's
"30 % of a bare Flask app" target.

    .venv/bin/python bench/web_floor.py [--database-url URL] [--duration 10s]

Uses bench/web.py's database (100k customers, 1.2M invoices; generated there if missing) and
its benchmark customer. Logs that customer in through the real app (in this process, with
its SQL captured: the three statements /info runs, and the page it renders), then serves
with ``gunicorn -w 2``, one after another, and loads with the same ``wrk`` run each:

1. the bare "hello" app (bench/hello_app.py), the baseline of the target;
2. bench/floor_app.py: Flask + the cookie session + raw psycopg (see its docstring):
   ``/sql`` the app's three statements only, ``/page`` those and a lean Jinja page,
   ``/page1`` one statement for all of it and the same page;
3. the real app's /info, for comparison in the same run.

It prints each one's requests/s and p99 and its share of the bare app's requests/s. What
the floor shows is what the real app, which adds Flask-Login, SQLAlchemy, Flask-Babel,
Flask-WTF, the limiter and the enforcement hooks to it, cannot exceed.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import pickle
import re
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
_spec = importlib.util.spec_from_file_location("bench_web", BENCH / "web.py")
bench_web = importlib.util.module_from_spec(_spec)
sys.modules["bench_web"] = bench_web  # its dataclasses look their module up
_spec.loader.exec_module(bench_web)  # also puts the project root on sys.path


def capture(url: str, number: str, out: Path) -> str:
    """Log ``number`` in through the real app in this process and record what /info runs.

    Returns the Cookie header of that session (the floor app reads the same cookie)."""
    from sqlalchemy import event

    os.environ.update(DATABASE_URL=url, SECRET_KEY=bench_web.SECRET_KEY,
                      PUBLIC_URL="http://127.0.0.1", PROXY_FIX="none")
    from app import create_app

    app = create_app({"MAIL_OUTBOX_DIR": str(out.parent / "outbox")})
    client = app.test_client()
    html = client.get("/login").get_data(as_text=True)
    csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html).group(1)
    answer = client.post("/login", data={"csrf_token": csrf, "customer_number": number,
                                         "password": bench_web.BENCH_PASSWORD})
    if answer.status_code not in (302, 303):
        raise RuntimeError(f"login as {number} failed ({answer.status_code})")
    client.get("/info")  # the first request of a session may write (last seen); not that one
    statements = []

    def record(_conn, _cursor, statement, parameters, _context, _many):
        statements.append((statement, parameters))

    engine = app.extensions["ispzone.engine"]
    event.listen(engine, "before_cursor_execute", record)
    page = client.get("/info")
    event.remove(engine, "before_cursor_execute", record)
    if page.status_code != 200 or len(statements) != 3:
        raise RuntimeError(f"/info answered {page.status_code} after {len(statements)} "
                           "statements; this floor replays exactly three (update it)")
    out.write_bytes(pickle.dumps({"statements": statements, "page": page.get_data()}))
    engine.dispose()
    return f"ispzone_session={client.get_cookie('ispzone_session').value}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    bench_web.add_load_arguments(ap)
    args = ap.parse_args()
    if not Path(bench_web.WRK).exists():
        print(f"{bench_web.WRK} not found: apt-get install wrk", file=sys.stderr)
        return 2

    url = args.database_url
    number = bench_web.prepare(url, args.customers, args.invoices_per_customer, False)
    print(f"benchmark customer {number}; wrk -t{args.threads} -c{args.connections} "
          f"-d{args.duration}; gunicorn -w 2; {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} (wrk, gunicorn and PostgreSQL share them)")
    rows = []
    with tempfile.TemporaryDirectory(prefix="ispzone-floor-") as tmp:
        captured = Path(tmp) / "capture.pickle"
        cookie = capture(url, number, captured)
        env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SMTP_HOST")}
        env.update(DATABASE_URL=url, SECRET_KEY=bench_web.SECRET_KEY,
                   PUBLIC_URL="http://127.0.0.1", PROXY_FIX="none",
                   MAIL_OUTBOX_DIR=str(Path(tmp) / "outbox"), FLOOR_CAPTURE=str(captured),
                   FLOOR_DATABASE_URL=bench_web.psycopg_url(url))
        plan = [
            ("bare hello /", "hello_app:app", BENCH, "/", ["/"], None),
            ("floor", "floor_app:app", BENCH, "/ready", ["/sql", "/page", "/page1"], cookie),
            ("ispzone", "app:create_app()", bench_web.ROOT, "/healthz", ["/info"], cookie),
        ]
        for label, target, chdir, ready, paths, with_cookie in plan:
            print(f"{label} ({target}):")
            server = bench_web.Server(target, chdir, env, Path(tmp) / f"{label[:5]}.log", ready)
            try:
                for path, result in bench_web.load(server, paths, args, with_cookie).items():
                    rows.append((f"{label.split()[0]} {path}", result))
            finally:
                server.stop()

    bare = rows[0][1].rps
    print()
    print(f"{'':<18}{'req/s':>10}{'p99 ms':>10}{'vs bare':>10}")
    for name, r in rows:
        print(f"{name:<18}{r.rps:>10.1f}{r.p99_ms:>10.2f}{r.rps / bare * 100:>8.1f} %"
              f"{'   (' + r.errors + ')' if r.errors else ''}")
    print(f"issue 2's target: the real pages at >= {bench_web.TARGET_RATIO:.0%} of bare")
    return 0


if __name__ == "__main__":
    sys.exit(main())
