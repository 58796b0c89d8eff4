"""Download account movements from the Fio banka API (``ispzone payments fetch-fio``).

The API answers ``GET {base}/periods/{token}/{from}/{to}/transactions.json`` with the same
JSON as the internet banking's export, which :mod:`billing.bank.statements` already reads; the
import is idempotent (each movement once per account), so we ask for a window of recent
days on every run instead of the API's "since the last download" bookmark: a run that
fails after the download loses nothing, and two systems sharing a token cannot steal each
other's movements.

Fio allows one request per token every 30 seconds and answers 409 Conflict to the next
one (docs/facts/fio.md). The client keeps the time of its last request in a stamp file (per token, in the
instance folder) and waits until 30 s have passed, so two runs in a row (cron and an
operator) never collide; a 409 all the same (another system using the token) is waited
out once. The token is a secret: it is in the URL, so it never appears in a message.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

DEFAULT_BASE_URL = "https://fioapi.fio.cz/v1/rest"
MIN_INTERVAL = 30.0  # seconds between two requests with one token (Fio's rule)


class FioApiError(Exception):
    """The API could not be asked, or refused: the message says why (without the token)."""


@dataclass
class FioClient:
    token: str
    base_url: str = DEFAULT_BASE_URL
    stamp_dir: Path | None = None  # where the time of the last request is kept
    min_interval: float = MIN_INTERVAL
    timeout: float = 60.0
    sleep: object = field(default=time.sleep, repr=False)
    clock: object = field(default=time.time, repr=False)

    def __post_init__(self) -> None:
        self.token = (self.token or "").strip()
        if not self.token:
            raise FioApiError("no Fio API token (set FIO_TOKEN)")
        if any(c in self.token for c in "/?#% \t"):
            raise FioApiError("the Fio API token contains characters a token cannot have")

    def period(self, start: date, end: date) -> bytes:
        """The movements booked from ``start`` to ``end`` (both included), as Fio JSON."""
        if end < start:
            raise FioApiError(f"the period ends ({end}) before it starts ({start})")
        return self._get(f"periods/{self.token}/{start.isoformat()}/{end.isoformat()}"
                         "/transactions.json")

    # -- the request ------------------------------------------------------------------
    def _get(self, path: str) -> bytes:
        url = f"{self.base_url.rstrip('/')}/{path}"
        for attempt in (1, 2):
            self._wait_turn()
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:
                    body = response.read()
                self._mark()  # Fio counts from when it got the request: from the answer on
                return body
            except urllib.error.HTTPError as exc:
                self._mark()
                if exc.code == 409 and attempt == 1:  # someone else asked within 30 s
                    continue
                raise FioApiError(self._refusal(exc)) from None
            except (urllib.error.URLError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                raise FioApiError(f"cannot reach the Fio API at {self.base_url}: {reason}") from None
        raise AssertionError("unreachable")

    def _refusal(self, exc: urllib.error.HTTPError) -> str:
        if exc.code == 409:
            return ("the Fio API refused a second request within 30 s (HTTP 409) twice: "
                    "is another system using the same token?")
        if exc.code in (401, 403, 404):
            return (f"the Fio API does not know the token (HTTP {exc.code}): check FIO_TOKEN "
                    "(a new token works after about 5 minutes)")
        try:
            body = exc.read(300).decode("utf-8", "replace")
        except OSError:
            body = ""
        body = " ".join(body.replace(self.token, "…").split())[:200]
        return f"the Fio API answered HTTP {exc.code}" + (f": {body}" if body else "")

    # -- one request per token every 30 s ----------------------------------------------
    def _stamp(self) -> Path | None:
        if self.stamp_dir is None:
            return None
        digest = hashlib.sha256(self.token.encode()).hexdigest()[:16]
        return Path(self.stamp_dir) / f"fio-api-{digest}.last"

    def _wait_turn(self) -> None:
        stamp = self._stamp()
        last = getattr(self, "_last_request", None)
        if stamp is not None:
            try:
                last = max(last or 0.0, float(stamp.read_text().strip() or 0))
            except (OSError, ValueError):
                pass
        if last:
            wait = last + self.min_interval - self.clock()
            if wait > 0:
                self.sleep(min(wait, self.min_interval))
        self._mark()

    def _mark(self) -> None:
        """Remember now as the time of the last request (also for other processes)."""
        stamp = self._stamp()
        moment = self.clock()
        self._last_request = moment
        if stamp is not None:
            stamp.parent.mkdir(parents=True, exist_ok=True)
            tmp = stamp.with_name(f"{stamp.name}.{os.getpid()}.tmp")
            tmp.write_text(f"{moment:.3f}\n")
            tmp.replace(stamp)
