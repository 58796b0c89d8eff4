"""VoIP zone login: the last digits of an active number and the line's VoIP password.

Independent of the client zone: the server-side session row has kind ``voip`` and the
line's service id, and its token lives under its own key in the cookie session, so that
logging in to (or out of) one zone does not touch the other.

Only 10^N suffixes exist, so failures are throttled per client IP, per suffix and in all
(suffix spraying from many addresses). An unknown suffix and a wrong password get the same
answer and count the same. Spraying must not lock the owners out: a browser that logged in to
a line before holds a signed device cookie (web/throttle.py, as the client zone does) and is
counted on its own instead of per suffix, and the limit over all suffixes slows unknown
browsers down (a growing, capped delay) instead of refusing them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import wraps

from flask import (
    abort,
    current_app,
    flash,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from limits import parse_many
from sqlalchemy import select

from billing.models import Customer, Service, ServiceKind, SessionKind, UserSession
from core.clock import today
from voip.blueprint import bp
from voip.forms import VoipLoginForm
from voip.lines import LoginOutcome, authenticate
from web import sessions, throttle
from web.database import db
from web.extensions import limiter
from web.redirects import safe_next

TOKEN_KEY = "voip_token"
VIA_ZONE_KEY = "voip_via_zone"  # the VoIP session was entered from the client zone


@dataclass
class VoipUser:
    """The logged-in line (and its customer) in the VoIP zone."""

    service: Service
    customer: Customer
    row: UserSession
    token: str

    @property
    def actor(self) -> str:
        return f"voip:{self.service.phone_number}"


def current() -> VoipUser | None:
    """The VoIP login of this request (loaded once), or None."""
    if "voip_user" not in g:
        g.voip_user = _load()
    return g.voip_user


def _load() -> VoipUser | None:
    token = session.get(TOKEN_KEY)
    found = sessions.load(token, kind=SessionKind.VOIP)
    if found is None:
        session.pop(TOKEN_KEY, None)
        return None
    row, customer, _extras = found
    service = db().get(Service, row.service_id) if row.service_id else None
    if service is None or service.kind != ServiceKind.VOIP or not service.is_active(today()):
        sessions.end(token)  # committed by the web door with the request
        session.pop(TOKEN_KEY, None)
        return None
    return VoipUser(service, customer, row, token)


def voip_login_required(view):
    @wraps(view)
    def wrapper(*args, **kwargs):
        if current() is None and not _enter_from_zone():
            return redirect(url_for("voip.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapper


@bp.app_context_processor
def _voip_user() -> dict:
    return {"voip_user": g.get("voip_user")}


def _safe_next(target: str | None) -> str:
    """Only pages of this zone: never an open redirect (web.redirects.safe_next)."""
    return safe_next(target, "voip.index", prefix="/voip/")


# -- throttling -----------------------------------------------------------------------------

SCOPE = "voip"


def _known_device(suffix: str) -> str | None:
    """The nonce of this browser's device cookie when it logged in to a line ending in
    ``suffix`` before (set by :func:`_start`), else None."""
    found = throttle.remembered(SCOPE)
    if found is None or suffix == "invalid":
        return None
    number, nonce = found
    return nonce if number.endswith(suffix) else None


def _counters(suffix: str, device: str | None) -> list[tuple[object, tuple[str, ...]]]:
    """The refusing counters: the client IP, and the suffix - or, for a known browser, that
    browser on that suffix, so that spraying a suffix does not lock its owner out."""
    cfg = current_app.config
    prefix = cfg.get("RATELIMIT_KEY_PREFIX") or "ispzone"
    ip = request.remote_addr or "-"
    pairs = [(cfg["VOIP_LOGIN_IP_FAILURES"], (prefix, "voip-login-ip", ip))]
    if device:
        pairs.append((cfg["VOIP_LOGIN_DEVICE_FAILURES"], (prefix, "voip-login-device", suffix, device)))
    else:
        pairs.append((cfg["VOIP_LOGIN_SUFFIX_FAILURES"], (prefix, "voip-login-suffix", suffix)))
    return [(item, ids) for limit, ids in pairs for item in parse_many(limit)]


def _global_ids() -> tuple[str, str]:
    return (current_app.config.get("RATELIMIT_KEY_PREFIX") or "ispzone", "voip-login-global")


def _may_try(suffix: str, device: str | None) -> bool:
    return all(limiter.limiter.test(item, *ids) for item, ids in _counters(suffix, device))


def _slow_down(device: str | None) -> None:
    """Beyond the global limit every unknown browser waits (growing, capped); known
    browsers do not. Nobody is refused for what others did."""
    if device:
        return
    cfg = current_app.config
    delay = throttle.slowdown(cfg["VOIP_LOGIN_GLOBAL_FAILURES"], *_global_ids(),
                              base=float(cfg["VOIP_LOGIN_GLOBAL_DELAY"]),
                              cap=float(cfg["VOIP_LOGIN_GLOBAL_DELAY_MAX"]))
    if delay > 0:
        throttle.sleep(delay)


def _failed(suffix: str, device: str | None, *, only_ip: bool = False) -> None:
    for item, ids in _counters(suffix, device):
        if ids[1] == "voip-login-ip" or not only_ip:
            limiter.limiter.hit(item, *ids)
    if not only_ip:
        throttle.count_toward_slowdown(current_app.config["VOIP_LOGIN_GLOBAL_FAILURES"],
                                       *_global_ids())


def _suffix_key(raw: str) -> str:
    """The suffix as typed, when it is one; every malformed input shares one counter."""
    n = current_app.config["VOIP_SUFFIX_LENGTH"]
    raw = raw.strip()
    return raw if raw.isdigit() and len(raw) == n else "invalid"


# -- views ----------------------------------------------------------------------------------


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current() is not None:
        return redirect(url_for("voip.index"))
    form = VoipLoginForm()
    ask_number = bool(form.number.data)
    if form.validate_on_submit():
        suffix = _suffix_key(form.suffix.data)
        device = _known_device(suffix)
        if not _may_try(suffix, device):
            flash(_("Too many failed attempts. Please wait a while and try again."), "error")
            return _page(form, ask_number), 429
        _slow_down(device)
        result = (
            authenticate(db(), suffix, form.password.data, today(), form.number.data or None)
            if suffix != "invalid"
            else None
        )
        if result is not None and result.outcome is LoginOutcome.NEEDS_NUMBER:
            # the password was not tried; the shared suffix costs the IP one attempt
            _failed(suffix, device, only_ip=True)
            flash(_("Several phone numbers end with these digits. Enter your full phone number."), "info")
            return _page(form, True), 200
        if result is None or result.outcome is LoginOutcome.FAILED:
            _failed(suffix, device)
            flash(_("Wrong phone number or password."), "error")
            return _page(form, ask_number), 200
        return _start(result.service)
    return _page(form, ask_number)


def _page(form: VoipLoginForm, ask_number: bool):
    form.password.data = None
    return render_template("voip/login.html", form=form, ask_number=ask_number)


def _start(service: Service):
    """A fresh server-side session; the client zone's login in the cookie stays as it was."""
    session.pop(VIA_ZONE_KEY, None)
    sessions.end(session.pop(TOKEN_KEY, None))
    token = sessions.start(service.customer, kind=SessionKind.VOIP, service_id=service.id)
    session[TOKEN_KEY] = token
    response = make_response(redirect(_safe_next(request.args.get("next"))))
    throttle.remember_device(response, SCOPE, service.phone_number)
    return response


