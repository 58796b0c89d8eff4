"""FreeRADIUS rlm_rest answers: ``POST /radius/authorize`` and ``POST /radius/accounting``.

Callers are FreeRADIUS servers only: the request must come from an address in
``RADIUS_ALLOWED_CLIENTS`` (else 403) and carry the shared ``RADIUS_API_TOKEN`` as
``Authorization: Bearer <token>`` or ``X-Ispzone-Token`` (else 401). With no token set the
endpoints refuse everyone. CSRF does not apply (no browser, no cookie session).

Status codes follow rlm_rest (docs/radius.md, docs/facts/freeradius-rest.md): authorize 200 = go on with pap/chap,
401 = reject, 404 = notfound (the site rejects); accounting 204 = recorded, 503 = database
trouble, so FreeRADIUS sends no Accounting-Response and the NAS retries.

The endpoints are a plain WSGI application that sits in front of Flask (:class:`RadiusApi`,
installed by :func:`install`): after a router reboot every customer dials in within seconds,
and Flask's per-request machinery (request and app contexts, cookie session, CSRF, the rate
limiter, Babel, the warning page's host capture, after-request headers) cost several times
more than the one indexed SELECT an answer needs (bench/enforcement_radius.py). Nothing of
that machinery applies to a machine caller anyway. The settings are still read from
``app.config`` on every request, and the app's engine and session factory are used.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
from functools import lru_cache

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from core.clock import today
from core.db import run_in_transaction
from enforcement.radius import accounting as acct
from enforcement.radius.authorize import ACCEPT, BLOCKED_MODES, REJECT, Lists, answer_for

log = logging.getLogger(__name__)

PREFIX = "/radius/"
MAX_BODY = 64 * 1024  # an Access-Request is well under 4 KiB

DEFAULTS: dict = {
    # the shared secret FreeRADIUS sends (letters, digits, "-" and "_"); empty = refuse all
    "RADIUS_API_TOKEN": "",
    # addresses / prefixes of the FreeRADIUS servers, comma separated
    "RADIUS_ALLOWED_CLIENTS": "127.0.0.1,::1",
    # a disconnected customer: "walled-garden" (accept, address list "blocked") or "reject"
    "RADIUS_BLOCKED_MODE": "walled-garden",
}

_REASONS = {200: "200 OK", 204: "204 No Content", 400: "400 Bad Request",
            401: "401 Unauthorized", 403: "403 Forbidden", 404: "404 Not Found",
            405: "405 Method Not Allowed", 413: "413 Content Too Large",
            500: "500 Internal Server Error", 503: "503 Service Unavailable"}


def install(app: Flask) -> None:
    """Put the endpoints in front of the Flask application (inside any ProxyFix, which
    create_app applies last, so that the client address is the one it reports)."""
    app.wsgi_app = RadiusApi(app, app.wsgi_app)


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


@lru_cache(maxsize=256)
def client_allowed(address: str | None, spec: str) -> bool:
    """Is ``address`` (the TCP peer) inside one of the comma-separated prefixes ``spec``?"""
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _networks(spec))


def presented_token(environ: dict) -> str:
    auth = environ.get("HTTP_AUTHORIZATION", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return environ.get("HTTP_X_ISPZONE_TOKEN", "").strip()


def attributes(payload) -> dict[str, str] | None:
    """rlm_rest's JSON body -> {attribute name: first value as text}; None if not an object."""
    if not isinstance(payload, dict):
        return None
    attrs = {}
    for name, item in payload.items():
        value = item.get("value") if isinstance(item, dict) else item
        if isinstance(value, list):
            value = value[0] if value else None
        if value is not None:
            attrs[name] = str(value)
    return attrs


def rest_body(control: dict[str, str], reply: dict[str, str]) -> dict:
    """Attributes for rlm_rest, never xlat-expanded (values may come from users' data)."""
    body = {}
    for prefix, attrs in (("control", control), ("reply", reply)):
        for name, value in attrs.items():
            body[f"{prefix}:{name}"] = {"value": [value], "op": ":=", "do_xlat": False}
    return body


