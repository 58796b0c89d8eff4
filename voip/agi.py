"""FastAGI server for call authorization (``ispzone voip agi --port N``; docs/voip-agi.md).

Asterisk's ``AGI(agi://host:port/authorize,${EXTEN},${CALLERID(num)})`` opens a TCP
connection and sends the AGI environment, one ``agi_<name>: <value>`` line each, ended by
an empty line. The script then sends commands, one line each, and Asterisk answers each
(``200 result=1``). We send ONE command that sets the four variables at once through
Asterisk's ``ARRAY()`` function, then close our side (a half-close: Asterisk still answers
``200``, reads the end of the stream and leaves AGI()):

    SET VARIABLE ARRAY(CREDIT_AUTH,CREDIT_LIMIT_MS,CREDIT_SECONDS,CREDIT_REASON) "ALLOW,1240000,1240,ok"

* ``CREDIT_AUTH`` = ``ALLOW`` or ``DENY``;
* ``CREDIT_LIMIT_MS`` = the allowance in milliseconds (for ``Dial(...,L(x))``), 0 if denied;
* ``CREDIT_SECONDS`` = the allowance in seconds (for ``Dial(...,S(x))``);
* ``CREDIT_REASON`` = ``ok``, ``free`` or why not (voip/authorize.py).

Why one command and not four sent at once: Asterisk (res_agi.c, run_agi) reads commands with
``fgets`` on a stdio stream over the socket and ``poll``s the socket before each one, so a
second command that arrived in the same read waits in stdio's buffer, unseen, until more
bytes or the end of the stream come: pipelining commands and waiting for their answers
would hang. One command (AGI's SET VARIABLE writes a dialplan function like ``ARRAY()``
through pbx_builtin_setvar_helper) followed by the end of the stream is one round trip.

The destination is ``agi_arg_1`` (else ``agi_extension``), the caller (our line)
``agi_arg_2`` (else ``agi_callerid``). A request for another script than ``authorize`` gets
``CREDIT_AUTH=DENY`` with reason ``unknown_script``; a connection that sends no complete
environment within ``read_timeout`` seconds is closed.

asyncio on uvloop, one event loop per process; the sessions are plain non-blocking sockets
driven by that loop (``Listening``, ``_Session``: fewer system calls and wake-ups per call
than asyncio transports). On PostgreSQL the database work runs in the
event loop too (``_PgLink``: a connection in autocommit with the statement PREPAREd, sent
with libpq's PQsendQueryPrepared and read by a reader callback on its socket): the requests
that arrive while a statement runs wait and are answered together by the next one, one
statement for all (``--db-connections`` statements in flight per process). On other
databases (SQLite: tests, small installs) one thread of its own does the same with
SQLAlchemy. Several processes may listen on one port (``--workers``, SO_REUSEPORT) to use
more cores. No Flask here.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import queue
import select
import socket
import threading
from collections.abc import Callable
from contextlib import suppress
from decimal import Decimal

from sqlalchemy.orm import Session

from core.clock import today
from voip.authorize import CENT, LINES_SQL_PG_NUMBERED, Authorizer, Decision, version_of

log = logging.getLogger(__name__)
_TUPLES_OK = 2  # libpq's PGRES_TUPLES_OK (psycopg.pq.ExecStatus.TUPLES_OK)

SCRIPT = "authorize"
MAX_ENV_LINES = 200
# Asterisk's environment is 1-2 KB; a peer sending more (one endless line: MAX_ENV_LINES
# counts line ends) is hung up on, instead of being buffered and searched again at every
# read (quadratic CPU in the one event loop every call waits for) until the read timeout
MAX_ENV_BYTES = 64 * 1024
READ_TIMEOUT = 5.0
DB_CONNECTIONS = 1  # PostgreSQL connections per process, each with one statement in flight


def parse_env(lines: list[str]) -> dict[str, str]:
    """``agi_<name>: <value>`` lines -> {name: value} (without the ``agi_`` prefix)."""
    env = {}
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and key.startswith("agi_"):
            env[key[4:].strip()] = value.strip()
    return env


_NEEDED = tuple((name, f"\nagi_{name}:".encode())
                for name in ("network_script", "request", "arg_1", "arg_2", "callerid", "extension"))


def needed_env(block: bytes) -> dict[str, str]:
    """The variables the answer needs, from the environment block (bytes, up to the empty
    line), as ``parse_env`` gives them, without splitting the 20-odd other lines."""
    text = b"\n" + block + b"\n"
    env = {}
    for name, key in _NEEDED:
        at = text.find(key)
        if at >= 0:
            start = at + len(key)
            env[name] = text[start:text.index(b"\n", start)].strip().decode("utf-8", "replace")
    return env


def script_of(env: dict[str, str]) -> str:
    """The script named in ``agi://host:port/<script>`` (``network_script``)."""
    script = env.get("network_script") or env.get("request", "").rsplit("/", 1)[-1]
    return script.split("?", 1)[0].strip("/")


