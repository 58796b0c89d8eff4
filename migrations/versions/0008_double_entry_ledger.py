"""the double-entry ledger: accounts, transactions, legs; ledger_entry becomes a view; the
VoIP line's credit column goes (its credit is the balance of its ledger account)

Existing data is converted exactly (docs/ledger.md, "Migration 0008"): every old ledger
entry becomes the transaction with the same id (invoice, credit note, payment, reversal),
every allocation an allocation transaction, and every VoIP line gets its calls and an
opening balance that make its ledger credit equal the old column to the haléř.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:00:00
"""
from collections import defaultdict
from datetime import UTC, date, datetime

import sqlalchemy as sa
from alembic import op

import core.db

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ACTOR = "system:migration-0008"
CUSTOMER_KINDS = ("receivable", "prepaid_credit")
LEG_APPEND_ONLY = "ledger_leg is append-only: post a reversing transaction instead"
TX_APPEND_ONLY = "ledger_transaction is append-only: post a reversing transaction instead"
ENTRY_READ_ONLY = "ledger_entry is append-only (a view over the ledger legs): post a reversing transaction instead"
UNBALANCED = "ledger transaction is unbalanced: it needs two or more legs summing to zero"
CLOSED = "ledger transaction is closed: its legs were checked when its header was written; post a new transaction"

