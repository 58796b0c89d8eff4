"""The database itself guards the ledger (migration 0008, docs/ledger.md): a transaction
whose legs do not sum to zero (or are fewer than two) is refused, and so are legs added to a
written transaction, legs without a transaction, and any UPDATE or DELETE of a leg or a
transaction. Raw SQL, past the application's own checks; on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError

from billing.ledger import postings
from billing.ledger.postings import LedgerError, Posting
from billing.models import LedgerLeg, LedgerTransaction
from core.clock import now, today


def raw_amount(session, amount: str):
    """Money as the database stores it (haléře on SQLite)."""
    value = D(amount)
    return int(value * 100) if session.get_bind().dialect.name == "sqlite" else value


@pytest.fixture
def accounts(session, make_customer):
    customer = make_customer(number="8001")
    ids = postings.account_ids(session, [postings.account_key("bank_clearing"),
                                         postings.account_key("prepaid_credit", customer.id)])
    session.commit()
    return list(ids.values())


def write(session, tid: int, legs: list[tuple[int, str]], header: bool = True) -> None:
    """Legs, then (optionally) the header, as postings writes them, with raw SQL."""
    for account_id, amount in legs:
        session.execute(
            text("INSERT INTO ledger_leg (transaction_id, account_id, amount) VALUES (:t, :a, :m)"),
            {"t": tid, "a": account_id, "m": raw_amount(session, amount)},
        )
    if header:
        session.execute(
            text("INSERT INTO ledger_transaction (id, kind, booked_on, actor, description, "
                 "created_at) VALUES (:t, 'payment', :d, 'test', '', :c)"),
            {"t": tid, "d": today(), "c": now().replace(tzinfo=None)
             if session.get_bind().dialect.name == "sqlite" else now()},
        )


def counts(session):
    session.rollback()
    return (session.scalar(select(func.count()).select_from(LedgerTransaction)),
            session.scalar(select(func.count()).select_from(LedgerLeg)))


@pytest.mark.parametrize("legs", [
    [(0, "100.00"), (1, "-99.99")],  # off by a haléř
    [(0, "100.00")],  # one leg
    [],  # no legs
    [(0, "100.00"), (1, "100.00")],  # both on one side
], ids=["unbalanced", "one-leg", "no-legs", "one-sided"])
def test_an_unbalanced_transaction_is_refused(session, accounts, legs):
    before = counts(session)
    with pytest.raises(DatabaseError, match="unbalanced"):
        write(session, 900001, [(accounts[i], amount) for i, amount in legs])
        session.commit()
    assert counts(session) == before


def test_a_balanced_transaction_is_taken(session, accounts):
    before = counts(session)
    write(session, 900002, [(accounts[0], "100.00"), (accounts[1], "-60.00"), (accounts[1], "-40.00")])
    session.commit()
    assert counts(session) == (before[0] + 1, before[1] + 3)


def test_legs_cannot_join_a_written_transaction(session, accounts):
    write(session, 900003, [(accounts[0], "100.00"), (accounts[1], "-100.00")])
    session.commit()
    before = counts(session)
    with pytest.raises(DatabaseError, match="closed"):
        write(session, 900003, [(accounts[0], "5.00"), (accounts[1], "-5.00")], header=False)
        session.commit()
    assert counts(session) == before


def test_legs_without_a_transaction_are_refused_at_commit(session, accounts):
    before = counts(session)
    write(session, 900004, [(accounts[0], "100.00"), (accounts[1], "-100.00")], header=False)
    with pytest.raises(DatabaseError):  # the deferred foreign key, at commit
        session.commit()
    assert counts(session) == before


@pytest.mark.parametrize("statement", [
    "UPDATE ledger_leg SET amount = 0",
    "UPDATE ledger_leg SET account_id = account_id",
    "DELETE FROM ledger_leg",
    "UPDATE ledger_transaction SET kind = 'payment'",
    "DELETE FROM ledger_transaction",
    "TRUNCATE ledger_leg CASCADE",  # PostgreSQL's (SQLite has no TRUNCATE)
    "TRUNCATE ledger_transaction CASCADE",
])
def test_legs_and_transactions_refuse_update_and_delete(session, accounts, statement):
    write(session, 900005, [(accounts[0], "100.00"), (accounts[1], "-100.00")])
    session.commit()
    before = counts(session)
    if statement.startswith("TRUNCATE") and session.get_bind().dialect.name != "postgresql":
        statement = statement.replace("TRUNCATE", "DELETE FROM").removesuffix(" CASCADE")
    # the application's role (PostgreSQL in CI) may not even TRUNCATE: refused before the
    # trigger is asked
    with pytest.raises(DatabaseError, match="append-only|permission denied"):
        session.execute(text(statement))
    assert counts(session) == before


def test_the_writer_refuses_an_unbalanced_posting_before_the_database(session, accounts):
    before = counts(session)
    with pytest.raises(LedgerError, match="summing to zero"):
        postings.record(session, [Posting("payment", [("bank_clearing", D("1.00")),
                                                      ("revenue", D("-0.99"))])])
    with pytest.raises(TypeError, match="float"):
        postings.record(session, [Posting("payment", [("bank_clearing", 1.5),
                                                      ("revenue", -1.5)])])
    assert counts(session) == before
