"""One engine per app; one SQLAlchemy session per request (or CLI command).

The session's unit of work is committed or rolled back by the web door (``web.door``), the
CLI's by ``web.cli_door``; nothing else commits."""

from __future__ import annotations

from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.orm import Session

from core.db import make_engine, make_session_factory


def init_app(app: Flask) -> None:
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
