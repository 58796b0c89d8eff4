"""Router drivers: how one :class:`~enforcement.models.RouterAction` reaches a router.

A registry of drivers chosen by ``Router.driver`` (one base class, as CTFd's providers).
The outbox worker calls :meth:`Driver.apply`; it raises :class:`TemporaryError` to be
retried later (router down, timeout) or :class:`PermanentError` when retrying cannot help
(the router refused the request as malformed, e.g. a RADIUS NAK 401/404). Returning means
done. Commands are idempotent: an entry that already exists, or a session or entry that is
already gone, is success.

Action kinds (``RouterAction.kind``):

* ``list_add`` / ``list_remove``: the customer's ``address`` in / out of ``list_name``
  (``warned`` or ``blocked``). RouterOS: ``/ip/firewall/address-list``. RADIUS: a CoA-Request
  with ``Mikrotik-Address-List`` for ``list_add warned``; a Disconnect-Request for the others,
  so that the session redials and gets the new answer from ``/radius/authorize``.
* ``kick``: drop the customer's live session (RouterOS ``/ppp/active`` by ``username``;
  RADIUS Disconnect-Request with the session learned from accounting).
"""

from __future__ import annotations

import os
from dataclasses import dataclass


class DriverError(Exception):
    pass


class TemporaryError(DriverError):
    """Try again later (router unreachable, timeout, NAS busy)."""


class PermanentError(DriverError):
    """Retrying the same request cannot succeed; an operator must look."""


@dataclass(frozen=True)
class SessionRef:
    """A live RADIUS session as learned from accounting (for Disconnect/CoA)."""

    username: str | None
    acct_session_id: str | None
    framed_ip: str | None
    nas_ip: str | None


@dataclass(frozen=True)
class RouterConfig:
    """What a driver needs to reach one router (from the ``router`` table)."""

    name: str
    driver: str
    host: str | None = None
    port: int | None = None
    use_tls: bool = False
    username: str | None = None
    secret: str | None = None
    ca_file: str | None = None

    @classmethod
    def from_row(cls, row) -> RouterConfig:
        return cls(
            name=row.name,
            driver=row.driver,
            host=row.host,
            port=row.port,
            use_tls=row.use_tls,
            username=row.username,
            secret=resolve_secret(row.secret),
            ca_file=row.ca_file,
        )


def resolve_secret(value: str | None) -> str | None:
    """``env:NAME`` reads the secret from the environment, so it need not sit in the database."""
    if value and value.startswith("env:"):
        return os.environ.get(value[4:], "")
    return value


class Driver:
    """Base class. Subclasses set ``name`` and implement :meth:`apply`."""

    name = "base"

    def __init__(self, router: RouterConfig, **options) -> None:
        self.router = router
        self.options = options

    def apply(self, action, session_ref: SessionRef | None = None) -> str:
        """Carry out one action; return a short description of what was done."""
        raise NotImplementedError

    def request_key(self, action, session_ref: SessionRef | None = None):
        """What :meth:`apply` would send for ``action``, as a hashable value, when several
        actions can come down to the same request; None (the default) when each action is
        its own. The outbox sends one request for consecutive actions of a customer with
        equal keys and marks the others done (RADIUS: blocking, unlisting and the kick are
        all the same Disconnect-Request, and a second one would cut the session the customer
        has just redialled)."""
        return None

    def list_addresses(self, list_name: str) -> set[str] | None:
        """The addresses the router has in ``list_name`` (for reconcile), or None when the
        driver cannot read lists (RADIUS: the state is in the authorize answers)."""
        return None

    def close(self) -> None:
        pass


REGISTRY: dict[str, type[Driver]] = {}


def register(cls: type[Driver]) -> type[Driver]:
    REGISTRY[cls.name] = cls
    return cls


def driver_for(router: RouterConfig, **options) -> Driver:
    _load_builtin()
    try:
        cls = REGISTRY[router.driver]
    except KeyError:
        raise PermanentError(f"router {router.name}: unknown driver {router.driver!r}") from None
    return cls(router, **options)


def _load_builtin() -> None:
    import importlib

    for module in ("recording", "routeros", "radius"):
        try:
            importlib.import_module(f"enforcement.drivers.{module}")
        except ModuleNotFoundError as exc:  # a driver not written yet
            if exc.name != f"enforcement.drivers.{module}":
                raise
