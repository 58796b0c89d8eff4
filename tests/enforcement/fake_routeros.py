"""A fake MikroTik RouterOS API server that speaks the real wire protocol (TCP and TLS).

No RouterOS image can run here, so the test suite talks to this server with the real
``routeros-api`` client. It implements what the enforcement driver uses, the way RouterOS 7
answers it:

* words with all five length encodings (1 to 5 bytes), sentences ended by an empty word;
* replies ``!re`` / ``!done`` (``=ret=`` after ``add``) / ``!trap`` (``=message=``, followed by
  ``!done`` as on the router) / ``!empty`` (RouterOS 7.18+: an empty ``print`` answers
  ``!empty`` then ``!done``) / ``!fatal`` (the reason as a plain word, then the connection
  closes); every reply carries the request's ``.tag``;
* ``/login`` with ``=name=`` and ``=password=`` (RouterOS >= 6.43), other commands refused with
  ``!fatal not logged in`` before it;
* ``/ip/firewall/address-list`` and ``/ppp/active``: ``print`` (queries ``?k=v``, ``?k``,
  ``?-k``, ``?<k=v``, ``?>k=v``, ``?#|&!.`` on the query stack; ``.proplist``), ``add`` (on
  address lists) and ``remove``; ``/system/identity/print``; ``/quit``.

Test controls (the timeline and fault tests rely on this API)::

    with FakeRouterOS(username="api", password="secret", tls=False) as router:
        router.host, router.port, router.cafile
        router.entries("blocked"); router.add_entry(...); router.remove_entry(...)
        router.add_ppp_session(name, address); router.ppp_sessions
        router.down(); router.up()            # up() listens on the same port again
        router.fail_login = True
        router.commands                       # every received sentence, as a list of words
"""

from __future__ import annotations

import ipaddress
import itertools
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
from pathlib import Path

import pytest

from enforcement.drivers import RouterConfig
from tests.support import need

ADDRESS_LIST = "/ip/firewall/address-list"
PPP_ACTIVE = "/ppp/active"
MAX_WORD = 64 * 1024 * 1024  # refuse absurd words instead of allocating them


class ProtocolError(Exception):
    pass


# --- Wire protocol -------------------------------------------------------------------------


def encode_length(length: int) -> bytes:
    """The RouterOS word length prefix: 1 to 5 bytes, the high bits say how many."""
    if length < 0x80:
        return bytes([length])
    if length < 0x4000:
        return (length | 0x8000).to_bytes(2, "big")
    if length < 0x200000:
        return (length | 0xC00000).to_bytes(3, "big")
    if length < 0x10000000:
        return (length | 0xE0000000).to_bytes(4, "big")
    if length < 0x100000000:
        return b"\xf0" + length.to_bytes(4, "big")
    raise ProtocolError(f"word too long: {length}")


def decode_length(read) -> int:
    """Read one length prefix with ``read(n) -> bytes``; bytes 0xF1..0xFF are control bytes."""
    first = read(1)[0]
    if first < 0x80:
        return first
    if first < 0xC0:
        extra, value = 1, first & 0x3F
    elif first < 0xE0:
        extra, value = 2, first & 0x1F
    elif first < 0xF0:
        extra, value = 3, first & 0x0F
    elif first == 0xF0:
        extra, value = 4, 0
    else:
        raise ProtocolError(f"reserved control byte {first:#04x}")
    for byte in read(extra):
        value = (value << 8) | byte
    return value


def encode_sentence(words: list[str]) -> bytes:
    out = bytearray()
    for word in [*words, ""]:
        data = word.encode("utf-8", "surrogateescape")
        out += encode_length(len(data)) + data
    return bytes(out)


class _Reader:
    def __init__(self, conn: socket.socket) -> None:
        self.conn = conn

    def read(self, size: int) -> bytes:
        chunks, left = [], size
        while left:
            chunk = self.conn.recv(min(left, 1 << 20))
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)

    def sentence(self) -> list[str]:
        words = []
        while True:
            length = decode_length(self.read)
            if length == 0:
                return words
            if length > MAX_WORD:
                raise ProtocolError(f"word of {length} bytes")
            words.append(self.read(length).decode("utf-8", "surrogateescape"))


# --- Requests ------------------------------------------------------------------------------


