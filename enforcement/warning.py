"""The on-screen warning at ``/warning``, its acknowledgement, and the client-zone banner.

How a warned customer gets here: the router puts their address into the list ``warned`` and
dst-nats their plain-HTTP traffic to this server (deploy/routeros/). Those requests carry a
foreign ``Host`` and any path, so :func:`capture_foreign_host` answers them with a redirect
to ``/warning`` on our own URL. The page recognises the customer by the source address
(X-Forwarded-For only from ``ENFORCEMENT_TRUSTED_PROXIES``) or by the client-zone login.
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user
from markupsafe import Markup

from billing.documents import qrplatba
from core.clock import today
from enforcement import acknowledge as ack
from enforcement.cases import CaseError
from enforcement.config import Policy
from web import i18n, security, sessions
from web.database import db
from web.door import on_refusal
from web.extensions import limiter

bp = Blueprint("enforcement", __name__)

DEFAULTS: dict = {
    # Reverse proxies (IPs or CIDRs) whose X-Forwarded-For is believed; from anyone else
    # the header is ignored. The client is the right-most address not in this list.
    "ENFORCEMENT_TRUSTED_PROXIES": (),
    # Host names of this server besides those of PUBLIC_URL / SERVER_NAME (and localhost).
    "ENFORCEMENT_OWN_HOSTS": (),
    # Redirect requests for foreign hosts (traffic dst-natted by the router) to /warning.
    # Only active when our own hosts are known (PUBLIC_URL, SERVER_NAME or the list above).
    "ENFORCEMENT_CAPTURE_FOREIGN_HOSTS": True,
}
LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1")
# Machines, not browsers, talk to these: never redirect them. (/radius/ is answered in
# front of Flask, enforcement.radius.api, and never gets here.)
NEVER_CAPTURED = ("zone.healthz",)


def init_app(app: Flask) -> None:
    security.on_foreign_host(app, capture_foreign_host)  # web.security checks the Host first
    app.context_processor(_banner_context)
    # whether to show the banner comes with the login session: no query of its own
    sessions.add_extra(BANNER_EXTRA, ack.notice_column())


# -- who is asking --------------------------------------------------------------------------


def _networks(entries) -> list:
    if isinstance(entries, str):
        entries = entries.replace(";", ",").split(",")
    return [ipaddress.ip_network(e.strip(), strict=False) for e in entries if e.strip()]


def _in(addr: str, networks: list) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in networks)


def client_ip(peer: str | None, forwarded_for: str | None, trusted) -> str | None:
    """The client's address: the TCP peer, or, when the peer is a trusted proxy, the
    right-most X-Forwarded-For entry that is not a trusted proxy (entries to its left are
    whatever the client claimed and are never believed). None when a trusted hop wrote
    something that is not an address."""
    networks = _networks(trusted)
    if not peer or not forwarded_for or not _in(peer, networks):
        return peer
    hops = [h.strip() for h in forwarded_for.split(",") if h.strip()]
    candidate = peer
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return None
        candidate = hop
        if not _in(hop, networks):
            break
    return candidate


def _request_ip() -> str | None:
    # ProxyFix (PROXY_FIX) may have replaced REMOTE_ADDR; the TCP peer is kept in "orig".
    orig = request.environ.get("werkzeug.proxy_fix.orig", {})
    peer = orig.get("REMOTE_ADDR") or request.environ.get("REMOTE_ADDR")
    return client_ip(
        peer,
        request.headers.get("X-Forwarded-For"),
        current_app.config["ENFORCEMENT_TRUSTED_PROXIES"],
    )


def _recognise() -> tuple[int, str, str | None] | None:
    """(customer_id, actor, ip): the logged-in customer first (an explicit identity), else
    the owner of the source address."""
    ip = _request_ip()
    if current_user.is_authenticated:
        return current_user.customer_id, current_user.actor, ip
    customer_id = ack.customer_for_ip(db(), ip)
    if customer_id is None:
        return None
    i18n.speak_language_of(customer_id)
    return customer_id, f"ip:{ip}", ip


# -- the pages ------------------------------------------------------------------------------


@bp.after_request
def _no_store(response):
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/warning")
def warning():
    who = _recognise()
    if who is None:
        return render_template("enforcement/unknown.html")
    info = ack.warning_info(db(), who[0], today())
    g.ispzone_customer_id = who[0]  # the announcements for this customer (zone/support.py)
    return render_template("enforcement/warning.html", info=info, qr=_qr_codes(info))


@bp.post("/warning/acknowledge")
@limiter.limit("30/minute", key_func=lambda: _request_ip() or request.remote_addr)
@on_refusal(CaseError, redirect_to="enforcement.warning", code=303, category="info",
            message=lambda _exc: _("There is no notice to acknowledge."))
def acknowledge():
    who = _recognise()
    if who is None:
        return render_template("enforcement/unknown.html"), 403
    customer_id, actor, ip = who
    info_number = request.form.get("customer_number")
    if info_number is not None and info_number != _customer_number(customer_id):
        flash(
            _("The notice you confirmed belongs to another account. Please check it again."),
            "error",
        )
        return redirect(url_for("enforcement.warning"), 303)
    config = current_app.config
    ack.acknowledge(
        db(),
        customer_id,
        ip=ip or request.remote_addr,
        actor=actor,
        policy=Policy.from_config(config),
        warned_list=config["ENFORCEMENT_LIST_WARNED"],
        default_router=config["ENFORCEMENT_DEFAULT_ROUTER"],
    )
    flash(_("Thank you. We have recorded that you have read the notice."), "success")
    return redirect(url_for("enforcement.warning"), 303)


def _customer_number(customer_id: int) -> str:
    from billing.models import Customer

    return db().get(Customer, customer_id).customer_number


def _qr_codes(info: ack.WarningInfo) -> dict[int, Markup]:
    return {i.id: Markup(qrplatba.qr_svg(i.spayd)) for i in info.invoices if i.spayd}


# -- redirected traffic ---------------------------------------------------------------------


def _host_only(host: str | None) -> str:
    host = (host or "").strip().lower().rstrip(".")
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def own_hosts(config) -> set[str]:
    """Our host names; empty when none is configured (then nothing is captured: we could
    not tell our own requests from redirected ones, nor where to send them)."""
    hosts = {_host_only(h) for h in _list(config.get("ENFORCEMENT_OWN_HOSTS"))}
    if config.get("PUBLIC_URL"):
        hosts.add(_host_only(urlsplit(config["PUBLIC_URL"]).netloc))
    if config.get("SERVER_NAME"):
        hosts.add(_host_only(config["SERVER_NAME"]))
    hosts.discard("")
    return hosts | set(LOCAL_HOSTS) if hosts else set()


def _list(value) -> list[str]:
    if not value:
        return []
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    return [v.strip() for v in value if v and v.strip()]


def _warning_url(config) -> str:
    path = url_for("enforcement.warning")
    if config.get("PUBLIC_URL"):
        parts = urlsplit(config["PUBLIC_URL"])
        return f"{parts.scheme}://{parts.netloc}{path}"
    host = config.get("SERVER_NAME") or _list(config.get("ENFORCEMENT_OWN_HOSTS"))[0]
    return f"{config.get('PREFERRED_URL_SCHEME') or 'http'}://{host}{path}"


def capture_foreign_host():
    """A request for somebody else's site reached us: it is a warned customer's browser
    redirected by the router. Send it to the warning page on our own URL."""
    config = current_app.config
    if not config["ENFORCEMENT_CAPTURE_FOREIGN_HOSTS"]:
        return None
    endpoint = request.endpoint or ""
    if endpoint.startswith(NEVER_CAPTURED):
        return None
    hosts = own_hosts(config)
    if not hosts or _host_only(request.host) in hosts:
        return None
    response = redirect(_warning_url(config), 302)
    response.headers["Cache-Control"] = "no-store"
    return response


# -- the client-zone banner -----------------------------------------------------------------


BANNER_EXTRA = "enforcement_notice"


class _LazyBanner:
    """Works only when a template asks. Whether there is anything to say came with the
    login session (``notice``; None right after login: then one small query); the debt is
    read only for the few who are warned, acknowledged or disconnected."""

    def __init__(self, customer_id: int, notice: bool | None):
        self._customer_id = customer_id
        self._notice = notice
        self._loaded = False
        self._info = None

    def _get(self):
        if not self._loaded:
            self._loaded = True
            notice = self._notice
            if notice is None:
                notice = ack.case_notice(db(), self._customer_id) is not None
            if notice:
                self._info = ack.warning_info(db(), self._customer_id, today())
        return self._info

    def __bool__(self) -> bool:
        return self._get() is not None

    def __getattr__(self, name: str):
        return getattr(self._get(), name)


def _banner_context() -> dict:
    if (
        not has_request_context()
        or request.blueprint == bp.name
        or not current_user.is_authenticated
    ):
        return {"enforcement_banner": None}
    notice = getattr(current_user, "extras", {}).get(BANNER_EXTRA)
    return {"enforcement_banner": _LazyBanner(current_user.customer_id,
                                              None if notice is None else bool(notice))}
