"""Reports in the console (``/console/reports``): VAT with the kontrolní hlášení split,
debtors by age, the payments journal, for a chosen period, each with its CSV download, and
the Pohoda XML of the period's invoices. Money reports are for billing (and admin); the
readonly role may read them. The reports are billing/reports/ (docs/reports.md), the same
functions ``ispzone reports`` calls."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from flask import Response, current_app, render_template, request

from billing.invoicing.supplier import Supplier
from billing.reports import csv_export
from billing.reports.debtors import debtors_report
from billing.reports.payments import payments_journal
from billing.reports.period import Period, month_of
from billing.reports.pohoda import pohoda_xml
from billing.reports.vat import KH_LIMIT, vat_report
from console.auth import allow
from console.blueprint import bp
from core.clock import today
from web import parsing
from web.database import db

MONEY_READERS = ("billing", "readonly")  # and admin
PER_PAGE = 100  # rows of a report's table on one page (the CSV has them all)


@dataclass(frozen=True)
class Paged:
    """One page of a report's rows, in the shape templates/console/enforcement/_pager.html
    reads."""

    rows: list
    page: int
    pages: int
    total: int


def _paged(rows: list) -> Paged:
    per_page = PER_PAGE
    pages = max(1, -(-len(rows) // per_page))
    page = min(parsing.page_number(request.args.get("page")), pages)
    return Paged(rows[(page - 1) * per_page:page * per_page], page, pages, len(rows))


def _day(name: str, default: date) -> date:
    raw = request.args.get(name, "").strip()
    return parsing.day(raw) if raw else default


def _period() -> Period:
    """?from=YYYY-MM-DD&to=YYYY-MM-DD; the previous month when not given."""
    last_month = month_of(today().replace(day=1) - timedelta(days=1))
    return Period(_day("from", last_month.start), _day("to", last_month.end))


def _download(data: bytes, filename: str, mimetype: str) -> Response:
    return Response(data, mimetype=mimetype, headers={
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "no-store",
    })


def _csv(data: bytes, name: str, period_label: str) -> Response:
    return _download(data, f"{name}-{period_label}.csv", "text/csv")


@bp.get("/reports")
@allow(*MONEY_READERS)
def reports():
    period = _period()
    report = vat_report(db(), period)
    return render_template("console/reports/index.html", period=period, report=report,
                           page=_paged(report.documents), kh_limit=KH_LIMIT)


@bp.get("/reports/vat.csv")
@allow(*MONEY_READERS)
def reports_vat_csv():
    period = _period()
    return _csv(csv_export.vat_csv(vat_report(db(), period)), "dph", period.label)


@bp.get("/reports/kh.csv")
@allow(*MONEY_READERS)
def reports_kh_csv():
    period = _period()
    return _csv(csv_export.kh_csv(vat_report(db(), period)), "kontrolni-hlaseni",
                period.label)


@bp.get("/reports/debtors")
@allow(*MONEY_READERS)
def reports_debtors():
    on = _day("on", today())
    report = debtors_report(db(), on)
    sort = request.args.get("sort", "total")
    keys = {"total": lambda d: (-d.total, d.customer_number),
            "number": lambda d: d.customer_number,
            "age": lambda d: (-d.days_past_due, d.customer_number)}
    rows = sorted(report.debtors, key=keys.get(sort, keys["total"]))
    return render_template("console/reports/debtors.html", on=on, report=report,
                           page=_paged(rows))


@bp.get("/reports/debtors.csv")
@allow(*MONEY_READERS)
def reports_debtors_csv():
    on = _day("on", today())
    return _csv(csv_export.debtors_csv(debtors_report(db(), on)), "dluznici", on.isoformat())


@bp.get("/reports/payments")
@allow(*MONEY_READERS)
def reports_payments():
    period = _period()
    journal = payments_journal(db(), period)
    return render_template("console/reports/payments.html", period=period, journal=journal,
                           page=_paged(journal.payments))


@bp.get("/reports/payments.csv")
@allow(*MONEY_READERS)
def reports_payments_csv():
    period = _period()
    return _csv(csv_export.payments_csv(payments_journal(db(), period)), "platby",
                period.label)


@bp.get("/reports/pohoda.xml")
@allow(*MONEY_READERS)
def reports_pohoda():
    period = _period()
    data = pohoda_xml(db(), period, Supplier.from_config(current_app.config))
    return _download(data, f"pohoda-faktury-{period.label}.xml",
                     "application/xml; charset=windows-1250")
