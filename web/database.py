"""One engine per app; one SQLAlchemy session per request (or CLI command)."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from billing.db import make_engine, make_session_factory


def init_app(app: Flask) -> None:
    # No pre-ping: it costs a round trip on every request. A connection that the server
    # closed fails that one request; SQLAlchemy then sees the disconnect and invalidates
    # the pool, so the next requests get fresh connections.
    engine = make_engine(app.config["DATABASE_URL"], pool_pre_ping=False)
    app.extensions["ispzone.engine"] = engine
    app.extensions["ispzone.sessions"] = make_session_factory(engine)
    app.teardown_appcontext(_close_session)


def db() -> Session:
    """The session of the current request / app context."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["ispzone.sessions"]()
    return g.db_session


def engine():
    return current_app.extensions["ispzone.engine"]


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()
