"""Database plumbing shared by every package: declarative base, column types, sessions,
and the transaction door (:func:`transaction`, :func:`run_in_transaction`,
:func:`after_commit`).

No Flask here: the web layer, the CLI and the tests all open sessions through
:func:`make_session_factory`; domain functions flush, and only the doors (``web.door``,
``web.cli_door``, jobs through :func:`run_in_transaction`) commit or roll back.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import TypeVar

from sqlalchemy import BigInteger, DateTime, Engine, MetaData, Numeric, create_engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CENT = Decimal("0.01")
T = TypeVar("T")


class Money(TypeDecorator):
    """NUMERIC(12,2) holding a ``Decimal`` in CZK.

    PostgreSQL stores it natively. SQLite has no decimal type (it would go through float),
    so there it is kept as an integer number of haléře; sums stay exact on both.
    """

    impl = Numeric(12, 2)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        # NUMERIC(12,2) unless given (ledger legs: Money(precision=14, scale=2))
        precision = self.impl.precision or 12
        return dialect.type_descriptor(Numeric(precision, 2, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal or int, never float")
        value = Decimal(value)
        if value != value.quantize(CENT):
            raise ValueError(f"money has more than 2 decimal places: {value}")
        if dialect.name == "sqlite":
            return int(value * 100)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 100).quantize(CENT)
        return Decimal(value).quantize(CENT)

    @property
    def python_type(self):
        return Decimal


class Price4(TypeDecorator):
    """NUMERIC(12,4) for unit prices (a call minute may cost 0,4950 Kč).

    Like :class:`Money`, kept as an exact integer (ten-thousandths of a koruna) on SQLite.
    """

    impl = Numeric(12, 4)
    cache_ok = True
    QUANTUM = Decimal("0.0001")

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(12, 4, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("prices must be Decimal or int, never float")
        value = Decimal(value)
        if value != value.quantize(self.QUANTUM):
            raise ValueError(f"price has more than 4 decimal places: {value}")
        if dialect.name == "sqlite":
            return int(value * 10000)
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)) / 10000).quantize(self.QUANTUM)
        return Decimal(value).quantize(self.QUANTUM)

    @property
    def python_type(self):
        return Decimal


class UTCDateTime(TypeDecorator):
    """A timestamp stored in UTC and always returned timezone-aware (UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use core.clock.now()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    @property
    def python_type(self):
        return datetime


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {Decimal: Money(), datetime: UTCDateTime()}


# How long an SQLite statement waits for the database's one write lock before it fails with
# "database is locked": a form's unit of work queues behind another writer this long.
SQLITE_BUSY_MS = 30_000
# ... and how long a bookkeeping write (write_unless_busy) waits before it gives up.
BOOKKEEPING_BUSY_MS = 200


def make_engine(url: str, **kwargs) -> Engine:
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": SQLITE_BUSY_MS / 1000})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record):  # pragma: no cover - trivial
            # pysqlite's own transaction handling would begin only before a write, which
            # breaks SAVEPOINTs (begin_nested); SQLAlchemy emits BEGIN itself instead.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn):  # pragma: no cover - trivial
            # A unit of work that will write asks for the write lock at once
            # (execution option ``sqlite_immediate``): a read transaction that writes
            # later fails at once ("database is locked") when another writer committed
            # in between, a busy wait cannot help it.
            immediate = conn.get_execution_options().get("sqlite_immediate")
            conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def is_busy(exc: BaseException) -> bool:
    """SQLite's "database is locked" / "database is busy": another connection holds the
    write lock (SQLITE_BUSY, SQLITE_LOCKED and their extended codes)."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (5, 6)
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


def write_unless_busy(engine: Engine, *statements, busy_ms: int = BOOKKEEPING_BUSY_MS) -> bool:
    """Run ``statements`` (bookkeeping a page does for itself: a login's last-seen touch,
    forgetting an expired login) in a short SQLite transaction of their own, and give them
    up (False, logged) when another connection holds the database's one write lock for more
    than ``busy_ms`` (a long statement import): the page that wanted them is answered
    anyway, and its next request does them again. Never for money or access changes, whose
    unit of work must fail when it cannot write."""
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        try:
            conn.execution_options(sqlite_immediate=True)  # the write lock first (see above)
            with conn.begin():
                for statement in statements:
                    conn.execute(statement)
            return True
        except DBAPIError as exc:
            if not is_busy(exc):
                raise
            log.info("database busy: bookkeeping write skipped (%s)", exc.orig)
            return False
        finally:
            raw.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


def money_sum(column):
    """SUM of a Money column, 0 when empty, converted back to Decimal on every backend."""
    from sqlalchemy import func, type_coerce

    return type_coerce(func.coalesce(func.sum(column), 0), Money())


def bulk_update(session, table, rows: list[dict]) -> None:
    """Update many rows by primary key ``id`` (every row carries the same keys)."""
    if not rows:
        return
    from sqlalchemy import bindparam, text, update

    if session.get_bind().dialect.name != "postgresql":
        keys = [k for k in rows[0] if k != "id"]
        stmt = (
            update(table)
            .where(table.c.id == bindparam("_id"))
            .values({k: bindparam(f"_{k}") for k in keys})
        )
        session.connection().execute(stmt, [{f"_{k}": v for k, v in r.items()} for r in rows])
        return
    keys = [k for k in rows[0] if k != "id"]
    tmp = f"_upd_{table.name}"
    session.execute(
        text(
            f'CREATE TEMP TABLE IF NOT EXISTS "{tmp}" AS '
            f'SELECT id, {", ".join(keys)} FROM "{table.name}" WITH NO DATA'
        )
    )
    session.execute(text(f'TRUNCATE "{tmp}"'))
    bulk_insert(session, tmp, rows)
    assignments = ", ".join(f"{k} = t.{k}" for k in keys)
    session.execute(
        text(f'UPDATE "{table.name}" AS b SET {assignments} FROM "{tmp}" AS t WHERE b.id = t.id')
    )


def bulk_insert(session, table, rows: list[dict]) -> None:
    """Insert many rows fast, inside the session's transaction.

    PostgreSQL: ``COPY ... FROM STDIN`` (an order of magnitude faster than multi-row
    INSERTs for tens of thousands of rows). Elsewhere: an executemany INSERT.
    Every row must carry the same keys; column defaults are not applied on the COPY path,
    so callers pass every value they need.
    """
    if not rows:
        return
    if session.get_bind().dialect.name != "postgresql":
        from sqlalchemy import insert

        session.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = session.connection().connection.driver_connection
    names = ", ".join(f'"{c}"' for c in columns)
    name = getattr(table, "name", table)
    with raw.cursor() as cur, cur.copy(f'COPY "{name}" ({names}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[c] for c in columns])


def next_serial_sql(table: str) -> str:
    """SQL for the next id of ``table``'s serial ``id`` (PostgreSQL), the sequence looked up
    once per statement (an uncorrelated subquery): ``nextval(pg_get_serial_sequence(...))``
    searches the catalog again for every row it draws (9 µs each)."""
    return f"nextval((SELECT pg_get_serial_sequence('{table}', 'id'))::regclass)"


def next_serial_ids(session, table: str, n: int) -> list[int]:
    """``n`` ids drawn from ``table``'s serial sequence (PostgreSQL), ascending, for rows
    written later with COPY or a multi-row INSERT."""
    from sqlalchemy import text

    return sorted(session.scalars(
        text(f"SELECT {next_serial_sql(table)} FROM generate_series(1, :n)"), {"n": n}))


def in_constants(column, values):
    """``column IN (v1, v2, ...)`` for a fixed set of values: one bound parameter each,
    compiled once with the statement. ``column.in_(values)`` makes an "expanding"
    parameter instead, whose SQL is rendered again on every execution (a query run on every
    page paid for that each time)."""
    from sqlalchemy import bindparam

    return column.in_([bindparam(None, value, type_=column.type) for value in values])


def is_in(session, column, values):
    """``column IN values`` that stays one parameter on PostgreSQL (``= ANY(array)``).

    A long IN list costs a placeholder per value to compile and send; an array is one.
    """
    values = list(values)
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy import any_, bindparam
        from sqlalchemy.dialects.postgresql import ARRAY

        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    return column.in_(values)


# -- the transaction door ------------------------------------------------------------------
#
# Domain functions flush; the door commits. Every commit and rollback of a unit of work goes
# through :func:`transaction` / :func:`commit` / :func:`rollback` below (the web door and the
# CLI door call them), and retries of serialization failures and deadlocks live only in
# :func:`run_in_transaction`.

_AFTER_COMMIT = "ispzone.after_commit"
log = logging.getLogger(__name__)

# PostgreSQL: serialization_failure, deadlock_detected (SQLSTATE class 40)
RETRY_SQLSTATES = frozenset({"40001", "40P01"})


def after_commit(session: Session, fn: Callable[[], object]) -> None:
    """Run ``fn()`` once the session's current unit of work has been committed (e-mails,
    other side effects that must not happen for work that is rolled back). Dropped on
    rollback. A failing ``fn`` is logged; the committed work stands."""
    session.info.setdefault(_AFTER_COMMIT, []).append(fn)


# session.info key: the session reads in autocommit mode (web.database: a GET on PostgreSQL)
AUTOCOMMIT_READS = "ispzone.autocommit_reads"


def commit(session: Session) -> None:
    """Commit the unit of work, then run its :func:`after_commit` callbacks in order.

    A session marked :data:`AUTOCOMMIT_READS` with no ORM change waiting to be flushed has
    nothing to commit: each of its statements committed itself. Its commit is skipped (it
    would only walk SQLAlchemy's transaction bookkeeping and expire the loaded objects, a
    few per cent of a page's CPU); closing the session returns the connection."""
    if not (session.info.get(AUTOCOMMIT_READS)
            and not (session.new or session.deleted or session.dirty)):
        session.commit()
    callbacks = session.info.pop(_AFTER_COMMIT, [])
    for fn in callbacks:
        try:
            fn()
        except Exception:  # noqa: BLE001 - committed work stands; the side effect is logged
            log.exception("after-commit callback %r failed", fn)


def rollback(session: Session) -> None:
    """Roll the unit of work back and forget its :func:`after_commit` callbacks."""
    session.info.pop(_AFTER_COMMIT, None)
    session.rollback()


@contextmanager
def transaction(session: Session, *, commit_at_end: bool = True) -> Iterator[Session]:
    """One unit of work on ``session``: committed when the block ends, rolled back when it
    raises (anything, also a refusal: :class:`core.errors.DomainError`). With
    ``commit_at_end=False`` (a dry run) it is rolled back in any case."""
    try:
        yield session
    except BaseException:
        rollback(session)
        raise
    if commit_at_end:
        commit(session)
    else:
        rollback(session)


def is_retryable(exc: BaseException) -> bool:
    """A failure that the same work, tried again in a new transaction, may not meet:
    PostgreSQL serialization failure (40001) or deadlock (40P01), SQLite "database is
    locked"/"busy"."""
    if not isinstance(exc, DBAPIError):
        return False
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if state in RETRY_SQLSTATES:
        return True
    text = str(orig).lower()
    return "database is locked" in text or "database is busy" in text


def run_in_transaction(
    sessions: sessionmaker[Session] | Session,
    fn: Callable[[Session], T],
    retries: int = 3,
    *,
    backoff: float = 0.05,
) -> T:
    """``fn(session)`` in a unit of work: committed (then its after-commit callbacks run)
    and its result returned. A serialization failure or deadlock (:func:`is_retryable`)
    rolls back and runs ``fn`` again in a new transaction, at most ``retries`` more times,
    with a short growing pause; any other error rolls back and is raised. ``fn`` must
    therefore do nothing outside the database that it cannot repeat (use
    :func:`after_commit` for that).

    ``sessions``: a session factory (a new session per call, closed at the end) or a
    session (used as it is, left open)."""
    own = not isinstance(sessions, Session)
    session = sessions() if own else sessions
    try:
        attempt = 0
        while True:
            try:
                with transaction(session):
                    result = fn(session)
                return result
            except DBAPIError as exc:
                if attempt >= retries or not is_retryable(exc):
                    raise
                attempt += 1
                log.info("transaction retried (%d of %d): %s", attempt, retries, exc.orig)
                time.sleep(backoff * attempt * (1 + random.random()))
    finally:
        if own:
            session.close()
