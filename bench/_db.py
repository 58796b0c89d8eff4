"""Scratch databases and schemas for the benchmarks (not part of the application).

Two ways a benchmark gets a PostgreSQL of its own, named after what it measures:

* :func:`fresh_database`: a database dropped and created anew (through an admin URL such as
  ``postgresql://postgres@127.0.0.1:5432/postgres``), its URL returned; it stays after the
  run (to look at), :func:`drop_database` removes it;
* :func:`scratch_schema`: a schema in an existing database, the URL that works in it (its
  ``search_path``), dropped at the end of the ``with`` block, whatever happens
  (:func:`create_schema` and :func:`drop_schema` where a ``with`` block does not fit).

Names are checked (letters, digits and underscores): they go into SQL as identifiers.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = [
    "create_schema",
    "database_url",
    "drop_database",
    "drop_schema",
    "fresh_database",
    "schema_url",
    "scratch_schema",
]


def _name(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SystemExit(f"unsupported database or schema name {name!r}")
    return name


def _plain(url: str) -> str:
    """The URL as psycopg takes it (SQLAlchemy's ``+psycopg`` left out)."""
    return url.replace("+psycopg", "")


def database_url(admin_url: str, db: str) -> str:
    """``admin_url`` with its database replaced by ``db`` (query string kept)."""
    base, _, query = admin_url.partition("?")
    url = base.rsplit("/", 1)[0] + f"/{_name(db)}"
    return f"{url}?{query}" if query else url


def fresh_database(admin_url: str, db: str) -> str:
    """Drop the database ``db`` if it exists, create it empty; returns its URL."""
    import psycopg

    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_name(db)}")
        conn.execute(f"CREATE DATABASE {db}")
    return database_url(admin_url, db)


def drop_database(admin_url: str, db: str) -> None:
    import psycopg

    with psycopg.connect(_plain(admin_url), autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {_name(db)}")


def schema_url(url: str, schema: str) -> str:
    """``url`` with ``search_path`` set to ``schema`` for every connection made with it."""
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options=-csearch_path%3D{_name(schema)}"


def create_schema(url: str, schema: str) -> str:
    """A new schema ``schema`` (an old one of that name dropped first) in the database of
    ``url``; returns the URL scoped to it."""
    import psycopg

    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {_name(schema)} CASCADE")
        conn.execute(f"CREATE SCHEMA {schema}")
    return schema_url(url, schema)


def drop_schema(url: str, schema: str) -> None:
    """Drop the schema ``schema`` of the database of ``url`` with everything in it."""
    import psycopg

    with psycopg.connect(_plain(url), autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {_name(schema)} CASCADE")


@contextmanager
def scratch_schema(url: str, schema: str) -> Iterator[str]:
    """:func:`create_schema`, the scoped URL yielded, and :func:`drop_schema` at the end of
    the ``with`` block, whatever happens in it."""
    scoped = create_schema(url, schema)
    try:
        yield scoped
    finally:
        drop_schema(url, schema)
