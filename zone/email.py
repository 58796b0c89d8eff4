"""Changing the e-mail address in the client zone: confirmed from the new mailbox
(billing/customers/email_change.py has the rules; ``EMAIL_CHANGE_HOURS`` in the README)."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from billing.customers import email_change
from web.database import db
from web.door import after_commit
from web.mail import send_template
from web.redirects import public_url
from zone import bp


def _hours() -> int:
    return int(current_app.config.get("EMAIL_CHANGE_HOURS") or email_change.DEFAULT_HOURS)


def ask_to_confirm(customer, new_email: str) -> None:
    """After the customer asked for ``new_email`` (and the request is committed): the link
    to the new address, the notice to the current one."""
    token = email_change.make_token(current_app.secret_key, customer, new_email)
    send_template(
        new_email, "email_change_confirm", lang=customer.language,
        customer=customer, link=public_url("zone.confirm_email", token=token), hours=_hours(),
    )
    if customer.email:
        send_template(
            customer.email, "email_change_notice", lang=customer.language,
            customer=customer, new_email=new_email, ip=request.remote_addr,
            operator_email=current_app.config["OPERATOR_EMAIL"],
            password_link=public_url("zone.forgot_password"),
        )


@bp.route("/info/email/<token>", methods=["GET", "POST"])
@login_required
def confirm_email(token: str):
    """GET shows the new address and a button (mail scanners open links); POST sets it."""
    customer = current_user.customer
    try:
        change = email_change.read_token(current_app.secret_key, token, _hours() * 3600)
        email_change.check(change, customer)
    except email_change.EmailChangeError as exc:
        return render_template("zone/email_invalid.html", code=exc.code), 404
    if request.method == "GET":
        return render_template("zone/email_confirm.html", new_email=change.new_email)
    done = email_change.confirm_change(db(), customer, change, actor=current_user.actor,
                                       ip=request.remote_addr)
    ip = request.remote_addr
    after_commit(lambda: send_template(current_app.config["OPERATOR_EMAIL"], "contact_changed",
                                       lang="cs", customer=customer, changes=[done], ip=ip))
    flash(_("Your e-mail address is now %(email)s.", email=change.new_email), "success")
    return redirect(url_for("zone.info"))
