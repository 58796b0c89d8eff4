"""Run the real thing for tests and benchmarks: the app in a threaded HTTP server on
loopback, and FreeRADIUS started with the shipped ``deploy/freeradius`` directory as it is
(only environment variables differ), queried with ``radclient``.

    with serve_app(app) as url, FreeRadius(url, token=...) as radius:
        reply = radius.auth({"User-Name": "alice", "User-Password": "pw"})
        reply.code, reply.attrs["Framed-IP-Address"]
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from werkzeug.serving import make_server

CONFIG_DIR = Path(__file__).resolve().parents[2] / "deploy" / "freeradius"
FREERADIUS = shutil.which("freeradius") or "/usr/sbin/freeradius"
RADCLIENT = shutil.which("radclient") or "/usr/bin/radclient"


def available() -> bool:
    return bool(shutil.which("freeradius") and shutil.which("radclient"))


def free_port(kind=socket.SOCK_DGRAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_app(app, host="127.0.0.1"):
    """The app on a real socket (werkzeug, one thread per request); yields its base URL."""
    server = make_server(host, 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="e2b-app", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@dataclass
class Reply:
    code: str  # "Access-Accept", "Access-Reject", "Accounting-Response" or "" (no answer)
    attrs: dict[str, list[str]] = field(default_factory=dict)

    def first(self, name: str) -> str | None:
        values = self.attrs.get(name)
        return values[0] if values else None


def parse_radclient(output: str) -> list[Reply]:
    """``radclient -x`` output -> the replies it received, in order."""
    replies: list[Reply] = []
    current = None
    for line in output.splitlines():
        m = re.match(r"Received (\S+) Id \d+", line)
        if m:
            current = Reply(m.group(1))
            replies.append(current)
            continue
        if line.startswith(("Sent ", "(")) or not line.startswith(("\t", " ")):
            current = None if not line.startswith("\t") else current
            continue
        m = re.match(r"\s+([\w-]+) = (.*)$", line)
        if current is not None and m:
            current.attrs.setdefault(m.group(1), []).append(m.group(2).strip().strip('"'))
    return replies


class FreeRadius:
    """FreeRADIUS in the foreground with ``deploy/freeradius``, on random loopback ports."""

    def __init__(self, app_url: str, token: str, secret: str = "testing123",
                 config_dir: Path = CONFIG_DIR, tag: str = "e2b"):
        self.app_url = app_url
        self.token = token
        self.secret = secret
        self.config_dir = config_dir
        self.workdir = Path(tempfile.mkdtemp(prefix=f"{tag}-freeradius-"))
        self.auth_port = free_port()
        self.acct_port = free_port()
        while self.acct_port == self.auth_port:
            self.acct_port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "ISPZONE_URL": self.app_url,
            "RADIUS_API_TOKEN": self.token,
            "RADIUS_CLIENT_ADDR": "127.0.0.1",
            "RADIUS_CLIENT_SECRET": self.secret,
            "RADIUS_LISTEN_ADDR": "127.0.0.1",
            "RADIUS_AUTH_PORT": str(self.auth_port),
            "RADIUS_ACCT_PORT": str(self.acct_port),
            "RADIUS_LOG_DIR": str(self.workdir),
            "RADIUS_RUN_DIR": str(self.workdir),
        }

    @property
    def log(self) -> str:
        path = self.workdir / "radius.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def check(self) -> subprocess.CompletedProcess:
        return subprocess.run([FREERADIUS, "-XC", "-d", str(self.config_dir)], env=self.env,
                              capture_output=True, text=True, timeout=30)

    def start(self, timeout: float = 15) -> FreeRadius:
        self.process = subprocess.Popen(
            [FREERADIUS, "-f", "-d", str(self.config_dir)], env=self.env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"freeradius exited ({self.process.returncode}):\n{out}\n"
                                   f"{self.log}")
            if "Ready to process requests" in self.log:
                return self
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"freeradius did not get ready:\n{self.log}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process and self.process.stdout:
            self.process.stdout.close()
        self.process = None

    def __enter__(self) -> FreeRadius:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def radclient(self, kind: str, requests: list[dict], *, parallel: int = 1,
                  retries: int = 1, wait: float = 5) -> subprocess.CompletedProcess:
        """Send ``requests`` (each a dict of attribute -> value) with radclient."""
        port = self.auth_port if kind == "auth" else self.acct_port
        body = "\n\n".join(
            "\n".join(f'{k} = "{v}"' if isinstance(v, str) else f"{k} = {v}"
                      for k, v in r.items())
            for r in requests
        ) + "\n"
        return subprocess.run(
            [RADCLIENT, "-x", "-r", str(retries), "-t", str(wait), "-p", str(parallel),
             f"127.0.0.1:{port}", kind, self.secret],
            input=body, capture_output=True, text=True, timeout=60 + wait * retries,
        )

    def auth(self, attrs: dict) -> Reply:
        return self._one("auth", attrs)

    def acct(self, attrs: dict) -> Reply:
        return self._one("acct", attrs)

    def _one(self, kind: str, attrs: dict) -> Reply:
        result = self.radclient(kind, [attrs], wait=3)
        replies = parse_radclient(result.stdout)
        return replies[0] if replies else Reply("")