@bp.post("/enter/<int:service_id>")
def enter(service_id: int):
    """A subscriber logged in to the client zone enters the VoIP zone of one of their own
    active lines without a second login (issue 16). It starts a VoIP session of its own
    (kind ``voip``, as the suffix login does); the client-zone session is not touched, and
    logging out of the client zone ends this one too (VIA_ZONE_KEY). CSRF-protected POST."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return redirect(url_for("zone.login", next=url_for("zone.info")))
    service = db().get(Service, service_id)
    if (
        service is None
        or service.customer_id != current_user.customer_id
        or service.kind != ServiceKind.VOIP
        or not service.is_active(today())
    ):
        abort(404)
    _begin(service, via_zone=True)
    return redirect(url_for("voip.index"))


def _zone_line() -> Service | None:
    """The one active VoIP line of the subscriber logged in to the client zone (None when
    nobody is, or they have none or several: then they choose, ``POST /voip/enter/<id>``)."""
    from flask_login import current_user

    if not current_user.is_authenticated:
        return None
    on = today()
    found = [
        s for s in db().scalars(
            select(Service).where(Service.customer_id == current_user.customer_id,
                                  Service.kind == ServiceKind.VOIP)
        )
        if s.is_active(on)
    ]
    return found[0] if len(found) == 1 else None


def _enter_from_zone() -> bool:
    """A subscriber logged in to the client zone opens a VoIP page: they enter the VoIP zone
    of their (one) line without a second login, in a VoIP session of its own."""
    service = _zone_line()
    if service is None:
        return False
    _begin(service, via_zone=True)
    g.voip_user = _load()
    return g.voip_user is not None


def _begin(service: Service, *, via_zone: bool) -> None:
    session.pop(VIA_ZONE_KEY, None)
    sessions.end(session.pop(TOKEN_KEY, None))
    session[TOKEN_KEY] = sessions.start(service.customer, kind=SessionKind.VOIP,
                                        service_id=service.id)
    if via_zone:
        session[VIA_ZONE_KEY] = True
    db().flush()


def end_zone_entered() -> None:
    """Called when the client zone logs out: end a VoIP session entered from it."""
    if session.pop(VIA_ZONE_KEY, None):
        sessions.end(session.pop(TOKEN_KEY, None))
        g.pop("voip_user", None)


@bp.post("/logout")
def logout():
    session.pop(VIA_ZONE_KEY, None)
    token = session.pop(TOKEN_KEY, None)
    if token:
        sessions.end(token)
    g.pop("voip_user", None)
    flash(_("You have been logged out of the VoIP zone."), "info")
    return redirect(url_for("voip.login"))
