"""The recording driver: a router that only exists as a JSON file.

For the demo and for deployments without routers (the operator sees what *would* be on the
routers, and ``/radius/authorize`` still answers by the case state). Each router is one file,
``<directory>/<router name>.json``::

    {"lists": {"blocked": ["10.20.0.14"], "warned": []},
     "log": [{"at": "...", "kind": "list_add", "list": "blocked", "address": "10.20.0.14",
              "username": "...", "result": "added"}]}

Written atomically (temporary file + rename) under an exclusive ``flock``, so two workers
never lose each other's changes. Idempotent like a real router: adding an address that is
there, or removing one that is not, succeeds and says so. ``list_addresses`` is supported, so
``ispzone enforcement reconcile`` works against it.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from enforcement.drivers import Driver, PermanentError, SessionRef, TemporaryError, register

_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def state_path(directory: str | os.PathLike, router_name: str) -> Path:
    return Path(directory) / f"{_SAFE.sub('_', router_name)}.json"


def read_state(directory: str | os.PathLike, router_name: str) -> dict:
    """The router's lists and log (empty when the router was never told anything)."""
    path = state_path(directory, router_name)
    if not path.exists():
        return {"lists": {}, "log": []}
    return json.loads(path.read_text(encoding="utf-8"))


@register
class RecordingDriver(Driver):
    name = "recording"

    def __init__(self, router, **options) -> None:
        super().__init__(router, **options)
        directory = options.get("directory") or options.get("recording_dir")
        if not directory:
            raise PermanentError("recording driver: no directory configured")
        self.path = state_path(directory, router.name)

    @contextmanager
    def _state(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path.with_suffix(".lock"), "a+") as lock:
                fcntl.flock(lock, fcntl.LOCK_EX)
                state = {"lists": {}, "log": []}
                if self.path.exists():
                    state = json.loads(self.path.read_text(encoding="utf-8"))
                yield state
                tmp = self.path.with_suffix(f".{os.getpid()}.tmp")
                tmp.write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
                tmp.replace(self.path)
        except OSError as exc:  # a full disk or a missing mount is worth retrying
            raise TemporaryError(f"recording driver {self.path}: {exc}") from exc

    def apply(self, action, session_ref: SessionRef | None = None) -> str:
        with self._state() as state:
            lists = state.setdefault("lists", {})
            result = self._do(lists, action, session_ref)
            state.setdefault("log", []).append(
                {
                    "at": datetime.now(UTC).isoformat(timespec="seconds"),
                    "action_id": getattr(action, "id", None),
                    "kind": action.kind,
                    "list": action.list_name,
                    "address": action.address,
                    "username": action.username,
                    "result": result,
                }
            )
        return result

    @staticmethod
    def _do(lists: dict, action, session_ref: SessionRef | None) -> str:
        if action.kind == "kick":
            who = action.username or action.address
            if session_ref is not None and session_ref.acct_session_id:
                who = f"{who} (session {session_ref.acct_session_id})"
            return f"kicked {who}"
        if action.kind not in ("list_add", "list_remove") or not action.list_name:
            raise PermanentError(f"recording driver: cannot do {action.kind} {action.list_name}")
        entries = lists.setdefault(action.list_name, [])
        if action.kind == "list_add":
            if action.address in entries:
                return "already present"
            entries.append(action.address)
            entries.sort()
            return "added"
        if action.address not in entries:
            return "already absent"
        entries.remove(action.address)
        return "removed"

    def list_addresses(self, list_name: str) -> set[str]:
        if not self.path.exists():
            return set()
        state = json.loads(self.path.read_text(encoding="utf-8"))
        return set(state.get("lists", {}).get(list_name, []))