class Request:
    """One command sentence split into its parts."""

    def __init__(self, words: list[str]) -> None:
        self.command = words[0]
        self.attrs: dict[str, str] = {}
        self.queries: list[str] = []
        self.tag: str | None = None
        self.proplist: list[str] | None = None
        self.bad_word: str | None = None
        for word in words[1:]:
            if word.startswith("="):
                key, _, value = word[1:].partition("=")  # "=key" alone means an empty value
                self.attrs[key] = value
            elif word.startswith(".tag="):
                self.tag = word[5:]
            elif word.startswith(".proplist="):
                self.attrs[".proplist"] = word[10:]
            elif word.startswith("?"):
                self.queries.append(word[1:])
            else:
                self.bad_word = self.bad_word or word
        if ".proplist" in self.attrs:
            self.proplist = [p for p in self.attrs.pop(".proplist").split(",") if p]

    def reply(self, kind: str, **attrs: str) -> list[str]:
        words = [kind] + [f"={key}={value}" for key, value in attrs.items()]
        return words + ([f".tag={self.tag}"] if self.tag is not None else [])

    def trap(self, message: str) -> list[list[str]]:
        return [self.reply("!trap", message=message), self.reply("!done")]


def matches(row: dict[str, str], queries: list[str]) -> bool:
    """RouterOS query words on a stack; what is left on the stack is AND-ed."""
    stack: list[bool] = []
    for query in queries:
        if query.startswith("#"):
            for op in query[1:]:
                if op in "|&":
                    right, left = stack.pop(), stack.pop()
                    stack.append(left or right if op == "|" else left and right)
                elif op == "!":
                    stack.append(not stack.pop())
                elif op == ".":
                    stack.append(stack[-1])
                else:
                    raise ValueError(f"unsupported query operation {op!r}")
        elif query.startswith("-"):
            stack.append(query[1:] not in row)
        elif query[:1] in "<>" and "=" in query:
            key, _, value = query[1:].partition("=")
            have = row.get(key)
            stack.append(have is not None and (have < value if query[0] == "<" else have > value))
        elif "=" in query:
            key, _, value = query.partition("=")
            stack.append(row.get(key, "") == value)
        else:
            stack.append(query in row)
    return all(stack)


def normalize_address(value: str) -> str | None:
    """How RouterOS stores an address-list address: a host without /32, a network, or a
    DNS name (which the router resolves itself)."""
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        if (
            re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?", value)
            and not value.replace(".", "").isdigit()
        ):
            return value
        return None
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return str(network)


# --- The server ----------------------------------------------------------------------------


