"""The pure policy: a table of situations and what must happen, catch-up included."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enforcement.config import Policy
from enforcement.policy import NOW, Facts, decide

P = Policy()  # grace 3, reminder 2 after 7, warning after 14, disconnect 10 days after ack
DUE = date(2026, 10, 1)
D = lambda n: DUE + timedelta(days=n)  # noqa: E731 - a day relative to the due date
DEBT = Decimal("605.00")


def facts(**kw) -> Facts:
    kw.setdefault("overdue_debt", DEBT)
    kw.setdefault("oldest_overdue_due", DUE)
    return Facts(**kw)


def summary(decision):
    return (decision.state, decision.mails, decision.actions)


CASES = [
    # (label, facts, today, expected state, mails, router actions)
    ("not yet past grace", facts(), D(2), "ok", [], []),
    ("grace over: reminder 1", facts(), D(3), "reminded", ["reminder1"], []),
    ("below the minimum debt", facts(overdue_debt=Decimal("49.99")), D(30), "ok", [], []),
    ("reminded, too early for reminder 2",
     facts(state="reminded", overdue_since=DUE, reminder1_on=D(3)), D(9), "reminded", [], []),
    ("reminder 2", facts(state="reminded", overdue_since=DUE, reminder1_on=D(3)), D(10),
     "reminded", ["reminder2"], []),
    ("reminder 2 is sent once",
     facts(state="reminded", overdue_since=DUE, reminder1_on=D(3), reminder2_on=D(10)), D(12),
     "reminded", [], []),
    ("warning day", facts(state="reminded", overdue_since=DUE, reminder1_on=D(3),
                          reminder2_on=D(10)), D(17), "warned", ["warning"],
     [("list_add", "warned")]),
    ("warned waits for the acknowledgement",
     facts(state="warned", overdue_since=DUE, warned_on=D(17)), D(90), "warned", [], []),
    ("acknowledged: not before the disconnect day",
     facts(state="acknowledged", acknowledged_on=D(20), disconnect_due=D(30)), D(29),
     "acknowledged", [], []),
    ("acknowledged + 10 days: disconnected",
     facts(state="acknowledged", acknowledged_on=D(20), disconnect_due=D(30)), D(30),
     "disconnected", ["disconnected"], [("list_add", "blocked"), ("kick", None)]),
    ("disconnect day from the ack day when not stored",
     facts(state="acknowledged", acknowledged_on=D(20)), D(30), "disconnected",
     ["disconnected"], [("list_add", "blocked"), ("kick", None)]),
    ("disconnected stays", facts(state="disconnected"), D(90), "disconnected", [], []),
    ("paid while disconnected", facts(state="disconnected", overdue_debt=Decimal("0")), D(40),
     "ok", ["payment_received"], [("list_remove", "blocked"), ("list_remove", "warned")]),
    ("paid down below the minimum while warned",
     facts(state="warned", overdue_debt=Decimal("10.00")), D(20), "ok", ["payment_received"],
     [("list_remove", "warned")]),
    ("paid while reminded", facts(state="reminded", overdue_debt=Decimal("0"),
                                  oldest_overdue_due=None), D(5), "ok", ["payment_received"], []),
    ("paid after acknowledging (already out of warned)",
     facts(state="acknowledged", overdue_debt=Decimal("0"), acknowledged_on=D(20)), D(22), "ok",
     ["payment_received"], []),
    # catch-up: the sweep did not run for 20 days after the due date + grace
    ("catch-up after 20 missed days", facts(), D(23), "warned",
     ["reminder1", "reminder2", "warning"], [("list_add", "warned")]),
    ("catch-up from reminded", facts(state="reminded", overdue_since=DUE, reminder1_on=D(3)),
     D(40), "warned", ["reminder2", "warning"], [("list_add", "warned")]),
    ("catch-up never disconnects without acknowledgement", facts(), D(400), "warned",
     ["reminder1", "reminder2", "warning"], [("list_add", "warned")]),
    # exemptions
    ("exempt for good", facts(exempt=True), D(60), "ok", [], []),
    ("exempt until a day", facts(exempt_until=D(20)), D(20), "ok", [], []),
    ("schedule restarts after the exemption", facts(exempt_until=D(20)), D(21), "reminded",
     ["reminder1"], []),
    ("exemption ended yesterday: no jump to warned",
     facts(state="reminded", overdue_since=DUE, reminder1_on=D(3), exempt_until=D(30)), D(31),
     "reminded", [], []),
    ("exempt holds a disconnect", facts(state="acknowledged", disconnect_due=D(30), exempt=True),
     D(35), "acknowledged", [], []),
    ("exempt keeps a disconnected customer disconnected", facts(state="disconnected", exempt=True),
     D(60), "disconnected", [], []),
    ("exempt customer who pays goes back to ok",
     facts(state="disconnected", exempt=True, overdue_debt=Decimal("0")), D(60), "ok",
     ["payment_received"], [("list_remove", "blocked"), ("list_remove", "warned")]),
]


@pytest.mark.parametrize(("label", "given_facts", "today", "state", "mails", "actions"), CASES,
                         ids=[c[0] for c in CASES])
def test_policy_table(label, given_facts, today, state, mails, actions):
    decision = decide(given_facts, today, P)
    assert summary(decision) == (state, mails, actions), label


def test_unacknowledged_option_counts_from_the_real_warning_day():
    policy = Policy(disconnect_unacknowledged_days=5)
    warned = facts(state="warned", overdue_since=DUE, warned_on=D(40))  # warned late (catch-up)
    assert decide(warned, D(44), policy).state == "warned"
    decision = decide(warned, D(45), policy)
    assert summary(decision) == ("disconnected", ["disconnected"], [
        ("list_remove", "warned"), ("list_add", "blocked"), ("kick", None)])
    # and a catch-up from ok only warns: the days count from the warning it sends now
    assert decide(facts(), D(400), policy).state == "warned"


def test_opening_a_case_records_the_dates():
    decision = decide(facts(), D(23), P)
    assert decision.updates["overdue_since"] == DUE
    assert decision.updates["reminder1_sent_at"] == NOW
    assert decision.updates["reminder2_sent_at"] == NOW
    assert decision.updates["warned_at"] == NOW
    back = decide(facts(state="disconnected", overdue_debt=Decimal(0)), D(40), P)
    assert back.updates["warned_at"] is None
    assert back.updates["reconnected_at"] == NOW


def test_minimum_debt_is_a_setting():
    policy = Policy(min_debt=Decimal("1000.00"))
    assert decide(facts(), D(30), policy).state == "ok"
    assert decide(facts(state="warned"), D(30), policy).state == "ok"  # paid down enough


STATES = st.sampled_from(["ok", "reminded", "warned", "acknowledged", "disconnected"])


@given(state=STATES, days=st.integers(-5, 500), debt=st.integers(0, 5000),
       exempt=st.booleans(), ack=st.integers(0, 60))
def test_never_disconnects_without_warning_or_acknowledgement(state, days, debt, exempt, ack):
    f = facts(state=state, overdue_debt=Decimal(debt), exempt=exempt, overdue_since=DUE,
              acknowledged_on=D(ack) if state == "acknowledged" else None,
              warned_on=D(17) if state == "warned" else None)
    decision = decide(f, D(days), P)
    if decision.state == "disconnected" and state != "disconnected":
        assert state == "acknowledged" and D(days) >= D(ack + P.disconnect_days)
        assert not exempt
    if Decimal(debt) < P.min_debt:
        assert decision.state == "ok"  # a customer who paid is never held
    # applying the decision again on the same day changes nothing more
    again = facts(state=decision.state, overdue_debt=Decimal(debt), exempt=exempt,
                  overdue_since=DUE, reminder1_on=D(days), reminder2_on=D(days), warned_on=D(days),
                  acknowledged_on=f.acknowledged_on)
    assert decide(again, D(days), P).state == decision.state
