"""the operators' customer search, notes and "view the zone as this customer"

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 22:40:00

* ``customer.search_name``: the customer's name, contact person and e-mail folded (lower
  case, no diacritics, words of letters and digits), kept by the model on every write
  (billing/models/customers.py) and back-filled here with the same folding.
* PostgreSQL indexes for the search (billing/customers/search.py), none of which needs an
  extension: a GIN index on ``to_tsvector('simple', search_name)`` (word-prefix search:
  "novak" finds "Jan Novák"), and ``text_pattern_ops`` B-trees for prefix LIKE on the
  customer number, the phone, the IP addresses and the PPPoE user names. SQLite scans (a
  test database is small).
* ``customer_note``: operators' notes, append-only (migrations.guards.protect).
* ``user_session.viewed_by``: the operator who opened a client-zone session from the
  console (read-only, zone/view_as.py).
"""
import re
import unicodedata

import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

# name, table, column expression (PostgreSQL only)
PG_INDEXES = (
    ("ix_customer_search_name_words", "customer",
     "USING gin (to_tsvector('simple'::regconfig, search_name))"),
    ("ix_customer_number_prefix", "customer", "(customer_number text_pattern_ops)"),
    ("ix_customer_phone_prefix", "customer", "(phone text_pattern_ops)"),
    ("ix_service_address_prefix", "service_address", "(address text_pattern_ops)"),
    ("ix_service_pppoe_prefix", "service", "(lower(pppoe_username) text_pattern_ops)"),
)

_WORD = re.compile(r"[^\W_]+")


def _words(text):
    # the same folding as billing.models.customers.fold_words (copied: a migration stands
    # on its own when the model changes later)
    if not text:
        return []
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return _WORD.findall("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def upgrade() -> None:
    op.add_column("customer", sa.Column("search_name", sa.String(length=700), nullable=False,
                                        server_default=""))
    bind = op.get_bind()
    customer = sa.table("customer", sa.column("id"), sa.column("name"),
                        sa.column("contact_person"), sa.column("email"),
                        sa.column("search_name"))
    last = 0
    while True:  # in batches: a large customer table is not read into memory at once
        rows = bind.execute(
            sa.select(customer.c.id, customer.c.name, customer.c.contact_person,
                      customer.c.email)
            .where(customer.c.id > last).order_by(customer.c.id).limit(5000)
        ).all()
        if not rows:
            break
        bind.execute(
            customer.update().where(customer.c.id == sa.bindparam("cid"))
            .values(search_name=sa.bindparam("folded")),
            [{"cid": r.id, "folded": " ".join(_words(r.name) + _words(r.contact_person)
                                              + _words(r.email))[:700]} for r in rows],
        )
        last = rows[-1].id
    if bind.dialect.name == "postgresql":
        for name, table, spec in PG_INDEXES:
            op.execute(f"CREATE INDEX {name} ON {table} {spec}")
    else:  # the same names as plain indexes (the models name them); no expression index
        # (SQLite's reflection cannot read one back and warns on every inspection; a test
        # database is small)
        op.create_index("ix_customer_number_prefix", "customer", ["customer_number"])
        op.create_index("ix_customer_phone_prefix", "customer", ["phone"])
        op.create_index("ix_service_address_prefix", "service_address", ["address"])

    op.create_table(
        "customer_note",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=64), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_customer_note_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_note")),
    )
    op.create_index(op.f("ix_customer_note_customer_id"), "customer_note", ["customer_id"],
                    unique=False)
    protect(op, "customer_note", hint="a note is never changed; add a new one")

    op.add_column("user_session", sa.Column("viewed_by", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("user_session") as batch:
        batch.drop_column("viewed_by")
    unprotect(op, "customer_note")
    op.drop_index(op.f("ix_customer_note_customer_id"), table_name="customer_note")
    op.drop_table("customer_note")
    for name, _table, _spec in PG_INDEXES:
        op.execute(f"DROP INDEX IF EXISTS {name}")
    with op.batch_alter_table("customer") as batch:
        batch.drop_column("search_name")
