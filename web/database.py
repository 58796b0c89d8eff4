"""One engine per app; one SQLAlchemy session per request (or CLI command).

The session's unit of work is committed or rolled back by the web door (``web.door``), the
CLI's by ``web.cli_door``; nothing else commits."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from core import db as core_db
from core.db import make_engine, make_session_factory
from web import settings

# Two roles in production (README, "Production: database roles"): DATABASE_URL is the
# application's role, which owns no table; `ispzone db upgrade` runs as DATABASE_OWNER_URL
# (default: DATABASE_URL) and grants DATABASE_APP_ROLE (default: DATABASE_URL's user, when
# it differs from the owner's) the application's privileges (core/schema.py).
DEFAULTS = {"DATABASE_OWNER_URL": "", "DATABASE_APP_ROLE": ""}


def init_app(app: Flask) -> None:
    settings.apply(app, DEFAULTS)
    # No pre-ping: it costs a round trip on every request. A connection that the server
    # closed fails that one request; SQLAlchemy then sees the disconnect and invalidates
    # the pool, so the next requests get fresh connections.
    engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=False)
    app.extensions["ispzone.engine"] = engine
    app.extensions["ispzone.sessions"] = make_session_factory(engine)
    app.teardown_appcontext(_close_session)


READ_ONLY_METHODS = ("GET", "HEAD")


def db() -> Session:
    """The session of the current request / app context.

    A GET or HEAD (which change nothing but the login session's last-seen time, one
    statement) reads PostgreSQL in autocommit mode: under READ COMMITTED every statement
    takes its own snapshot anyway, so the BEGIN and ROLLBACK round trips around a page's
    few SELECTs bought nothing (bench/web.py)."""
    if "db_session" not in g:
        session = current_app.extensions["ispzone.sessions"]()
        dialect = session.get_bind().dialect.name
        if has_request_context():
            if request.method in READ_ONLY_METHODS:
                if dialect == "postgresql":
                    session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
                    session.info[core_db.AUTOCOMMIT_READS] = True  # the door skips its commit
            elif dialect == "sqlite":
                # a form that writes takes SQLite's one write lock first (see core.db):
                # writers queue up instead of failing on a stale read snapshot
                session.connection(execution_options={"sqlite_immediate": True})
        g.db_session = session
    return g.db_session


def engine():
    return current_app.extensions["ispzone.engine"]


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()  # closing rolls back whatever the door did not commit
