"""Alembic environment. Run through ``ispzone db upgrade`` (see billing/schema.py)."""

from alembic import context

import billing.models  # noqa: F401  (registers the tables)
from billing.db import Base, make_engine

try:  # the other packages' tables, when they exist
    import enforcement.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass
try:
    import voip.models  # noqa: F401
except ImportError:  # pragma: no cover
    pass

config = context.config
target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as conn:
        _run(conn)
        conn.commit()
    engine.dispose()


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit("offline migrations are not supported; run `ispzone db upgrade`")
run_migrations_online()
