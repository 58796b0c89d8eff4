"""Alembic environment. Run through ``ispzone db upgrade`` (see core/schema.py)."""

from alembic import context

# The schema of every package: migrations sit above them all (billing never imports voip
# or enforcement; this file imports each package's models to register its tables).
import billing.models  # noqa: F401
import enforcement.announcements  # noqa: F401
import enforcement.models  # noqa: F401
import voip.models  # noqa: F401
from core.db import Base, make_engine

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
