"""credit gaps: credit returns, ČNB exchange rates, English destination names

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 02:00:00

Issue 15's gaps and issue 16 item 10 (docs/credit.md, docs/credit-services.md,
docs/voip-tariffs.md):

* ``credit_return`` (append-only): the unused days of a prepaid service ended early,
  returned to the credit through a credit note of the renewal invoice;
* ``exchange_rate``: the ČNB daily rates (UNIQUE day + currency) by which a EUR tax document
  states its VAT in CZK;
* ``voip_tariff_rate.destination_en``: the destination's English name (optional);
* the ``ledger_entry`` view also lists ``credit_return`` transactions (the credit note's
  credit leaves the customer's balance for the credit account).
"""
import sqlalchemy as sa
from alembic import op

import core.db
from migrations.guards import protect, unprotect

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# ledger_entry as 0018 left it, plus credit_return
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
VIEW_KINDS = ("invoice", "credit_note", "payment", "reversal", "voip_topup", "opening",
              "credit_payment")
ENTRY_READ_ONLY = ("ledger_entry is append-only (a view over the ledger legs): post a reversing "
                   "transaction instead")


def _view(kinds) -> None:
    body = VIEW.format(kinds=", ".join(f"'{k}'" for k in kinds))
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE VIEW ledger_entry AS " + body)
        return
    op.execute("DROP VIEW ledger_entry")
    op.execute("CREATE VIEW ledger_entry AS " + body)
    for event in ("INSERT", "UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER ledger_entry_no_{event.lower()} INSTEAD OF {event} "
                   f"ON ledger_entry BEGIN SELECT RAISE(ABORT, '{ENTRY_READ_ONLY}'); END")


def _fk(table, column, target):
    return sa.ForeignKey(f"{target}.id", name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade() -> None:
    t = "credit_return"
    op.create_table(
        t,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.Integer(), _fk(t, "customer_id", "customer"), nullable=False),
        sa.Column("service_id", sa.Integer(), _fk(t, "service_id", "service"), nullable=False),
        sa.Column("renewal_id", sa.Integer(), _fk(t, "renewal_id", "service_renewal"), nullable=False),
        sa.Column("invoice_id", sa.Integer(), _fk(t, "invoice_id", "invoice"), nullable=False),
        sa.Column("credit_note_id", sa.Integer(), _fk(t, "credit_note_id", "invoice"), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.Column("period_days", sa.Integer(), nullable=False),
        sa.Column("amount", core.db.Money(), nullable=False),
        sa.Column("credit_amount", core.db.Money(), nullable=False),
        sa.Column("actor", sa.String(80), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("credit_note_id", name=op.f("uq_credit_return_credit_note_id")),
    )
    op.create_index(op.f("ix_credit_return_customer_id"), t, ["customer_id"])
    op.create_index(op.f("ix_credit_return_service_id"), t, ["service_id"])
    op.create_index(op.f("ix_credit_return_invoice_id"), t, ["invoice_id"])
    protect(op, t, hint="a returned part is history; correct it by a new document")

    op.create_table(
        "exchange_rate",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=False),
        sa.Column("rate", core.db.Price4(), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("day", "currency", name=op.f("uq_exchange_rate_day")),
    )
    op.create_index(op.f("ix_exchange_rate_day"), "exchange_rate", ["day"])
    protect(op, "exchange_rate", hint="a stored rate is what documents were printed with")

    op.add_column("voip_tariff_rate", sa.Column("destination_en", sa.String(100), nullable=True))
    _view(VIEW_KINDS + ("credit_return",))


def downgrade() -> None:
    _view(VIEW_KINDS)
    op.drop_column("voip_tariff_rate", "destination_en")
    unprotect(op, "exchange_rate")
    op.drop_index(op.f("ix_exchange_rate_day"), table_name="exchange_rate")
    op.drop_table("exchange_rate")
    unprotect(op, "credit_return")
    for column in ("invoice_id", "service_id", "customer_id"):
        op.drop_index(op.f(f"ix_credit_return_{column}"), table_name="credit_return")
    op.drop_table("credit_return")
