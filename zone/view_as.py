"""The client zone while an operator views it as a customer (billing/customers/view_as.py):
read-only, with a banner naming the operator and a way back to the console.

A session opened from the console carries ``viewed_by`` (loaded with the session row,
``web.sessions.add_extra``). While it does, every request that could change something
(any method but GET, HEAD, OPTIONS), in the zone or any other page the zone's login
reaches (the warning page's acknowledgement), is refused with 403, except leaving, logging
out and choosing the language; the console's own requests are not the zone's and pass.
After ``MAX_MINUTES`` the session ends by itself.
"""

from __future__ import annotations

from flask import (
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, logout_user

from billing.customers import view_as
from billing.models import UserSession
from web import sessions
from web.database import db
from zone import bp

EXTRA = "viewed_by"
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
# what a viewing operator may still POST: leave, log out, choose the language
ALLOWED = frozenset({"zone.view_as_leave", "zone.logout", "zone.set_language"})

sessions.add_extra(EXTRA, UserSession.viewed_by)


def viewing_operator() -> str | None:
    """The operator (``operator:<login>``) viewing the zone in this request, or None (also
    outside a request: an e-mail rendered by a command or the worker)."""
    if not has_request_context():
        return None
    if request.blueprint == "console" or request.endpoint == "static":
        return None  # the console's pages have their own login; files need none
    try:
        if not current_user.is_authenticated:
            return None
    except Exception:  # noqa: BLE001 - no login manager outside the app's requests
        return None
    return getattr(current_user, "extras", {}).get(EXTRA)


@bp.before_app_request
def _read_only_while_viewing():
    operator = viewing_operator()
    if operator is None:
        return None
    row = current_user.row
    if row is not None and view_as.expired(row.created_at):
        sessions.end(current_user.get_id())
        logout_user()
        sessions.fresh_cookie_session()
        flash(_("The view as a customer has ended."), "info")
        return redirect("/console/")
    if request.method not in SAFE and request.endpoint not in ALLOWED:
        return render_template("zone/view_as_refused.html", operator=operator), 403
    return None


@bp.app_context_processor
def _banner() -> dict:
    operator = viewing_operator()
    if operator is None:
        return {}
    return {"view_as": {"operator": operator.removeprefix("operator:"),
                        "customer": current_user.customer}}


@bp.post("/view-as/leave")
def view_as_leave():
    operator = viewing_operator()
    if operator is None:
        abort(404)
    customer = current_user.customer
    view_as.end(db(), current_user.get_id(), customer_id=customer.id, actor=operator,
                ip=request.remote_addr)
    logout_user()
    sessions.fresh_cookie_session()
    if "console.customer_card" in current_app.view_functions:
        return redirect(url_for("console.customer_card", customer_id=customer.id))
    return redirect("/console/")
