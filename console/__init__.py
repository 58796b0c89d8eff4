"""The operator console (``/console/``): the ISP's staff run their day in the browser, on
the same domain functions the commands call (docs/console.md).

:func:`init_app` registers the blueprint (:mod:`console.blueprint`) with the views of every
area in :data:`AREAS`. A new area is one module ``console/views_<area>.py`` and one line
in :data:`AREAS`."""

from __future__ import annotations

from importlib import import_module

# One line per area: the module holding its views (imported by init_app).
AREAS = [
    "console.views_auth",
    "console.views_dashboard",
    "console.views_operators",
    "console.views_audit",
    "console.views_settings",
    "console.views_customers",
    "console.views_services",
    "console.views_invoices",
    "console.views_payments",
    "console.views_upload",  # a statement upload's progress (docs/bank-statements.md)
    "console.views_reports",
    "console.views_enforcement",
    "console.views_voip",
    "console.views_credit",  # prepaid credit accounts (docs/credit.md)
    "console.views_announcements",  # outages and notices for subscribers (docs/announcements.md)
    "console.views_run",  # the monthly run's progress, failed invoice e-mails (docs/monthly-run.md)
    "console.views_renewals",  # services with an expiry: renew, expiry, auto-renew (docs/renewals-console.md)
]


def init_app(app) -> None:
    """The console's one door into the Flask ``app``: settings, blueprint, commands, demo."""
    from console import auth, cli, config, demo
    from console.blueprint import bp
    from web import settings

    settings.apply(app, config.DEFAULTS)
    auth.configure(app)
    for area in AREAS:
        import_module(area)
    app.register_blueprint(bp)
    cli.init_app(app)
    app.extensions.setdefault("ispzone.demo_hooks", []).append(demo.load)
