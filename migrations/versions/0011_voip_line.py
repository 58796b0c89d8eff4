"""a VoIP number is a line: the table ``voip_account`` becomes ``voip_line``

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 21:30:00

"Account" names only ledger accounts (docs/ledger.md); a VoIP number's row is its line's.
The table is renamed and so are its constraints and indexes that carry the old name
(``pk_voip_account``, ``fk_voip_account_service_id_service``), to the names the models'
naming convention gives. No view, function, trigger or guard names the table (the ledger's
view ``ledger_entry`` reads ``ledger_account``; migrations/guards.py does not protect it),
and no foreign key points at it, so nothing else is recreated.

PostgreSQL renames the table and each constraint or index in place. SQLite renames the
table (``ALTER TABLE ... RENAME``), then rebuilds it once in batch mode from its reflected
definition with the new constraint names (SQLite cannot rename a constraint); no table
references it and it has no triggers, so the copy-and-drop loses nothing.
"""
import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

OLD, NEW = "voip_account", "voip_line"


def upgrade() -> None:
    _rename(OLD, NEW)


def downgrade() -> None:
    _rename(NEW, OLD)


def _rename(old: str, new: str) -> None:
    op.rename_table(old, new)
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _rename_names_postgresql(bind, old, new)
    else:
        _rename_names_sqlite(bind, old, new)


def _renamed(name: str | None, old: str, new: str) -> str | None:
    return name.replace(old, new) if name and old in name else None


def _rename_names_postgresql(bind, old: str, new: str) -> None:
    inspector = sa.inspect(bind)
    constraints = [inspector.get_pk_constraint(new).get("name")]
    constraints += [fk["name"] for fk in inspector.get_foreign_keys(new)]
    constraints += [uq["name"] for uq in inspector.get_unique_constraints(new)]
    constraints += [ck["name"] for ck in inspector.get_check_constraints(new)]
    for name in constraints:
        if (renamed := _renamed(name, old, new)) is not None:
            op.execute(f'ALTER TABLE "{new}" RENAME CONSTRAINT "{name}" TO "{renamed}"')
    taken = set(constraints)  # a constraint's own index was renamed with it
    for index in inspector.get_indexes(new):
        name = index["name"]
        if name not in taken and (renamed := _renamed(name, old, new)) is not None:
            op.execute(f'ALTER INDEX "{name}" RENAME TO "{renamed}"')


def _rename_names_sqlite(bind, old: str, new: str) -> None:
    table = sa.Table(new, sa.MetaData(), autoload_with=bind)
    changed = False
    for item in (*table.constraints, *table.indexes):
        if (renamed := _renamed(item.name, old, new)) is not None:
            item.name = renamed
            changed = True
    if changed:
        with op.batch_alter_table(new, recreate="always", copy_from=table):
            pass  # the rebuild with the renamed constraints is the change
