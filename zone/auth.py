"""Login, logout, forgotten and changed passwords of the client zone.

The web door (web.door) commits each request's work; e-mails go out after the commit."""

from __future__ import annotations

from datetime import timedelta

from flask import (
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_required, login_user, logout_user

from billing.customers import credentials
from billing.models import SessionKind
from web import sessions, throttle
from web.database import db
from web.door import after_commit, on_refusal
from web.extensions import limiter, login_manager
from web.mail import send_template
from web.redirects import public_url, safe_next
from zone import bp
from zone.forms import ChangePasswordForm, ForgotPasswordForm, LoginForm, ResetPasswordForm

SCOPE = "zone"


@login_manager.user_loader
def load_user(token: str):
    found = sessions.load(token, kind=SessionKind.ZONE)
    if found is None:
        return None
    row, customer, extras = found
    return sessions.Principal(customer, row, token, extras)


login_manager.login_view = "zone.login"
login_manager.login_message = None


def _safe_next(target: str | None) -> str:
    """Only local paths: never an open redirect (web.redirects.safe_next)."""
    return safe_next(target, "zone.index")


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(throttle.ip_limit, methods=["POST"], deduct_when=throttle.only_failures)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("zone.index"))
    form = LoginForm()
    if form.validate_on_submit():
        number = form.customer_number.data.strip()
        if not throttle.may_try(SCOPE, number):
            flash(_("Too many failed attempts for this account. Try again later or reset your password."), "error")
            return render_template("zone/login.html", form=form), 429
        customer = credentials.authenticate(db(), number, form.password.data)
        if customer is None:
            throttle.failed(SCOPE, number)
            flash(_("Wrong customer number or password."), "error")
            return render_template("zone/login.html", form=form), 200
        sessions.fresh_cookie_session()
        token = sessions.start(customer, kind=SessionKind.ZONE)
        login_user(sessions.Principal(customer, None, token))
        response = make_response(redirect(_safe_next(request.args.get("next"))))
        throttle.remember_device(response, SCOPE, number)
        return response
    return render_template("zone/login.html", form=form)


@bp.post("/logout")
def logout():
    if current_user.is_authenticated:
        sessions.end(current_user.get_id())
        from voip.auth import end_zone_entered

        end_zone_entered()  # a VoIP session entered from this login ends with it
    logout_user()
    sessions.fresh_cookie_session()
    flash(_("You have been logged out."), "info")
    return redirect(url_for("zone.login"))


@bp.route("/password/forgot", methods=["GET", "POST"])
@limiter.limit("10/hour", methods=["POST"])
def forgot_password():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        hours = current_app.config["PASSWORD_RESET_HOURS"]
        issued = credentials.issue_reset_token(
            db(), form.customer_number.data, timedelta(hours=hours), ip=request.remote_addr
        )
        if issued is not None:
            customer, token = issued
            link = public_url("zone.reset_password", token=token)
            after_commit(lambda: send_template(
                customer.email, "password_reset", lang=customer.language, customer=customer,
                link=link, hours=hours,
            ))
        # The same answer whether or not the account exists.
        flash(_("If the customer number exists, we have sent a link to reset the password to its e-mail address."), "info")
        return redirect(url_for("zone.login"))
    return render_template("zone/forgot_password.html", form=form)


@bp.route("/password/reset/<token>", methods=["GET", "POST"])
@limiter.limit("20/hour", methods=["POST"])
def reset_password(token: str):
    if credentials.valid_reset_token(db(), token) is None:
        return render_template("zone/reset_invalid.html"), 404
    form = ResetPasswordForm()
    if form.validate_on_submit():
        credentials.reset_password(db(), token, form.password.data, ip=request.remote_addr)
        logout_user()
        sessions.fresh_cookie_session()
        flash(_("Your password has been changed. Please log in."), "info")
        return redirect(url_for("zone.login"))
    return render_template("zone/reset_password.html", form=form)


def _wrong_current_password(_exc):
    """The form again, with the error at the current password (nothing was changed)."""
    # a guess at the password, as at the login: the same per-customer limit
    throttle.failed(SCOPE, current_user.customer.customer_number)
    form = ChangePasswordForm()
    form.validate()
    form.current.errors = [*form.current.errors, _("The current password is wrong.")]
    return render_template("zone/change_password.html", form=form)


@bp.route("/password", methods=["GET", "POST"])
@login_required
@on_refusal(credentials.CredentialError, respond=_wrong_current_password)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if not throttle.may_try(SCOPE, current_user.customer.customer_number):
            flash(_("Too many failed attempts for this account. Try again later or reset your password."), "error")
            return render_template("zone/change_password.html", form=form), 429
        credentials.change_password(
            db(), current_user.customer, form.current.data, form.password.data, ip=request.remote_addr
        )
        sessions.end_all(current_user.customer_id, except_token=current_user.get_id())
        flash(_("Your password has been changed."), "success")
        return redirect(url_for("zone.info"))
    return render_template("zone/change_password.html", form=form)


@bp.post("/language")
def set_language():
    lang = request.form.get("lang")
    if lang not in ("cs", "en"):
        abort(400)
    session["lang"] = lang
    if current_user.is_authenticated and current_user.customer.language != lang:
        current_user.customer.language = lang
    return redirect(_safe_next(request.form.get("next")))


@bp.get("/healthz")
def healthz():
    from sqlalchemy import text

    db().execute(text("SELECT 1"))
    return {"status": "ok"}
