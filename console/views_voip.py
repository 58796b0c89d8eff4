"""VoIP in the console (``/console/voip``): the lines with their credit and top-up cap (set
or reset a cap), the price lists with an upload that first shows what changes (new, changed
and removed prefixes and prices) and imports only when the operator confirms, the CDR
upload (Asterisk Master.csv, rated and deducted from the credits), and the top-ups.

Every role may read; support (and admin) change. The changes are the functions the
commands call (voip/lines.py ``set_cap``, voip/tariff_import.py, voip/cdr.py), audited
with the operator."""

from __future__ import annotations

import hashlib
import io

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from billing.models import Service
from console.auth import ALL, actor, allow
from console.blueprint import bp
from core.clock import today
from core.errors import Invalid
from core.i18n import _l
from core.i18n import number as shown_number
from voip import overview
from voip.cdr import import_cdr
from voip.lines import set_cap
from voip.models import Tariff
from voip.tariff_import import import_tariff_csv
from web import parsing
from web.database import db
from web.door import after_commit
from web.formatting import format_date, format_money

ACTORS = ("support",)  # and admin
PER_PAGE = 50


class UploadError(Invalid, ValueError):
    """The uploaded file cannot be read."""


def _uploaded_text(field: str, *, excel: bool = False) -> tuple[str, str]:
    """The uploaded file's text (UTF-8; ``excel``: or Windows-1250, as Czech Excel saves a
    CSV) and name, with LF line ends; refused when missing, too big or not text."""
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise UploadError(_l("Choose a file to upload."), field=field)
    limit = int(current_app.config["STATEMENT_MAX_BYTES"])
    data = upload.stream.read(limit + 1)
    if len(data) > limit:
        raise UploadError(_l("The file is larger than %(limit)s bytes.",
                                 limit=shown_number(limit)), field=field)
    for encoding in ("utf-8-sig", "cp1250") if excel else ("utf-8-sig",):
        try:
            return _lf(data.decode(encoding)), upload.filename
        except UnicodeDecodeError:
            continue
    raise UploadError(_l("The file is not UTF-8 text."), field=field)


def _lf(text: str) -> str:
    """One kind of line end: a browser sends a form's text back with CRLF."""
    return text.replace("\r\n", "\n")


def _digest(text: str) -> str:
    return hashlib.sha256(_lf(text).encode()).hexdigest()


# -- lines and caps --------------------------------------------------------------------------


@bp.get("/voip")
@allow(*ALL)
def voip_lines():
    q = parsing.query(request.args.get("q", ""), max_length=100)
    page = overview.line_list(db(), search=q, page=parsing.page_number(request.args.get("page")),
                              per_page=PER_PAGE)
    return render_template("console/voip/lines.html", page=page, q=q,
                           default_cap=current_app.config["VOIP_TOPUP_CAP"])


@bp.post("/voip/lines/<int:line_id>/cap")
@allow(*ACTORS)
def voip_set_cap(line_id: int):
    """``line_id``: the line's service id."""
    service = db().scalar(select(Service).where(Service.id == line_id,
                                                Service.kind == "voip"))
    if service is None:
        abort(404)
    raw = request.form.get("cap", "").strip()
    cap = None if raw.lower() in ("", "default") else parsing.amount(raw, minimum=parsing.CENT)
    _service, old = set_cap(db(), service.phone_number, cap, actor=actor())
    flash(_("%(number)s: monthly top-up cap %(old)s → %(new)s.", number=service.phone_number,
            old=format_money(old) if old is not None else _("default"),
            new=format_money(cap) if cap is not None else _("default")), "success")
    return redirect(url_for("console.voip_lines", q=request.form.get("q", "")))


# -- price lists -----------------------------------------------------------------------------


@bp.get("/voip/tariffs")
@allow(*ALL)
def voip_tariffs():
    tariffs = db().scalars(select(Tariff).order_by(Tariff.valid_from.desc())).all()
    return render_template("console/voip/tariffs.html", tariffs=tariffs, today=today())


def _valid_from():
    return parsing.optional(request.form.get("valid_from"), parsing.day, today())


@bp.post("/voip/tariffs/preview")
@allow(*ACTORS)
def voip_tariff_preview():
    """Show what the uploaded price list changes; nothing is imported yet."""
    text, filename = _uploaded_text("file", excel=True)
    valid_from = _valid_from()
    preview = overview.preview_tariff(db(), text, valid_from)
    return render_template(
        "console/voip/tariff_preview.html", preview=preview, text=text, filename=filename,
        digest=_digest(text),
        name=parsing.text(request.form.get("name", ""), max_length=100))


@bp.post("/voip/tariffs/import")
@allow(*ACTORS)
def voip_tariff_import():
    """Import the price list the operator saw in the preview (its text came back with the
    form; its digest shows it is the one previewed)."""
    text = _lf(request.form.get("text", ""))
    if _digest(text) != request.form.get("digest"):
        raise UploadError(_l("The price list changed after the preview; upload it again."))
    filename = parsing.text(request.form.get("filename", ""), max_length=300)
    valid_from = _valid_from()
    stream = io.StringIO(text)
    stream.name = filename or None
    tariff = import_tariff_csv(
        db(), stream, valid_from=valid_from,
        name=parsing.text(request.form.get("name", ""), max_length=100) or None,
        actor=actor(), replace=request.form.get("replace") == "1")
    flash(_("Price list %(name)s valid from %(day)s imported: %(count)s prefixes.",
            name=tariff.name, day=format_date(tariff.valid_from),
            count=len(tariff.rates)), "success")
    return redirect(url_for("console.voip_tariffs"))


# -- call records ----------------------------------------------------------------------------


@bp.get("/voip/cdr")
@allow(*ALL)
def voip_cdr():
    return render_template("console/voip/cdr.html", result=None)


@bp.post("/voip/cdr")
@allow(*ACTORS)
def voip_cdr_upload():
    text, filename = _uploaded_text("file")
    stream = io.StringIO(text, newline="")
    stream.name = filename
    result = import_cdr(db(), stream, actor=actor(),
                        skip_unrated=request.form.get("skip_unrated") == "1",
                        timezone=current_app.config.get("VOIP_CDR_TIMEZONE", "Europe/Prague"))
    if result.low_credit:
        from voip.cli_rating import send_low_credit_mails

        low = list(result.low_credit)
        after_commit(lambda: send_low_credit_mails(low))
    return render_template("console/voip/cdr.html", result=result, filename=filename)


# -- top-ups ---------------------------------------------------------------------------------


@bp.get("/voip/topups")
@allow(*ALL)
def voip_topups():
    number = parsing.text(request.args.get("number", ""), max_length=20)
    page = overview.topup_list(db(), number=number,
                               page=parsing.page_number(request.args.get("page")),
                               per_page=PER_PAGE)
    return render_template("console/voip/topups.html", page=page, number=number)
