"""The migrations build the schema the models describe, and go down and up again.

Each test gets a database of its own (an SQLite file, or a PostgreSQL schema), so that
downgrading touches nothing the other tests use."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import enforcement.announcements  # noqa: F401
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


def _names(engine, table: str) -> set[str]:
    """The names of ``table``'s primary key, foreign keys, unique constraints and indexes."""
    found = inspect(engine)
    names = {found.get_pk_constraint(table)["name"]}
    names |= {fk["name"] for fk in found.get_foreign_keys(table)}
    names |= {uq["name"] for uq in found.get_unique_constraints(table)}
    names |= {ix["name"] for ix in found.get_indexes(table)}
    return names - {None}


def test_voip_lines_table_and_its_names_are_renamed_and_back(fresh_engine):
    """Migration 0011: "account" only for ledger accounts, a VoIP number's row is a line's."""
    schema.upgrade(fresh_engine, "0010")
    assert _names(fresh_engine, "voip_account") == {"pk_voip_account",
                                                    "fk_voip_account_service_id_service"}
    schema.upgrade(fresh_engine, "0011")
    tables = set(inspect(fresh_engine).get_table_names())
    assert "voip_line" in tables and "voip_account" not in tables
    assert _names(fresh_engine, "voip_line") == {"pk_voip_line", "fk_voip_line_service_id_service"}
    schema.downgrade(fresh_engine, "0010")
    assert "voip_line" not in set(inspect(fresh_engine).get_table_names())
    assert _names(fresh_engine, "voip_account") == {"pk_voip_account",
                                                    "fk_voip_account_service_id_service"}