VIEW = """
CREATE VIEW ledger_entry AS
SELECT t.id AS id, a.customer_id AS customer_id, t.booked_on AS booked_on,
       CASE WHEN t.kind = 'voip_topup' THEN 'invoice' ELSE t.kind END AS kind,
       -sum(l.amount) AS amount, t.invoice_id AS invoice_id,
       t.bank_transaction_id AS bank_transaction_id, t.reverses_id AS reverses_id,
       t.description AS description, t.created_at AS created_at
FROM ledger_transaction t
JOIN ledger_leg l ON l.transaction_id = t.id
JOIN ledger_account a ON a.id = l.account_id
WHERE a.kind IN ('receivable', 'prepaid_credit')
  AND t.kind IN ('invoice', 'credit_note', 'payment', 'reversal', 'voip_topup', 'opening')
GROUP BY t.id, a.customer_id, t.booked_on, t.kind, t.invoice_id, t.bank_transaction_id,
         t.reverses_id, t.description, t.created_at
"""


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "ledger_account",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_ledger_account_customer_id_customer")),
        sa.ForeignKeyConstraint(["service_id"], ["service.id"],
                                name=op.f("fk_ledger_account_service_id_service")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_account")),
        sa.UniqueConstraint("key", name=op.f("uq_ledger_account_key")),
    )
    with op.batch_alter_table("ledger_account") as batch:
        batch.create_index(batch.f("ix_ledger_account_customer_id"), ["customer_id"], unique=False)
        batch.create_index(batch.f("ix_ledger_account_service_id"), ["service_id"], unique=False)
    op.create_table(
        "ledger_transaction",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("service_id", sa.Integer(), nullable=True),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("bank_transaction_id", sa.Integer(), nullable=True),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("reference", sa.String(length=64), nullable=True),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bank_transaction_id"], ["bank_transaction.id"],
                                name=op.f("fk_ledger_transaction_bank_transaction_id_bank_transaction")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"],
                                name=op.f("fk_ledger_transaction_invoice_id_invoice")),
        sa.ForeignKeyConstraint(["reverses_id"], ["ledger_transaction.id"],
                                name=op.f("fk_ledger_transaction_reverses_id_ledger_transaction")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_transaction")),
    )
    with op.batch_alter_table("ledger_transaction") as batch:
        batch.create_index(batch.f("ix_ledger_transaction_bank_transaction_id"),
                           ["bank_transaction_id"], unique=False)
        batch.create_index(batch.f("ix_ledger_transaction_customer_id"), ["customer_id"],
                           unique=False)
        batch.create_index(batch.f("ix_ledger_transaction_invoice_id"), ["invoice_id"],
                           unique=False)
    op.create_table(
        "ledger_leg",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("transaction_id", sa.Integer(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("amount", core.db.Money(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["ledger_account.id"],
                                name=op.f("fk_ledger_leg_account_id_ledger_account")),
        sa.ForeignKeyConstraint(["transaction_id"], ["ledger_transaction.id"],
                                name=op.f("fk_ledger_leg_transaction_id_ledger_transaction"),
                                deferrable=True, initially="DEFERRED"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_leg")),
    )
    with op.batch_alter_table("ledger_leg") as batch:
        batch.create_index(batch.f("ix_ledger_leg_account_id"), ["account_id"], unique=False)
        batch.create_index(batch.f("ix_ledger_leg_transaction_id"), ["transaction_id"],
                           unique=False)

    op.create_table(
        "ledger_check",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lo", sa.Integer(), nullable=False),
        sa.Column("hi", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_check")),
    )

    _convert()

    _drop_old_ledger_entry()
    op.execute(VIEW)
    _view_read_only_up()
    with op.batch_alter_table("voip_account") as batch:
        batch.drop_column("credit")
    _guards_up()


# -- the data ------------------------------------------------------------------------------


class _Book:
    """Transactions built in memory, written at once (legs first, then headers)."""

    def __init__(self, conn):
        self.conn = conn
        self.accounts: dict[str, int] = {}
        self.legs: list[dict] = []
        self.headers: list[dict] = []
        self.legs_of: dict[int, list[tuple[str, object]]] = {}
        moment = datetime.now(UTC)
        # as SQLAlchemy stores a UTC timestamp on SQLite: naive text
        self.moment = moment if conn.dialect.name == "postgresql" else (
            moment.replace(tzinfo=None).isoformat(" "))

    def account(self, kind: str, owner=None) -> str:
        return f"{kind}:{owner}" if owner is not None else kind

    def add(self, tid: int, kind: str, legs: list, **header) -> None:
        legs = [(key, amount) for key, amount in legs if amount]
        if len(legs) < 2 or sum(amount for _, amount in legs) != 0:
            raise RuntimeError(
                f"migration 0008: transaction {tid} ({kind}) would not balance: {legs}; "
                "nothing was converted"
            )
        self.legs_of[tid] = legs
        for key, amount in legs:
            self.legs.append({"t": tid, "key": key, "m": amount})
        row = {"id": tid, "kind": kind, "actor": ACTOR, "description": "", "customer_id": None,
               "service_id": None, "invoice_id": None, "bank_transaction_id": None,
               "allocation_id": None, "reverses_id": None, "reference": None,
               "created_at": self.moment}
        row.update(header)
        self.headers.append(row)

    def write(self) -> None:
        conn = self.conn
        keys = sorted({leg["key"] for leg in self.legs})
        if keys:
            conn.execute(
                sa.text("INSERT INTO ledger_account (key, kind, customer_id, service_id, created_at) "
                        "VALUES (:key, :kind, :customer_id, :service_id, :created_at)"),
                [_account_row(key, self.moment) for key in keys],
            )
        ids = dict(conn.execute(sa.text("SELECT key, id FROM ledger_account")).all())
        legs = [{"t": leg["t"], "a": ids[leg["key"]], "m": leg["m"]} for leg in self.legs]
        for i in range(0, len(legs), 5000):
            conn.execute(sa.text("INSERT INTO ledger_leg (transaction_id, account_id, amount) "
                                 "VALUES (:t, :a, :m)"), legs[i:i + 5000])
        columns = ("id", "kind", "booked_on", "actor", "description", "customer_id",
                   "service_id", "invoice_id", "bank_transaction_id", "allocation_id",
                   "reverses_id", "reference", "created_at")
        insert = sa.text(f"INSERT INTO ledger_transaction ({', '.join(columns)}) "
                         f"VALUES ({', '.join(':' + c for c in columns)})")
        for i in range(0, len(self.headers), 5000):
            conn.execute(insert, self.headers[i:i + 5000])
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text(
                "SELECT setval(pg_get_serial_sequence('ledger_transaction', 'id'), "
                "coalesce((SELECT max(id) FROM ledger_transaction), 0) + 1, false)"
            ))


def _account_row(key: str, moment) -> dict:
    kind, _, owner = key.partition(":")
    return {"key": key, "kind": kind,
            "customer_id": int(owner) if kind in CUSTOMER_KINDS else None,
            "service_id": int(owner) if kind == "voip_line_credit" else None,
            "created_at": moment}


def _day(value):
    """A date out of a timestamp as the driver returns it (SQLite: text)."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return str(value)[:10]


def _convert() -> None:
    conn = op.get_bind()
    book = _Book(conn)
    acc = book.account
    invoices = {
        row.id: row for row in conn.execute(sa.text(
            "SELECT id, kind, customer_id, total_net, total_vat, total FROM invoice"))
    }
    topups = defaultdict(list)  # invoice id -> [(service id, amount)]
    for invoice_id, service_id, amount in conn.execute(sa.text(
            "SELECT invoice_id, service_id, amount FROM voip_topup "
            "WHERE invoice_id IS NOT NULL ORDER BY id")):
        topups[invoice_id].append((service_id, amount))
    topped_up = defaultdict(int)  # service id -> top-ups now in the ledger
    entries = conn.execute(sa.text(
        "SELECT id, customer_id, booked_on, kind, amount, invoice_id, bank_transaction_id, "
        "reverses_id, description, created_at FROM ledger_entry ORDER BY id")).all()
    for e in entries:
        c = e.customer_id
        header = {"booked_on": e.booked_on, "description": e.description, "customer_id": c,
                  "invoice_id": e.invoice_id, "bank_transaction_id": e.bank_transaction_id,
                  "reverses_id": e.reverses_id, "created_at": e.created_at}
        inv = invoices.get(e.invoice_id)
        if e.kind == "invoice" and inv is not None:
            # the old entry is -total: the receivable grows by what the entry took
            if inv.kind == "advance":
                book.add(e.id, "invoice", [(acc("receivable", c), -e.amount),
                                           (acc("advances"), e.amount)], **header)
                continue
            legs = [(acc("receivable", c), -e.amount), (acc("output_vat"), -inv.total_vat),
                    (acc("revenue"), e.amount + inv.total_vat)]
            kind = "invoice"
            if inv.kind == "voip_topup" and topups.get(inv.id):
                kind = "voip_topup"
                for service_id, amount in topups[inv.id]:
                    legs += [(acc("voip_line_credit", service_id), -amount),
                             (acc("voip_prepaid"), amount)]
                    topped_up[service_id] += amount
                header["service_id"] = topups[inv.id][0][0]
            book.add(e.id, kind, legs, **header)
        elif e.kind == "credit_note" and inv is not None:
            book.add(e.id, "credit_note", [(acc("prepaid_credit", c), -e.amount),
                                           (acc("output_vat"), -inv.total_vat),
                                           (acc("revenue"), e.amount + inv.total_vat)], **header)
        elif e.kind == "payment":
            book.add(e.id, "payment", [(acc("bank_clearing"), e.amount),
                                       (acc("prepaid_credit", c), -e.amount)], **header)
        elif e.kind == "reversal" and e.reverses_id in book.legs_of:
            book.add(e.id, "reversal", [(key, -amount) for key, amount in book.legs_of[e.reverses_id]],
                     **header)
        else:
            raise RuntimeError(
                f"migration 0008: ledger entry {e.id} (kind {e.kind!r}, invoice {e.invoice_id}, "
                f"reverses {e.reverses_id}) has no rule for the double-entry ledger; nothing "
                "was converted"
            )
    next_id = (entries[-1].id if entries else 0) + 1
    allocations = conn.execute(sa.text(
        "SELECT a.id, a.invoice_id, a.bank_transaction_id, a.amount, a.created_at, i.customer_id "
        "FROM allocation a JOIN invoice i ON i.id = a.invoice_id ORDER BY a.id")).all()
    for a in allocations:
        book.add(next_id, "allocation", [(acc("prepaid_credit", a.customer_id), a.amount),
                                         (acc("receivable", a.customer_id), -a.amount)],
                 booked_on=_day(a.created_at), customer_id=a.customer_id,
                 invoice_id=a.invoice_id, bank_transaction_id=a.bank_transaction_id,
                 allocation_id=a.id, created_at=a.created_at)
        next_id += 1
    # VoIP lines: their calls, and an opening balance for whatever else made the old credit
    calls = dict(conn.execute(sa.text(
        "SELECT service_id, sum(cost) FROM voip_call GROUP BY service_id")).all())
    lines = conn.execute(sa.text(
        "SELECT a.service_id, a.credit, s.customer_id FROM voip_account a "
        "JOIN service s ON s.id = a.service_id ORDER BY a.service_id")).all()
    today = datetime.now(UTC).date()
    for service_id, credit, customer_id in lines:
        spent = calls.get(service_id) or 0
        if spent:
            book.add(next_id, "voip_calls", [(acc("voip_line_credit", service_id), spent),
                                             (acc("voip_prepaid"), -spent)],
                     booked_on=today, service_id=service_id, description="Hovorné",
                     reference="migration-0008")
            next_id += 1
        opening = credit - topped_up[service_id] + spent
        if opening:
            book.add(next_id, "opening", [(acc("voip_line_credit", service_id), -opening),
                                          (acc("opening_balance"), opening)],
                     booked_on=today, service_id=service_id, customer_id=customer_id,
                     description="Počáteční kredit")
            next_id += 1
    book.write()


def _drop_old_ledger_entry() -> None:
    if _pg():
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_truncate ON ledger_entry")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update ON ledger_entry")
        op.execute("DROP FUNCTION IF EXISTS ledger_entry_append_only()")
    else:
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_update")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_no_delete")
    with op.batch_alter_table("ledger_entry") as batch:
        batch.drop_index(batch.f("ix_ledger_entry_invoice_id"))
        batch.drop_index(batch.f("ix_ledger_entry_customer_id"))
    op.drop_table("ledger_entry")


# -- the guards ----------------------------------------------------------------------------


def _view_read_only_up() -> None:
    if _pg():
        op.execute(f"""
            CREATE FUNCTION ledger_entry_read_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '{ENTRY_READ_ONLY}' USING ERRCODE = 'raise_exception';
            END;
            $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER ledger_entry_read_only INSTEAD OF INSERT OR UPDATE OR DELETE "
                   "ON ledger_entry FOR EACH ROW EXECUTE FUNCTION ledger_entry_read_only()")
    else:
        for event in ("INSERT", "UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ledger_entry_no_{event.lower()} INSTEAD OF {event} "
                       f"ON ledger_entry BEGIN SELECT RAISE(ABORT, '{ENTRY_READ_ONLY}'); END")


def _guards_up() -> None:
    """Legs are written before their header. A transaction whose legs are fewer than two or
    do not sum to zero is refused (PostgreSQL: at commit, by a DEFERRABLE INITIALLY DEFERRED
    constraint trigger over the id range each INSERT statement queued in ledger_check;
    SQLite: when its header is inserted); a leg is refused once its header exists (PostgreSQL:
    once per statement, with a transition table); a leg without a header is refused at commit
    (the deferred foreign key); legs and headers are never updated or deleted."""
    if _pg():
        op.execute(f"""
            CREATE FUNCTION ledger_append_only() RETURNS trigger AS $$
            BEGIN
                IF TG_TABLE_NAME = 'ledger_leg' THEN
                    RAISE EXCEPTION '{LEG_APPEND_ONLY}' USING ERRCODE = 'raise_exception';
                END IF;
                RAISE EXCEPTION '{TX_APPEND_ONLY}' USING ERRCODE = 'raise_exception';
            END;
            $$ LANGUAGE plpgsql""")
        # each INSERT statement of headers queues the range of its ids ...
        op.execute("""
            CREATE FUNCTION ledger_transaction_queue_check() RETURNS trigger AS $$
            BEGIN
                INSERT INTO ledger_check (lo, hi)
                SELECT min(id), max(id) FROM new_transactions HAVING count(*) > 0;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql""")
        # ... and a deferred constraint trigger checks the range at commit (once per
        # statement, set-based, not once per transaction)
        op.execute(f"""
            CREATE FUNCTION ledger_transaction_balanced() RETURNS trigger AS $$
            DECLARE bad record;
            BEGIN
                SELECT t.id, count(l.id) AS legs, coalesce(sum(l.amount), 0) AS total INTO bad
                FROM ledger_transaction t LEFT JOIN ledger_leg l ON l.transaction_id = t.id
                WHERE t.id BETWEEN NEW.lo AND NEW.hi
                GROUP BY t.id HAVING count(l.id) < 2 OR coalesce(sum(l.amount), 0) <> 0
                LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION '{UNBALANCED}: transaction % has % legs summing to %',
                        bad.id, bad.legs, bad.total USING ERRCODE = 'check_violation';
                END IF;
                DELETE FROM ledger_check WHERE id = NEW.id;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql""")
        op.execute(f"""
            CREATE FUNCTION ledger_leg_open_transaction() RETURNS trigger AS $$
            DECLARE bad integer;
            BEGIN
                SELECT n.transaction_id INTO bad FROM new_legs n
                JOIN ledger_transaction t ON t.id = n.transaction_id LIMIT 1;
                IF FOUND THEN
                    RAISE EXCEPTION '{CLOSED} (transaction %)', bad
                        USING ERRCODE = 'check_violation';
                END IF;
                RETURN NULL;
            END;
            $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER ledger_transaction_queue_check AFTER INSERT ON ledger_transaction "
                   "REFERENCING NEW TABLE AS new_transactions FOR EACH STATEMENT "
                   "EXECUTE FUNCTION ledger_transaction_queue_check()")
        op.execute("CREATE CONSTRAINT TRIGGER ledger_transaction_balanced AFTER INSERT ON ledger_check "
                   "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW "
                   "EXECUTE FUNCTION ledger_transaction_balanced()")
        op.execute("CREATE TRIGGER ledger_leg_open_transaction AFTER INSERT ON ledger_leg "
                   "REFERENCING NEW TABLE AS new_legs FOR EACH STATEMENT "
                   "EXECUTE FUNCTION ledger_leg_open_transaction()")
        for table in ("ledger_leg", "ledger_transaction"):
            op.execute(f"CREATE TRIGGER {table}_no_update BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()")
        return
    op.execute(f"""
        CREATE TRIGGER ledger_transaction_balanced BEFORE INSERT ON ledger_transaction
        WHEN (SELECT count(*) FROM ledger_leg WHERE transaction_id = NEW.id) < 2
          OR (SELECT coalesce(sum(amount), 0) FROM ledger_leg WHERE transaction_id = NEW.id) <> 0
        BEGIN SELECT RAISE(ABORT, '{UNBALANCED}'); END""")
    op.execute(f"""
        CREATE TRIGGER ledger_leg_open_transaction BEFORE INSERT ON ledger_leg
        WHEN EXISTS (SELECT 1 FROM ledger_transaction WHERE id = NEW.transaction_id)
        BEGIN SELECT RAISE(ABORT, '{CLOSED}'); END""")
    for table, message in (("ledger_leg", LEG_APPEND_ONLY), ("ledger_transaction", TX_APPEND_ONLY)):
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{message}'); END")


def _guards_down() -> None:
    if _pg():
        for table in ("ledger_leg", "ledger_transaction"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update ON {table}")
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
        op.execute("DROP TRIGGER IF EXISTS ledger_leg_open_transaction ON ledger_leg")
        op.execute("DROP TRIGGER IF EXISTS ledger_transaction_queue_check ON ledger_transaction")
        op.execute("DROP TRIGGER IF EXISTS ledger_transaction_balanced ON ledger_check")
        op.execute("DROP TRIGGER IF EXISTS ledger_entry_read_only ON ledger_entry")
        for function in ("ledger_append_only", "ledger_transaction_balanced",
                         "ledger_transaction_queue_check",
                         "ledger_leg_open_transaction", "ledger_entry_read_only"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        return
    for name in ("ledger_transaction_balanced", "ledger_leg_open_transaction",
                 "ledger_leg_no_update", "ledger_leg_no_delete", "ledger_transaction_no_update",
                 "ledger_transaction_no_delete", "ledger_entry_no_insert",
                 "ledger_entry_no_update", "ledger_entry_no_delete"):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")


# -- down ----------------------------------------------------------------------------------


def downgrade() -> None:
    conn = op.get_bind()
    _guards_down()
    entries = [dict(row._mapping) for row in conn.execute(sa.text(
        "SELECT id, customer_id, booked_on, kind, amount, invoice_id, bank_transaction_id, "
        "reverses_id, description, created_at FROM ledger_entry ORDER BY id"))]
    credits = conn.execute(sa.text(
        "SELECT v.service_id, coalesce((SELECT -sum(l.amount) FROM ledger_leg l "
        "JOIN ledger_account a ON a.id = l.account_id "
        "WHERE a.kind = 'voip_line_credit' AND a.service_id = v.service_id), 0) "
        "FROM voip_account v")).all()
    op.execute("DROP VIEW ledger_entry")
    with op.batch_alter_table("voip_account") as batch:
        batch.add_column(sa.Column("credit", core.db.Money(precision=12, scale=2),
                                   nullable=False, server_default="0"))
    with op.batch_alter_table("voip_account") as batch:
        batch.alter_column("credit", server_default=None)
    if credits:
        conn.execute(sa.text("UPDATE voip_account SET credit = :credit WHERE service_id = :sid"),
                     [{"sid": sid, "credit": credit} for sid, credit in credits])
    op.create_table(
        "ledger_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("booked_on", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("amount", core.db.Money(precision=12, scale=2), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=True),
        sa.Column("bank_transaction_id", sa.Integer(), nullable=True),
        sa.Column("reverses_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("created_at", core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["bank_transaction_id"], ["bank_transaction.id"],
                                name=op.f("fk_ledger_entry_bank_transaction_id_bank_transaction")),
        sa.ForeignKeyConstraint(["customer_id"], ["customer.id"],
                                name=op.f("fk_ledger_entry_customer_id_customer")),
        sa.ForeignKeyConstraint(["invoice_id"], ["invoice.id"],
                                name=op.f("fk_ledger_entry_invoice_id_invoice")),
        sa.ForeignKeyConstraint(["reverses_id"], ["ledger_entry.id"],
                                name=op.f("fk_ledger_entry_reverses_id_ledger_entry")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ledger_entry")),
    )
    with op.batch_alter_table("ledger_entry") as batch:
        batch.create_index(batch.f("ix_ledger_entry_customer_id"), ["customer_id"], unique=False)
        batch.create_index(batch.f("ix_ledger_entry_invoice_id"), ["invoice_id"], unique=False)
    if entries:
        conn.execute(sa.text(
            "INSERT INTO ledger_entry (id, customer_id, booked_on, kind, amount, invoice_id, "
            "bank_transaction_id, reverses_id, description, created_at) VALUES (:id, "
            ":customer_id, :booked_on, :kind, :amount, :invoice_id, :bank_transaction_id, "
            ":reverses_id, :description, :created_at)"), entries)
        if _pg():
            conn.execute(sa.text(
                "SELECT setval(pg_get_serial_sequence('ledger_entry', 'id'), "
                "(SELECT max(id) FROM ledger_entry))"))
    # 0001's guard of the single-entry ledger
    if _pg():
        op.execute("""
            CREATE FUNCTION ledger_entry_append_only() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION 'ledger_entry is append-only: write a reversing entry instead'
                    USING ERRCODE = 'raise_exception';
            END;
            $$ LANGUAGE plpgsql""")
        op.execute("CREATE TRIGGER ledger_entry_no_update BEFORE UPDATE OR DELETE ON ledger_entry "
                   "FOR EACH ROW EXECUTE FUNCTION ledger_entry_append_only()")
        op.execute("CREATE TRIGGER ledger_entry_no_truncate BEFORE TRUNCATE ON ledger_entry "
                   "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entry_append_only()")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER ledger_entry_no_{event.lower()} BEFORE {event} ON "
                       "ledger_entry BEGIN SELECT RAISE(ABORT, 'ledger_entry is append-only: "
                       "write a reversing entry instead'); END")
    with op.batch_alter_table("ledger_leg") as batch:
        batch.drop_index(batch.f("ix_ledger_leg_transaction_id"))
        batch.drop_index(batch.f("ix_ledger_leg_account_id"))
    op.drop_table("ledger_leg")
    op.drop_table("ledger_check")
    with op.batch_alter_table("ledger_transaction") as batch:
        batch.drop_index(batch.f("ix_ledger_transaction_invoice_id"))
        batch.drop_index(batch.f("ix_ledger_transaction_customer_id"))
        batch.drop_index(batch.f("ix_ledger_transaction_bank_transaction_id"))
    op.drop_table("ledger_transaction")
    with op.batch_alter_table("ledger_account") as batch:
        batch.drop_index(batch.f("ix_ledger_account_service_id"))
        batch.drop_index(batch.f("ix_ledger_account_customer_id"))
    op.drop_table("ledger_account")