VARIABLES = ("CREDIT_AUTH", "CREDIT_LIMIT_MS", "CREDIT_SECONDS", "CREDIT_REASON")


def command(decision: Decision) -> str:
    """The one AGI command that answers: the four variables through ``ARRAY()``."""
    auth = "ALLOW" if decision.allowed else "DENY"
    values = (auth, str(decision.seconds * 1000), str(decision.seconds), decision.reason)
    return f'SET VARIABLE ARRAY({",".join(VARIABLES)}) "{",".join(values)}"'


class _Batcher:
    """The database side: one thread that takes every request waiting, answers them with
    one SQL statement (``Authorizer.authorize_many``) and hands the answers back to the
    event loop at once. Concurrent calls share round trips to the database."""

    MAX_BATCH = 256

    def __init__(self, sessions: Callable[[], Session], authorizer: Authorizer,
                 loop: asyncio.AbstractEventLoop):
        self.sessions, self.authorizer, self.loop = sessions, authorizer, loop
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._run, name="agi-db", daemon=True)
        self.thread.start()

    def submit(self, caller: str, destination: str) -> asyncio.Future:
        future = self.loop.create_future()
        self.queue.put((caller, destination, future))
        return future

    def stop(self) -> None:
        self.queue.put(None)

    def _run(self) -> None:
        session: Session | None = None  # kept between batches in autocommit (PostgreSQL)
        while True:
            item = self.queue.get()
            if item is None:
                if session is not None:
                    session.close()
                return
            batch = [item]
            while len(batch) < self.MAX_BATCH:
                try:
                    more = self.queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self.queue.put(None)
                    break
                batch.append(more)
            try:
                if session is None:
                    session = self.sessions()
                decisions = self.authorizer.authorize_many(
                    session, [(caller, destination) for caller, destination, _ in batch])
                if not _autocommit(session):  # a transaction would keep an old snapshot
                    session.close()
                    session = None
            except Exception:  # noqa: BLE001 - a broken database must not kill the server
                log.exception("AGI authorization failed")
                decisions = [Decision(False, 0, "error")] * len(batch)
                if session is not None:
                    session.close()
                    session = None
            self.loop.call_soon_threadsafe(_resolve, [(f, d) for (_, _, f), d in zip(batch, decisions, strict=True)])


def _autocommit(session: Session) -> bool:
    engine = session.get_bind()
    level = engine.get_execution_options().get("isolation_level") or getattr(
        engine.dialect, "_on_connect_isolation_level", None)
    return level == "AUTOCOMMIT"


def _resolve(pairs) -> None:
    for future, decision in pairs:
        if not future.done():
            future.set_result(decision)


