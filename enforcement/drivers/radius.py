"""RADIUS Dynamic Authorization (RFC 5176) driver: Disconnect-Request and CoA-Request to a NAS.
The protocol facts it relies on, with their sources: docs/facts/rfc5176.md.

RADIUS keeps no lists we could edit: the NAS asks ``/radius/authorize`` when a session
starts. So ``kick``, ``list_add blocked`` and every ``list_remove`` become a
Disconnect-Request (the PPPoE client redials at once and gets the current answer), and only
``list_add warned`` (or any list other than the blocked one) is a CoA-Request that puts the
live session into that MikroTik address list.

The send loop is our own, over one UDP socket per driver, with pyrad's packet classes for
encoding and verification. pyrad's ``Client`` would also resend the same bytes, but with a
fixed timeout; RFC 5080 section 2.2.1 wants the wait doubled (with jitter) up to a cap and
a total deadline, and a retransmission must keep the Identifier, the Request Authenticator
and the source port (RFC 5176 section 2.3) - resending the encoded bytes from the same
socket guarantees all three. A new request gets the next Identifier, and a new Event-Timestamp
and therefore a new Request Authenticator.

Answers are accepted only from the NAS's address, with our Identifier, a valid Response
Authenticator and (when present) a valid Message-Authenticator; anything else is ignored,
so a wrong shared secret looks like silence, as it does on a real NAS.

Driver options (``driver_for(router, timeout=..., ...)``), RFC 5080 defaults:
``timeout`` 2 s (first wait), ``retries`` 5 (retransmissions), ``max_timeout`` 16 s (one wait
at most), ``max_duration`` 30 s (whole exchange), ``blocked_list`` "blocked".
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import socket
import struct
import threading
import time

from pyrad import packet

from enforcement.drivers import Driver, PermanentError, TemporaryError, register
from enforcement.radius import (
    ERROR_CAUSE_RESOURCES_UNAVAILABLE,
    ERROR_CAUSE_SESSION_NOT_FOUND,
    error_cause_name,
    load_dictionary,
)

DEFAULT_PORT = 3799
ACKS = {packet.DisconnectRequest: packet.DisconnectACK, packet.CoARequest: packet.CoAACK}
NAKS = {packet.DisconnectRequest: packet.DisconnectNAK, packet.CoARequest: packet.CoANAK}
NAMES = {packet.DisconnectRequest: "Disconnect", packet.CoARequest: "CoA"}


@register
class RadiusDriver(Driver):
    name = "radius"

    def __init__(self, router, **options) -> None:
        super().__init__(router, **options)
        self.timeout = float(options.get("timeout", 2.0))
        self.retries = int(options.get("retries", 5))
        self.max_timeout = float(options.get("max_timeout", 16.0))
        self.max_duration = float(options.get("max_duration", 30.0))
        self.blocked_list = options.get("blocked_list", "blocked")
        self.dictionary = load_dictionary()
        self._socket: socket.socket | None = None
        self._address: tuple | None = None
        self._next_id = secrets.randbelow(256)
        self._lock = threading.Lock()

    # -- what to send -------------------------------------------------------------------
    def apply(self, action, session_ref=None) -> str:
        code, extra = self._request_for(action)
        ident = session_attributes(action, session_ref)
        if not ident:
            return "no session (nothing identifies it: no User-Name, Acct-Session-Id or IP)"
        with self._lock:  # one exchange at a time on the socket; Identifiers in sequence
            pkt = self._build(code, ident, extra)
            reply, sent = self._exchange(pkt)
        return self._outcome(code, reply, sent, ident)

    def request_key(self, action, session_ref=None):
        try:
            code, extra = self._request_for(action)
        except PermanentError:
            return None
        ident = session_attributes(action, session_ref)
        if not ident:
            return None
        return code, tuple(sorted(extra.items())), tuple(sorted(ident.items()))

    def _request_for(self, action) -> tuple[int, dict]:
        if action.kind == "list_add" and action.list_name and action.list_name != self.blocked_list:
            return packet.CoARequest, {"Mikrotik-Address-List": action.list_name}
        if action.kind in ("kick", "list_add", "list_remove"):
            return packet.DisconnectRequest, {}
        raise PermanentError(f"radius: unknown action kind {action.kind!r}")

    def _build(self, code: int, ident: dict, extra: dict) -> packet.CoAPacket:
        self._next_id = (self._next_id + 1) % 256
        pkt = packet.CoAPacket(
            code=code,
            id=self._next_id,
            secret=self._secret(),
            dict=self.dictionary,
            message_authenticator=True,  # computed when encoded, placed first
        )
        for name, value in {**ident, **extra}.items():
            pkt[name] = value
        # Replay protection on the NAS (RFC 5176 section 3.3); kept by retransmissions.
        pkt["Event-Timestamp"] = int(time.time())
        return pkt

    def _secret(self) -> bytes:
        if not self.router.secret:
            raise PermanentError(f"router {self.router.name}: no RADIUS shared secret")
        return self.router.secret.encode()

    # -- the exchange -------------------------------------------------------------------
    def _exchange(self, pkt: packet.CoAPacket) -> tuple[packet.Packet | None, int]:
        """Send ``pkt`` and its retransmissions; return (verified answer or None, sends)."""
        raw = pkt.RequestPacket()  # encoded once: retransmissions are the same bytes
        sock, address = self._open()
        self._drain(sock)
        started = time.monotonic()
        deadline = started + self.max_duration
        wait = self.timeout
        sent = 0
        while sent <= self.retries:
            try:
                sock.sendto(raw, address)
            except OSError as exc:
                raise TemporaryError(f"NAS {self._where()}: cannot send: {exc}") from exc
            sent += 1
            reply = self._await(sock, pkt, min(time.monotonic() + wait, deadline))
            if reply is not None or time.monotonic() >= deadline:
                return reply, sent
            # RFC 5080 2.2.1: RT = 2*RTprev + RAND*RTprev, RAND in [-0.1, 0.1], capped at MRT
            wait = min(wait * (2 + random.uniform(-0.1, 0.1)), self.max_timeout)
        return None, sent

    def _await(self, sock: socket.socket, pkt: packet.CoAPacket, until: float):
        while True:
            remaining = until - time.monotonic()
            if remaining <= 0:
                return None
            sock.settimeout(remaining)
            try:
                data, source = sock.recvfrom(4096)
            except (TimeoutError, BlockingIOError):
                return None
            except OSError:  # ICMP errors from earlier sends: keep waiting
                continue
            reply = self._verified(pkt, data, source)
            if reply is not None:
                return reply

    def _verified(self, pkt: packet.CoAPacket, data: bytes, source) -> packet.Packet | None:
        """The answer if it is really the NAS's answer to ``pkt``, else None (ignored)."""
        if source[0] != self._address[0] or len(data) < 20 or data[1] != pkt.id:
            return None
        if data[0] not in (ACKS[pkt.code], NAKS[pkt.code]):
            return None
        try:
            reply = pkt.CreateReply(packet=data)
            ok = pkt.VerifyReply(reply, data)  # Response Authenticator + Message-Authenticator
        except (packet.PacketError, ValueError, KeyError):
            return None
        return reply if ok else None

    def _open(self) -> tuple[socket.socket, tuple]:
        """One UDP socket for the driver's lifetime: one source port for all transmissions."""
        if self._socket is None:
            if not self.router.host:
                raise PermanentError(f"router {self.router.name}: no NAS address (host)")
            port = self.router.port or DEFAULT_PORT
            try:
                infos = socket.getaddrinfo(self.router.host, port, type=socket.SOCK_DGRAM)
            except OSError as exc:
                raise TemporaryError(f"NAS {self.router.host}: cannot resolve: {exc}") from exc
            family, _, _, _, address = infos[0]
            self._socket = socket.socket(family, socket.SOCK_DGRAM)
            self._address = address
        return self._socket, self._address

    @staticmethod
    def _drain(sock: socket.socket) -> None:
        """Drop late answers to earlier requests before a new exchange."""
        sock.setblocking(False)
        try:
            while True:
                sock.recvfrom(4096)
        except OSError:
            pass

    def _where(self) -> str:
        return f"{self.router.name} ({self.router.host}:{self.router.port or DEFAULT_PORT})"

    # -- what the answer means ----------------------------------------------------------
    def _outcome(self, code: int, reply, sent: int, ident: dict) -> str:
        what = f"{NAMES[code]}-Request for {_describe(ident)}"
        if reply is None:
            raise TemporaryError(
                f"{what}: no valid answer from NAS {self._where()} after {sent} transmissions"
                " (NAS down or unreachable, or a wrong shared secret)"
            )
        if reply.code == ACKS[code]:
            return f"{NAMES[code]}-ACK from {self.router.name}: {_describe(ident)}"
        causes = [struct.unpack("!I", v)[0] for v in reply.get(101, []) if len(v) == 4]
        named = ", ".join(f"Error-Cause {c} {error_cause_name(c)}" for c in causes)
        if ERROR_CAUSE_SESSION_NOT_FOUND in causes:
            return f"{NAMES[code]}-NAK from {self.router.name}: session already gone ({named})"
        if ERROR_CAUSE_RESOURCES_UNAVAILABLE in causes:
            raise TemporaryError(f"{what}: NAS {self._where()} busy ({named})")
        if not causes:
            raise PermanentError(f"{what}: NAK without Error-Cause from NAS {self._where()}")
        blame = (
            "the NAS refused our request as wrong"
            if min(causes) < 500
            else "the NAS could not do it"
        )
        raise PermanentError(f"{what}: {NAMES[code]}-NAK, {named}: {blame}; not retried")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def session_attributes(action, session_ref) -> dict:
    """The attributes that identify the session on the NAS (RFC 5176 section 3).

    Prefer what accounting told us (``session_ref``); fall back to the action's User-Name and
    address. Many NASes (MikroTik) need Acct-Session-Id or Framed-IP-Address to find it.
    """
    ref = session_ref
    attrs: dict = {}
    username = (ref.username if ref else None) or action.username
    if username:
        attrs["User-Name"] = username
    if ref and ref.acct_session_id:
        attrs["Acct-Session-Id"] = ref.acct_session_id
    framed = _ipv4_host((ref.framed_ip if ref else None) or action.address)
    if framed:
        attrs["Framed-IP-Address"] = framed
    if not attrs:
        return attrs
    nas = _ip(ref.nas_ip if ref else None)
    if nas is not None:
        attrs["NAS-IP-Address" if nas.version == 4 else "NAS-IPv6-Address"] = str(nas)
    return attrs


def _ip(value):
    try:
        return ipaddress.ip_address(value) if value else None
    except ValueError:
        return None


def _ipv4_host(value) -> str | None:
    """``10.0.0.5`` or ``10.0.0.5/32`` -> ``10.0.0.5``; subnets and IPv6 cannot be a
    Framed-IP-Address."""
    if not value:
        return None
    try:
        iface = ipaddress.ip_interface(value)
    except ValueError:
        return None
    if iface.version != 4 or iface.network.prefixlen != 32:
        return None
    return str(iface.ip)


def _describe(ident: dict) -> str:
    keys = ("User-Name", "Acct-Session-Id", "Framed-IP-Address")
    return " ".join(f"{k}={ident[k]}" for k in keys if k in ident)
