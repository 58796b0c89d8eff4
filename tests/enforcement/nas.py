"""A test NAS: a real pyrad RADIUS server on 127.0.0.1 that answers RFC 5176 Disconnect and
CoA requests as it is told, and records what it received.

    with TestNAS(secret=b"s3cret") as nas:          # random port, served from a thread
        nas.respond(default="ack")                  # or "nak:503", "silence", "ack-bad-ma"
        nas.respond({"alice": "nak:404"})           # per User-Name (others: the default)
        nas.silence_first(2)                        # drop the next 2 transmissions
        driver = driver_for(router_config(nas))
        ...
        nas.received                                # list[Received], oldest first

Like a real NAS it drops requests whose Request Authenticator or Message-Authenticator does
not verify with its secret (a wrong shared secret gets no answer), but records them
(``authenticator_ok`` / ``message_authenticator_ok``). ``reply_secret`` signs the answers
with another secret, to check that the client rejects answers it cannot verify.
"""

from __future__ import annotations

import select
import threading
import time
from dataclasses import dataclass, field

import pytest
from pyrad import packet, server

from enforcement.drivers import RouterConfig
from enforcement.radius import load_dictionary

CODE_NAMES = {
    packet.DisconnectRequest: "Disconnect-Request",
    packet.CoARequest: "CoA-Request",
}


@dataclass
class Received:
    """One datagram the NAS received (a retransmission is a separate entry)."""

    code: str
    attrs: dict[str, list]
    identifier: int
    authenticator: bytes
    source_host: str
    source_port: int
    authenticator_ok: bool
    message_authenticator: bool
    message_authenticator_ok: bool
    answer: str | None = None  # what the NAS did: "ack", "nak:503", None = no answer
    raw: bytes = field(default=b"", repr=False)


