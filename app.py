"""The application factory (configuration, extensions, blueprints, error handlers, CLI) and
:func:`main`, the ``ispzone`` command. The top of the house: no module imports this one."""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from flask import Flask, render_template
from werkzeug.middleware.proxy_fix import ProxyFix

# Every setting can come from the environment (see README, "Configuration").
DEFAULTS = {
    "DATABASE_URL": None,  # default: sqlite file in the instance folder
    "SECRET_KEY": None,  # default: generated once, kept in instance/secret_key
    "REDIS_URL": None,
    "PROXY_FIX": "",  # e.g. "x_for=1,x_proto=1,x_host=1" behind one reverse proxy
    "SESSION_IDLE_MINUTES": 120,
    "SESSION_MAX_HOURS": 12,
    "LOGIN_IP_FAILURES": "30/minute;300/hour",
    "LOGIN_ACCOUNT_FAILURES": "100/hour",
    "LOGIN_DEVICE_FAILURES": "10/hour",
    "PASSWORD_RESET_HOURS": 1,
    "SMTP_HOST": None,
    "SMTP_PORT": 25,
    "SMTP_USER": None,
    "SMTP_PASSWORD": None,
    "SMTP_SECURITY": "none",
    "MAIL_FROM": "Příkladnet zákaznická zóna <zona@priklad.net>",
    "MAIL_OUTBOX_DIR": None,
    # the console's monthly run: "inline" (the request runs the jobs) or "external" (ispzone jobs
    # worker processes do; docs/monthly-run.md)
    "MONTHLY_RUN_WORKERS": "inline",  # default: instance/outbox when SMTP_HOST is unset
    # the console's statement upload: "inline" (a thread of the web app imports the file) or
    # "external" (ispzone jobs worker processes do; docs/bank-statements.md)
    "STATEMENT_UPLOAD_WORKERS": "inline",
    "OPERATOR_EMAIL": "podpora@priklad.net",
    "PUBLIC_URL": None,  # e.g. https://zona.priklad.net: every e-mail link, the trusted hosts
    # our bank accounts whose statements `payments import` accepts, comma separated
    # ("2001234588/2010", "19-2000145399/0800" or IBANs); default: SUPPLIER_ACCOUNT
    "BANK_ACCOUNTS": "",
    # `payments fetch-fio`: the Fio banka API token (read-only "account monitoring" token)
    "FIO_TOKEN": None,
    "FIO_API_URL": "https://fioapi.fio.cz/v1/rest",
    # the largest bank statement `payments import` accepts, in bytes (50 MiB)
    "STATEMENT_MAX_BYTES": 50 * 1024 * 1024,
    # the provider's contacts on every page of the zones and on /warning (docs/zone.md)
    "SUPPORT_PHONE": "+420 321 123 456",
    "SUPPORT_EMAIL": "podpora@priklad.net",
    "SUPPORT_HOURS": "Po–Pá 8:00–18:00",
    "SUPPORT_HOURS_EN": "Mon–Fri 8:00–18:00",
    # "Already paid?": within how many working days a payment is usually paired
    "PAYMENT_PAIRING_DAYS": 1,
}
INT_SETTINGS = {"SESSION_IDLE_MINUTES", "SESSION_MAX_HOURS", "PASSWORD_RESET_HOURS", "SMTP_PORT",
                "STATEMENT_MAX_BYTES", "PAYMENT_PAIRING_DAYS"}


FORM_MARGIN = 1024 * 1024  # bytes a request may carry beyond the largest upload (the form)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=True)
    _configure(app, test_config or {})

    from web import database, door, formatting, i18n, parsing, sessions
    from web.extensions import babel, csrf, limiter, login_manager

    database.init_app(app)
    door.init_app(app)  # the request's unit of work and the refusal handler (docs/doors.md)
    i18n.init_app(app)
    babel.init_app(app, locale_selector=i18n.select_locale, default_timezone="Europe/Prague")
    i18n.init_jinja(app)
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    app.session_interface = sessions.HttpsAwareSessionInterface()
    formatting.init_app(app)
    parsing.install(app)

    import zone
    from enforcement import views as enforcement_views
    from voip import views as voip_views

    app.register_blueprint(zone.bp)
    voip_views.init_app(app)
    enforcement_views.init_app(app)
    import console  # the operator console (docs/console.md)

    console.init_app(app)

    from web import cli

    cli.init_app(app)
    from web import cli_reports  # ispzone reports (billing/reports/)

    cli_reports.init_app(app)
    _error_handlers(app)
    from web import security

    security.init_app(app)
    # Last, so that it is outermost: the /radius endpoints in front of Flask
    # (enforcement.radius.api) see the client address it reports too.
    from web.settings import proxy_fix_options

    if opts := proxy_fix_options(app.config["PROXY_FIX"]):
        app.wsgi_app = ProxyFix(app.wsgi_app, **opts)
    return app


