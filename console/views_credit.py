"""Prepaid credit in the console (``/console/credit``, docs/credit.md): the accounts with
their credit, the refunds waiting to be sent; per customer (``/console/customers/<id>/credit``)
what the zone's "Kredit" shows, and the operator's actions: open an account, issue a
top-up request, switch auto-pay, pay a request from credit, ask for closing, mark a refund
sent, the CSV export and the statement of a month.

Every role may read; billing (and admin) change money. The changes are the functions the
commands and the zone call, audited with the operator."""

from __future__ import annotations

import io
from datetime import timedelta

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy import func, or_, select

from billing import credit
from billing.credit import statements as credit_statements
from billing.credit.autopay import autopay_date
from billing.credit.closing import mark_refund_sent, pending_refunds, request_closing
from billing.credit.payments import PAYABLE_KINDS
from billing.credit.topups import request_topup
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import open_invoices
from billing.models import Customer, Invoice
from billing.models.credit import CreditAccount, CreditTopUp
from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import today
from web import parsing
from web.database import db
from web.formatting import format_money

ACTORS = ("billing",)  # and admin
PER_PAGE = 50


def _settings():
    return credit.CreditSettings.from_config(current_app.config)


def _customer_or_404(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _back(customer_id: int):
    return redirect(url_for("console.credit_customer", customer_id=customer_id))


@bp.get("/credit")
@allow(*ALL)
def credit_accounts():
    session = db()
    q = parsing.query(request.args.get("q", ""), max_length=100)
    page = parsing.page_number(request.args.get("page"))
    query = (select(CreditAccount, Customer.customer_number, Customer.name,
                    credit.credit_of(CreditAccount.customer_id).label("balance"))
             .join(Customer, Customer.id == CreditAccount.customer_id))
    if q:
        query = query.where(or_(Customer.customer_number == q, CreditAccount.variable_symbol == q,
                                func.lower(Customer.name).contains(q.lower())))
    total = session.scalar(select(func.count()).select_from(query.subquery()))
    rows = session.execute(query.order_by(Customer.customer_number)
                           .limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()
    return render_template("console/credit/accounts.html", rows=rows, q=q, page=page,
                           pages=max(1, -(-total // PER_PAGE)), total=total,
                           refunds=pending_refunds(session))


@bp.get("/customers/<int:customer_id>/credit")
@allow(*ALL)
def credit_customer(customer_id: int):
    session = db()
    customer = _customer_or_404(customer_id)
    account = credit.account_of(session, customer.id)
    settings = _settings()
    context = {"customer": customer, "account": account, "settings": settings}
    if account is not None:
        on = today()
        data = credit_statements.period(session, customer.id,
                                        on.replace(day=1) - timedelta(days=62), on)
        topups = set(session.scalars(select(CreditTopUp.invoice_id)
                                     .where(CreditTopUp.account_id == account.id)))
        opened = open_invoices(session, customer.id, on)
        context.update(
            balance=credit.credit_balance(session, customer.id),
            movements=list(reversed(data.movements)),
            requests=[{"state": s, "held": credit.held(session, s.invoice.id),
                       "autopay_on": autopay_date(s.invoice.issue_date, settings.autopay_days)}
                      for s in opened if s.invoice.kind in PAYABLE_KINDS
                      and s.invoice.id not in topups],
            open_topups=[s for s in opened if s.invoice.id in topups],
            statements=credit_statements.statements_of(session, customer.id),
            today=on,
        )
    return render_template("console/credit/customer.html", **context)


@bp.post("/customers/<int:customer_id>/credit/open")
@allow(*ACTORS)
def credit_open_account(customer_id: int):
    customer = _customer_or_404(customer_id)
    currency = parsing.choice(request.form.get("currency", "CZK"), ("CZK", "EUR"))
    credit.open_account(db(), customer, currency, actor=actor(),
                        auto_pay=request.form.get("auto_pay") == "yes")
    flash(_("Credit account of %(number)s opened.", number=customer.customer_number), "success")
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/credit/topup")
@allow(*ACTORS)
def credit_issue_topup(customer_id: int):
    customer = _customer_or_404(customer_id)
    amount = parsing.amount(request.form.get("amount", ""), minimum=parsing.CENT)
    invoice = request_topup(db(), customer, amount,
                            supplier=Supplier.from_config(current_app.config),
                            settings=_settings(), actor=actor())
    flash(_("Top-up request %(number)s issued: %(total)s.", number=invoice.number,
            total=format_money(invoice.total, currency=invoice.currency)), "success")
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/credit/auto-pay")
@allow(*ACTORS)
def credit_switch_auto_pay(customer_id: int):
    customer = _customer_or_404(customer_id)
    on = parsing.choice(request.form.get("auto_pay", ""), ("on", "off")) == "on"
    credit.set_auto_pay(db(), customer.id, on, actor=actor())
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/credit/pay")
@allow(*ACTORS)
def credit_pay_request(customer_id: int):
    customer = _customer_or_404(customer_id)
    invoice_id = parsing.integer(request.form.get("invoice_id", ""), minimum=1,
                                 maximum=2**31 - 1)
    invoice = db().get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != customer.id:
        abort(404)
    result = credit.pay_from_credit(db(), invoice, actor=actor())
    if result.paid:
        flash(_("Request %(number)s was paid from the credit.", number=invoice.number), "success")
    else:
        flash(_("Request %(number)s: not paid (%(outcome)s).", number=invoice.number,
                outcome=result.outcome), "error")
    return _back(customer.id)


@bp.post("/customers/<int:customer_id>/credit/close")
@allow(*ACTORS)
def credit_request_closing(customer_id: int):
    customer = _customer_or_404(customer_id)
    request_closing(db(), customer.id,
                    parsing.text(request.form.get("bank_account", ""), max_length=60),
                    actor=actor())
    flash(_("Closing requested."), "success")
    return _back(customer.id)


@bp.post("/credit/refunds/<int:refund_id>/sent")
@allow(*ACTORS)
def credit_refund_sent(refund_id: int):
    mark_refund_sent(db(), refund_id, actor=actor())
    flash(_("Refund #%(id)s marked sent.", id=refund_id), "success")
    return redirect(url_for("console.credit_accounts"))


@bp.get("/customers/<int:customer_id>/credit/export.csv")
@allow(*ALL)
def credit_export_csv(customer_id: int):
    customer = _customer_or_404(customer_id)
    start = parsing.optional(request.args.get("from"), parsing.day, today().replace(day=1))
    end = parsing.optional(request.args.get("to"), parsing.day, today())
    data = credit_statements.period(db(), customer.id, min(start, end), max(start, end))
    return send_file(io.BytesIO(credit_statements.export_csv(data)),
                     mimetype="text/csv", as_attachment=True,
                     download_name=f"kredit-{customer.customer_number}-{start}-{end}.csv")


@bp.get("/customers/<int:customer_id>/credit/statement.pdf")
@allow(*ALL)
def credit_statement_pdf(customer_id: int):
    customer = _customer_or_404(customer_id)
    month = request.args.get("month") or credit_statements.previous_month(today())
    try:
        start, end = credit_statements.month_bounds(parsing.text(month, max_length=7))
    except ValueError:
        abort(400)
    data = credit_statements.period(db(), customer.id, start, end)
    pdf = credit_statements.render_statement_pdf(
        data, customer, Supplier.from_config(current_app.config).name,
        title=f"Vyúčtování kreditu za {start.month}/{start.year}")
    return send_file(io.BytesIO(pdf), mimetype="application/pdf",
                     download_name=f"vyuctovani-kreditu-{customer.customer_number}-{month}.pdf")
