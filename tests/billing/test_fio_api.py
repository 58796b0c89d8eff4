"""`ispzone payments fetch-fio`: movements downloaded from the Fio API and imported.

Fio's servers are not reachable from here, so a small HTTP server on loopback plays the
API as its documentation describes it: the internet banking's JSON export for
``periods/{token}/{from}/{to}/transactions.json``, 409 Conflict to a second request with
one token within the rate-limit interval, 404 for a token it does not know.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import date
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from sqlalchemy import func, select

from billing.bank.fio_api import FioApiError, FioClient
from billing.models import BankTransaction

SAMPLE = Path(__file__).parent / "samples" / "fio_2026-11.json"
TOKEN = "Ab12Cd34" * 8  # 64 characters, as Fio's tokens
PATH = re.compile(r"^/v1/rest/periods/([^/]+)/(\d{4}-\d{2}-\d{2})/(\d{4}-\d{2}-\d{2})"
                  r"/transactions\.json$")


class FakeFio(ThreadingHTTPServer):
    def __init__(self, interval: float = 0.0):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.interval = interval  # Fio's 30 s, shortened
        self.body = SAMPLE.read_bytes()
        self.requests: list[tuple[float, str, int]] = []  # (time, path, status)
        self.busy_once = False  # answer 409 to the next request (another system's request)
        self._last = 0.0
        self._lock = threading.Lock()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/v1/rest"

    def answer(self, path: str) -> tuple[int, bytes]:
        with self._lock:
            moment = time.monotonic()
            match = PATH.match(path)
            if match is None or match.group(1) != TOKEN:
                status, body = 404, b""
            elif self.busy_once or (self._last and moment - self._last < self.interval):
                self.busy_once = False
                status, body = 409, b""
            else:
                status, body = 200, self.body
            if status != 404:
                self._last = moment
            self.requests.append((moment, path, status))
            return status, body

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        status, body = self.server.answer(self.path)
        self.send_response(status)
        self.send_header("Content-Type", "application/json;charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def fio():
    with FakeFio() as server:
        yield server


@pytest.fixture
def fio_app(app, fio, tmp_path):
    app.config.update(FIO_TOKEN=TOKEN, FIO_API_URL=fio.base_url,
                      BANK_ACCOUNTS="2001234567/2010")  # the sample's account
    app.instance_path = str(tmp_path)  # the rate-limit stamp and kept downloads
    return app


def thirty_seconds_pass(app):
    """As if the last request were long ago (the waiting itself is tested below)."""
    for stamp in Path(app.instance_path).glob("fio-api-*.last"):
        stamp.write_text("0\n")


def fetch(app, *args):
    return app.test_cli_runner().invoke(args=["payments", "fetch-fio", *args])


def stored(session) -> int:
    session.rollback()  # a fresh snapshot: the command committed through its own session
    return session.scalar(select(func.count()).select_from(BankTransaction))


def test_fetch_imports_the_period_and_a_second_run_adds_nothing(fio_app, fio, session):
    sample = json.loads(SAMPLE.read_text())["accountStatement"]["transactionList"]
    result = fetch(fio_app, "--from", "2026-11-03", "--to", "2026-11-05")
    assert result.exit_code == 0, result.output
    assert fio.requests[0][1] == f"/v1/rest/periods/{TOKEN}/2026-11-03/2026-11-05/transactions.json"
    assert f"{len(sample['transaction'])} movements" in result.output
    assert stored(session) == len(sample["transaction"])

    thirty_seconds_pass(fio_app)
    second = fetch(fio_app, "--from", "2026-11-03", "--to", "2026-11-05")
    assert second.exit_code == 0, second.output
    assert "0 new" in second.output
    assert stored(session) == len(sample["transaction"])


def test_default_window_is_the_last_fourteen_days(fio_app, fio):
    from datetime import timedelta

    from core.clock import today

    assert fetch(fio_app).exit_code == 0
    first, last = today() - timedelta(days=13), today()
    assert fio.requests[0][1].endswith(f"/{first}/{last}/transactions.json")


def test_requests_of_one_token_are_thirty_seconds_apart(fio, tmp_path):
    """Shortened to 0.4 s: the second request waits for its turn (from the stamp file, so
    also across processes) and the API never answers 409."""
    fio.interval = 0.4
    one = FioClient(TOKEN, base_url=fio.base_url, stamp_dir=tmp_path, min_interval=0.4)
    two = FioClient(TOKEN, base_url=fio.base_url, stamp_dir=tmp_path, min_interval=0.4)
    one.period(date(2026, 11, 1), date(2026, 11, 5))
    two.period(date(2026, 11, 1), date(2026, 11, 5))
    (t1, _, s1), (t2, _, s2) = fio.requests
    assert (s1, s2) == (200, 200)
    assert t2 - t1 >= 0.4


def test_a_conflict_from_another_system_is_waited_out_once(fio, tmp_path):
    waits = []
    fio.busy_once = True
    client = FioClient(TOKEN, base_url=fio.base_url, stamp_dir=tmp_path, min_interval=30,
                       sleep=waits.append)
    assert client.period(date(2026, 11, 1), date(2026, 11, 5)).startswith(b"{")
    assert [s for _, _, s in fio.requests] == [409, 200]
    assert len(waits) == 1 and 29 < waits[0] <= 30


def test_an_unknown_token_is_refused_clearly_without_showing_it(fio_app, fio, session):
    fio_app.config["FIO_TOKEN"] = "Zz99" * 16
    result = fetch(fio_app)
    assert result.exit_code == 1
    assert "does not know the token (HTTP 404): check FIO_TOKEN" in result.output
    assert "nothing was imported" in result.output
    assert "Zz99" not in result.output
    assert stored(session) == 0


def test_missing_token_and_unreachable_api(fio_app, session):
    fio_app.config["FIO_TOKEN"] = ""
    result = fetch(fio_app)
    assert result.exit_code == 1 and "no Fio API token (set FIO_TOKEN)" in result.output
    fio_app.config.update(FIO_TOKEN=TOKEN, FIO_API_URL="http://127.0.0.1:9/v1/rest")
    result = fetch(fio_app)
    assert result.exit_code == 1 and "cannot reach the Fio API at http://127.0.0.1:9" in result.output
    assert TOKEN not in result.output
    assert stored(session) == 0


def test_a_download_that_does_not_parse_is_kept_and_nothing_imported(fio_app, fio, session):
    fio.body = SAMPLE.read_bytes().replace(b'"value": 799.0', b'"value": "799 Kc"', 1)
    result = fetch(fio_app, "--from", "2026-11-03", "--to", "2026-11-05")
    assert result.exit_code == 1
    assert "nothing was imported; the download is kept in" in result.output
    kept = Path(fio_app.instance_path) / "fio-downloads" / "fio-api-2026-11-03-2026-11-05.json"
    assert kept.read_bytes() == fio.body
    assert stored(session) == 0


def test_a_period_that_ends_before_it_starts_is_refused(fio_app, fio):
    result = fetch(fio_app, "--from", "2026-11-05", "--to", "2026-11-03")
    assert result.exit_code == 1 and "ends (2026-11-03) before it starts" in result.output
    assert fio.requests == []


def test_a_period_without_movements_imports_nothing_and_succeeds(fio_app, fio, session):
    statement = json.loads(SAMPLE.read_text())
    statement["accountStatement"]["transactionList"]["transaction"] = []
    # as Fio states it for a period without movements (the balances must add up: issue 13)
    info = statement["accountStatement"]["info"]
    info["closingBalance"] = info["openingBalance"]
    fio.body = json.dumps(statement).encode()
    result = fetch(fio_app)
    assert result.exit_code == 0, result.output
    assert "0 movements" in result.output
    assert stored(session) == 0


def test_a_token_that_would_change_the_address_is_refused():
    for token in ("abc/../../x", "abc?x=1", "abc def"):
        with pytest.raises(FioApiError, match="characters a token cannot have"):
            FioClient(token)
