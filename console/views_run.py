"""The monthly run in the console (docs/monthly-run.md): its progress page (refreshing
itself while the run goes on) and a small JSON of the same figures, and the invoice e-mails
that failed, each with "send again" (billing.jobs.resend_invoice_email). The run page and
its POST are in console/views_invoices.py; the work is billing.invoicing.monthly_run's."""

from __future__ import annotations

from flask import abort, current_app, jsonify, render_template, request

from billing.invoicing import monthly_run
from console.auth import ALL, actor, allow
from console.blueprint import bp
from web.database import db
from web.door import after_commit


def start_month_run(month: str, *, email: bool) -> monthly_run.PlanReport:
    """Plan the run in the request's unit of work; unless workers run it
    (MONTHLY_RUN_WORKERS=external), run its jobs here once the plan is committed."""
    from billing.invoicing.supplier import Supplier

    report = monthly_run.plan(db(), month, actor=actor(), email=email)
    if current_app.config.get("MONTHLY_RUN_WORKERS", "inline") != "external":
        from web.cli_jobs import mailer

        sessions = current_app.extensions["ispzone.sessions"]
        supplier = Supplier.from_config(current_app.config)

        def run_inline() -> None:
            from core.jobs import worker_id

            ctx = monthly_run.WorkContext(sessions, supplier, worker_id(), mailer())
            try:
                monthly_run.work(ctx, month=month, until_idle=True, poll=0.2,
                                 wait_paused=False)
            finally:
                ctx.mailer.transport.close()

        after_commit(run_inline)
    return report


def _month() -> str | None:
    """The month asked for (a malformed one: 404), else the newest run's (None: no run)."""
    month = (request.args.get("month") or "").strip()
    if not month:
        return monthly_run.latest_run_month(db())
    try:
        monthly_run.parse_month(month)
    except ValueError:
        abort(404)
    return month


@bp.get("/invoices/run/progress")
@allow(*ALL)
def month_run_progress():
    month = _month()
    status = monthly_run.run_status(db(), month) if month else None
    return render_template("console/money/run_progress.html", month=month, status=status)


@bp.get("/invoices/run/status.json")
@allow(*ALL)
def month_run_status_json():
    month = _month()
    status = monthly_run.run_status(db(), month) if month else None
    return jsonify(status.as_dict() if status else {"month": month, "run": None})


@bp.get("/invoices/mail-failed")
@allow(*ALL)
def failed_invoice_mails():
    return render_template("console/money/mail_failed.html",
                           failed=monthly_run.failed_mails(db()))
