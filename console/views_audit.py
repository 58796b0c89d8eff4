"""The audit trail (``/console/audit``): every recorded change with its actor, filtered by
actor, action, customer and period, a page at a time (billing/audit_trail.py)."""

from __future__ import annotations

from flask import flash, render_template, request
from flask_babel import gettext as _

from billing.audit_trail import AuditFilter, AuditPage, action_names, audit_page
from console.auth import ALL, allow
from console.blueprint import bp
from web import parsing
from web.database import db

PER_PAGE = 50


@bp.get("/audit")
@allow(*ALL)
def audit():
    args = request.args
    try:
        flt = AuditFilter(
            actor=parsing.text(args.get("actor", ""), max_length=64),
            action=parsing.text(args.get("action", ""), max_length=64),
            customer=parsing.text(args.get("customer", ""), max_length=20),
            since=parsing.optional(args.get("since"), parsing.day),
            until=parsing.optional(args.get("until"), parsing.day),
        )
    except parsing.ParseError:
        flash(_("Enter the dates as YYYY-MM-DD (or pick them in the calendar)."), "error")
        return render_template("console/audit.html", page=AuditPage(), flt=AuditFilter(),
                               actions=action_names(db()), oldest_first=False, query={}), 400
    oldest_first = args.get("sort") == "at"
    page = audit_page(db(), flt, page=parsing.page_number(args.get("page")), per_page=PER_PAGE,
                      oldest_first=oldest_first)
    query = {k: v for k, v in (("actor", flt.actor), ("action", flt.action),
                               ("customer", flt.customer),
                               ("since", flt.since.isoformat() if flt.since else ""),
                               ("until", flt.until.isoformat() if flt.until else ""),
                               ("sort", "at" if oldest_first else "")) if v}
    return render_template("console/audit.html", page=page, flt=flt, actions=action_names(db()),
                           oldest_first=oldest_first, query=query)
