"""Shared fixtures: a migrated database per test (SQLite by default, PostgreSQL when
TEST_DATABASE_URL is set), the app, a client, factories for customers, and the helpers test
modules ask for by name (flaskr's style): ``auth`` (log in and out of the client zone, read a
form's CSRF token), ``need`` (skip, or fail in CI, when a component is missing) and ``pg_url``.
Test modules never import from a conftest."""

from __future__ import annotations

import os
import re
import shutil
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import make_url, text

from billing.invoicing.supplier import Supplier
from billing.models import Contract, Customer, Service, ServiceAddress
from core import schema
from core.db import Base, make_engine, make_session_factory
from core.passwords import hash_password
from tests.support import PG_URL, REQUIRE_INTEGRATION, pg_schema_url
from tests.support import need as _need

_HASHES: dict[str, str] = {}


def password_hash(password: str) -> str:
    """argon2id is deliberately slow; hash each test password once per run."""
    if password not in _HASHES:
        _HASHES[password] = hash_password(password)
    return _HASHES[password]


@pytest.fixture
def need():
    """``need(condition, reason)``: skip on a developer laptop when an external component is
    missing; fail in CI (ISPZONE_REQUIRE_INTEGRATION=1)."""
    return _need


@pytest.fixture
def smtp():
    """A real SMTP server on loopback (aiosmtpd, :class:`tests.support.LoopbackSMTP`):
    ``port``; what it accepted in ``received`` (To, Message-ID), ``recipients`` and
    ``messages``; ``distinct`` Message-IDs; ``refuse`` addresses at RCPT; ``stop()`` and
    ``start()`` again on the same port."""
    from tests.support import LoopbackSMTP

    server = LoopbackSMTP().start()
    yield server
    server.stop()


@pytest.fixture
def live_browser(need, app_config):
    """``live_browser(config=None, *, chromium_args=(), context=None)``: the real app (CSRF
    protection on, ``config`` on top of the test's) served on a free port, and a headless
    Chromium (Debian's /usr/bin/chromium, Playwright) to open it: a
    :class:`tests.support.LiveBrowser` (``base``, ``app``, ``sessions``, ``page``,
    ``new_page(**options)``, ``csp_violations()``). ``context`` are the options of the page's
    browser context (locale, viewport...). Skipped (failed in CI) without Chromium or
    Playwright; everything is stopped at teardown. The Chromium tests share it."""
    import threading

    from tests.support import CHROMIUM, LiveBrowser

    started: list[LiveBrowser] = []

    def start(config: dict | None = None, *, chromium_args=(), context: dict | None = None):
        _need(Path(CHROMIUM).exists(),
              "Debian's chromium is not installed (apt-get install chromium)")
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            sync_playwright = None
        _need(sync_playwright is not None,
              "playwright is not installed (pip install -e '.[test]')")
        from werkzeug.serving import make_server

        from app import create_app

        app = create_app({**app_config, "WTF_CSRF_ENABLED": True, **(config or {})})
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="ispzone-live", daemon=True)
        thread.start()
        live = LiveBrowser(app, server, thread, dict(context or {}))
        started.append(live)
        live.launch(sync_playwright, chromium_args)
        return live

    yield start
    for live in reversed(started):
        live.stop()


@pytest.fixture
def cheap_demo_passwords(monkeypatch):
    """The demo hashes ~40 passwords with production argon2id parameters (~0.7 s each);
    cheap parameters verify the same way, and a first login rehashes with the real ones
    (credentials.needs_rehash). (raising=False: should demo.py stop importing hash_password,
    the test only gets slower.)"""
    from argon2 import PasswordHasher

    from billing import demo

    monkeypatch.setattr(demo, "hash_password",
                        PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1).hash,
                        raising=False)


@pytest.fixture
def pg_url():
    """TEST_DATABASE_URL (PostgreSQL), or None when the suite runs on SQLite."""
    return PG_URL


