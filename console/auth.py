"""Who may use the console: the operator's login (server-side session, its own cookie),
the second factor, the allowed networks and the roles of each view.

Every console view carries :func:`allow` (the roles that may use it; ``admin`` always may)
or, for the few pages before login, :func:`public`; ``tests/console/test_role_matrix.py``
fails for a console route with neither.

The session is separate from customers': the console's cookie (``ispzone_console``, path
``/console``) carries a random token whose hash names an ``operator_session`` row. A
customer's client-zone or VoIP session is never an operator's, nor the reverse.
"""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from functools import wraps

from flask import abort, current_app, g, has_request_context, redirect, request, url_for
from werkzeug.wrappers import Response

from billing import operators
from billing.models import Operator, OperatorRole, OperatorSession
from console.blueprint import bp
from web.database import bookkeeping, db
from web.settings import ConfigurationError, environment

COOKIE = "ispzone_console"
ROLES = tuple(r.value for r in OperatorRole)
ALL = ROLES  # allow(*ALL): every role (pages that only read)


# -- configuration ----------------------------------------------------------------------------


def parse_networks(value: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """``CONSOLE_ALLOWED_NETWORKS``: comma-separated CIDRs (or single addresses)."""
    networks = []
    for part in (value or "").replace(";", ",").split(","):
        part = part.strip()
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ConfigurationError(
                f"CONSOLE_ALLOWED_NETWORKS: {part!r} is not a network such as 192.0.2.0/24"
            ) from None
    return tuple(networks)


def parse_required_roles(value: str, config) -> frozenset[str]:
    value = (value or "").strip().lower()
    if value == "auto":
        return frozenset({"admin", "billing"}) if environment(config) == "production" else frozenset()
    roles = frozenset(p.strip() for p in value.split(",") if p.strip())
    if unknown := roles - set(ROLES):
        raise ConfigurationError(
            f"CONSOLE_TOTP_REQUIRED: unknown role(s) {', '.join(sorted(unknown))} "
            f"(use 'auto', '' or some of {', '.join(ROLES)})")
    return roles


def configure(app) -> None:
    app.extensions["ispzone.console_networks"] = parse_networks(
        app.config["CONSOLE_ALLOWED_NETWORKS"])
    app.extensions["ispzone.console_totp_roles"] = parse_required_roles(
        app.config["CONSOLE_TOTP_REQUIRED"], app.config)


def totp_required(operator: Operator) -> bool:
    return operator.role in current_app.extensions["ispzone.console_totp_roles"]


def address_allowed(address: str | None) -> bool:
    networks = current_app.extensions["ispzone.console_networks"]
    if not networks:
        return True
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in net for net in networks if net.version == ip.version)


@bp.before_request
def _only_allowed_networks():
    """Every /console URL, the login page included: 403 from elsewhere."""
    if not address_allowed(request.remote_addr):
        abort(403)


# -- the session --------------------------------------------------------------------------------


def _lifetimes() -> operators.Lifetimes:
    cfg = current_app.config
    return operators.Lifetimes(idle=timedelta(minutes=int(cfg["CONSOLE_SESSION_IDLE_MINUTES"])),
                               absolute=timedelta(hours=int(cfg["CONSOLE_SESSION_MAX_HOURS"])))


def _load() -> tuple[OperatorSession, Operator] | None:
    if "console_login" not in g:
        answered = g.get("console_cookie")  # a token this request has just set (or "")
        token = request.cookies.get(COOKIE) if answered is None else answered
        g.console_login = (operators.load_session(db(), token, _lifetimes(), write=bookkeeping)
                           if token else None)
        if token and g.console_login is None and answered is None:
            g.console_cookie = ""  # forget a dead token
    return g.console_login


def session_row() -> OperatorSession | None:
    found = _load()
    return found[0] if found else None


def current_operator() -> Operator | None:
    """The operator logged in to the console with every factor this request needs, or None
    (also on a page before the second factor)."""
    found = _load()
    if found is None or not found[0].second_factor:
        return None
    return found[1]


def pending_operator() -> Operator | None:
    """The operator whose password was right but whose second factor is still due."""
    found = _load()
    if found is None or found[0].second_factor:
        return None
    return found[1]


def actor() -> str:
    """The audit actor of this request: ``operator:<login>``."""
    operator = current_operator() or pending_operator()
    if operator is None:
        raise RuntimeError("actor() outside an operator's request")
    return operator.actor


def may(*roles: str) -> bool:
    """Whether the current operator has one of ``roles`` (admin always has); for templates
    (``may("billing")``) to hide buttons a role cannot use. Also takes one set/list."""
    if len(roles) == 1 and not isinstance(roles[0], str):
        roles = tuple(roles[0])
    operator = current_operator()
    return operator is not None and (operator.role == "admin" or operator.role in roles)


def set_token(token: str) -> None:
    """Answer this request with the console cookie naming ``token`` ("" deletes it)."""
    g.console_cookie = token
    g.pop("console_login", None)


@bp.after_app_request
def _write_cookie(response: Response) -> Response:
    token = g.pop("console_cookie", None)
    if token is None:
        return response
    if token == "":
        response.delete_cookie(COOKIE, path="/console")
    else:
        response.set_cookie(COOKIE, token, path="/console", httponly=True, samesite="Strict",
                            secure=request.is_secure)
    return response


# -- the gate -------------------------------------------------------------------------------------


def _gate(allowed: frozenset[str], *, enrolling: bool = False):
    """None when the view may run; else the answer (login, second factor, enrolment, 403)."""
    found = _load()
    if found is None:
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("console.login", next=target))
    row, operator = found
    if operator.totp_enabled and not row.second_factor:
        return redirect(url_for("console.login_code"))
    if not operator.totp_enabled and (not row.second_factor or totp_required(operator)):
        if not enrolling:
            return redirect(url_for("console.enrol"))
    if operator.role not in allowed:
        abort(403)
    return None


def allow(*roles: str, _enrolling: bool = False):
    """The roles that may use the decorated console view (``admin`` always may). Goes under
    ``@bp.route``. Anonymous users (and customers) are sent to the console's login; an
    operator whose role is not allowed gets 403."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"allow(): roles must be some of {ROLES}, got {roles!r}")
    allowed = frozenset(roles) | {OperatorRole.ADMIN.value}

    def decorate(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            answer = _gate(allowed, enrolling=_enrolling)
            if answer is not None:
                return answer
            return view(*args, **kwargs)

        wrapper.console_roles = allowed
        return wrapper

    return decorate


def public(view):
    """A console page reachable without logging in (the login pages); the only alternative
    to :func:`allow`."""
    view.console_public = True
    return view


@bp.app_context_processor
def _console_context() -> dict:
    # also runs for templates rendered outside a request (e-mails): nothing to add there
    if not has_request_context() or request.blueprint != "console":
        return {}
    return {"current_operator": current_operator(), "may": may,
            "pending_operator": pending_operator,
            "url_endpoints": lambda: current_app.view_functions.keys()}


@bp.errorhandler(403)
def _forbidden(_exc):
    from flask import render_template

    if not address_allowed(request.remote_addr):  # tell nothing about the console
        return "Forbidden", 403, {"Content-Type": "text/plain; charset=utf-8"}
    return render_template("console/forbidden.html"), 403