def _wake(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


class _PgLink:
    """One PostgreSQL connection driven by hand in the event loop: psycopg opens it
    (autocommit) and PREPAREs the statement; then each batch is libpq's
    ``PQsendQueryPrepared`` and the answer is read by a reader callback on the socket that
    stays registered (no per-statement future chain of psycopg's async cursor: about half
    the server's CPU per authorization went there)."""

    NAME = b"ispzone_agi_lines"

    def __init__(self, connection, loop: asyncio.AbstractEventLoop):
        self.connection, self.pgconn, self.loop = connection, connection.pgconn, loop
        self.pgconn.nonblocking = 1
        self.waiter: asyncio.Future | None = None
        self.results: list = []
        self.fd = self.pgconn.socket
        self.closed = False
        loop.add_reader(self.fd, self._readable)

    @classmethod
    async def open(cls, connect_args: dict) -> _PgLink:
        import psycopg

        connection = await psycopg.AsyncConnection.connect(autocommit=True, **connect_args)
        try:
            if connection.info.server_version >= 120000:
                # plan the statement once: left to itself (plan_cache_mode auto) PostgreSQL
                # found the generic plan (for any array of numbers) dearer than a plan for the
                # one number at hand and planned anew at every execution: about 200 us of the
                # backend's CPU per statement instead of 35-55 us (the generic plan uses the
                # index on phone_number; an ANALYZE of the tables plans it again)
                await connection.execute("SET plan_cache_mode = force_generic_plan")
            await connection.execute(f"PREPARE {cls.NAME.decode()} (text[], date) AS {LINES_SQL_PG_NUMBERED}")
        except Exception:
            await connection.close()
            raise
        return cls(connection, asyncio.get_running_loop())

    async def lines(self, numbers: list[str], day) -> list[tuple[str, int, Decimal, int | None, bytes | None]]:
        """(number, service id, credit, tariff id, tariff imported_at as PostgreSQL wrote it)."""
        if self.closed:
            raise ConnectionError("the database connection is closed")
        pgconn = self.pgconn
        array = ("{" + ",".join(f'"{n}"' for n in numbers) + "}").encode()  # +digits only
        pgconn.send_query_prepared(self.NAME, [array, day.isoformat().encode()])
        while pgconn.flush():  # 1: not all sent yet (a full socket buffer)
            writable = self.loop.create_future()
            self.loop.add_writer(self.fd, _wake, writable)
            try:
                await writable
            finally:
                self.loop.remove_writer(self.fd)
        self.waiter = self.loop.create_future()
        try:
            results = await self.waiter
        finally:
            self.waiter = None
        rows = []
        for result in results:
            if result.status != _TUPLES_OK:
                raise RuntimeError((result.error_message or b"").decode("utf-8", "replace").strip()
                                   or f"PostgreSQL result status {result.status}")
            value = result.get_value
            for r in range(result.ntuples):
                tariff = value(r, 3)
                rows.append((value(r, 0).decode(), int(value(r, 1)), Decimal(value(r, 2).decode()).quantize(CENT),
                             None if tariff is None else int(tariff), value(r, 4)))
        return rows

    def _readable(self) -> None:
        pgconn = self.pgconn
        try:
            pgconn.consume_input()
            if self.waiter is None:
                return  # nothing asked (a notice): consumed
            while not pgconn.is_busy():
                result = pgconn.get_result()
                if result is None:  # the statement's results are complete
                    results, self.results = self.results, []
                    if not self.waiter.done():
                        self.waiter.set_result(results)
                    return
                self.results.append(result)
        except Exception as error:  # noqa: BLE001 - the connection is lost: tell the waiter
            waiter = self.waiter
            self.close()
            if waiter is not None and not waiter.done():
                waiter.set_exception(error)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.loop.remove_reader(self.fd)
        self.results = []
        self.loop.create_task(self._close())

    async def _close(self) -> None:
        with suppress(Exception):
            await self.connection.close()

    async def aclose(self) -> None:
        if not self.closed:
            self.closed = True
            self.loop.remove_reader(self.fd)
            await self._close()


class _PgBatcher:
    """PostgreSQL in the event loop: up to ``connections`` connections (``_PgLink``), each
    with one prepared statement in flight (voip.authorize.LINES_SQL_PG). A request goes out at once on a free connection; the
    requests that arrive while all are busy wait and the next free one answers all of them
    with one statement. No thread: a request costs no hand-over between threads, only the
    round trip to the database."""

    def __init__(self, engine, authorizer: Authorizer, sessions: Callable[[], Session],
                 connections: int = 2):
        self.connect_args = {k: v for k, v in engine.dialect.create_connect_args(engine.url)[1].items()
                             if k != "context"}
        self.authorizer, self.sessions, self.size = authorizer, sessions, connections
        self.pending: list[tuple[tuple[str, str], Callable[[Decision], None]]] = []
        self.busy = 0  # connections with a statement in flight (or about to send one)
        self.freeze = False  # gc.freeze() after building an index (a server process of its own)
        self.free: list = []  # open connections not in use

    def submit(self, caller: str, destination: str, done: Callable[[Decision], None]) -> None:
        parsed = self.authorizer.parse(caller, destination)
        if isinstance(parsed, Decision):
            done(parsed)
            return
        self.pending.append((parsed, done))
        if self.busy < self.size:  # runs on the next turn of the loop: arrivals of this one join
            self.busy += 1
            asyncio.get_running_loop().create_task(self._serve())

    async def _serve(self) -> None:
        """Answer what waits, batch after batch, on one connection; give it back when done."""
        connection = self.free.pop() if self.free else None
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                parsed = [parsed for parsed, _ in batch]
                while True:
                    fresh = connection is None or connection.closed
                    try:
                        if fresh:
                            connection = await _PgLink.open(self.connect_args)
                        decisions = await self._decide(connection, parsed)
                        break
                    except Exception:  # noqa: BLE001 - a broken database must not kill the server
                        if connection is not None:
                            connection.close()
                        connection = None
                        if not fresh:
                            continue  # a connection that served before (a restart): once more
                        log.exception("AGI authorization failed")
                        decisions = [Decision(False, 0, "error")] * len(batch)
                        break
                for (_, done), decision in zip(batch, decisions, strict=True):
                    done(decision)
        finally:
            self.busy -= 1
            if connection is not None and not connection.closed:
                self.free.append(connection)

    async def _decide(self, connection, parsed: list[tuple[str, str]]) -> list[Decision]:
        rows = await connection.lines(sorted({line for line, _ in parsed}), today())
        version = version_of(rows)
        known, index = self.authorizer.held_index(version)
        if not known:  # a new price list or day: build its index off the loop (rare)
            index = await asyncio.get_running_loop().run_in_executor(None, self._index_at, version)
            if self.freeze:  # its thousands of objects: out of the collector's way (serve())
                gc.freeze()
        lines = {number: (sid, credit) for number, sid, credit, *_ in rows}
        return [self.authorizer.decide(lines.get(line), destination, index)
                for line, destination in parsed]

    def _index_at(self, version):
        session = self.sessions()
        try:
            return self.authorizer.index_at(session, version)
        finally:
            session.close()


class AgiServer:
    """The FastAGI handler over a session factory (``sessions()`` -> Session)."""

    def __init__(self, sessions: Callable[[], Session], authorizer: Authorizer | None = None,
                 read_timeout: float = READ_TIMEOUT, db_connections: int = DB_CONNECTIONS):
        self.sessions = sessions
        self.authorizer = authorizer or Authorizer()
        self.read_timeout = read_timeout
        self.db_connections = db_connections
        self.served = 0
        self.freeze_gc = False  # set by serve(): the process is the server's alone
        self._batcher: _Batcher | _PgBatcher | None = None

    def decide(self, env: dict[str, str]) -> Decision:
        """One authorization, synchronously (tests, tools)."""
        if script_of(env) != SCRIPT:
            return Decision(False, 0, "unknown_script")
        session = self.sessions()
        try:
            return self.authorizer.authorize(session, *self._parties(env))
        finally:
            session.close()

    @staticmethod
    def _parties(env: dict[str, str]) -> tuple[str, str]:
        caller = env.get("arg_2") or env.get("callerid", "")
        destination = env.get("arg_1") or env.get("extension", "")
        return caller, destination

    def _make_batcher(self) -> _Batcher | _PgBatcher:
        engine = self.sessions.kw.get("bind") if hasattr(self.sessions, "kw") else None
        if engine is not None and engine.dialect.name == "postgresql":
            batcher = _PgBatcher(engine, self.authorizer, self.sessions, self.db_connections)
            batcher.freeze = self.freeze_gc
            return batcher
        return _Batcher(self.sessions, self.authorizer, asyncio.get_running_loop())

    def submit(self, env: dict[str, str], done: Callable[[Decision], None]) -> None:
        """Decide for ``env`` and call ``done(decision)`` in the event loop."""
        if script_of(env) != SCRIPT:
            done(Decision(False, 0, "unknown_script"))
            return
        if self._batcher is None:
            self._batcher = self._make_batcher()
        if isinstance(self._batcher, _PgBatcher):
            self._batcher.submit(*self._parties(env), done)
            return
        future = self._batcher.submit(*self._parties(env))
        future.add_done_callback(lambda f: done(f.result()))

    async def aclose(self) -> None:
        """Close the database connections (the listening socket is the caller's)."""
        batcher, self._batcher = self._batcher, None
        if isinstance(batcher, _PgBatcher):
            links, batcher.free = batcher.free, []
            for link in links:
                await link.aclose()
        elif batcher is not None:
            batcher.stop()

    async def start(self, host: str, port: int, *, reuse_port: bool = False) -> Listening:
        """Listen on ``host:port`` (every address it resolves to); sessions are served in the
        running event loop until the returned ``Listening`` is closed."""
        sockets = []
        try:
            for family, _, _, _, address in _addresses(host, port):
                listening = socket.socket(family, socket.SOCK_STREAM)
                sockets.append(listening)
                listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                if reuse_port:
                    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
                if family == socket.AF_INET6:
                    listening.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
                if hasattr(socket, "TCP_DEFER_ACCEPT"):  # Linux: accept once the environment
                    with suppress(OSError):  # comes, not once for the connection and again for it
                        listening.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)
                listening.bind(address)
                listening.listen(1024)
                listening.setblocking(False)
        except OSError:
            for listening in sockets:
                listening.close()
            raise
        return Listening(self, sockets, asyncio.get_running_loop())


