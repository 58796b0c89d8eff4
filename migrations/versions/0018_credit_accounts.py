"""prepaid credit accounts (billing/credit/, docs/credit.md)

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 22:40:00

New tables: ``credit_account``, ``credit_topup``, ``credit_receipt``, ``credit_payment``,
``credit_hold``, ``credit_refund``, ``credit_statement``, ``credit_mail``. The history
among them (``credit_receipt``, ``credit_payment``, ``credit_hold``) is append-only
(migrations.guards.protect); ``credit_refund`` may only be marked sent.

``allocation`` gets a third source, ``credit_payment_id`` (a payment request paid from the
credit account), and its check ``one_source`` becomes "exactly one of the three".
PostgreSQL replaces the constraint. SQLite cannot alter a CHECK and a table copy of
``allocation`` would have to drop a table that ``tax_receipt`` references, so the table's
stored definition is rewritten in place with ``PRAGMA writable_schema`` (the procedure
SQLite documents for changing a CHECK constraint, "Making Other Kinds Of Table Schema
Changes"; the existing rows satisfy the new check: the new column is NULL). Then
``allocation`` is protected again so the SQLite trigger names the new column.
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

OLD_CHECK = "(bank_transaction_id IS NULL) <> (credit_note_id IS NULL)"
NEW_CHECK = (
    "(CASE WHEN bank_transaction_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN credit_note_id IS NULL THEN 0 ELSE 1 END)"
    " + (CASE WHEN credit_payment_id IS NULL THEN 0 ELSE 1 END) = 1"
)
COLUMN_WITH_KEY = (
    "credit_payment_id INTEGER CONSTRAINT fk_allocation_credit_payment_id_credit_payment "
    "REFERENCES credit_payment (id)"
)
APPEND_ONLY = ("credit_receipt", "credit_payment", "credit_hold")


def _money():
    return core.db.Money(precision=12, scale=2)


def _at(name: str, nullable: bool = False):
    return sa.Column(name, core.db.UTCDateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "credit_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("variable_symbol", sa.String(length=10), nullable=False),
        sa.Column("auto_pay", sa.Boolean(), nullable=False),
        _at("opened_at"),
        sa.Column("opened_by", sa.String(length=64), nullable=False),
        sa.Column("terms_version", sa.String(length=32), nullable=True),
        _at("terms_accepted_at", True),
        _at("close_requested_at", True),
        sa.Column("refund_bank_account", sa.String(length=60), nullable=True),
        _at("closed_at", True),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_credit_account_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_account")),
        sa.UniqueConstraint("customer_id", name=op.f("uq_credit_account_customer_id")),
        sa.UniqueConstraint("variable_symbol", name=op.f("uq_credit_account_variable_symbol")),
    )
    op.create_table(
        "credit_topup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount_net", _money(), nullable=False),
        sa.Column("bank_transaction_id", sa.Integer(), nullable=True),
        _at("created_at"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["credit_account.id"],
                                name=op.f("fk_credit_topup_account_id_credit_account")),
        sa.ForeignKeyConstraint(["bank_transaction_id"], ["bank_transaction.id"],
                                name=op.f("fk_credit_topup_bank_transaction_id_bank_transaction")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"],
                                name=op.f("fk_credit_topup_invoice_id_invoice")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_topup")),
        sa.UniqueConstraint("bank_transaction_id", name=op.f("uq_credit_topup_bank_transaction_id")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_credit_topup_invoice_id")),
    )
    op.create_index(op.f("ix_credit_topup_account_id"), "credit_topup", ["account_id"])
    op.create_table(
        "credit_receipt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("receipt_id", sa.Integer(), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(["account_id"], ["credit_account.id"],
                                name=op.f("fk_credit_receipt_account_id_credit_account")),
        sa.ForeignKeyConstraint(["receipt_id"], ["tax_receipt.id"],
                                name=op.f("fk_credit_receipt_receipt_id_tax_receipt")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_receipt")),
        sa.UniqueConstraint("receipt_id", name=op.f("uq_credit_receipt_receipt_id")),
    )
    op.create_index(op.f("ix_credit_receipt_account_id"), "credit_receipt", ["account_id"])
    op.create_table(
        "credit_payment",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("credit_amount", _money(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _at("created_at"),
        sa.CheckConstraint("amount > 0", name=op.f("ck_credit_payment_positive")),
        sa.ForeignKeyConstraint(["account_id"], ["credit_account.id"],
                                name=op.f("fk_credit_payment_account_id_credit_account")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"],
                                name=op.f("fk_credit_payment_invoice_id_invoice")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_payment")),
        sa.UniqueConstraint("invoice_id", name=op.f("uq_credit_payment_invoice_id")),
    )
    op.create_index(op.f("ix_credit_payment_account_id"), "credit_payment", ["account_id"])
    op.create_table(
        "credit_hold",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("hold", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        _at("created_at"),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"],
                                name=op.f("fk_credit_hold_invoice_id_invoice")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_hold")),
    )
    op.create_index(op.f("ix_credit_hold_invoice_id"), "credit_hold", ["invoice_id"])
    op.create_table(
        "credit_refund",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("bank_account", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        _at("created_at"),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        _at("sent_at", True),
        sa.Column("sent_by", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["account_id"], ["credit_account.id"],
                                name=op.f("fk_credit_refund_account_id_credit_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_refund")),
    )
    op.create_index(op.f("ix_credit_refund_account_id"), "credit_refund", ["account_id"])
    op.create_table(
        "credit_statement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("opening", _money(), nullable=False),
        sa.Column("closing", _money(), nullable=False),
        sa.Column("movements", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("mailed_at", True),
        sa.ForeignKeyConstraint(["account_id"], ["credit_account.id"],
                                name=op.f("fk_credit_statement_account_id_credit_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_statement")),
        sa.UniqueConstraint("account_id", "month", name=op.f("uq_credit_statement_account_id")),
    )
    op.create_index(op.f("ix_credit_statement_account_id"), "credit_statement", ["account_id"])
    op.create_table(
        "credit_mail",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("context", sa.Text(), nullable=False),
        sa.Column("attachment", sa.String(length=64), nullable=True),
        sa.Column("ref", sa.String(length=64), nullable=True),
        _at("created_at"),
        _at("sent_at", True),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_credit_mail_customer_id_customer")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_credit_mail")),
    )
    op.create_index(op.f("ix_credit_mail_customer_id"), "credit_mail", ["customer_id"])
    op.create_index(op.f("ix_credit_mail_sent_at"), "credit_mail", ["sent_at"])
    op.create_index(op.f("ix_credit_mail_ref"), "credit_mail", ["ref"])
    op.create_index(op.f("ix_credit_statement_mailed_at"), "credit_statement", ["mailed_at"])
    _view(VIEW_KINDS + ("credit_payment",))

    # allocation: a third source
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.add_column("allocation", sa.Column("credit_payment_id", sa.Integer(), nullable=True))
        op.create_foreign_key(op.f("fk_allocation_credit_payment_id_credit_payment"),
                              "allocation", "credit_payment", ["credit_payment_id"], ["id"])
        op.drop_constraint(op.f("ck_allocation_one_source"), "allocation", type_="check")
        op.create_check_constraint(op.f("ck_allocation_one_source"), "allocation", NEW_CHECK)
    else:
        op.execute(f"ALTER TABLE allocation ADD COLUMN {COLUMN_WITH_KEY}")
        _sqlite_replace_check(bind, OLD_CHECK, NEW_CHECK)
    op.create_index(op.f("ix_allocation_credit_payment_id"), "allocation", ["credit_payment_id"])
    protect(op, "allocation", deletable=True,
            hint="an allocation is never changed; unpair the payment instead")
    for table in APPEND_ONLY:
        protect(op, table)
    protect(op, "credit_refund", mutable_columns=("status", "sent_at", "sent_by"),
            hint="a refund is never changed, only marked sent")


VIEW_KINDS = ("invoice", "credit_note", "payment", "reversal", "voip_topup", "opening")
VIEW = """
SELECT t.id AS id, a.customer_id AS customer_id, t.booked_on AS booked_on,
       CASE WHEN t.kind = 'voip_topup' THEN 'invoice' ELSE t.kind END AS kind,
       -sum(l.amount) AS amount, t.invoice_id AS invoice_id,
       t.bank_transaction_id AS bank_transaction_id, t.reverses_id AS reverses_id,
       t.description AS description, t.created_at AS created_at