def main() -> None:
    """The ``ispzone`` command: Flask's CLI of the app plus the operators' commands."""
    from flask.cli import FlaskGroup

    from web.settings import ConfigurationError

    cli = FlaskGroup(create_app=create_app, help="ispzone: client zone, billing, enforcement",
                     params=[_as_option()])
    try:
        cli.main()
    except ConfigurationError as exc:  # the operator's message, not a traceback
        print(f"Error: {exc}", file=sys.stderr)
        sys.exit(2)


def _as_option():
    """``ispzone --as LOGIN ...``: the operator a command acts for (its audit events name
    them); without it the Unix user (``web.cli_door.cli_actor``)."""
    import click

    def remember(ctx, _param, value):
        if value:
            os.environ["ISPZONE_AS"] = value
        return value

    return click.Option(["--as", "as_login"], metavar="LOGIN", expose_value=False,
                        is_eager=True, callback=remember,
                        help="The operator this command acts for (audit); default: the Unix user.")


def _whole_number(key: str, value: str) -> int:
    """A numeric setting from the environment; a clear refusal to start when it is not one."""
    from web.settings import ConfigurationError

    try:
        number = int(value.strip())
    except ValueError:
        raise ConfigurationError(f"{key}: {value!r} is not a whole number") from None
    if number < 0:
        raise ConfigurationError(f"{key}: {value!r} may not be negative")
    return number


def _configure(app: Flask, test_config: dict) -> None:
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    app.config.update(DEFAULTS)
    for key in DEFAULTS:
        if key in os.environ:
            value = os.environ[key]
            app.config[key] = _whole_number(key, value) if key in INT_SETTINGS else value
    for key, value in os.environ.items():  # supplier details for documents
        if key.startswith("SUPPLIER_"):
            app.config[key] = value
    app.config.update(test_config)
    from web import settings

    settings.check_production(app.config)  # missing production settings stop the start, clearly
    from billing.invoicing.supplier import Supplier

    Supplier.from_config(app.config)  # a bad SUPPLIER_* setting stops the start, clearly

    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'ispzone.sqlite3'}"
    if not app.config["SECRET_KEY"]:
        app.config["SECRET_KEY"] = _instance_secret(Path(app.instance_path) / "secret_key")
    if not app.config["SMTP_HOST"] and not app.config["MAIL_OUTBOX_DIR"]:
        app.config["MAIL_OUTBOX_DIR"] = str(Path(app.instance_path) / "outbox")
    app.config.setdefault(
        "RATELIMIT_STORAGE_URI", app.config["REDIS_URL"] or "memory://"
    )
    app.config.setdefault("RATELIMIT_STRATEGY", "moving-window")
    app.config.setdefault("RATELIMIT_HEADERS_ENABLED", False)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "ispzone_session"
    app.config["REMEMBER_COOKIE_DURATION"] = 0
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the session instead
    if app.config.get("MAX_CONTENT_LENGTH") is None:
        # Every request body, chunked ones too (werkzeug stops reading past it: 413), may carry
        # the largest upload (a statement) and its form; the upload's own check gives the
        # friendlier refusal below that.
        app.config["MAX_CONTENT_LENGTH"] = int(app.config["STATEMENT_MAX_BYTES"]) + FORM_MARGIN


def _instance_secret(path: Path) -> str:
    if path.exists():
        return path.read_text().strip()
    secret = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secret)
    return secret


def _error_handlers(app: Flask) -> None:
    from flask_wtf.csrf import CSRFError

    @app.errorhandler(404)
    def not_found(_e):
        return render_template("errors/404.html"), 404

    @app.errorhandler(CSRFError)
    def csrf_error(e):
        return render_template("errors/400.html", reason=e.description, csrf=True), 400

    @app.errorhandler(400)
    def bad_request(_e):  # e.g. a NUL byte in a form or a query (web.parsing's guard)
        return render_template("errors/400.html", csrf=False), 400

    @app.errorhandler(405)
    def wrong_method(e):  # e.g. GET /logout: a form's address opened directly
        response = e.get_response()  # keeps the Allow header
        response.set_data(render_template("errors/405.html"))
        response.mimetype = "text/html"
        return response

    @app.errorhandler(413)
    def too_large(_e):
        return render_template("errors/413.html",
                               limit=app.config["MAX_CONTENT_LENGTH"]), 413

    @app.errorhandler(429)
    def too_many(_e):
        return render_template("errors/429.html"), 429

    @app.errorhandler(500)
    def server_error(_e):
        return render_template("errors/500.html"), 500