def _addresses(host: str, port: int) -> list:
    seen, found = set(), []
    for info in socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE):
        if info[4] not in seen:
            seen.add(info[4])
            found.append(info)
    return found


_MORE = getattr(socket, "MSG_MORE", 0)  # Linux: hold the segment for what follows (the FIN)


class Listening:
    """The listening sockets of a running server, and its sessions as plain non-blocking
    sockets, all read in the event loop. Per session no transport, protocol or timer
    (uvloop's transport cost 4 getsockname/getpeername and 2 setsockopt calls per
    connection) and no registration of its own with the event loop (uvloop's add_reader
    cost a getsockname, an ioctl and 6 epoll_ctl per session): the sessions that wait for
    something to read are in one epoll set of ours (one epoll_ctl each; closing the socket
    leaves the set), whose descriptor is the one the event loop watches. Like
    ``asyncio.Server``: ``sockets``, ``close()``, ``await serve_forever()``, ``async with``.
    A session older than ``read_timeout`` is closed by a sweep (one timer for all)."""

    ACCEPTS_PER_WAKE = 64

    def __init__(self, server: AgiServer, sockets: list[socket.socket], loop: asyncio.AbstractEventLoop):
        self.server, self.sockets, self.loop = server, sockets, loop
        self.sessions: dict[int, _Session] = {}
        self.answered: list[_Session] = []  # answer sent; Asterisk's 200 read at the next wake-up
        self.closed = False
        self._forever: asyncio.Future | None = None
        for listening in sockets:
            loop.add_reader(listening.fileno(), self._accept, listening)
        self._poller = select.epoll() if hasattr(select, "epoll") else None  # Linux
        if self._poller is not None:
            loop.add_reader(self._poller.fileno(), self._ready)
        self._sweep_every = min(1.0, server.read_timeout / 4)
        self._sweeper = loop.call_later(self._sweep_every, self._sweep)

    def _accept(self, listening: socket.socket) -> None:
        self.collect()
        for _ in range(self.ACCEPTS_PER_WAKE):
            try:
                conn, _ = listening.accept()
            except (BlockingIOError, InterruptedError):
                return
            except ConnectionAbortedError:  # reset while in the queue: the next one
                continue
            except OSError as error:  # out of descriptors or memory: pause accepting a second
                log.warning("AGI: accept failed, paused for a second: %s", error)
                self.loop.remove_reader(listening.fileno())
                self.loop.call_later(1.0, self._resume, listening)
                return
            conn.setblocking(False)
            session = _Session(self, conn)
            self.sessions[session.fd] = session
            session.read()

    def _resume(self, listening: socket.socket) -> None:
        if not self.closed:
            self.loop.add_reader(listening.fileno(), self._accept, listening)

    def watch(self, session: _Session) -> None:
        """Call ``session.read()`` when its socket is readable (until it is closed)."""
        if self._poller is not None:
            self._poller.register(session.fd, select.EPOLLIN)
        else:
            self.loop.add_reader(session.fd, session.read)

    def unwatch(self, session: _Session) -> None:
        """Before the socket is closed (with epoll, closing it is enough)."""
        if self._poller is None:
            self.loop.remove_reader(session.fd)

    def _ready(self) -> None:
        sessions = self.sessions
        for fd, _ in self._poller.poll(0):
            session = sessions.get(fd)
            if session is not None:
                session.read()

    def collect(self) -> None:
        """Read Asterisk's answers to the commands sent since the last wake-up (by now they
        have nearly always come: one recv each, no wake-up of their own); one that has not
        is watched from now on."""
        answered, self.answered = self.answered, []
        for session in answered:
            if session.state == session.ANSWERED:  # (not closed meanwhile)
                session.read()

    def _sweep(self) -> None:
        self.collect()
        too_old = self.loop.time() - self.server.read_timeout
        for session in [s for s in self.sessions.values() if s.born < too_old]:
            session.close()
        self._sweeper = self.loop.call_later(self._sweep_every, self._sweep)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self._sweeper.cancel()
        for listening in self.sockets:
            self.loop.remove_reader(listening.fileno())
            listening.close()
        for session in list(self.sessions.values()):
            session.close()
        if self._poller is not None:
            self.loop.remove_reader(self._poller.fileno())
            self._poller.close()
        if self._forever is not None and not self._forever.done():
            self._forever.cancel()

    async def wait_closed(self) -> None:
        return None

    async def serve_forever(self) -> None:
        if self._forever is None:
            self._forever = self.loop.create_future()
            if self.closed:
                self._forever.cancel()
        await self._forever

    async def __aenter__(self) -> Listening:
        return self

    async def __aexit__(self, *exc) -> None:
        self.close()


