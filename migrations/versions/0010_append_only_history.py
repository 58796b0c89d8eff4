"""append-only history: audit events, issued tax documents, bank movements

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 20:00:00

The database refuses UPDATE and DELETE of rows that are evidence (migrations/guards.py).
What the application legitimately changes stays changeable:

- ``bank_transaction``: the pairing (``status``, ``customer_id``) moves as a payment is
  paired, dismissed, restored or unpaired, and the importer marks a suspected repeat from
  another file (``duplicate_of``); what the bank reported is fixed.
- ``statement_import``: its counts are written after the file's movements (in the same
  transaction); the file's name, format, hash and account are fixed.
- ``allocation``: unpairing a payment removes its allocations (the ledger keeps the history
  as a reversing entry, the audit trail the invoices it had paid); an allocation is never
  changed, and one a tax document was issued for cannot go (its foreign key).

Everything else below is fixed once written: the audit trail, issued invoices (there are
no drafts: an invoice row is an issued document; a credit note corrects it) with their
lines and VAT recaps, and the tax documents for payments received.
"""
from alembic import op

from migrations.guards import protect, unprotect

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

ISSUED = "an issued tax document is never changed; issue a credit note instead"
PROTECTED = (
    ("audit_event", {"hint": "the audit trail is never changed"}),
    ("invoice", {"hint": ISSUED}),
    ("invoice_line", {"hint": ISSUED}),
    ("invoice_vat_recap", {"hint": ISSUED}),
    ("tax_receipt", {"hint": ISSUED}),
    ("tax_receipt_vat", {"hint": ISSUED}),
    ("bank_transaction", {
        # the pairing and the importer's suspicion of a repeat (migration 0009) are ours
        "mutable_columns": ("status", "customer_id", "duplicate_of"),
        "hint": "only its pairing (status, customer) changes; what the bank reported does not",
    }),
    ("statement_import", {
        # the counts are filled in once the file's movements are stored (same transaction)
        "mutable_columns": ("new_transactions", "duplicate_transactions"),
        "hint": "the record of an imported statement file is never changed",
    }),
    ("allocation", {
        "deletable": True,
        "hint": "an allocation is never changed; unpair the payment instead",
    }),
)


def upgrade() -> None:
    for table, options in PROTECTED:
        protect(op, table, **options)


def downgrade() -> None:
    for table, _options in reversed(PROTECTED):
        unprotect(op, table)
