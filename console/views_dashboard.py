"""The console's start page (``/console/``): the day at a glance. Debt by age, payments
today and this month, the unmatched queue, the router outbox and failed notices; read by
billing/overview.py and enforcement/backlog.py."""

from __future__ import annotations

from flask import render_template

from billing import overview
from billing.invoicing.monthly_run import failed_mail_count
from console.auth import ALL, allow
from console.blueprint import bp
from core.clock import today
from enforcement import backlog as network
from web.database import db


@bp.get("/")
@allow(*ALL)
def index():
    on = today()
    return render_template(
        "console/index.html", on=on, debt=overview.debt_by_age(db(), on),
        payments=overview.payments(db(), on), routers=network.router_backlog(db()),
        mails=network.mail_backlog(db()), invoice_mails_failed=failed_mail_count(db()))
