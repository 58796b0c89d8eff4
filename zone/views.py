"""Client zone pages. Every page shows only the logged-in customer's own data."""

from __future__ import annotations

import io
import logging
from datetime import date
from decimal import Decimal

from flask import (
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from markupsafe import Markup

from billing.customers import email_change, paying, usage
from billing.customers import self_service as customers
from billing.documents import qrplatba
from billing.invoicing.receipt_corrections import customer_correction, render_correction_pdf
from billing.invoicing.receipts import customer_receipt, receipts_for, render_receipt_pdf
from billing.invoicing.supplier import Supplier
from billing.ledger.balances import account_summary, invoice_page
from core.clock import today
from web import parsing
from web.database import db
from web.door import after_commit, on_refusal
from web.i18n import current_lang
from web.labels import SERVICE_KINDS
from web.mail import send_template
from zone import bp, charts, email
from zone.forms import ContactForm

log = logging.getLogger(__name__)

# one name per kind, the same on the web and in the PDF (billing/documents/pdf.py TITLES)
INVOICE_KINDS = {
    "regular": _l("Invoice – tax document"),
    "goods": _l("Invoice – tax document"),
    "voip_topup": _l("Invoice – tax document"),
    "advance": _l("Advance invoice – payment request (not a tax document)"),
    "credit_note": _l("Corrective tax document (credit note)"),
}
PERIODS = {"month": _l("per month"), "year": _l("per year"), "once": _l("one-off")}


def number(value: Decimal | int | None) -> str:
    """A quantity or a rate without trailing zeros, with the language's decimal separator."""
    if value is None:
        return ""
    text = f"{Decimal(value).normalize():f}"
    return text if current_lang() == "en" else text.replace(".", ",")


@bp.context_processor
def labels() -> dict:
    return {
        "invoice_kinds": INVOICE_KINDS,
        "service_kinds": SERVICE_KINDS,
        "periods": PERIODS,
        "number": number,
    }


@bp.app_template_global()
def zone_menu() -> Markup:
    """The menu of base.html for this language and page: it depends on nothing else, so it
    is rendered once per (language, endpoint, script root) and kept (it was a tenth of a
    page's rendering: seven url_for and seven translations)."""
    menus = current_app.extensions.setdefault("ispzone.zone_menus", {})  # per app
    key = (current_lang(), request.endpoint, request.script_root)
    found = menus.get(key)
    if found is None:
        template = current_app.jinja_env.get_template("zone/_menu.html")
        found = Markup(template.render(request=request))
        if len(menus) < 1000:  # endpoints x languages: bounded anyway
            menus[key] = found
    return found


@bp.app_template_global()
def fixed_url(endpoint: str, **values) -> str:
    """``url_for(endpoint, **values)`` for the few fixed links of every page (base.html),
    kept per script root: they never change while the app runs."""
    urls = current_app.extensions.setdefault("ispzone.fixed_urls", {})  # per app
    key = (request.script_root, endpoint, *sorted(values.items()))
    found = urls.get(key)
    if found is None:
        found = url_for(endpoint, **values)
        if len(urls) < 1000:
            urls[key] = found
    return found


@bp.get("/")
def index():
    if current_user.is_authenticated:
        return redirect(url_for("zone.info"))
    return redirect(url_for("zone.login"))


@bp.get("/info")
@login_required
def info():
    summary = account_summary(db(), current_user.customer_id, today())
    lists = customers.overview_lists(db(), current_user.customer_id, today())
    return render_template(
        "zone/info.html", customer=current_user.customer, summary=summary,
        contracts=lists.contracts, voip_lines=[(line, line.credit) for line in lists.voip_lines],
    )


@bp.get("/pay")
@login_required
def pay():
    """Everything due in one payment: one QR Platba (billing/customers/paying.py)."""
    try:
        due = paying.pay_all(db(), current_user.customer_id, today(),
                             Supplier.from_config(current_app.config))
    except qrplatba.QrPlatbaError:
        log.exception("no QR Platba for customer %s", current_user.customer_id)
        due = None
    qr = Markup(qrplatba.qr_svg(due.spayd, scale=5)) if due and due.spayd else None
    return render_template("zone/pay.html", due=due, qr=qr)


def _invalid_contact(exc: customers.ContactValidationError):
    """The form again, each invalid field with its error (nothing was changed)."""
    form = ContactForm.for_customer(current_user.customer)
    form.add_contact_errors(exc.errors)
    return render_template("zone/info_edit.html", form=form)


@bp.route("/info/edit", methods=["GET", "POST"])
@login_required
@on_refusal(customers.ContactValidationError, respond=_invalid_contact)
@on_refusal(email_change.TooManyRequests, redirect_to="zone.info")
def edit_info():
    customer = current_user.customer
    form = ContactForm.for_customer(customer)
    if form.validate_on_submit():  # the domain's rules included (ContactForm.validate)
        data = form.contact_data()
        # a new e-mail address waits for the link sent to it (zone/email.py)
        new_email = customers.clean_contact({"email": data.pop("email")})["email"]
        new_email = new_email if new_email.lower() != (customer.email or "").lower() else None
        changes = customers.update_contact(
            db(), customer, data, current_user.actor, request.remote_addr
        )
        if new_email:
            email_change.request_change(db(), customer, new_email,
                                        actor=current_user.actor, ip=request.remote_addr)
        if changes:
            _notify_operator(customer, changes)
            flash(_("Your contact details have been saved."), "success")
        if new_email:
            after_commit(lambda: email.ask_to_confirm(customer, new_email))
            flash(_("We have sent a link to %(email)s. The new address takes effect once you open it; until then we write to %(old)s.",
                    email=new_email, old=customer.email or "—"), "info")
        if not changes and not new_email:
            flash(_("Nothing has changed."), "info")
        return redirect(url_for("zone.info"))
    return render_template("zone/info_edit.html", form=form)


def _notify_operator(customer, changes: list[customers.Change]) -> None:
    """The operator's e-mail, sent once the change is committed (web.door.after_commit)."""
    ip = request.remote_addr
    after_commit(lambda: _send_notice(customer, changes, ip))


def _send_notice(customer, changes: list[customers.Change], ip: str | None) -> None:
    send_template(
        current_app.config["OPERATOR_EMAIL"],
        "contact_changed",
        lang="cs",
        customer=customer,
        changes=changes,
        ip=ip,
    )


@bp.get("/services")
@login_required
def services():
    overview = customers.services_overview(db(), current_user.customer_id, today())
    voip_url = url_for("voip.index") if "voip.index" in current_app.view_functions else None
    return render_template(
        "zone/services.html", overview=overview, today=today(), voip_url=voip_url
    )


@bp.get("/services/<int:service_id>")
@login_required
def service_detail(service_id: int):
    service = customers.customer_service(db(), current_user.customer_id, service_id)
    if service is None:
        abort(404)
    return render_template("zone/service_detail.html", service=service, today=today())


INVOICES_PER_PAGE = 20


@bp.get("/invoices")
@login_required
def invoices():
    page = invoice_page(
        db(), current_user.customer_id, today(), parsing.page_number(request.args.get("page")),
        INVOICES_PER_PAGE,
    )
    kind_labels = {  # one translation per kind on the page, not one per row
        kind: str(INVOICE_KINDS.get(kind, kind)) for kind in {s.invoice.kind for s in page.states}
    }
    return render_template(
        "zone/invoices.html", states=page.states, page=page, kind_labels=kind_labels
    )


@bp.get("/invoices/<int:invoice_id>")
@login_required
def invoice_detail(invoice_id: int):
    detail = customers.invoice_detail(db(), current_user.customer_id, invoice_id, today())
    if detail is None:
        abort(404)
    qr = _payment_qr(detail.invoice, detail.state.open_amount)
    receipts = (
        receipts_for(db(), current_user.customer_id, invoice_id)
        if detail.invoice.kind == "advance" else []
    )
    return render_template(
        "zone/invoice_detail.html", detail=detail, state=detail.state, qr=qr, receipts=receipts
    )


@bp.get("/receipt-corrections/<int:correction_id>.pdf")
@login_required
def receipt_correction_pdf(correction_id: int):
    """A corrective tax document for one of the customer's received payments."""
    correction = customer_correction(db(), current_user.customer_id, correction_id)
    if correction is None:
        abort(404)
    return _pdf_download(render_correction_pdf(correction),
                         f"opravny-danovy-doklad-{correction.number}.pdf")


@bp.get("/receipts/<int:receipt_id>.pdf")
@login_required
def receipt_pdf(receipt_id: int):
    receipt = customer_receipt(db(), current_user.customer_id, receipt_id)
    if receipt is None:
        abort(404)
    return _pdf_download(render_receipt_pdf(receipt), f"danovy-doklad-{receipt.number}.pdf")


def _payment_qr(invoice, open_amount: Decimal) -> Markup | None:
    try:
        spayd = qrplatba.spayd_for_invoice(invoice, open_amount)
    except qrplatba.QrPlatbaError:
        log.exception("no QR Platba for invoice %s", invoice.number)
        return None
    return Markup(qrplatba.qr_svg(spayd)) if spayd else None


@bp.get("/invoices/<int:invoice_id>.pdf")
@login_required
def invoice_pdf(invoice_id: int):
    from billing.documents.pdf import render_invoice_pdf

    detail = customers.invoice_detail(db(), current_user.customer_id, invoice_id, today())
    if detail is None:
        abort(404)
    return _pdf_download(
        render_invoice_pdf(detail.invoice, detail.state.open_amount),
        f"faktura-{detail.invoice.number}.pdf",
    )


def _pdf_download(data: bytes, name: str):
    """A customer's document as a download that no shared cache keeps."""
    response = send_file(io.BytesIO(data), mimetype="application/pdf", as_attachment=True,
                         download_name=name, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/payments")
@login_required
def payments():
    history = customers.payment_history(db(), current_user.customer_id)
    summary = account_summary(db(), current_user.customer_id, today())
    credit = sum((p.unapplied for p in history), Decimal("0.00"))
    return render_template("zone/payments.html", history=history, summary=summary, credit=credit)


@bp.get("/traffic")
@login_required
def traffic():
    own = usage.internet_services(db(), current_user.customer_id)
    start, end, service_id = _traffic_params({s.id for s in own})
    days = usage.daily_traffic(db(), current_user.customer_id, service_id, start, end)
    return render_template(
        "zone/traffic.html",
        services=own,
        service_id=service_id,
        start=start,
        end=end,
        days=days,
        totals=usage.totals(days),
        chart=charts.traffic_svg(days, current_lang()),
        months=charts.by_month(days) if len(days) > charts.MONTHLY_FROM_DAYS else None,
    )


def _traffic_params(own_ids: set[int]) -> tuple[date, date, int | None]:
    """The range and service asked for; defaults (with a flashed reason) when not valid."""
    try:
        service_id = parsing.optional(request.args.get("service"), parsing.integer,
                                      minimum=1, maximum=2**31 - 1)
    except parsing.ParseError:
        abort(404)
    if service_id is not None and service_id not in own_ids:
        abort(404)
    default_start, default_end = usage.month_to_date(today())
    try:
        start = _date_arg("from") or default_start
        end = _date_arg("to") or default_end
        usage.check_range(start, end)
    except usage.RangeError as exc:
        flash(
            _("The start date must not be later than the end date.")
            if exc.code == "order"
            else _("Choose a period of at most %(days)s days.", days=usage.MAX_DAYS),
            "error",
        )
        return default_start, default_end, service_id
    except ValueError:
        flash(_("Enter the dates in the form YYYY-MM-DD."), "error")
        return default_start, default_end, service_id
    return start, end, service_id


def _date_arg(name: str) -> date | None:
    """The day of the query parameter ``name``; ParseError (a ValueError) when not one."""
    return parsing.optional(request.args.get(name), parsing.day)
