"""MikroTik RouterOS API driver (API on 8728, API-SSL on 8729) through ``routeros-api``.

The router keeps two address lists, ``warned`` and ``blocked``, that its firewall acts on
(``deploy/routeros/``). We add and remove the customer's address there and drop their PPP
session, and nothing else. Our entries carry a comment starting with :data:`MARKER`; entries
without it were made by someone else (an operator, a script) and are never read as ours nor
removed. See ``docs/routeros-api.md`` for the user policy and TLS set-up, and
``docs/facts/routeros-api.md`` for the protocol.
"""

from __future__ import annotations

import ipaddress
import ssl
import threading

from routeros_api import RouterOsApiPool
from routeros_api.exceptions import (
    RouterOsApiCommunicationError,
    RouterOsApiError,
    RouterOsApiParsingError,
)

from enforcement.drivers import Driver, PermanentError, RouterConfig, TemporaryError, register

ADDRESS_LIST = "/ip/firewall/address-list"
PPP_ACTIVE = "/ppp/active"
MARKER = "ispzone"


def is_ours(comment: str | None) -> bool:
    return bool(comment) and (comment == MARKER or comment.startswith(MARKER + " "))


def host_address(address: str) -> str:
    """RouterOS shows a single host without ``/32`` (``/128``); ask for it the same way."""
    try:
        network = ipaddress.ip_network(address, strict=False)
    except ValueError:
        return address
    if network.prefixlen == network.max_prefixlen:
        return str(network.network_address)
    return address


def trap_message(exc: RouterOsApiCommunicationError) -> str:
    message = exc.original_message
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


