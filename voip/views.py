"""VoIP zone views (thin: forms in, one domain call, redirect).

The web door (web.door) commits each request's unit of work and answers refusals: the
views declare only where a refusal sends the customer (:func:`web.door.on_refusal`)."""

from __future__ import annotations

import secrets
from decimal import ROUND_HALF_UP, Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from billing.documents import qrplatba
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import states_for
from billing.models import Invoice
from core.clock import today
from voip import lines, topups
from voip.auth import current, voip_login_required
from voip.blueprint import bp
from voip.forms import ThresholdForm, TopUpConfirmForm
from voip.models import TopUp
from voip.tariffs import (
    InvalidNumber,
    country_code,
    english_destinations,
    is_emergency,
    minutes_for,
    normalize_number,
    quote,
)
from web import parsing
from web.database import db
from web.door import on_refusal
from web.formatting import format_money
from web.i18n import current_lang

CALLS_PER_PAGE = 50


def price(value: Decimal | None) -> str:
    """A unit price rounded for reading, 2 decimals: ``1,20 Kč`` (the exact value: :func:`rate`)."""
    if value is None:
        return ""
    return format_money(Decimal(value).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


def _destination_name(q) -> str:
    """The destination in the page's language: the price list's optional English name."""
    english = getattr(q.rate, "destination_en", None) if q.rate is not None else None
    return english if current_lang() == "en" and english else q.destination


def rate(value: Decimal | None) -> str:
    """A unit price with 2 to 4 decimals: ``0,4950 Kč`` / ``1,50 Kč``."""
    if value is None:
        return ""
    value = Decimal(value)
    text = f"{value.quantize(Decimal('0.0001')):f}".rstrip("0")
    whole, _sep, frac = text.partition(".")
    frac = frac.ljust(2, "0")
    if current_lang() == "en":
        return f"CZK\u00a0{whole}.{frac}"
    return f"{whole},{frac}\u00a0Kč"


def duration(seconds: int | None) -> str:
    """Readable, never mistaken for hours: 5831 -> ``1 h 37 min``, 125 -> ``2 min 5 s``,
    45 -> ``45 s`` (no-break spaces)."""
    seconds = int(seconds or 0)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        text = f"{hours} h {minutes} min"
    elif minutes:
        text = f"{minutes} min {secs} s" if secs else f"{minutes} min"
    else:
        text = f"{secs} s"
    return text.replace(" ", "\u00a0")


def dialled(number: str | None) -> str:
    """A called number grouped for reading: ``420601234567`` -> ``+420 601 234 567``,
    ``0049301234567`` -> ``+49 301 234 567``, ``+12125550100`` -> ``+1 212 555 0100``,
    ``00421911617177`` -> ``+421 911 617 177`` (the country code by its ITU length); anything
    else as it is."""
    raw = (number or "").strip()
    digits = "".join(c for c in raw if c.isdigit())
    if not digits or len(digits) < 3 or not raw.lstrip("+").isdigit():
        return raw
    if raw.startswith("+"):
        pass
    elif digits.startswith("00"):
        digits = digits[2:]
    elif len(digits) == 9:
        return "\u00a0".join((digits[:3], digits[3:6], digits[6:]))
    elif not digits.startswith("420") or len(digits) != 12:
        return raw
    if digits.startswith("420") and len(digits) == 12:
        return "\u00a0".join(("+420", digits[3:6], digits[6:9], digits[9:]))
    country = country_code(digits)
    rest = digits[len(country):]
    if country == "1" and len(rest) == 10:  # the North American plan: 212 555 0100
        groups = [rest[:3], rest[3:6], rest[6:]]
    else:
        groups = [rest[max(i - 3, 0):i] for i in range(len(rest), 0, -3)][::-1]
    return "\u00a0".join([f"+{country}", *groups])


@bp.context_processor
def helpers() -> dict:
    return {"rate": rate, "price": price, "duration": duration, "dialled": dialled}


@bp.get("/")
@voip_login_required
def index():
    user = current()
    page = parsing.page_number(request.args.get("page"))
    calls, total = lines.calls_page(db(), user.service.id, page, CALLS_PER_PAGE)
    recent = db().scalars(
        select(TopUp).where(TopUp.service_id == user.service.id).order_by(TopUp.created_at.desc()).limit(24)
    ).all()
    invoices = {i.id: i for i in db().scalars(select(Invoice).where(Invoice.id.in_([t.invoice_id for t in recent])))}
    states = {s.invoice.id: s for s in states_for(db(), list(invoices.values()), today())}
    line = lines.peek(db(), user.service.id)
    threshold = line.low_credit_threshold
    form = ThresholdForm(threshold="" if threshold is None else f"{threshold:f}".replace(".", ","))
    return render_template(
        "voip/index.html",
        line=line,
        calls=calls,
        page=page,
        pages=max((total + CALLS_PER_PAGE - 1) // CALLS_PER_PAGE, 1),
        months=lines.monthly_totals(db(), user.service.id, today()),
        topups=[(t, states.get(t.invoice_id)) for t in recent],
        form=form,
        destinations_en=english_destinations(db(), calls) if current_lang() == "en" else {},
    )


@bp.post("/threshold")
@voip_login_required
@on_refusal(lines.LineError, redirect_to="voip.index",
            message=lambda _exc: _("Enter the amount in CZK, e.g. 50 or 49,50."))
@on_refusal(parsing.ParseError, redirect_to="voip.index",
            message=lambda _exc: _("Enter the amount in CZK, e.g. 50 or 49,50."))
def threshold():
    user = current()
    form = ThresholdForm()
    if not form.validate_on_submit():
        abort(400)
    raw = (form.threshold.data or "").strip()
    value = parsing.optional(raw, parsing.amount)
    lines.set_threshold(db(), user.service, value, actor=user.actor, ip=request.remote_addr)
    if value is None:
        flash(_("The low-credit warning is switched off."), "success")
    else:
        flash(_("We will e-mail you when the credit falls below the amount you set."), "success")
    return redirect(url_for("voip.index"))


@bp.get("/tariff")
def tariff():
    """The price of a call: public (the price list is), like the old zone's lookup on the
    login page; what the line's credit buys only for a logged-in line."""
    user = current()
    raw = request.args.get("number", "").strip()[:40]
    found, error, costs, minutes, emergency = None, None, [], None, False
    credit = lines.peek(db(), user.service.id).credit if user is not None else None
    if raw:
        try:
            found = quote(db(), raw, today())
        except InvalidNumber:
            error = _("This is not a phone number we understand. Enter it e.g. as +49 30 1234567, 0049301234567 or 601 234 567.")
        else:
            emergency = is_emergency(normalize_number(raw))
            if found is None and not emergency:
                error = _("We have no price for calls to this number; such calls are not possible from your line.")
            elif found is not None:
                costs = [(m, found.cost(m * 60)) for m in (1, 5, 10)]
                minutes = minutes_for(credit, found) if credit is not None else None
    return render_template(
        "voip/tariff.html",
        emergency=emergency,
        destination=_destination_name(found) if found else None,
        number=raw,
        quote=found,
        error=error,
        costs=costs,
        minutes=minutes,
        credit=credit,
    )


def _coupon(raw: str | None) -> Decimal | None:
    try:
        value = parsing.amount(raw)
    except parsing.ParseError:
        return None
    coupons = current_app.config["VOIP_COUPONS"]
    return value if value in coupons else None


def _cap_state() -> topups.CapState:
    return topups.cap_state(db(), current().service, current_app.config["VOIP_TOPUP_CAP"])


@bp.get("/topup")
@voip_login_required
def topup():
    return render_template(
        "voip/topup.html",
        coupons=current_app.config["VOIP_COUPONS"],
        cap=_cap_state(),
        office_phone=_support_phone(current_app.config),
    )


def _support_phone(config) -> str:
    """The number the page's footer gives (SUPPORT_PHONE), else the supplier's phone."""
    return config.get("SUPPORT_PHONE") or Supplier.from_config(config).phone or ""


def _cap_message(exc: topups.CapExceeded) -> str:
    config = current_app.config
    return _(
        "This top-up would exceed your monthly limit of %(cap)s. This month you can still top up %(remaining)s. "
        "To raise the limit, write to %(email)s or call %(phone)s.",
        cap=format_money(exc.cap),
        remaining=format_money(exc.remaining),
        email=config.get("SUPPORT_EMAIL") or config["OPERATOR_EMAIL"],
        phone=_support_phone(config),
    )


@bp.route("/topup/confirm", methods=["GET", "POST"])
@voip_login_required
@on_refusal(topups.CapExceeded, redirect_to="voip.topup", message=_cap_message)
@on_refusal(topups.TopUpError,  # a key or coupon the form never offered: the refused page
            message=lambda _exc: _("This top-up cannot be made. Please choose a coupon again."))
def topup_confirm():
    if request.method == "GET":
        amount = _coupon(request.args.get("amount"))
        if amount is None:
            flash(_("Choose one of the offered coupons."), "error")
            return redirect(url_for("voip.topup"))
        cap = _cap_state()
        if amount > cap.remaining:  # never offer "Yes, top up" for what would be refused
            flash(_cap_message(topups.CapExceeded(cap.cap, cap.spent, amount)), "error")
            return redirect(url_for("voip.topup"))
        # a one-time key: the same confirmation submitted twice makes one top-up
        form = TopUpConfirmForm(amount=str(amount), request_key=secrets.token_urlsafe(24))
        return render_template("voip/topup_confirm.html", form=form, amount=amount, cap=cap)
    form = TopUpConfirmForm()
    amount = _coupon(form.amount.data)
    if not form.validate_on_submit() or amount is None:
        abort(400)
    return _top_up(amount, form.request_key.data)


def _top_up(amount: Decimal, key: str):
    """One unit of work (the door commits it): the line's row is locked first, so
    concurrent top-ups of a line queue up and the cap holds (voip.topups.top_up); on SQLite
    the door took the write lock when the request began (web.database)."""
    user = current()
    config = current_app.config
    service_id = user.service.id
    try:
        with db().begin_nested():  # a savepoint: a raced key is undone alone
            done = topups.top_up(
                db(),
                service_id,
                amount,
                key,
                actor=user.actor,
                ip=request.remote_addr,
                cap_default=config["VOIP_TOPUP_CAP"],
                supplier=Supplier.from_config(config),
                coupons=config["VOIP_COUPONS"],
                vat_rate=config["VOIP_TOPUP_VAT_RATE"],
                due_days=config["VOIP_TOPUP_DUE_DAYS"],
            )
    except IntegrityError:  # the same confirmation raced itself: show the one that won
        done = topups.find(db(), key)
        if done is None:
            raise
    if done.service_id != service_id:
        abort(400)
    return redirect(url_for("voip.topup_done", topup_id=done.id))


@bp.get("/topup/<int:topup_id>")
@voip_login_required
def topup_done(topup_id: int):
    done = db().get(TopUp, topup_id)
    if done is None or done.service_id != current().service.id:
        abort(404)
    invoice = db().get(Invoice, done.invoice_id) if done.invoice_id else None
    state = states_for(db(), [invoice], today())[0] if invoice else None
    qr = None
    if state is not None and state.is_open:
        try:
            spayd = qrplatba.spayd_for_invoice(invoice, state.open_amount)
        except qrplatba.QrPlatbaError:
            spayd = None
        qr = Markup(qrplatba.qr_svg(spayd)) if spayd else None
    return render_template(
        "voip/topup_done.html",
        topup=done,
        invoice=invoice,
        state=state,
        qr=qr,
        line=lines.peek(db(), done.service_id),
    )


def init_app(app) -> None:
    """The package's one door into the Flask ``app``: the settings, the blueprint (these
    views and :mod:`voip.auth`), the ``ispzone voip`` commands and the demo step."""
    from voip import cli, config, demo
    from web import settings

    settings.apply(app, config.DEFAULTS)
    app.register_blueprint(bp)
    cli.init_app(app)
    app.extensions.setdefault("ispzone.demo_hooks", []).append(demo.load)


# -- call authorization over HTTP (issue 15 item 9; docs/voip-agi.md) ------------------------

_AUTHORIZER = None


@bp.get("/authorize")
def authorize_call():
    """The FastAGI answer for switches that speak HTTP: ``GET /voip/authorize?caller=...&
    destination=...`` with ``Authorization: Bearer <VOIP_AUTHORIZE_TOKEN>`` -> JSON
    ``{"allowed", "seconds", "reason", "credit", "destination"}``. Without the setting the
    endpoint does not exist (404); a wrong token is 403."""
    import hmac

    from voip.authorize import Authorizer

    global _AUTHORIZER
    token = current_app.config.get("VOIP_AUTHORIZE_TOKEN")
    if not token:
        abort(404)
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        abort(403)
    if _AUTHORIZER is None:
        _AUTHORIZER = Authorizer(int(current_app.config.get("VOIP_AGI_MAX_SECONDS", 4 * 3600)))
    decision = _AUTHORIZER.authorize(db(), request.args.get("caller", ""),
                                     request.args.get("destination", ""))
    response = current_app.json.response(decision.as_dict())
    response.headers["Cache-Control"] = "no-store"
    return response