class FakeRouterOS:
    identity = "FakeRouter"

    def __init__(self, username: str = "api", password: str = "secret", tls: bool = False) -> None:
        self.username = username
        self.password = password
        self.tls = tls
        self.host = "127.0.0.1"
        self.port: int | None = None
        self.cafile: str | None = None
        self.fail_login = False  # refuse every login, even with the right password
        self.stall = False  # read commands but never answer (client timeouts)
        self.fatal_next: str | None = None  # answer the next command with !fatal and hang up
        self.commands: list[list[str]] = []
        self.connections_accepted = 0
        self._generation = 0  # bumped by drop_connections(): a handshake in flight is dropped too
        self._lock = threading.RLock()
        self._tables: dict[str, dict[str, dict[str, str]]] = {ADDRESS_LIST: {}, PPP_ACTIVE: {}}
        self._ids = itertools.count(1)
        self._listener: socket.socket | None = None
        self._accept_thread: threading.Thread | None = None
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._ssl: ssl.SSLContext | None = None

    # lifecycle

    def __enter__(self) -> FakeRouterOS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> FakeRouterOS:
        if self.tls:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="e1-fake-routeros-")
            self.cafile, cert, key = make_certificates(Path(self._tmpdir.name))
            self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self._ssl.load_cert_chain(cert, key)
        self._listen(0)
        return self

    def stop(self) -> None:
        self.down()
        for thread in self._threads:
            thread.join(timeout=5)
        if self._tmpdir is not None:
            self._tmpdir.cleanup()

    @property
    def is_up(self) -> bool:
        return self._listener is not None

    def down(self) -> None:
        """Stop listening (new connections are refused) and drop the open ones."""
        listener, self._listener = self._listener, None
        if listener is not None:
            _shutdown(listener)
            listener.close()
            self._accept_thread.join(timeout=5)
        self.drop_connections()

    def up(self) -> None:
        """Listen again on the same port."""
        if self._listener is None:
            self._listen(self.port)

    def drop_connections(self) -> None:
        """Hang up on every client (as a router reboot or a link flap would)."""
        with self._lock:
            self._generation += 1
            conns = list(self._conns)
        for conn in conns:
            _shutdown(conn)

    def _listen(self, port: int) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, port))
        listener.listen(16)
        self.port = listener.getsockname()[1]
        self._listener = listener
        self._accept_thread = self._spawn(self._accept_loop, listener)

    def _spawn(self, target, *args) -> threading.Thread:
        thread = threading.Thread(target=target, args=args, daemon=True)
        thread.start()
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        return thread

    def _accept_loop(self, listener: socket.socket) -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            self.connections_accepted += 1
            with self._lock:
                generation = self._generation
            self._spawn(self._serve, conn, generation)

    def _serve(self, conn: socket.socket, generation: int) -> None:
        with self._lock:
            self._conns.add(conn)
            dropped = generation != self._generation
        try:
            if dropped:  # drop_connections() ran between accept() and now
                return
            if self._ssl is not None:
                conn.settimeout(10)
                tls_conn = self._ssl.wrap_socket(conn, server_side=True)
                with self._lock:
                    self._conns.discard(conn)
                    self._conns.add(tls_conn)
                    dropped = generation != self._generation
                conn = tls_conn
                if dropped:
                    return
                conn.settimeout(None)
            self._conversation(conn)
        except (OSError, EOFError, ProtocolError):
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            conn.close()

    def _conversation(self, conn: socket.socket) -> None:
        reader, session = _Reader(conn), {"user": None}
        while True:
            try:
                words = reader.sentence()
            except ProtocolError as exc:
                conn.sendall(encode_sentence(["!fatal", str(exc)]))
                return
            if not words:
                continue  # an empty sentence is ignored, as by RouterOS
            with self._lock:
                self.commands.append(words)
                if self.stall:
                    continue
                replies, hang_up = self.handle(Request(words), session)
            conn.sendall(b"".join(encode_sentence(reply) for reply in replies))
            if hang_up:
                return

    # commands

    def handle(self, req: Request, session: dict) -> tuple[list[list[str]], bool]:
        """Answer one request: (reply sentences, whether to close the connection)."""
        if self.fatal_next is not None:
            reason, self.fatal_next = self.fatal_next, None
            return [["!fatal", reason]], True
        if req.command == "/login":
            return self._login(req, session), False
        if session["user"] is None:
            return [["!fatal", "not logged in"]], True
        if req.command == "/quit":
            return [["!fatal", "session terminated on request"]], True
        if req.bad_word is not None:
            return req.trap(f"unknown parameter {req.bad_word}"), False
        if req.command == "/system/identity/print":
            return self._print(req, [{"name": self.identity}]), False
        menu, _, verb = req.command.rpartition("/")
        table = self._tables.get(menu)
        if (
            table is None
            or verb not in ("print", "add", "remove")
            or (verb == "add" and menu != ADDRESS_LIST)
        ):
            return req.trap("no such command"), False
        if verb == "print":
            try:
                rows = [row for row in table.values() if matches(row, req.queries)]
            except (ValueError, IndexError) as exc:
                return req.trap(f"invalid query: {exc}"), False
            return self._print(req, rows), False
        if verb == "add":
            return self._add(req, table), False
        return self._remove(req, table), False

    def _login(self, req: Request, session: dict) -> list[list[str]]:
        name, password = req.attrs.get("name"), req.attrs.get("password")
        if self.fail_login or name != self.username or password != self.password:
            return req.trap("invalid user name or password (6)")
        session["user"] = name
        return [req.reply("!done")]

    def _print(self, req: Request, rows: list[dict[str, str]]) -> list[list[str]]:
        if not rows:
            return [req.reply("!empty"), req.reply("!done")]
        out = []
        for row in rows:
            keys = req.proplist if req.proplist is not None else list(row)
            out.append(req.reply("!re", **{key: row[key] for key in keys if key in row}))
        return out + [req.reply("!done")]

    def _add(self, req: Request, table: dict) -> list[list[str]]:
        unknown = set(req.attrs) - {"list", "address", "comment", "disabled", "timeout"}
        if unknown:
            return req.trap(f"unknown parameter {sorted(unknown)[0]}")
        missing = [key for key in ("list", "address") if not req.attrs.get(key)]
        if missing:
            return req.trap(f"missing value(s) of argument(s) {' '.join(missing)}")
        address = normalize_address(req.attrs["address"])
        if address is None:
            return req.trap(f"invalid value of address: {req.attrs['address']}")
        if any(r["list"] == req.attrs["list"] and r["address"] == address for r in table.values()):
            return req.trap("failure: already have such entry")
        row_id = self._insert(
            table, list=req.attrs["list"], address=address, comment=req.attrs.get("comment", "")
        )
        return [req.reply("!done", ret=row_id)]

    def _remove(self, req: Request, table: dict) -> list[list[str]]:
        ids = [i for i in req.attrs.get(".id", "").split(",") if i]
        if not ids:
            return req.trap("missing value(s) of argument(s) .id")
        if any(i not in table for i in ids):
            return req.trap("no such item")
        for i in ids:
            del table[i]
        return [req.reply("!done")]

    def _insert(self, table: dict, **fields: str) -> str:
        row_id = f"*{next(self._ids):X}"
        row = {".id": row_id}
        if table is self._tables[ADDRESS_LIST]:
            row.update(
                list=fields["list"],
                address=fields["address"],
                dynamic="false",
                disabled="false",
                **{"creation-time": "2026-01-01 00:00:00"},
            )
            if fields.get("comment"):
                row["comment"] = fields["comment"]
        else:
            row.update(fields)
        table[row_id] = row
        return row_id

    # controls for tests

    def entries(self, list_name: str) -> set[str]:
        with self._lock:
            rows = self._tables[ADDRESS_LIST].values()
            return {row["address"] for row in rows if row["list"] == list_name}

    def entry_rows(self, list_name: str) -> list[dict[str, str]]:
        with self._lock:
            rows = self._tables[ADDRESS_LIST].values()
            return [dict(row) for row in rows if row["list"] == list_name]

    def add_entry(self, list_name: str, address: str, comment: str = "manual") -> str:
        with self._lock:
            return self._insert(
                self._tables[ADDRESS_LIST],
                list=list_name,
                address=normalize_address(address) or address,
                comment=comment,
            )

    def remove_entry(self, list_name: str, address: str) -> int:
        address = normalize_address(address) or address
        with self._lock:
            table = self._tables[ADDRESS_LIST]
            ids = [
                i for i, r in table.items() if r["list"] == list_name and r["address"] == address
            ]
            for i in ids:
                del table[i]
            return len(ids)

    def add_ppp_session(self, name: str, address: str, service: str = "pppoe") -> str:
        with self._lock:
            return self._insert(
                self._tables[PPP_ACTIVE],
                name=name,
                address=address,
                service=service,
                uptime="1h2m3s",
                **{"caller-id": "02:00:00:00:00:01"},
            )

    @property
    def ppp_sessions(self) -> list[dict[str, str]]:
        with self._lock:
            return [dict(row) for row in self._tables[PPP_ACTIVE].values()]

    def command_names(self) -> list[str]:
        """The command word of every received sentence except the logins."""
        return [words[0] for words in self.commands if words[0] != "/login"]