@pytest.fixture(name="pg_schema_url")
def pg_schema_url_fixture():
    """``pg_schema_url(base, schema)``: a PostgreSQL URL whose search_path is ``schema``."""
    return pg_schema_url


# On PostgreSQL the tests' app and sessions connect as a role that owns no table, as in
# production (README, "Production: database roles"): TEST_DATABASE_APP_URL's user (made
# here when missing). TEST_DATABASE_URL's user owns the schema: it migrates it and grants
# the app's role (core/schema.py).
APP_URL = make_url(os.environ.get("TEST_DATABASE_APP_URL") or "postgresql://ispzone_app_test@/")
APP_ROLE = APP_URL.username


@pytest.fixture
def app_role():
    """The non-owner role the tests' app connects as on PostgreSQL."""
    return APP_ROLE


def _create_app_role(admin) -> None:
    with admin.begin() as conn:  # roles are the cluster's: another run may have made it
        conn.execute(text(
            f"DO $$ BEGIN CREATE ROLE {APP_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        ))


def _as_app_role(owner_url: str) -> str:
    url = make_url(owner_url).set(username=APP_ROLE, password=APP_URL.password)
    return url.render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    if PG_URL:
        # A schema of our own, so that parallel test runs on one database do not collide.
        schema_name = f"ispzone_test_{os.getpid()}"
        admin = make_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE"))
            conn.execute(text(f"CREATE SCHEMA {schema_name}"))
        url = pg_schema_url(PG_URL, schema_name)
        _create_app_role(admin)
        engine = make_engine(url)
        schema.upgrade(engine, app_role=APP_ROLE)
        engine.dispose()
        yield url
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {schema_name} CASCADE"))
        admin.dispose()
    else:
        yield _migrated_sqlite(tmp_path_factory.mktemp("db") / "template.sqlite3")


def _migrated_sqlite(path: Path) -> Path:
    engine = make_engine(f"sqlite:///{path}")
    schema.upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def _sqlite_template(_template_db, tmp_path_factory):
    if not PG_URL:
        return _template_db
    return _migrated_sqlite(tmp_path_factory.mktemp("sqlite-db") / "template.sqlite3")


@pytest.fixture
def sqlite_database_url(_sqlite_template, tmp_path):
    """A migrated SQLite database of the test's own, also when the suite runs on PostgreSQL
    (TEST_DATABASE_URL): for the tests of SQLite's own behaviour, such as its one write lock.
    A test module or class that needs it overrides ``database_url`` with it."""
    target = tmp_path / "sqlite-only.sqlite3"
    shutil.copy(_sqlite_template, target)
    return f"sqlite:///{target}"


@pytest.fixture
def owner_url(_template_db, tmp_path):
    """The database as its owner (who migrates it); on SQLite the same file as the app's."""
    if PG_URL:
        engine = make_engine(_template_db)
        tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            # the ledger's append-only triggers would refuse the clean-up between tests
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        engine.dispose()
        return _template_db
    target = tmp_path / "test.sqlite3"
    shutil.copy(_template_db, target)
    return f"sqlite:///{target}"


@pytest.fixture
def database_url(owner_url):
    """The database as the application connects to it (on PostgreSQL: a non-owner role)."""
    return _as_app_role(owner_url) if PG_URL else owner_url


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    s = make_session_factory(engine)()
    yield s
    s.rollback()
    s.close()


@pytest.fixture
def fresh_engine(tmp_path, pg_url, pg_schema_url):
    """An empty database of the test's own (an SQLite file, or a PostgreSQL schema) as its
    owner, for the tests that run the migrations themselves."""
    if not pg_url:
        engine = make_engine(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
        yield engine
        engine.dispose()
        return
    name = f"ispzone_fresh_{os.getpid()}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
        conn.execute(text(f"CREATE SCHEMA {name}"))
    engine = make_engine(pg_schema_url(pg_url, name))
    yield engine
    engine.dispose()
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {name} CASCADE"))
    admin.dispose()


@pytest.fixture
def supplier():
    return Supplier()


@pytest.fixture
def app_config(database_url, tmp_path):
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret",
        "PUBLIC_URL": "http://localhost",  # the test client's host; every e-mail link uses it
        "WTF_CSRF_ENABLED": False,
        "MAIL_OUTBOX_DIR": str(tmp_path / "outbox"),
        "RATELIMIT_STORAGE_URI": "memory://",
        "ENFORCEMENT_RECORDING_DIR": str(tmp_path / "recording-routers"),
    }


@pytest.fixture
def app(app_config):
    from app import create_app

    app = create_app(app_config)
    yield app
    app.extensions["ispzone.engine"].dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def outbox(app_config):
    """The e-mails the app has sent (read back from the outbox folder)."""
    from email import policy
    from email.parser import BytesParser

    class Outbox:
        folder = Path(app_config["MAIL_OUTBOX_DIR"])

        def messages(self):
            if not self.folder.exists():
                return []
            files = sorted(self.folder.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
            return [BytesParser(policy=policy.default).parsebytes(p.read_bytes()) for p in files]

    return Outbox()


@pytest.fixture
def make_customer(session):
    """Create a customer with a contract and (optionally) an internet service."""
    counter = iter(range(5000, 9999))

    def factory(
        number: str | None = None,
        password: str = "secret-pass",
        name: str = "Jana Dvořáková",
        email: str = "jana@example.cz",
        internet_ip: str | None = None,
        **fields,
    ) -> Customer:
        number = number or str(next(counter))
        customer = Customer(
            customer_number=number,
            name=name,
            email=email,
            phone=fields.pop("phone", "+420777123456"),
            street=fields.pop("street", "Husova 5"),
            city=fields.pop("city", "Kolín"),
            postal_code=fields.pop("postal_code", "280 02"),
            password_hash=password_hash(password) if password else None,
            **fields,
        )
        session.add(customer)
        session.flush()
        contract = Contract(customer_id=customer.id, number=number, signed_on=date(2024, 1, 1))
        session.add(contract)
        session.flush()
        if internet_ip:
            service = Service(
                customer_id=customer.id,
                contract_id=contract.id,
                kind="internet",
                name="Internet 100",
                price=Decimal("450.00"),
                valid_from=date(2024, 1, 1),
                download_kbps=100_000,
                upload_kbps=20_000,
                location="Husova 5, Kolín",
            )
            service.addresses.append(ServiceAddress(address=internet_ip))
            session.add(service)
        session.commit()
        return customer

    return factory


class AuthActions:
    """Logging in to and out of the client zone, as a test does it (flaskr's ``auth``).

    Each action uses the test's ``client`` unless another one is given (a second browser)."""

    def __init__(self, client):
        self._client = client

    def login(self, number: str, password: str, client=None):
        return (client or self._client).post(
            "/login", data={"customer_number": number, "password": password}
        )

    def logout(self, client=None):
        return (client or self._client).post("/logout")

    @staticmethod
    def csrf_token(html: str) -> str:
        """The CSRF token of the (first) form in ``html``."""
        m = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
            r'name="csrf_token" value="([^"]+)"', html
        )
        assert m, "no CSRF token in the page"
        return m.group(1)


@pytest.fixture
def auth(client):
    return AuthActions(client)


@pytest.fixture
def days_ago():
    from core.clock import today

    return lambda n: today() - timedelta(days=n)


MIN_TESTS_IN_CI = 50


def pytest_sessionfinish(session, exitstatus):
    """In CI nothing may be skipped, and an (almost) empty run is a failure."""
    if not REQUIRE_INTEGRATION:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    skipped = len(reporter.stats.get("skipped", []))
    passed = len(reporter.stats.get("passed", []))
    if skipped:
        reporter.write_line(f"CI: {skipped} test(s) skipped; every component must be present")
        session.exitstatus = 1
    if passed < MIN_TESTS_IN_CI and not session.config.option.keyword:
        reporter.write_line(f"CI: only {passed} tests passed (expected at least {MIN_TESTS_IN_CI})")
        session.exitstatus = 1
