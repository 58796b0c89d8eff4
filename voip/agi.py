"""FastAGI server for call authorization (``ispzone voip agi --port N``; docs/voip-agi.md).

Asterisk's ``AGI(agi://host:port/authorize,${EXTEN},${CALLERID(num)})`` opens a TCP
connection and sends the AGI environment, one ``agi_<name>: <value>`` line each, ended by
an empty line. The script then sends commands, one line each, and reads one response line
per command (``200 result=1``). We send three ``SET VARIABLE`` commands and close:

* ``CREDIT_AUTH`` = ``ALLOW`` or ``DENY``;
* ``CREDIT_LIMIT_MS`` = the allowance in milliseconds (for ``Dial(...,L(x))``), 0 if denied;
* ``CREDIT_SECONDS`` = the allowance in seconds (for ``Dial(...,S(x))``);
* ``CREDIT_REASON`` = ``ok``, ``free`` or why not (voip/authorize.py).

The destination is ``agi_arg_1`` (else ``agi_extension``), the caller (our line)
``agi_arg_2`` (else ``agi_callerid``). A request for another script than ``authorize`` gets
``CREDIT_AUTH=DENY`` with reason ``unknown_script``; a connection that sends no complete
environment within ``read_timeout`` seconds is closed.

asyncio, one event loop: the authorization is one indexed SQL statement, run in the loop's
thread (a thread pool hand-off costs more than the query); several processes may listen on
one port (``--workers``, SO_REUSEPORT) to use more cores. No Flask here.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from contextlib import suppress

from sqlalchemy.orm import Session

from voip.authorize import Authorizer, Decision

log = logging.getLogger(__name__)

SCRIPT = "authorize"
MAX_ENV_LINES = 200
READ_TIMEOUT = 5.0


def parse_env(lines: list[str]) -> dict[str, str]:
    """``agi_<name>: <value>`` lines -> {name: value} (without the ``agi_`` prefix)."""
    env = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.startswith("agi_"):
            env[key[4:].strip()] = value.strip()
    return env


def script_of(env: dict[str, str]) -> str:
    """The script named in ``agi://host:port/<script>`` (``network_script``)."""
    script = env.get("network_script") or env.get("request", "").rsplit("/", 1)[-1]
    return script.split("?", 1)[0].strip("/")


def commands(decision: Decision) -> list[str]:
    auth = "ALLOW" if decision.allowed else "DENY"
    return [
        f'SET VARIABLE CREDIT_AUTH "{auth}"',
        f'SET VARIABLE CREDIT_LIMIT_MS "{decision.seconds * 1000}"',
        f'SET VARIABLE CREDIT_SECONDS "{decision.seconds}"',
        f'SET VARIABLE CREDIT_REASON "{decision.reason}"',
    ]


class AgiServer:
    """The FastAGI handler over a session factory (``sessions()`` -> Session)."""

    def __init__(self, sessions: Callable[[], Session], authorizer: Authorizer | None = None,
                 read_timeout: float = READ_TIMEOUT):
        self.sessions = sessions
        self.authorizer = authorizer or Authorizer()
        self.read_timeout = read_timeout
        self.served = 0

    def decide(self, env: dict[str, str]) -> Decision:
        if script_of(env) != SCRIPT:
            return Decision(False, 0, "unknown_script")
        destination = env.get("arg_1") or env.get("extension", "")
        caller = env.get("arg_2") or env.get("callerid", "")
        session = self.sessions()
        try:
            return self.authorizer.authorize(session, caller, destination)
        finally:
            session.close()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            lines = await asyncio.wait_for(self._read_env(reader), self.read_timeout)
            if lines is None:
                return
            try:
                decision = self.decide(parse_env(lines))
            except Exception:  # noqa: BLE001 - a broken database must not kill the server
                log.exception("AGI authorization failed")
                decision = Decision(False, 0, "error")
            for command in commands(decision):
                writer.write(command.encode() + b"\n")
                await writer.drain()
                response = await asyncio.wait_for(reader.readline(), self.read_timeout)
                if not response.startswith(b"200"):
                    log.warning("AGI: %r answered %r", command, response)
                    break
            self.served += 1
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    @staticmethod
    async def _read_env(reader: asyncio.StreamReader) -> list[str] | None:
        lines = []
        while len(lines) < MAX_ENV_LINES:
            raw = await reader.readline()
            if not raw:
                return None  # closed before the environment ended
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                return lines
            lines.append(line)
        return None

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> asyncio.Server:
        return await asyncio.start_server(self.handle, host, port, reuse_port=reuse_port,
                                          backlog=1024)


def serve(sessions: Callable[[], Session], host: str, port: int, *,
          authorizer: Authorizer | None = None, reuse_port: bool = False,
          ready: Callable[[int], None] | None = None) -> None:
    """Run the server until interrupted; ``ready(port)`` once it listens."""
    server = AgiServer(sessions, authorizer)

    async def main() -> None:
        listening = await server.start(host, port, reuse_port=reuse_port)
        bound = listening.sockets[0].getsockname()[1]
        if ready is not None:
            ready(bound)
        async with listening:
            await listening.serve_forever()

    with suppress(KeyboardInterrupt):
        asyncio.run(main())


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0
