"""The ceiling of any page cache with the prescribed stack (bench/peer.py --ceiling).

The real app (``app.create_app()``) plus ``/ceiling-info`` and ``/ceiling-invoices``: a
logged-in request (Flask, the cookie session, Flask-Login loading the login session row and
the customer in one statement, every before/after-request hook of the app) that answers
with the real page's HTML rendered once per worker and then served from memory, with no
query and no rendering of its own. It is what a perfect cache hit would cost: a cache of
rendered pages keyed by a per-customer version cannot be cheaper than this, since it needs
the login session (and the version) on every request. Benchmark only: the stored page is
never refreshed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from flask import abort
from flask_login import login_required

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from app import create_app  # noqa: E402

app = create_app()
_pages: dict[str, str] = {}


@app.get("/ceiling-<name>")
@login_required
def ceiling(name: str):
    body = _pages.get(name)
    if body is None:
        view = app.view_functions.get(f"zone.{name}")
        if view is None or name not in ("info", "invoices"):
            abort(404)
        body = _pages[name] = view()  # the real page, rendered once in this worker
    return body
