"""The console's login: password, then the TOTP code (or a recovery code); enrolment of the
second factor (QR code, recovery codes shown once); logout.

Throttled as the client zone is (web/throttle.py): failed logins per client IP, per login
(a browser that logged in before counts on its own, so guessing does not lock the operator
out), and wrong second-factor codes per operator (``CONSOLE_TOTP_FAILURES``)."""

from __future__ import annotations

import segno
from flask import current_app, flash, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from limits import parse_many

from billing import operators
from console import auth
from console.auth import allow, public
from console.blueprint import bp
from console.forms import CodeForm, EnrolForm, LoginForm
from core import audit
from web import throttle
from web.database import db
from web.extensions import limiter
from web.redirects import safe_next

SCOPE = "console"


def _next() -> str:
    return safe_next(request.args.get("next"), "console.index", prefix="/console/")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"], deduct_when=throttle.only_failures)
@public
def login():
    if auth.current_operator() is not None:
        return redirect(url_for("console.index"))
    form = LoginForm()
    if form.validate_on_submit():
        login_name = form.login.data.strip().lower()[:64]
        if not throttle.may_try(SCOPE, login_name):
            flash(_("Too many failed attempts for this login. Try again later."), "error")
            return render_template("console/login.html", form=form), 429
        operator = operators.authenticate(db(), login_name, form.password.data)
        if operator is None:
            throttle.failed(SCOPE, login_name)
            flash(_("Wrong login or password."), "error")
            return render_template("console/login.html", form=form), 200
        operators.end_session(db(), request.cookies.get(auth.COOKIE))
        full = not operator.totp_enabled and not auth.totp_required(operator)
        token = operators.start_session(db(), operator, second_factor=full,
                                        ip=request.remote_addr,
                                        user_agent=request.user_agent.string)
        auth.set_token(token)
        if full:
            audit.record(db(), "operator.login", actor=operator.actor, ip=request.remote_addr)
            target = _next()
        elif operator.totp_enabled:
            target = url_for("console.login_code", next=request.args.get("next"))
        else:
            target = url_for("console.enrol")
        response = make_response(redirect(target))
        throttle.remember_device(response, SCOPE, login_name)
        return response
    form.password.data = None
    return render_template("console/login.html", form=form)


def _code_counters(login_name: str):
    prefix = current_app.config.get("RATELIMIT_KEY_PREFIX") or "ispzone"
    return [(item, (prefix, "console-totp-fail", login_name))
            for item in parse_many(current_app.config["CONSOLE_TOTP_FAILURES"])]


def code_may_try(login_name: str) -> bool:
    return all(limiter.limiter.test(item, *ids) for item, ids in _code_counters(login_name))


def code_failed(login_name: str) -> None:
    for item, ids in _code_counters(login_name):
        limiter.limiter.hit(item, *ids)


@bp.route("/login/code", methods=["GET", "POST"])
@public
def login_code():
    """The second factor of a login whose password was right."""
    if auth.current_operator() is not None:
        return redirect(url_for("console.index"))
    operator = auth.pending_operator()
    if operator is None or not operator.totp_enabled:
        return redirect(url_for("console.login"))
    form = CodeForm()
    if form.validate_on_submit():
        if not code_may_try(operator.login):
            flash(_("Too many wrong codes. Wait a while and try again."), "error")
            return render_template("console/login_code.html", form=form), 429
        if not operators.verify_second_factor(db(), operator, form.code.data,
                                              ip=request.remote_addr):
            code_failed(operator.login)
            flash(_("The code is wrong or was used already."), "error")
            form.code.data = None
            return render_template("console/login_code.html", form=form), 200
        auth.set_token(operators.pass_second_factor(db(), auth.session_row()))
        audit.record(db(), "operator.login", actor=operator.actor, ip=request.remote_addr,
                     details={"second_factor": True})
        return redirect(_next())
    return render_template("console/login_code.html", form=form)


@bp.post("/logout")
@public
def logout():
    operators.end_session(db(), request.cookies.get(auth.COOKIE))
    auth.set_token("")
    flash(_("You have been logged out."), "info")
    return redirect(url_for("console.login"))


@bp.route("/2fa", methods=["GET", "POST"])
@allow(*auth.ALL, _enrolling=True)
def enrol():
    """Set up the second factor: scan the QR code (or type the secret), confirm with a
    code; the recovery codes are shown once."""
    operator = auth.current_operator() or auth.pending_operator()
    if operator.totp_enabled:
        left = operators.unused_recovery_codes(db(), operator)
        return render_template("console/enrol_done.html", left=left)
    form = EnrolForm()
    if form.validate_on_submit() and operator.totp_secret:
        if not code_may_try(operator.login):
            flash(_("Too many wrong codes. Wait a while and try again."), "error")
            return _enrol_page(operator, form), 429
        try:
            codes = operators.confirm_enrolment(db(), operator, form.code.data,
                                                actor=operator.actor, ip=request.remote_addr)
        except operators.WrongCode:
            code_failed(operator.login)
            flash(_("The code is wrong. Type the 6 digits your app shows now."), "error")
            form.code.data = None
            return _enrol_page(operator, form), 200
        auth.set_token(operators.pass_second_factor(db(), auth.session_row()))
        return render_template("console/recovery_codes.html", codes=codes)
    if not operator.totp_secret:
        operators.begin_enrolment(db(), operator)
    return _enrol_page(operator, form)


def _enrol_page(operator, form):
    uri = operators.provisioning_uri(operator, current_app.config["CONSOLE_TOTP_ISSUER"])
    qr = segno.make(uri, error="m", micro=False).svg_inline(scale=4, dark="#000", light="#fff")
    secret = operator.totp_secret
    grouped = " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))
    return render_template("console/enrol.html", form=form, qr=qr, secret=grouped, uri=uri,
                           required=auth.totp_required(operator))
