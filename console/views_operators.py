"""Operators (admin only): the list, adding one, disabling and enabling, resetting a lost
second factor. The same domain functions as ``ispzone operators`` (billing/operators.py)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from billing import operators
from billing.models import Operator
from console.auth import actor, allow, current_operator
from console.blueprint import bp
from console.forms import OperatorForm
from web.database import db
from web.door import on_refusal


@bp.route("/operators", methods=["GET", "POST"], endpoint="operators")
@allow("admin")
@on_refusal(redirect_to="console.operators")
def operators_page():
    form = OperatorForm()
    if form.validate_on_submit():
        created = operators.create(
            db(), form.login.data, role=form.role.data, password=form.password.data,
            name=form.name.data or "", email=form.email.data or None, actor=actor(),
            ip=request.remote_addr)
        flash(_("Operator %(login)s added.", login=created.login), "success")
        return redirect(url_for("console.operators"))
    form.password.data = form.password2.data = None
    rows = operators.listing(db())
    unused = {op.id: operators.unused_recovery_codes(db(), op) for op in rows if op.totp_enabled}
    return render_template("console/operators.html", form=form, rows=rows, unused=unused,
                           me=current_operator())


def _operator(operator_id: int) -> Operator:
    found = db().get(Operator, operator_id)
    if found is None:
        abort(404)
    return found


@bp.post("/operators/<int:operator_id>/disable")
@allow("admin")
@on_refusal(redirect_to="console.operators")
def operator_disable(operator_id: int):
    op = _operator(operator_id)
    operators.disable(db(), op, actor=actor(), ip=request.remote_addr)
    flash(_("Operator %(login)s disabled; their sessions have ended.", login=op.login), "success")
    return redirect(url_for("console.operators"))


@bp.post("/operators/<int:operator_id>/enable")
@allow("admin")
@on_refusal(redirect_to="console.operators")
def operator_enable(operator_id: int):
    op = _operator(operator_id)
    operators.enable(db(), op, actor=actor(), ip=request.remote_addr)
    flash(_("Operator %(login)s enabled.", login=op.login), "success")
    return redirect(url_for("console.operators"))


@bp.post("/operators/<int:operator_id>/reset-2fa")
@allow("admin")
@on_refusal(redirect_to="console.operators")
def operator_reset_2fa(operator_id: int):
    op = _operator(operator_id)
    operators.reset_second_factor(db(), op, actor=actor(), ip=request.remote_addr)
    flash(_("The second factor of %(login)s is reset; they set it up again at their next login.",
            login=op.login), "success")
    return redirect(url_for("console.operators"))
