"""Schema migrations (Alembic) driven from code: ``ispzone db upgrade`` and the tests.

Two database roles in production (README, "Production: database roles"): the migrations
run as the owner of the tables (``DATABASE_OWNER_URL``), the application as a role that
does not own them (``DATABASE_URL``), so it cannot drop or disable the append-only
triggers (migrations/guards.py). After every upgrade the owner grants the application's
role what it needs, and nothing more (:func:`grant_app_role`).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, make_url, text

# the top-level migrations/ folder: the schema of every package, above them all
MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(engine: Engine, revision: str = "head", app_role: str | None = None) -> None:
    """Migrate to ``revision`` as the engine's role (the tables' owner); then, on
    PostgreSQL with ``app_role`` given, grant that role the application's privileges."""
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        if app_role and conn.dialect.name == "postgresql":
            grant_app_role(conn, app_role)


def downgrade(engine: Engine, revision: str) -> None:
    cfg = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, revision)


def app_role(
    database_url: str, database_owner_url: str | None, configured: str | None = None
) -> str | None:
    """The role to grant the application's privileges to: ``DATABASE_APP_ROLE`` when set,
    else the user of ``DATABASE_URL`` when migrations run as another user; None on SQLite
    and when one role does everything."""
    if configured:
        return configured
    if not database_owner_url or database_url.startswith("sqlite"):
        return None
    app_user = make_url(database_url).username
    owner_user = make_url(database_owner_url).username
    return app_user if app_user and app_user != owner_user else None


# The application reads and writes rows; it never changes the schema, owns no table and
# never empties one (TRUNCATE), so the triggers guarding history stay on.
TABLE_PRIVILEGES = "SELECT, INSERT, UPDATE, DELETE"
SEQUENCE_PRIVILEGES = "USAGE, SELECT"


class RoleError(RuntimeError):
    """The application's role is missing, or would own tables."""


def grant_app_role(conn: Connection, role: str) -> None:
    """Grant ``role`` the application's privileges on every table and sequence of the
    current schema, and on those that later migrations create (default privileges of the
    owner). Idempotent. Refused when ``role`` owns a table there (or is a member of its
    owner) or is a superuser: such a role could disable the append-only triggers."""
    schema = conn.scalar(text("SELECT current_schema()"))
    found = conn.execute(
        text("SELECT rolsuper FROM pg_roles WHERE rolname = :role"), {"role": role}
    ).first()
    if found is None:
        raise RoleError(
            f"the application's database role {role!r} does not exist: create it first "
            f"(CREATE ROLE {role} LOGIN PASSWORD '...'; README, Production: database roles)"
        )
    owned = conn.scalars(
        text(
            # owning a table, or being a member of its owner, allows ALTER TABLE
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema "
            "AND pg_has_role(:role, tableowner, 'MEMBER') ORDER BY tablename LIMIT 3"
        ),
        {"schema": schema, "role": role},
    ).all()
    if found.rolsuper or owned:
        why = "is a superuser" if found.rolsuper else f"owns {', '.join(owned)}"
        raise RoleError(
            f"the application's database role {role!r} {why}: it could disable the "
            "append-only triggers. Run the migrations as the owner (DATABASE_OWNER_URL) and "
            "let the application connect as a role that owns nothing (DATABASE_URL)"
        )
    prep = conn.dialect.identifier_preparer
    r, s = prep.quote(role), prep.quote(schema)
    for statement in (
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT {TABLE_PRIVILEGES} ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT {SEQUENCE_PRIVILEGES} ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
        # tables and sequences the owner creates later (new migrations) too
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {TABLE_PRIVILEGES} ON TABLES TO {r}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT {SEQUENCE_PRIVILEGES} ON SEQUENCES TO {r}",
        # the schema's version is the owner's business
        f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {r}",
    ):
        conn.execute(text(statement))
