"""The client zone's "Kredit" section (docs/credit.md, "The zone"): the balance, the
movements, the top-up form, the open payment requests with their auto-pay day and the
"Nestrhávat automaticky" tick, the auto-pay switch, the statements and the CSV export.
Thin views over billing.credit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select

from billing import credit
from billing.credit import statements as credit_statements
from billing.credit.autopay import autopay_date
from billing.credit.closing import request_closing
from billing.credit.payments import PAYABLE_KINDS
from billing.credit.topups import request_topup
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import open_invoices
from billing.models import Invoice
from billing.models.credit import CreditStatement, CreditTopUp
from core.clock import today
from web import parsing
from web.database import db
from web.door import on_refusal
from web.i18n import current_lang
from zone import bp

CURRENCY_SIGNS = {"CZK": "Kč", "EUR": "€"}


@bp.app_template_filter("credit_money")
def credit_money(value, currency: str = "CZK") -> str:
    """``1 234,50 Kč`` / ``1 234,50 €`` in Czech, ``CZK 1,234.50`` / ``EUR 1,234.50`` in English."""
    if value in (None, ""):
        return ""
    value = Decimal(str(value)).quantize(Decimal("0.01"))
    sign = "−" if value < 0 else ""
    whole, frac = f"{abs(value):,.2f}".split(".")
    try:
        lang = current_lang()
    except RuntimeError:  # pragma: no cover - outside a request
        lang = "cs"
    if lang == "en":
        return f"{sign}{currency}\u00a0{whole}.{frac}"
    return f"{sign}{whole.replace(',', chr(0xa0))},{frac}\u00a0{CURRENCY_SIGNS.get(currency, currency)}"


def _settings():
    return credit.CreditSettings.from_config(current_app.config)


@bp.get("/credit")
@login_required
def credit_page():
    session, customer_id = db(), current_user.customer_id
    account = credit.account_of(session, customer_id)
    settings = _settings()
    if account is None or account.closed_at is not None:
        return render_template("zone/credit/open.html", account=account, settings=settings)
    on = today()
    month_start = on.replace(day=1)
    data = credit_statements.period(session, customer_id, month_start - timedelta(days=62), on)
    topups = set(session.scalars(select(CreditTopUp.invoice_id).join(
        Invoice, Invoice.id == CreditTopUp.invoice_id).where(Invoice.customer_id == customer_id)))
    pending = [s for s in open_invoices(session, customer_id, on)
               if s.invoice.kind in PAYABLE_KINDS and s.invoice.id not in topups
               and s.invoice.currency == account.currency]
    requests = [
        {"state": s, "held": credit.held(session, s.invoice.id),
         "autopay_on": autopay_date(s.invoice.issue_date, settings.autopay_days)}
        for s in pending
    ]
    open_topups = [s for s in open_invoices(session, customer_id, on) if s.invoice.id in topups]
    return render_template(
        "zone/credit/index.html", account=account, settings=settings,
        balance=credit.credit_balance(session, customer_id), movements=list(reversed(data.movements)),
        requests=requests, open_topups=open_topups,
        statements=credit_statements.statements_of(session, customer_id),
        minimum=settings.minimum(account.currency), today=on,
    )


@bp.post("/credit/open")
@login_required
@on_refusal(credit.CreditError, redirect_to="zone.credit_page")
@on_refusal(credit.CreditConflict, redirect_to="zone.credit_page")
def credit_open():
    currency = parsing.choice(request.form.get("currency", "CZK"), ("CZK", "EUR"))
    if request.form.get("consent") != "yes":
        flash(_("To open the credit account, agree to its terms."), "error")
        return redirect(url_for("zone.credit_page"))
    credit.open_account(db(), current_user.customer, currency, actor=current_user.actor,
                        consent=True, terms_version=_settings().terms_version,
                        auto_pay=request.form.get("auto_pay") == "yes")
    flash(_("Your credit account is open."), "success")
    return redirect(url_for("zone.credit_page"))


def _minimum_message(exc) -> str:
    settings = _settings()
    account = credit.account_of(db(), current_user.customer_id)
    currency = account.currency if account else "CZK"
    return _("The smallest top-up is %(amount)s without VAT. Nothing was created.",
             amount=credit_money(settings.minimum(currency), currency))


@bp.post("/credit/topup")
@login_required
@on_refusal(credit.CreditError, redirect_to="zone.credit_page", message=_minimum_message)
@on_refusal(credit.CreditConflict, redirect_to="zone.credit_page")
def credit_topup():
    try:
        amount = parsing.amount(request.form.get("amount", ""), minimum=Decimal("0.01"),
                                maximum=Decimal("1000000"))
    except parsing.ParseError:
        flash(_("Enter the amount without VAT, e.g. 500 or 1 250,50."), "error")
        return redirect(url_for("zone.credit_page"))
    invoice = request_topup(db(), current_user.customer, amount,
                            supplier=Supplier.from_config(current_app.config),
                            settings=_settings(), actor=current_user.actor)
    flash(_("Payment request %(number)s issued: pay %(total)s (VAT included) by the QR code or the details on it.",
            number=invoice.number, total=credit_money(invoice.total, invoice.currency)), "success")
    return redirect(url_for("zone.invoice_detail", invoice_id=invoice.id))


@bp.post("/credit/auto-pay")
@login_required
@on_refusal(credit.CreditConflict, redirect_to="zone.credit_page")
def credit_auto_pay():
    on = parsing.choice(request.form.get("auto_pay", ""), ("on", "off")) == "on"
    credit.set_auto_pay(db(), current_user.customer_id, on, actor=current_user.actor)
    flash(_("Payment requests are now paid automatically from credit.") if on
          else _("Payment requests are now paid manually."), "success")
    return redirect(url_for("zone.credit_page"))


def _own_request(invoice_id: int) -> Invoice:
    invoice = db().get(Invoice, invoice_id)
    if invoice is None or invoice.customer_id != current_user.customer_id:
        abort(404)
    return invoice


@bp.post("/credit/requests/<int:invoice_id>/hold")
@login_required
@on_refusal(credit.CreditError, redirect_to="zone.credit_page")
def credit_hold(invoice_id: int):
    invoice = _own_request(invoice_id)
    credit.set_hold(db(), invoice, request.form.get("hold") == "yes", actor=current_user.actor)
    return redirect(url_for("zone.credit_page"))


@bp.post("/credit/requests/<int:invoice_id>/pay")
@login_required
@on_refusal(credit.CreditError, redirect_to="zone.credit_page")
@on_refusal(credit.CreditConflict, redirect_to="zone.credit_page")
def credit_pay(invoice_id: int):
    invoice = _own_request(invoice_id)
    result = credit.pay_from_credit(db(), invoice, actor=current_user.actor)
    if result.paid:
        flash(_("Request %(number)s was paid from your credit.", number=invoice.number), "success")
    elif result.outcome == credit.PayOutcome.SHORT:
        flash(_("Your credit does not cover request %(number)s; nothing was deducted.",
                number=invoice.number), "error")
    return redirect(url_for("zone.credit_page"))


@bp.post("/credit/close")
@login_required
@on_refusal(credit.CreditError, redirect_to="zone.credit_page")
@on_refusal(credit.CreditConflict, redirect_to="zone.credit_page")
def credit_close():
    request_closing(db(), current_user.customer_id, parsing.text(request.form.get("bank_account", ""),
                                                                  max_length=60),
                    actor=current_user.actor)
    flash(_("Closing requested: the account closes at the start of a month after a month without transactions, and the unused credit is sent to your bank account."), "success")
    return redirect(url_for("zone.credit_page"))


@bp.get("/credit/export.csv")
@login_required
def credit_export():
    start = parsing.optional(request.args.get("from"), parsing.day, today().replace(day=1))
    end = parsing.optional(request.args.get("to"), parsing.day, today())
    if end < start:
        start, end = end, start
    data = credit_statements.period(db(), current_user.customer_id, start, end)
    return send_file(_bytes(credit_statements.export_csv(data, current_lang())),
                     mimetype="text/csv", as_attachment=True,
                     download_name=f"kredit-{start.isoformat()}-{end.isoformat()}.csv")


@bp.get("/credit/statements/<int:statement_id>.pdf")
@login_required
def credit_statement(statement_id: int):
    session = db()
    statement = session.get(CreditStatement, statement_id)
    account = credit.account_of(session, current_user.customer_id)
    if statement is None or account is None or statement.account_id != account.id:
        abort(404)
    pdf = credit_statements.statement_pdf(session, statement,
                                          Supplier.from_config(current_app.config).name)
    return send_file(_bytes(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"vyuctovani-kreditu-{statement.month}.pdf")


@bp.get("/credit/statement.pdf")
@login_required
def credit_month_statement():
    """The statement of one month (``?month=YYYY-MM``, default this month so far), rendered
    from the ledger: the recorded monthly statements are the same for a finished month."""
    session, on = db(), today()
    raw = parsing.text(request.args.get("month") or f"{on:%Y-%m}", max_length=7)
    try:
        start, end = credit_statements.month_bounds(raw)
    except ValueError:
        abort(404)
    if credit.account_of(session, current_user.customer_id) is None:
        abort(404)
    data = credit_statements.period(session, current_user.customer_id, start, min(end, on))
    pdf = credit_statements.render_statement_pdf(
        data, current_user.customer, Supplier.from_config(current_app.config).name,
        title=f"Vyúčtování kreditu za {start.month}/{start.year}")
    return send_file(_bytes(pdf), mimetype="application/pdf", as_attachment=False,
                     download_name=f"vyuctovani-kreditu-{raw}.pdf")


def _bytes(data: bytes):
    import io

    return io.BytesIO(data)