class _Session:
    """One FastAGI session as a small state machine over its socket: read the environment
    up to the empty line, ask, send the one command with the end of our stream in one
    segment (MSG_MORE, then the half-close: Asterisk wakes once for both; without it half
    the time twice), read Asterisk's answer and close. The socket joins the server's epoll
    set only when a read finds nothing yet: with TCP_DEFER_ACCEPT the environment is nearly
    always complete at the first read, and Asterisk's answer (off the call's critical path:
    Asterisk has gone on) is read at the server's next wake-up for something else (a new
    connection, the sweep), which spares a wake-up per call."""

    __slots__ = ("born", "buffer", "fd", "listening", "reading", "sock", "state")
    READING, DECIDING, ANSWERED, CLOSED = range(4)

    def __init__(self, listening: Listening, sock: socket.socket):
        self.listening, self.sock, self.fd = listening, sock, sock.fileno()
        self.born = listening.loop.time()
        self.buffer = b""
        self.state = self.READING
        self.reading = False

    def read(self) -> None:
        try:
            data = self.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            self._watch()
            return
        except OSError:
            self.close()
            return
        if not data:  # Asterisk left (after our answer, or before it came)
            self.close()
            return
        if len(self.buffer) + len(data) > MAX_ENV_BYTES:  # not Asterisk (any state)
            self.close()
            return
        if self.state == self.READING:
            self.buffer += data
            text = self.buffer.replace(b"\r\n", b"\n")
            end = text.find(b"\n\n")
            if end < 0:
                if text.count(b"\n") > MAX_ENV_LINES:
                    self.close()
                else:
                    self._watch()
                return
            self.buffer = b""
            self.state = self.DECIDING
            self.listening.server.submit(needed_env(text[:end]), self._decided)
        elif self.state == self.ANSWERED:
            self.buffer += data
            if b"\n" not in self.buffer:
                self._watch()
                return  # the answer is not complete
            line = self.buffer.split(b"\n", 1)[0]
            if line.startswith(b"200"):
                self.listening.server.served += 1
            else:
                log.warning("AGI: the answer was refused: %r", line)
            self.close()
        # DECIDING: nothing should come; a hang-up shows as the end of the stream

    def _watch(self) -> None:
        if not self.reading:
            self.reading = True
            self.listening.watch(self)

    def _decided(self, decision: Decision) -> None:
        if self.state != self.DECIDING:
            return  # closed meanwhile (the timeout, a hang-up)
        self.state = self.ANSWERED
        try:
            self.sock.sendall(command(decision).encode() + b"\n", _MORE)
            self.sock.shutdown(socket.SHUT_WR)  # Asterisk reads the command, answers, sees the end
        except OSError:  # the PBX is gone (or, never seen, a full send buffer)
            self.close()
            return
        if not self.reading:  # Asterisk's "200" is read at the server's next wake-up (an
            self.listening.answered.append(self)  # accept, the sweep), not in one of its own

    def close(self) -> None:
        if self.state == self.CLOSED:
            return
        self.state = self.CLOSED
        if self.reading:
            self.listening.unwatch(self)
        self.listening.sessions.pop(self.fd, None)
        self.sock.close()


