"""The migrations build the schema the models describe, and go down and up again.

Each test gets a database of its own (an SQLite file, or a PostgreSQL schema), so that
downgrading touches nothing the other tests use."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import enforcement.models  # noqa: F401  (their tables belong to the metadata too)
import voip.models  # noqa: F401
from core import schema
from core.db import Base


def differences(engine) -> list:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return compare_metadata(context, Base.metadata)


def test_the_migrated_schema_is_the_models(fresh_engine):
    schema.upgrade(fresh_engine)
    assert differences(fresh_engine) == []


def test_down_to_nothing_and_up_again(fresh_engine):
    schema.upgrade(fresh_engine)
    schema.downgrade(fresh_engine, "base")
    assert set(inspect(fresh_engine).get_table_names()) <= {"alembic_version"}
    schema.upgrade(fresh_engine)
    assert differences(fresh_engine) == []