FROM ledger_transaction t
JOIN ledger_leg l ON l.transaction_id = t.id
JOIN ledger_account a ON a.id = l.account_id
WHERE a.kind IN ('receivable', 'prepaid_credit')
  AND t.kind IN ({kinds})
GROUP BY t.id, a.customer_id, t.booked_on, t.kind, t.invoice_id, t.bank_transaction_id,
         t.reverses_id, t.description, t.created_at
"""
ENTRY_READ_ONLY = ("ledger_entry is append-only (a view over the ledger legs): post a reversing "
                   "transaction instead")


def _view(kinds) -> None:
    """``ledger_entry`` (migration 0008) also shows a request paid from credit: it changes
    the customer's balance like a payment. PostgreSQL replaces the view in place (its
    INSTEAD OF trigger stays); SQLite drops it (with its triggers) and creates both again."""
    body = VIEW.format(kinds=", ".join(f"'{k}'" for k in kinds))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE VIEW ledger_entry AS " + body)
        return
    op.execute("DROP VIEW ledger_entry")
    op.execute("CREATE VIEW ledger_entry AS " + body)
    for event in ("INSERT", "UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER ledger_entry_no_{event.lower()} INSTEAD OF {event} "
                   f"ON ledger_entry BEGIN SELECT RAISE(ABORT, '{ENTRY_READ_ONLY}'); END")


def _sqlite_replace_check(bind, old: str, new: str) -> None:
    sql = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'allocation'"
    ).scalar()
    if old not in sql:
        raise RuntimeError(f"allocation's definition does not hold {old!r}: {sql}")
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'allocation'",
        (sql.replace(old, new),),
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def downgrade() -> None:
    _view(VIEW_KINDS)
    for table in ("credit_refund", *APPEND_ONLY):
        unprotect(op, table)
    op.drop_index(op.f("ix_allocation_credit_payment_id"), table_name="allocation")
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_allocation_one_source"), "allocation", type_="check")
        op.create_check_constraint(op.f("ck_allocation_one_source"), "allocation", OLD_CHECK)
        op.drop_constraint(op.f("fk_allocation_credit_payment_id_credit_payment"), "allocation",
                           type_="foreignkey")
        op.drop_column("allocation", "credit_payment_id")
    else:
        # allocations paid from credit cannot be described by the old check: refuse them
        count = bind.exec_driver_sql(
            "SELECT count(*) FROM allocation WHERE credit_payment_id IS NOT NULL").scalar()
        if count:
            raise RuntimeError(f"{count} allocations are payments from credit: cannot downgrade")
        unprotect(op, "allocation")
        # drop the foreign key and the check that name the column (both changes SQLite
        # documents as safe in place), then the column itself (SQLite >= 3.35)
        _sqlite_replace_check(bind, NEW_CHECK, OLD_CHECK)
        _sqlite_replace_check(bind, COLUMN_WITH_KEY, "credit_payment_id INTEGER")
        op.execute("ALTER TABLE allocation DROP COLUMN credit_payment_id")
    protect(op, "allocation", deletable=True,
            hint="an allocation is never changed; unpair the payment instead")
    for table in ("credit_mail", "credit_statement", "credit_refund", "credit_hold"):
        op.drop_table(table)
    op.drop_table("credit_receipt")
    op.drop_table("credit_payment")
    op.drop_table("credit_topup")
    op.drop_table("credit_account")
