"""The console's invoices (docs/money-acts.md): the list with filters, an invoice with its
PDF, a one-off invoice, a credit note choosing lines, resending the e-mail, the monthly run
with its preview. Thin views over billing's functions; every POST changes money and is for
billing (and admin); the pages that read are for every role."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from billing.invoicing import listing
from billing.invoicing.issue import CreditLine, InvoicingError, credit_invoice, line_remainders
from billing.invoicing.one_off import OneOffLine, issue_one_off
from billing.invoicing.receipts import receipts_for
from billing.invoicing.supplier import Supplier
from billing.invoicing.vat import RATES
from billing.ledger.balances import states_for
from billing.models import (
    Allocation,
    BankTransaction,
    CashReceipt,
    Customer,
    Invoice,
    InvoiceKind,
)
from console.auth import actor, allow
from console.blueprint import bp
from console.money_common import paginate
from core.clock import today
from core.errors import DomainError
from core.i18n import _l
from web import parsing
from web.database import db
from web.door import after_commit, on_refusal, refusal_text
from web.formatting import format_number

ALL = ("admin", "billing", "support", "readonly")
MONEY = ("billing",)
LINE_ROWS = 6  # blank line rows of the one-off form
KINDS, STATUSES = listing.KINDS, listing.STATUSES


def supplier() -> Supplier:
    return Supplier.from_config(current_app.config)


def _invoice_or_404(invoice_id: int) -> Invoice:
    invoice = db().get(Invoice, invoice_id)
    if invoice is None:
        abort(404)
    return invoice


def _customer_or_404(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _send_after_commit(invoice_ids: list[int]) -> None:
    from billing.jobs import send_invoice_emails
    from web.mail import send_template

    sessions = current_app.extensions["ispzone.sessions"]
    after_commit(lambda: send_invoice_emails(sessions, invoice_ids, send_template))


# -- the list ---------------------------------------------------------------------------


@bp.route("/invoices")
@allow(*ALL)
def invoices():
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    kind, status = args.get("kind") or "", args.get("status") or ""
    start = parsing.optional(args.get("from"), _day_or_none)
    end = parsing.optional(args.get("to"), _day_or_none)
    query = listing.invoice_query(q, kind, status, start, end, today=today())
    page = paginate(db(), query, listing.SORTS, "issued")
    rows = [(inv, number, open_amount) for inv, number, _paid, open_amount in page.items]
    return render_template("console/money/invoices.html", page=page, rows=rows, q=q,
                           kind=kind, status=status, start=start, end=end, kinds=KINDS,
                           statuses=STATUSES, today=today())


def _day_or_none(raw):
    try:
        return parsing.day(raw)
    except parsing.ParseError:
        return None


# -- one invoice ------------------------------------------------------------------------


@bp.route("/invoices/<int:invoice_id>")
@allow(*ALL)
def invoice_detail(invoice_id: int):
    session = db()
    invoice = _invoice_or_404(invoice_id)
    state = states_for(session, [invoice], today())[0]
    customer = session.get(Customer, invoice.customer_id)
    notes = session.scalars(select(Invoice).where(Invoice.corrects_invoice_id == invoice.id)
                            .order_by(Invoice.id)).all()
    corrected = session.get(Invoice, invoice.corrects_invoice_id) if invoice.corrects_invoice_id else None
    allocations = session.execute(
        select(Allocation, BankTransaction, Invoice.number.label("note_number"), CashReceipt)
        .outerjoin(BankTransaction, BankTransaction.id == Allocation.bank_transaction_id)
        .outerjoin(CashReceipt, CashReceipt.bank_transaction_id == BankTransaction.id)
        .outerjoin(Invoice, Invoice.id == Allocation.credit_note_id)
        .where(Allocation.invoice_id == invoice.id).order_by(Allocation.id)).all()
    creditable = (invoice.kind not in (InvoiceKind.CREDIT_NOTE, InvoiceKind.ADVANCE)
                  and any(v > 0 for v in line_remainders(session, invoice).values()))
    # an advance: its tax documents for received payments, each with its correction if any
    receipts = (receipts_for(session, invoice.customer_id, invoice.id)
                if invoice.kind == InvoiceKind.ADVANCE else [])
    return render_template("console/money/invoice.html", invoice=invoice, state=state,
                           customer=customer, notes=notes, corrected=corrected,
                           allocations=allocations, creditable=creditable, receipts=receipts)


@bp.route("/invoices/<int:invoice_id>/pdf")
@allow(*ALL)
def invoice_pdf(invoice_id: int):
    from billing.documents.pdf import render_invoice_pdf

    invoice = _invoice_or_404(invoice_id)
    state = states_for(db(), [invoice], today())[0]
    pdf = render_invoice_pdf(invoice, state.open_amount)
    return current_app.response_class(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="faktura-{invoice.number}.pdf"'})


@bp.route("/invoices/<int:invoice_id>/resend", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=lambda exc: url_for(
    "console.invoice_detail", invoice_id=request.view_args["invoice_id"]))
def invoice_resend(invoice_id: int):
    """E-mail the invoice again, after this request (billing.jobs.resend_invoice_email,
    the command's job: it sends, then audits whether it went)."""
    from billing.jobs import resend_invoice_email
    from web.mail import send_template

    invoice = _invoice_or_404(invoice_id)
    customer = db().get(Customer, invoice.customer_id)
    if not customer.email:
        raise InvoicingError(
            f"customer {customer.customer_number} has no e-mail address: nothing was sent")
    sessions, who = current_app.extensions["ispzone.sessions"], actor()
    after_commit(lambda: resend_invoice_email(sessions, invoice_id, send_template, actor=who))
    flash(_("Invoice %(number)s is being e-mailed to %(email)s again.", number=invoice.number,
            email=customer.email), "success")
    return redirect(url_for("console.invoice_detail", invoice_id=invoice_id))


# -- a one-off invoice ------------------------------------------------------------------


def _one_off_form(customer, values=None, error=None, status=200):
    return render_template("console/money/one_off.html", customer=customer,
                           values=values or {}, rows=range(1, LINE_ROWS + 1), rates=RATES,
                           error=error), status


@bp.route("/customers/<int:customer_id>/invoices/new", methods=["GET"])
@allow(*MONEY)  # the form of a billing act: only who may submit it
def one_off_form(customer_id: int):
    return _one_off_form(_customer_or_404(customer_id))


@bp.route("/customers/<int:customer_id>/invoices/new", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, respond=lambda exc: _one_off_form(
    db().get(Customer, request.view_args["customer_id"]), request.form, refusal_text(exc),
    422))
def one_off_issue(customer_id: int):
    customer = _customer_or_404(customer_id)
    form = request.form
    lines = []
    for i in range(1, LINE_ROWS + 1):
        description = parsing.text(form.get(f"description_{i}", ""), max_length=300)
        if not description:
            continue
        lines.append(OneOffLine(description, form.get(f"quantity_{i}", "1"),
                                form.get(f"price_{i}", ""), form.get(f"rate_{i}", "21"),
                                form.get(f"unit_{i}", "ks")))
    due_days = parsing.optional(form.get("due_days"), parsing.integer, 14, minimum=0,
                                maximum=365)
    kind = parsing.choice(form.get("kind", "regular"), ("regular", "goods"))
    invoice = issue_one_off(
        db(), customer, lines, supplier(), actor=actor(), kind=kind,
        prices_include_vat=form.get("without_vat") != "1", due_days=due_days,
        note=parsing.text(form.get("note", ""), max_length=500) or None)
    if form.get("email", "1") == "1":
        _send_after_commit([invoice.id])
    flash(_("Invoice %(number)s issued.", number=invoice.number), "success")
    return redirect(url_for("console.invoice_detail", invoice_id=invoice.id))


# -- a credit note ----------------------------------------------------------------------


def _credit_form(invoice, values=None, error=None, status=200):
    left = line_remainders(db(), invoice)
    return render_template("console/money/credit_note.html", invoice=invoice, left=left,
                           values=values or {}, error=error), status


@bp.route("/invoices/<int:invoice_id>/credit-note", methods=["GET"])
@allow(*MONEY)  # the form of a billing act: only who may submit it
def credit_note_form(invoice_id: int):
    invoice = _invoice_or_404(invoice_id)
    if invoice.kind in (InvoiceKind.CREDIT_NOTE, InvoiceKind.ADVANCE):
        raise InvoicingError(_l("invoice %(number)s cannot be corrected by a credit note",
                                number=invoice.number))
    return _credit_form(invoice)


@bp.route("/invoices/<int:invoice_id>/credit-note", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, respond=lambda exc: _credit_form(
    db().get(Invoice, request.view_args["invoice_id"]), request.form, refusal_text(exc), 422))
def credit_note_issue(invoice_id: int):
    """Per line: ``mode_<id>`` none | all | quantity | amount, and ``value_<id>``."""
    invoice = _invoice_or_404(invoice_id)
    form = request.form
    selections = []
    for line in invoice.lines:
        mode = form.get(f"mode_{line.id}", "none")
        if mode == "all":
            selections.append(CreditLine(line.id))
        elif mode == "quantity":
            quantity = _quantity(form.get(f"value_{line.id}"), line.position)
            selections.append(CreditLine(line.id, quantity=quantity))
        elif mode == "amount":
            try:
                amount = parsing.amount(form.get(f"value_{line.id}"), minimum=Decimal("0.01"))
            except parsing.ParseError:
                raise InvoicingError(_l("line %(line)s: the amount is not an amount in Kč "
                                        "with at most two decimals",
                                        line=line.position)) from None
            selections.append(CreditLine(line.id, amount=amount))
    reason = parsing.text(form.get("reason", ""), max_length=300)
    note = credit_invoice(db(), invoice, selections, supplier(), reason, actor=actor())
    if form.get("email", "1") == "1":
        _send_after_commit([note.id])
    flash(_("Credit note %(number)s issued.", number=note.number), "success")
    return redirect(url_for("console.invoice_detail", invoice_id=note.id))


def _quantity(raw, position: int) -> Decimal:
    text = parsing.text(raw or "", max_length=20).replace(",", ".")
    try:
        value = Decimal(text)
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite() or value != value.quantize(Decimal("0.001")):
        raise InvoicingError(_l("line %(line)s: the quantity is not a number with at most "
                                "three decimals", line=position))
    return value


# -- the monthly run --------------------------------------------------------------------


def _month_arg(raw) -> str:
    from billing.invoicing.recurring import parse_month

    text = (raw or "").strip()[:7]
    try:
        parse_month(text)
    except ValueError:
        return ""
    return text


@bp.route("/invoices/run", methods=["GET"])
@allow(*ALL)
def month_run():
    from billing.invoicing.preview import preview_month

    month = _month_arg(request.args.get("month")) or f"{today() + timedelta(days=20):%Y-%m}"
    preview = preview_month(db(), month, today())
    return render_template("console/money/run.html", month=month, preview=preview)


@bp.route("/invoices/run", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=lambda exc: url_for("console.month_run",
                                                         month=request.form.get("month")))
def month_run_issue():
    """Start the month's run as jobs (billing.invoicing.monthly_run): planned in this
    request; then issued, rendered and mailed by ``ispzone jobs worker`` processes
    (MONTHLY_RUN_WORKERS=external) or, by default, in this request after the plan's commit
    (the page waits). Either way the run's progress page follows (console/views_run.py)."""
    from console.views_run import start_month_run

    month = _month_arg(request.form.get("month"))
    if not month:
        raise InvoicingError(_l("month must be YYYY-MM"))
    report = start_month_run(month, email=request.form.get("email", "1") == "1")
    flash(_("%(month)s: %(count)s customers planned for invoicing, %(skipped)s customers "
            "already invoiced.", month=month, count=format_number(report.new_customers),
            skipped=format_number(report.already)), "success")
    return redirect(url_for("console.month_run_progress", month=month))
