"""The big-statement path of the PostgreSQL import (statistics of the temporary tables, more
work_mem) gives what the small one gives: BIG_BATCH is lowered so that three movements take
it. On SQLite the same assertions run through the portable path."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from billing.bank import importing as statement_import
from billing.bank import pairing_pg
from billing.bank.pairing import pair_many
from billing.ledger.balances import customer_invoices
from billing.models import Allocation
from core.clock import today
from tests.billing.test_payments import payment
from tests.billing.test_statement_import import billed, gpc, snapshot, tx  # noqa: F401 (fixture)


@pytest.fixture
def big(monkeypatch):
    monkeypatch.setattr(statement_import, "BIG_BATCH", 2)
    monkeypatch.setattr(pairing_pg, "BIG_BATCH", 2)


def test_big_batch_of_stored_payments(session, billed, big):  # noqa: F811
    customers, invoices = billed
    txs = [payment(session, "450.00", vs=c.customer_number) for c in customers]
    counts = pair_many(session, txs)
    session.commit()
    assert counts == {"matched": 3, "unmatched": 0, "outgoing": 0}
    assert session.scalar(select(func.count(Allocation.id))) == 3
    assert {s.status for c in customers for s in customer_invoices(session, c.id, today())} == {"paid"}