class RadiusApi:
    """WSGI: ``/radius/...`` is answered here, everything else goes on to ``fallback``."""

    def __init__(self, app: Flask, fallback):
        self.config = app.config
        self.extensions = app.extensions
        self.fallback = fallback
        self.routes = {"/radius/authorize": self.authorize,
                       "/radius/accounting": self.accounting}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if not path.startswith(PREFIX):
            return self.fallback(environ, start_response)
        handler = self.routes.get(path)
        if handler is None:
            return _respond(start_response, 404, {})
        if environ.get("REQUEST_METHOD") != "POST":
            return _respond(start_response, 405, {}, [("Allow", "POST")])
        refused = self._refusal(environ)
        if refused:
            return _respond(start_response, refused, {})
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY:
            return _respond(start_response, 413 if length > MAX_BODY else 400, {})
        try:
            attrs = attributes(json.loads(environ["wsgi.input"].read(length) or b"null"))
        except ValueError:  # bad JSON or bad UTF-8
            attrs = None
        if attrs is None:
            return _respond(start_response, 400, {})
        try:
            status, body = handler(attrs)
        except Exception:  # noqa: BLE001 - answer rlm_rest, never leave it hanging
            log.exception("radius api: %s failed", path)
            status, body = 500, {}
        return _respond(start_response, status, body)

    def _refusal(self, environ) -> int | None:
        remote = environ.get("REMOTE_ADDR")
        if not client_allowed(remote, self.config["RADIUS_ALLOWED_CLIENTS"]):
            log.warning("radius api: refused client %s", remote)
            return 403
        expected = str(self.config["RADIUS_API_TOKEN"] or "")
        if not expected or not hmac.compare_digest(presented_token(environ).encode(),
                                                   expected.encode()):
            log.warning("radius api: bad or missing token from %s", remote)
            return 401
        return None

    def _lists(self) -> Lists:
        mode = self.config["RADIUS_BLOCKED_MODE"]
        if mode not in BLOCKED_MODES:
            raise RuntimeError(f"RADIUS_BLOCKED_MODE must be one of {BLOCKED_MODES}, not {mode!r}")
        return Lists(
            warned=self.config["ENFORCEMENT_LIST_WARNED"],
            blocked=self.config["ENFORCEMENT_LIST_BLOCKED"],
            blocked_mode=mode,
        )

    def authorize(self, attrs: dict[str, str]) -> tuple[int, dict | None]:
        lists = self._lists()
        try:
            # On PostgreSQL in autocommit mode: no BEGIN and no ROLLBACK round trips around
            # the single SELECT.
            with self.extensions["ispzone.engine"].connect() as conn:
                if conn.dialect.name == "postgresql":
                    conn = conn.execution_options(isolation_level="AUTOCOMMIT")
                answer = answer_for(conn, attrs.get("User-Name", ""), today(), lists)
        except SQLAlchemyError:
            log.exception("radius authorize: database error")
            return 503, {}  # rlm_rest: fail -> reject; the NAS asks again on redial
        if answer.outcome == ACCEPT:
            return 200, rest_body(answer.control, answer.reply)
        if answer.outcome == REJECT:
            return 401, rest_body({}, answer.reply)
        return 404, {}

    def accounting(self, attrs: dict[str, str]) -> tuple[int, dict | None]:
        try:
            record = acct.parse(attrs)
        except acct.AccountingError as exc:
            # A NAS sending such records is misconfigured; no answer makes it visible there.
            log.warning("radius accounting: unusable record: %s", exc)
            return 400, {"error": str(exc)}
        try:  # one unit of work, retried on a serialization failure or deadlock
            run_in_transaction(self.extensions["ispzone.sessions"],
                               lambda session: acct.record(session, record))
        except SQLAlchemyError:
            log.exception("radius accounting: database error, the NAS will retry")
            return 503, {}
        return 204, None


def _respond(start_response, status: int, body: dict | None, headers=()):
    if body is None:
        start_response(_REASONS[status], list(headers))
        return [b""]
    data = json.dumps(body, separators=(",", ":")).encode()
    start_response(_REASONS[status], [("Content-Type", "application/json"),
                                      ("Content-Length", str(len(data))), *headers])
    return [data]