def serve(sessions: Callable[[], Session], host: str, port: int, *,
          authorizer: Authorizer | None = None, reuse_port: bool = False,
          ready: Callable[[int], None] | None = None, db_connections: int = DB_CONNECTIONS) -> None:
    """Run the server until interrupted; ``ready(port)`` once it listens."""
    server = AgiServer(sessions, authorizer, db_connections=db_connections)
    server.freeze_gc = True

    async def main() -> None:
        listening = await server.start(host, port, reuse_port=reuse_port)
        bound = listening.sockets[0].getsockname()[1]
        # what is loaded by now (modules, SQLAlchemy's mappers...) lives as long as the
        # process: moved out of the collector's generations, a full collection does not walk it
        gc.collect()
        gc.freeze()
        if ready is not None:
            ready(bound)
        async with listening:
            await listening.serve_forever()

    with suppress(KeyboardInterrupt):
        run(main())


def run(coroutine) -> None:
    """``asyncio.run`` on uvloop's event loop when it is installed (about twice the
    sessions per second), else on asyncio's own."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency; this is the fallback
        asyncio.run(coroutine)
    else:
        uvloop.run(coroutine)


def engine_options(url: str) -> dict:
    """The AGI server only reads: on PostgreSQL in autocommit, one round trip per statement
    (no BEGIN, no ROLLBACK around it)."""
    if not url.startswith("postgresql"):
        return {}
    return {"isolation_level": "AUTOCOMMIT", "pool_pre_ping": False, "pool_reset_on_return": None}


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((host, port)) == 0
