"""Issue 13, item 12: slow clients must not stall the app.

A request whose Content-Length exceeds the body it sends held a ``sync`` worker for 30 s; with
``gunicorn -w 2`` two such connections stalled everything, ``/radius`` included. gunicorn is
started here as in production (deploy/gunicorn.conf.py, 2 workers, production settings, no
ISPZONE_ENV) on a free port against the test database; while two slow clients hold their
connections open, the FreeRADIUS endpoint and the login page keep answering within 2 s.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support import need

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "slow-client-test-token_42"
LIMIT = 2.0  # seconds


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command() -> list[str] | None:
    exe = Path(sys.executable).parent / "gunicorn"
    found = str(exe) if exe.exists() else shutil.which("gunicorn")
    return [found] if found else None


def ask(port: int, method: str, path: str, body: bytes | None = None, headers=None):
    """(status, body, seconds) of one request on a new connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    started = time.monotonic()
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return response.status, data, time.monotonic() - started
    finally:
        conn.close()


@pytest.fixture
def server(database_url, tmp_path):
    command = gunicorn_command()
    need(command is not None, "gunicorn is not installed (pip install -e .)")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k != "ISPZONE_ENV"}
    env.update({
        "DATABASE_URL": database_url,
        "SECRET_KEY": "slow-client-test-secret",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "PROXY_FIX": "none",
        "RADIUS_API_TOKEN": TOKEN,
        "RADIUS_ALLOWED_CLIENTS": "127.0.0.1,::1",
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "ENFORCEMENT_RECORDING_DIR": str(tmp_path / "routers"),
        "GUNICORN_WORKERS": "2",
        "GUNICORN_ACCESSLOG": "",
    })
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [*command, "-c", str(ROOT / "deploy" / "gunicorn.conf.py"),
             "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                pytest.fail(f"gunicorn exited:\n{log.read_text()[-3000:]}")
            try:
                if ask(port, "GET", "/healthz")[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"gunicorn did not get ready:\n{log.read_text()[-3000:]}")
            time.sleep(0.2)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def slow_client(port: int, path: str, partial: bytes, headers: dict) -> socket.socket:
    """Announce more than it sends, send a few bytes, and keep the connection open."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
    sock.sendall(
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{head}"
        f"Content-Length: 60000\r\n\r\n".encode() + partial
    )
    return sock


def test_radius_and_login_answer_while_slow_clients_hang(server, pppoe):
    pppoe(name="alice", password="pppoe-pass", ip="100.64.0.10")
    port = server
    radius_body = json.dumps({"User-Name": {"type": "string", "value": ["alice"]}}).encode()
    radius_headers = {"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"}
    slow = [
        slow_client(port, "/login", b"customer_number=1",
                    {"Content-Type": "application/x-www-form-urlencoded"}),
        slow_client(port, "/radius/accounting", b'{"Acct-Status-Type"', radius_headers),
    ]
    try:
        time.sleep(1.0)  # both are in the app, waiting for the rest of their bodies
        for _round in range(5):
            status, body, seconds = ask(port, "POST", "/radius/authorize", radius_body,
                                        radius_headers)
            assert status == 200 and b"Cleartext-Password" in body, (status, body)
            assert seconds < LIMIT, f"/radius/authorize took {seconds:.2f} s"
            status, body, seconds = ask(port, "GET", "/login")
            assert status == 200 and b'name="customer_number"' in body, status
            assert seconds < LIMIT, f"/login took {seconds:.2f} s"
            status, _body, seconds = ask(port, "GET", "/healthz")
            assert status == 200 and seconds < LIMIT
        # the slow clients are still connected (nothing answered them yet)
        for sock in slow:
            sock.setblocking(False)
            with pytest.raises(BlockingIOError):
                sock.recv(1)
    finally:
        for sock in slow:
            sock.close()