class TestNAS(server.Server):
    __test__ = False  # not a pytest test class

    def __init__(self, secret: bytes = b"s3cret", host: str = "127.0.0.1") -> None:
        super().__init__(
            addresses=[],
            coaport=0,  # the kernel picks a free port
            hosts={"0.0.0.0": server.RemoteHost("0.0.0.0", secret, "ispzone")},
            dict=load_dictionary(),
            auth_enabled=False,
            acct_enabled=False,
            coa_enabled=True,
            enable_pkt_verify=False,  # verified in _answer, so failures are recorded too
        )
        self.secret = secret
        self.reply_secret: bytes | None = None
        self.BindToAddress(host)
        self.host, self.port = self.coafds[0].getsockname()[:2]
        self._default = "ack"
        self._per_user: dict[str, str] = {}
        self._silent_left = 0
        self._received: list[Received] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- programme -------------------------------------------------------------------------
    def respond(self, answers: dict[str, str] | str | None = None, *, default: str | None = None):
        """Set the answers: ``"ack"``, ``"nak"``, ``"nak:<Error-Cause>"``, ``"silence"`` or
        ``"ack-bad-ma"`` (valid Response Authenticator, broken Message-Authenticator); a
        dict maps User-Name to an answer. Replaces the previous programme."""
        if isinstance(answers, str):
            default, answers = answers, None
        for answer in [default, *(answers or {}).values()]:
            if answer is not None:
                _parse(answer)
        with self._lock:
            self._default = default or "ack"
            self._per_user = dict(answers or {})

    def silence_first(self, count: int) -> None:
        """Drop the next ``count`` valid transmissions (to make the client retransmit)."""
        with self._lock:
            self._silent_left = count

    @property
    def received(self) -> list[Received]:
        with self._lock:
            return list(self._received)

    def clear(self) -> None:
        with self._lock:
            self._received.clear()

    def wait_received(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until at least ``count`` datagrams arrived (they are handled in a thread)."""
        until = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < until:
            time.sleep(0.005)
        return self.received

    # -- pyrad handlers ----------------------------------------------------------------------
    def HandleDisconnectPacket(self, pkt):  # noqa: N802 (pyrad's names)
        self._answer(pkt)

    def HandleCoaPacket(self, pkt):  # noqa: N802
        self._answer(pkt)

    def _answer(self, pkt) -> None:
        pkt.secret = self.secret
        record = self._record(pkt)
        with self._lock:
            self._received.append(record)
            if not record.authenticator_ok or (
                record.message_authenticator and not record.message_authenticator_ok
            ):
                return  # a wrong secret: a real NAS stays silent
            if self._silent_left > 0:
                self._silent_left -= 1
                return
            user = (record.attrs.get("User-Name") or [None])[0]
            answer = self._per_user.get(user, self._default)
        kind, cause = _parse(answer)
        if kind == "silence":
            return
        record.answer = answer
        self._send(pkt, kind, cause)

    def _record(self, pkt) -> Received:
        attrs: dict[str, list] = {}
        for key in pkt.keys():
            try:
                attrs[key] = list(pkt[key])
            except (KeyError, ValueError, packet.PacketError):
                attrs[str(key)] = list(packet.Packet.__getitem__(pkt, key))
        has_ma = bool(pkt.message_authenticator)
        return Received(
            code=CODE_NAMES.get(pkt.code, str(pkt.code)),
            attrs=attrs,
            identifier=pkt.id,
            authenticator=pkt.authenticator,
            source_host=pkt.source[0],
            source_port=pkt.source[1],
            authenticator_ok=pkt.VerifyCoARequest(),
            message_authenticator=has_ma,
            message_authenticator_ok=has_ma and pkt.verify_message_authenticator(),
            raw=pkt.raw_packet,
        )

    def _send(self, pkt, kind: str, cause: int | None) -> None:
        reply = self.CreateReplyPacket(pkt)
        if kind == "nak":
            reply.code = (
                packet.DisconnectNAK if pkt.code == packet.DisconnectRequest else packet.CoANAK
            )
        if cause is not None:
            reply["Error-Cause"] = cause
        reply.secret = self.reply_secret or self.secret
        if kind == "ack-bad-ma":
            reply.message_authenticator = None  # keep the broken value as it is
            reply._set_message_authenticator(b"\x5a" * 16)
        else:
            reply.message_authenticator = True
        self.SendReplyPacket(pkt.fd, reply)

    # -- running -----------------------------------------------------------------------------
    def start(self) -> TestNAS:
        self._thread = threading.Thread(target=self._serve, name="test-nas", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        while not self._stop.is_set():
            ready, _, _ = select.select(self.coafds, [], [], 0.05)
            for fd in ready:
                try:
                    self._ProcessInput(fd)
                except (server.ServerPacketError, packet.PacketError):
                    pass  # broken or unknown packets are dropped, as on a real NAS

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        for fd in self.coafds:
            fd.close()

    def __enter__(self) -> TestNAS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _parse(answer: str) -> tuple[str, int | None]:
    kind, _, cause = answer.partition(":")
    if kind not in ("ack", "nak", "silence", "ack-bad-ma") or (cause and not cause.isdigit()):
        raise ValueError(f"unknown NAS answer {answer!r}")
    return kind, int(cause) if cause else None


def router_config(
    nas: TestNAS, secret: bytes | str | None = None, name: str = "nas1"
) -> RouterConfig:
    """A RouterConfig for the radius driver pointing at the test NAS (its secret by default)."""
    secret = nas.secret if secret is None else secret
    if isinstance(secret, bytes):
        secret = secret.decode()
    return RouterConfig(name=name, driver="radius", host=nas.host, port=nas.port, secret=secret)


@pytest.fixture(name="test_nas")  # explicit: the name holds when imported under an alias
def test_nas():
    """A started :class:`TestNAS` with secret ``s3cret``, answering ACK."""
    with TestNAS(secret=b"s3cret") as nas:
        yield nas