def _shutdown(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)  # on the fd: wakes a blocked recv/accept
    except OSError:
        pass


def make_certificates(directory: Path, san: str = "IP:127.0.0.1") -> tuple[str, str, str]:
    """A private CA and a router certificate it signed (as an operator would issue); returns
    (ca_file, cert_file, key_file). The certificate names only ``san``."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=directory)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl(
        "req",
        "-x509",
        *ec,
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=ispzone test CA",
    )
    openssl("req", *ec, "-keyout", "router.key", "-out", "router.csr", "-subj", "/CN=fake-routeros")
    (directory / "ext.cnf").write_text(f"subjectAltName={san}\nbasicConstraints=CA:FALSE\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "router.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "router.pem",
        "-days",
        "2",
        "-extfile",
        "ext.cnf",
    )
    return tuple(str(directory / name) for name in ("ca.pem", "router.pem", "router.key"))


def router_config(router: FakeRouterOS, **changes) -> RouterConfig:
    fields = dict(
        name="fake",
        driver="routeros",
        host=router.host,
        port=router.port,
        use_tls=router.tls,
        username=router.username,
        secret=router.password,
        ca_file=router.cafile,
    )
    fields.update(changes)
    return RouterConfig(**fields)


@pytest.fixture
def fake_router():
    with FakeRouterOS() as router:
        yield router


@pytest.fixture
def fake_router_tls():
    need(shutil.which("openssl") is not None, "the openssl CLI is not installed")
    with FakeRouterOS(tls=True) as router:
        yield router
