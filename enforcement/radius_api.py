"""FreeRADIUS rlm_rest answers: ``POST /radius/authorize`` and ``POST /radius/accounting``.

Callers are FreeRADIUS servers only: the request must come from an address in
``RADIUS_ALLOWED_CLIENTS`` (else 403) and carry the shared ``RADIUS_API_TOKEN`` as
``Authorization: Bearer <token>`` or ``X-Ispzone-Token`` (else 401). With no token set the
endpoints refuse everyone. CSRF does not apply (no browser, no cookie session).

Status codes follow rlm_rest (docs/radius.md): authorize 200 = go on with pap/chap,
401 = reject, 404 = notfound (the site rejects); accounting 204 = recorded, 503 = database
trouble, so FreeRADIUS sends no Accounting-Response and the NAS retries.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from functools import lru_cache

from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.exc import SQLAlchemyError

from billing.clock import today
from enforcement import accounting as acct
from enforcement.authorize import ACCEPT, BLOCKED_MODES, REJECT, Lists, answer_for
from web.database import db, engine
from web.extensions import csrf, limiter

log = logging.getLogger(__name__)

bp = Blueprint("radius", __name__, url_prefix="/radius")

DEFAULTS: dict = {
    # the shared secret FreeRADIUS sends (letters, digits, "-" and "_"); empty = refuse all
    "RADIUS_API_TOKEN": "",
    # addresses / prefixes of the FreeRADIUS servers, comma separated
    "RADIUS_ALLOWED_CLIENTS": "127.0.0.1,::1",
    # a disconnected customer: "walled-garden" (accept, address list "blocked") or "reject"
    "RADIUS_BLOCKED_MODE": "walled-garden",
}


@limiter.request_filter
def _not_rate_limited() -> bool:
    """FreeRADIUS is not a browser: throttling it would turn customers away at dial-in (and
    the filter spares the hot path the limiter's per-request work). Callers are already
    restricted to RADIUS_ALLOWED_CLIENTS."""
    return request.blueprint == "radius"


@lru_cache(maxsize=8)
def _networks(spec: str) -> tuple:
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()
    )


def _client_allowed(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in _networks(current_app.config["RADIUS_ALLOWED_CLIENTS"]))


def _presented_token() -> str:
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer ":
        return auth[7:].strip()
    return request.headers.get("X-Ispzone-Token", "").strip()


def _refusal() -> Response | None:
    """401/403 with an empty JSON body (rlm_rest parses a 401 body; there is nothing in it)."""
    if not _client_allowed(request.remote_addr):
        log.warning("radius api: refused client %s", request.remote_addr)
        return _json({}, 403)
    expected = str(current_app.config["RADIUS_API_TOKEN"] or "")
    if not expected or not hmac.compare_digest(_presented_token().encode(), expected.encode()):
        log.warning("radius api: bad or missing token from %s", request.remote_addr)
        return _json({}, 401)
    return None


def _json(body: dict, status: int) -> Response:
    response = jsonify(body)
    response.status_code = status
    return response


def _attributes() -> dict[str, str] | None:
    """rlm_rest's JSON body -> {attribute name: first value as text}."""
    payload = request.get_json(silent=True)
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


def _rest_body(control: dict[str, str], reply: dict[str, str]) -> dict:
    """Attributes for rlm_rest, never xlat-expanded (values may come from users' data)."""
    body = {}
    for prefix, attrs in (("control", control), ("reply", reply)):
        for name, value in attrs.items():
            body[f"{prefix}:{name}"] = {"value": [value], "op": ":=", "do_xlat": False}
    return body


def _lists() -> Lists:
    mode = current_app.config["RADIUS_BLOCKED_MODE"]
    if mode not in BLOCKED_MODES:
        raise RuntimeError(f"RADIUS_BLOCKED_MODE must be one of {BLOCKED_MODES}, not {mode!r}")
    return Lists(
        warned=current_app.config["ENFORCEMENT_LIST_WARNED"],
        blocked=current_app.config["ENFORCEMENT_LIST_BLOCKED"],
        blocked_mode=mode,
    )


def _read_connection():
    """A pooled connection for one read. On PostgreSQL in autocommit mode: no BEGIN and no
    ROLLBACK round trips around the single SELECT (authorize is the hot path)."""
    conn = engine().connect()
    if conn.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


@bp.before_request
def _check_caller():
    """Both endpoints: refuse unknown callers, then parse rlm_rest's JSON once."""
    refused = _refusal()
    if refused is not None:
        return refused
    attrs = _attributes()
    if attrs is None:
        return _json({}, 400)
    g.radius_attrs = attrs
    return None


@bp.post("/authorize", endpoint="authorize")
@csrf.exempt
def authorize():
    attrs = g.radius_attrs
    try:
        with _read_connection() as conn:
            answer = answer_for(conn, attrs.get("User-Name", ""), today(), _lists())
    except SQLAlchemyError:
        log.exception("radius authorize: database error")
        return _json({}, 503)  # rlm_rest: fail -> reject; the NAS asks again on redial
    if answer.outcome == ACCEPT:
        return _json(_rest_body(answer.control, answer.reply), 200)
    if answer.outcome == REJECT:
        return _json(_rest_body({}, answer.reply), 401)
    return _json({}, 404)


@bp.post("/accounting", endpoint="accounting")
@csrf.exempt
def accounting():
    attrs = g.radius_attrs
    try:
        record = acct.parse(attrs)
    except acct.AccountingError as exc:
        # A NAS sending such records is misconfigured; no answer makes it visible there.
        log.warning("radius accounting: unusable record: %s", exc)
        return _json({"error": str(exc)}, 400)
    session = db()
    try:
        acct.record(session, record)
        session.commit()
    except SQLAlchemyError:
        session.rollback()
        log.exception("radius accounting: database error, the NAS will retry")
        return _json({}, 503)
    return Response(status=204)
