"""The console's payments (docs/money-acts.md): the payments list, a cash payment with its
receipt (příjmový pokladní doklad) and PDF, the statement upload (the importer of
``ispzone payments import``), the unmatched queue with assign, unassign, dismiss and
restore. The upload is checked here and imported by a job (billing.bank.upload_jobs, its
progress page in console/views_upload.py). Thin views over billing's functions; every POST changes money and is for billing
(and admin); the pages that read are for every role."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import or_, select

from billing.bank.importing import StatementError
from billing.bank.queue import assign, dismiss, restore, unmatched
from billing.cash.cancellation import cancel_cash_receipt, cancellation_of
from billing.cash.payments import take_cash_payment
from billing.customers.credentials import find_customer
from billing.invoicing.receipt_corrections import corrections_of_cancellation
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import customer_invoices
from billing.models import (
    CASH_ACCOUNT,
    BankTransaction,
    BankTransactionStatus,
    CashReceipt,
    Customer,
    Invoice,
    TaxReceiptCorrection,
)
from billing.unpairing import unassign
from console.auth import actor, allow
from console.blueprint import bp
from console.money_common import paginate, statement_accounts
from core.clock import today
from core.errors import DomainError, Invalid
from core.i18n import _l
from core.i18n import number as shown_number
from web import parsing
from web.database import db
from web.door import after_commit, on_refusal, refusal_text
from web.formatting import format_number

ALL = ("admin", "billing", "support", "readonly")
MONEY = ("billing",)
STATUSES = tuple(s.value for s in BankTransactionStatus)
FORMATS = ("gpc", "fio-json", "fio-csv", "camt053")


class PaymentFormError(Invalid, ValueError):
    """A payment form that cannot be acted on as filled in."""


def _customer_or_404(customer_id: int) -> Customer:
    customer = db().get(Customer, customer_id)
    if customer is None:
        abort(404)
    return customer


def _movement_or_404(tx_id: int) -> BankTransaction:
    tx = db().get(BankTransaction, tx_id)
    if tx is None:
        abort(404)
    return tx


def _receipts_after_commit() -> None:
    """Tax documents for payments on advance invoices, after the commit (billing.jobs)."""
    from billing.jobs import issue_receipts_after_pairing

    sessions, who = current_app.extensions["ispzone.sessions"], actor()
    after_commit(lambda: issue_receipts_after_pairing(sessions, actor=who))


# -- the payments list ------------------------------------------------------------------


@bp.route("/payments")
@allow(*ALL)
def payments():
    session = db()
    query = (select(BankTransaction, Customer.customer_number, Customer.name, CashReceipt.id)
             .outerjoin(Customer, Customer.id == BankTransaction.customer_id)
             .outerjoin(CashReceipt, CashReceipt.bank_transaction_id == BankTransaction.id))
    args = request.args
    q = (args.get("q") or "").strip()[:100]
    if q:
        query = query.where(or_(BankTransaction.variable_symbol == q,
                                BankTransaction.specific_symbol == q,
                                Customer.customer_number == q,
                                BankTransaction.bank_tx_id == q,
                                BankTransaction.counter_name.ilike(f"%{q}%")))
    status = args.get("status") or ""
    if status in STATUSES:
        query = query.where(BankTransaction.status == status)
    source = args.get("source") or ""
    if source == "cash":
        query = query.where(BankTransaction.source_account == CASH_ACCOUNT)
    elif source == "bank":
        query = query.where(BankTransaction.source_account != CASH_ACCOUNT)
    start = _day(args.get("from"))
    end = _day(args.get("to"))
    if start:
        query = query.where(BankTransaction.booked_on >= start)
    if end:
        query = query.where(BankTransaction.booked_on <= end)
    page = paginate(session, query, {
        "booked": (BankTransaction.booked_on, BankTransaction.id),
        "amount": (BankTransaction.amount, BankTransaction.id),
        "status": (BankTransaction.status, BankTransaction.id),
    }, "booked")
    return render_template("console/money/payments.html", page=page, q=q, status=status,
                           source=source, start=start, end=end, statuses=STATUSES,
                           cash_account=CASH_ACCOUNT)


def _day(raw):
    try:
        return parsing.optional(raw, parsing.day)
    except parsing.ParseError:
        return None


# -- cash -------------------------------------------------------------------------------


def _cash_form(customer, values=None, error=None, status=200):
    open_invoices = [s for s in customer_invoices(db(), customer.id, today()) if s.is_open]
    return render_template("console/money/cash.html", customer=customer,
                           open_invoices=open_invoices, values=values or {},
                           error=error), status


@bp.route("/customers/<int:customer_id>/cash", methods=["GET"])
@allow(*MONEY)  # the form of a billing act: only who may submit it
def cash_form(customer_id: int):
    return _cash_form(_customer_or_404(customer_id))


@bp.route("/customers/<int:customer_id>/cash", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, respond=lambda exc: _cash_form(
    db().get(Customer, request.view_args["customer_id"]), request.form, refusal_text(exc), 422))
def cash_take(customer_id: int):
    customer = _customer_or_404(customer_id)
    form = request.form
    invoice = None
    if invoice_id := parsing.optional(form.get("invoice"), parsing.integer, None, minimum=1,
                                      maximum=2**31 - 1):
        invoice = db().get(Invoice, invoice_id)
        if invoice is None:
            raise PaymentFormError(_l("no such invoice"), field="invoice")
    amount = parsing.text(form.get("amount", ""), max_length=40)
    done = take_cash_payment(
        db(), customer, amount, Supplier.from_config(current_app.config), actor=actor(),
        invoice=invoice, note=parsing.text(form.get("note", ""), max_length=300) or None)
    _receipts_after_commit()
    flash(_("Cash receipt %(number)s: %(purpose)s", number=done.receipt.number,
            purpose=done.receipt.purpose), "success")
    return redirect(url_for("console.cash_receipt", receipt_id=done.receipt.id))


def _receipt_or_404(receipt_id: int) -> CashReceipt:
    receipt = db().get(CashReceipt, receipt_id)
    if receipt is None:
        abort(404)
    return receipt


def _receipt_page(receipt_id: int, error: str | None = None, values=None, status: int = 200):
    receipt = _receipt_or_404(receipt_id)
    cancellation = cancellation_of(db(), receipt.id)
    corrections = (corrections_of_cancellation(db(), cancellation.id)
                   if cancellation is not None else [])
    return render_template("console/money/cash_receipt.html", receipt=receipt,
                           cancellation=cancellation, corrections=corrections, error=error,
                           values=values or {}), status


@bp.route("/cash-receipts/<int:receipt_id>")
@allow(*ALL)
def cash_receipt(receipt_id: int):
    return _receipt_page(receipt_id)


@bp.route("/cash-receipts/<int:receipt_id>/cancel", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, respond=lambda exc: _receipt_page(
    request.view_args["receipt_id"], refusal_text(exc), request.form, exc.status))
def cash_receipt_cancel(receipt_id: int):
    """Cancel a cash receipt recorded by mistake (storno): the cancelling document, the
    reversing posting, the invoices it paid open again (billing/cash/cancellation.py)."""
    receipt = _receipt_or_404(receipt_id)
    done = cancel_cash_receipt(db(), receipt,
                               parsing.text(request.form.get("reason", ""), max_length=300),
                               actor=actor())
    flash(_("Cash receipt %(receipt)s cancelled by %(number)s.", receipt=receipt.number,
            number=done.cancellation.number), "success")
    for correction in done.corrections:
        flash(_("Tax document %(receipt)s corrected by the corrective tax document %(number)s.",
                receipt=correction.receipt.number, number=correction.number), "success")
    return redirect(url_for("console.cash_receipt", receipt_id=receipt.id))


@bp.route("/cash-receipts/<int:receipt_id>/cancellation.pdf")
@allow(*ALL)
def cash_cancellation_pdf(receipt_id: int):
    from billing.documents.cash_receipt import render_cash_cancellation_pdf

    receipt = _receipt_or_404(receipt_id)
    cancellation = cancellation_of(db(), receipt.id)
    if cancellation is None:  # not cancelled: the receipt's page (with its cancel form)
        return redirect(url_for("console.cash_receipt", receipt_id=receipt.id))
    return current_app.response_class(
        render_cash_cancellation_pdf(receipt, cancellation), mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{cancellation.number}.pdf"'})


@bp.route("/receipt-corrections/<int:correction_id>.pdf")
@allow(*MONEY)
def receipt_correction_pdf(correction_id: int):
    """A corrective tax document for a received payment (billing/invoicing/
    receipt_corrections.py), for billing and admin."""
    from billing.invoicing.receipt_corrections import render_correction_pdf

    correction = db().get(TaxReceiptCorrection, correction_id)
    if correction is None:
        abort(404)
    return current_app.response_class(
        render_correction_pdf(correction), mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{correction.number}.pdf"'})


@bp.route("/cash-receipts/<int:receipt_id>/pdf")
@allow(*ALL)
def cash_receipt_pdf(receipt_id: int):
    from billing.documents.cash_receipt import render_cash_receipt_pdf

    receipt = _receipt_or_404(receipt_id)
    return current_app.response_class(render_cash_receipt_pdf(receipt), mimetype="application/pdf",
                                      headers={"Content-Disposition":
                                               f'inline; filename="{receipt.number}.pdf"'})


# -- statement upload -------------------------------------------------------------------


@bp.route("/payments/upload", methods=["GET"])
@allow(*ALL)
def statement_form():
    return _upload_page()


def _upload_page(error=None, status=200):
    from billing.bank.upload_jobs import latest_uploads

    return render_template("console/money/upload.html", formats=FORMATS, error=error,
                           uploads=latest_uploads(db()),
                           max_bytes=current_app.config["STATEMENT_MAX_BYTES"]), status


@bp.route("/payments/upload", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, respond=lambda exc: _upload_page(refusal_text(exc), 422))
def statement_upload():
    """Check the uploaded statement as the importer would (a broken file is refused here
    with its line number, nothing stored), store it and queue its import and pairing as a
    job (billing.bank.upload_jobs: the importer of ``ispzone payments import``); then its
    progress page, which shows the summary once the job is done."""
    from billing.bank.upload_jobs import accept_upload
    from console.views_upload import start_after_commit

    max_bytes = current_app.config["STATEMENT_MAX_BYTES"]
    if request.content_length and request.content_length > max_bytes + 64 * 1024:
        raise StatementError(_l("the file has more than the %(max)s bytes a statement may "
                                "have (setting STATEMENT_MAX_BYTES)", max=shown_number(max_bytes, text=f"{max_bytes:,}")))
    upload = request.files.get("statement")
    if upload is None or not upload.filename:
        raise PaymentFormError(_l("choose a statement file"), field="statement")
    fmt = request.form.get("format") or None
    if fmt is not None and fmt not in FORMATS:
        raise PaymentFormError(_l("unknown format %(format)s", format=repr(fmt)), field="format")
    name = parsing.text(Path(upload.filename).name, max_length=200) or "statement"
    accounts, bank_code = statement_accounts()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "statement"
        upload.save(path)
        stored = accept_upload(
            db(), path, name, fmt, actor(), bank_code=bank_code,
            own_accounts=None if request.form.get("any_account") == "1" else accounts,
            max_bytes=max_bytes)
    start_after_commit()
    flash(_("%(name)s: %(count)s movements checked; the import and pairing are queued.",
            name=name, count=format_number(stored.movements)), "success")
    return redirect(url_for("console.statement_upload_progress", upload_id=stored.id))


# -- the unmatched queue ----------------------------------------------------------------


@bp.route("/payments/unmatched")
@allow(*ALL)
def unmatched_queue():
    dismissed = request.args.get("dismissed") == "1"
    return render_template("console/money/unmatched.html", rows=unmatched(db(), dismissed),
                           dismissed=dismissed)


def _back(exc=None):
    target = request.form.get("back") or ""
    if target not in ("payments", "unmatched", "dismissed"):
        target = "unmatched"
    if target == "payments":
        return url_for("console.payments")
    return url_for("console.unmatched_queue", dismissed="1" if target == "dismissed" else None)


@bp.route("/payments/<int:tx_id>/assign", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=_back)
def payment_assign(tx_id: int):
    tx = _movement_or_404(tx_id)
    number = parsing.text(request.form.get("customer", ""), max_length=20)
    customer = find_customer(db(), number) if number else None
    if customer is None:
        raise PaymentFormError(_l("no customer %(number)s", number=repr(number)) if number
                               else _l("give a customer number"),
                               field="customer")
    assign(db(), tx, customer, actor=actor(),
           not_a_duplicate=request.form.get("not_a_duplicate") == "1")
    _receipts_after_commit()
    flash(_("Payment %(id)d paired with customer %(number)s.", id=tx_id,
            number=customer.customer_number), "success")
    return redirect(_back())


@bp.route("/payments/<int:tx_id>/unassign", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=_back)
def payment_unassign(tx_id: int):
    tx = _movement_or_404(tx_id)
    done = unassign(db(), tx, actor=actor(),
                    reason=parsing.text(request.form.get("reason", ""), max_length=300))
    _receipts_after_commit()
    flash(_("Payment %(id)d unpaired from customer %(number)s; it waits in the queue.",
            id=tx_id, number=done.customer_number), "success")
    for number, receipt in done.corrections:
        flash(_("Tax document %(receipt)s corrected by the corrective tax document %(number)s.",
                receipt=receipt, number=number), "success")
    return redirect(_back())


@bp.route("/payments/<int:tx_id>/dismiss", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=_back)
def payment_dismiss(tx_id: int):
    tx = _movement_or_404(tx_id)
    dismiss(db(), tx, actor=actor(),
            reason=parsing.text(request.form.get("reason", ""), max_length=300))
    flash(_("Payment %(id)d dismissed from the queue.", id=tx_id), "success")
    return redirect(_back())


@bp.route("/payments/<int:tx_id>/restore", methods=["POST"])
@allow(*MONEY)
@on_refusal(DomainError, redirect_to=_back)
def payment_restore(tx_id: int):
    tx = _movement_or_404(tx_id)
    restore(db(), tx, actor=actor())
    flash(_("Payment %(id)d is back in the queue.", id=tx_id), "success")
    return redirect(_back())