@register
class RouterOSDriver(Driver):
    """One connection per driver, reused for every action of a drain, made on first use.

    Errors: connection refused, timeouts, a connection lost twice, ``!fatal`` ->
    :class:`TemporaryError`. A failed login is also temporary: the credentials (or the user's
    allowed address on the router) are fixed by an operator and the queued actions must then
    go through, not be given up. The same holds for a TLS certificate that does not verify.
    Any other ``!trap`` is the router refusing the request -> :class:`PermanentError` with the
    router's message.
    """

    name = "routeros"
    timeout = 5.0  # seconds for connect, TLS handshake and each reply

    def __init__(self, router: RouterConfig, **options) -> None:
        super().__init__(router, **options)
        self.timeout = float(options.get("timeout", self.timeout))
        # Verify that the certificate names ``router.host`` (see docs/routeros-api.md).
        self.check_hostname = bool(options.get("check_hostname", True))
        self._pool: RouterOsApiPool | None = None
        self._lock = threading.Lock()  # routeros-api is not thread-safe

    # --- the Driver interface

    def apply(self, action, session_ref=None) -> str:
        operations = {
            "list_add": self._list_add,
            "list_remove": self._list_remove,
            "kick": self._kick,
        }
        operation = operations.get(action.kind)
        if operation is None:
            raise PermanentError(f"routeros driver: unknown action kind {action.kind!r}")
        if action.kind != "kick":
            if not (action.list_name and action.address):
                raise PermanentError(f"{action.kind} needs list_name and address")
            if ":" in action.address:  # /ipv6/firewall/address-list is not managed (yet)
                raise PermanentError(f"{action.address}: IPv6 address lists are not supported")
        return self._run(lambda api: operation(api, action))

    def list_addresses(self, list_name: str) -> set[str]:
        """The addresses in ``list_name`` that carry our comment marker. Foreign entries (added
        by hand or by another system) are left alone: reconcile neither sees nor removes them."""

        def read(api) -> set[str]:
            rows = api.get_resource(ADDRESS_LIST).call(
                "print", {".proplist": "address,comment"}, {"list": list_name}
            )
            return {row["address"] for row in rows if is_ours(row.get("comment"))}

        return self._run(read)

    def close(self) -> None:
        with self._lock:
            self._drop()

    # --- actions

    def _list_add(self, api, action) -> str:
        address = host_address(action.address)
        comment = f"{MARKER} customer {action.customer_id}" if action.customer_id else MARKER
        try:
            api.get_resource(ADDRESS_LIST).add(
                list=action.list_name, address=address, comment=comment
            )
        except RouterOsApiCommunicationError as exc:
            if "already have such entry" not in trap_message(exc):
                raise
            return f"{address} already in {action.list_name}"
        return f"added {address} to {action.list_name}"

    def _list_remove(self, api, action) -> str:
        address = host_address(action.address)
        resource = api.get_resource(ADDRESS_LIST)
        rows = resource.call(
            "print", {".proplist": ".id,comment"}, {"list": action.list_name, "address": address}
        )
        removed = self._remove(resource, [row["id"] for row in rows if is_ours(row.get("comment"))])
        if not removed:
            return f"{address} not in {action.list_name}"
        return f"removed {address} from {action.list_name}"

    def _kick(self, api, action) -> str:
        if action.username:
            who, query = action.username, {"name": action.username}
        elif action.address:
            who, query = action.address, {"address": host_address(action.address)}
        else:
            raise PermanentError("kick needs a username or an address")
        resource = api.get_resource(PPP_ACTIVE)
        rows = resource.call("print", {".proplist": ".id"}, query)
        removed = self._remove(resource, [row["id"] for row in rows])
        if not removed:
            return f"no active PPP session of {who}"
        return f"removed {removed} PPP session(s) of {who}"

    @staticmethod
    def _remove(resource, ids: list[str]) -> int:
        """Remove one by one; an item gone meanwhile ("no such item") is what we wanted."""
        removed = 0
        for item_id in ids:
            try:
                resource.remove(id=item_id)
                removed += 1
            except RouterOsApiCommunicationError as exc:
                if "no such item" not in trap_message(exc):
                    raise
        return removed

    # --- connection

    def _run(self, operation):
        """Run ``operation(api)``; on a reused connection that turns out dead (the router
        rebooted, closed an idle session), reconnect once and run it again. Every operation
        is idempotent, so repeating one that half-happened is safe."""
        with self._lock:
            for attempt in (1, 2):
                reused = self._pool is not None
                api = self._connect()
                try:
                    return operation(api)
                except RouterOsApiCommunicationError as exc:  # a !trap: the router said no
                    raise PermanentError(f"router {self.router.name}: {trap_message(exc)}") from exc
                except (RouterOsApiError, OSError) as exc:  # lost, timed out, !fatal, garbled
                    self._drop()
                    if not reused or attempt == 2:
                        raise TemporaryError(
                            f"router {self.router.name}: connection lost: {describe(exc)}"
                        ) from exc

    def _connect(self):
        if self._pool is not None and self._pool.connected:
            return self._pool.get_api()
        self._drop()
        router = self.router
        if not router.host:
            raise PermanentError(f"router {router.name}: no host configured")
        where = f"router {router.name} ({router.host})"
        try:
            context = self._ssl_context()
        except (OSError, ssl.SSLError) as exc:
            raise TemporaryError(f"{where}: cannot load CA file {router.ca_file}: {exc}") from exc
        pool = RouterOsApiPool(
            router.host,
            username=router.username or "",
            port=router.port,
            password=router.secret or "",
            plaintext_login=True,
            use_ssl=router.use_tls,
            ssl_context=context,
        )
        pool.socket_timeout = self.timeout
        try:
            pool.get_api()
        except RouterOsApiCommunicationError as exc:
            pool.disconnect()
            raise TemporaryError(
                f"{where}: login failed as {router.username!r}: {trap_message(exc)} "
                "(fix the username/secret or the router's API user)"
            ) from exc
        except ssl.SSLCertVerificationError as exc:
            pool.disconnect()
            raise TemporaryError(
                f"{where}: TLS certificate not trusted: {exc.verify_message}"
            ) from exc
        except (RouterOsApiError, OSError) as exc:
            pool.disconnect()
            raise TemporaryError(f"{where}: cannot connect: {describe(exc)}") from exc
        self._pool = pool
        return pool.get_api()

    def _ssl_context(self) -> ssl.SSLContext | None:
        if not self.router.use_tls:
            return None
        context = ssl.create_default_context(cafile=self.router.ca_file or None)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.check_hostname = self.check_hostname
        return context

    def _drop(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.disconnect()


def describe(exc: BaseException) -> str:
    """A short text for ``last_error``. routeros-api cannot parse ``!fatal`` (RouterOS sends the
    reason as a bare word), so that shows up as a parsing error carrying the reason."""
    if isinstance(exc, RouterOsApiParsingError) and len(exc.args) > 1:
        detail = exc.args[1]
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        return f"router ended the session (!fatal) or sent a malformed reply: {detail}"
    cause = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
    return str(cause or exc) or type(exc).__name__
