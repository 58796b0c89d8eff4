"""The enforcement policy: a pure function from one customer's facts and a day to what must
happen (docs/facts/enforcement-states.md). No database, no clock: the sweep, the payment handler and the
tests all call :func:`decide` with the facts they gathered.

Schedule (Europe/Prague calendar days, defaults in :mod:`enforcement.config`)::

    anchor   = oldest overdue due date + grace days   (never before an exemption ended)
    anchor                      ok -> reminded, e-mail "reminder 1"
    anchor + reminder2_days     e-mail "reminder 2"
    anchor + warning_days       reminded -> warned, address list "warned"
    ack day + disconnect_days   acknowledged -> disconnected ("blocked" + kick)
    warned day + N (optional)   warned -> disconnected without acknowledgement

The reminder steps are anchored to the schedule, so a sweep that did not run for days
catches up in one go (each notice once, in order). The disconnecting steps are anchored to
what really happened (the day the customer was warned or acknowledged), so catching up never
cuts off anyone who was not warned first and given their days.

Exemption (``never`` or ``until`` a day) holds the case where it stands: no reminders, no
warning, no disconnection while it lasts; a disconnected customer stays disconnected (an
operator who wants them back runs ``ispzone enforcement reconnect``). When an exemption ends
the schedule restarts the day after it: nothing that was due during the exemption happens
at once. Paying is honoured in every state, exempt or not: below the minimum overdue debt
the case returns to ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from enforcement.config import Policy
from enforcement.models import ActionKind, CaseState, MailKind

ZERO = Decimal("0.00")
NOW = "now"  # in Decision.updates: "the moment the change is written"


@dataclass(frozen=True)
class Facts:
    """What the policy needs to know about one customer (all days are Prague days)."""

    state: str = CaseState.OK
    overdue_debt: Decimal = ZERO
    oldest_overdue_due: date | None = None
    overdue_since: date | None = None  # the case's, set when it opened
    exempt: bool = False
    exempt_until: date | None = None
    reminder1_on: date | None = None
    reminder2_on: date | None = None
    warned_on: date | None = None
    acknowledged_on: date | None = None
    disconnect_due: date | None = None


@dataclass(frozen=True)
class Step:
    """One thing that happens: a transition (``state``), a notice (``mail``), router actions."""

    state: str | None
    mail: str | None
    actions: tuple[tuple[str, str | None], ...] = ()
    reason: str = ""


@dataclass(frozen=True)
class Decision:
    state: str
    steps: tuple[Step, ...] = ()
    updates: dict = field(default_factory=dict)  # case columns; NOW = the current instant

    @property
    def changed(self) -> bool:
        return bool(self.steps)

    @property
    def mails(self) -> list[str]:
        return [s.mail for s in self.steps if s.mail]

    @property
    def actions(self) -> list[tuple[str, str | None]]:
        return [a for s in self.steps for a in s.actions]


CYCLE_FIELDS = (
    "overdue_since",
    "reminder1_sent_at",
    "reminder2_sent_at",
    "warned_at",
    "acknowledged_at",
    "acknowledged_ip",
    "acknowledged_by",
    "disconnect_due",
    "disconnected_at",
)


def is_exempt(facts: Facts, today: date) -> bool:
    return facts.exempt or (facts.exempt_until is not None and today <= facts.exempt_until)


def owes(facts: Facts, policy: Policy) -> bool:
    return facts.overdue_debt > ZERO and facts.overdue_debt >= policy.min_debt


def _not_before_exemption(day: date, facts: Facts) -> date:
    if facts.exempt_until is not None:
        return max(day, facts.exempt_until + timedelta(days=1))
    return day


def decide(facts: Facts, today: date, policy: Policy) -> Decision:
    """Where the customer's case must be on ``today``, and the steps that get it there."""
    if facts.state != CaseState.OK and not owes(facts, policy):
        return _back_to_ok(facts, policy)
    if is_exempt(facts, today) or not owes(facts, policy) or facts.oldest_overdue_due is None:
        return Decision(facts.state)

    state, steps, updates = facts.state, [], {}
    opened = facts.overdue_since or facts.oldest_overdue_due
    anchor = _not_before_exemption(opened + timedelta(days=policy.grace_days), facts)
    if state == CaseState.OK and today >= anchor:
        state = CaseState.REMINDED
        steps.append(Step(CaseState.REMINDED, MailKind.REMINDER1, reason="overdue"))
        updates.update(overdue_since=facts.oldest_overdue_due, reminder1_sent_at=NOW)
    if state == CaseState.REMINDED:
        if facts.reminder2_on is None and today >= anchor + timedelta(days=policy.reminder2_days):
            steps.append(Step(None, MailKind.REMINDER2, reason="overdue"))
            updates["reminder2_sent_at"] = NOW
        if today >= anchor + timedelta(days=policy.warning_days):
            state = CaseState.WARNED
            warn = ((ActionKind.LIST_ADD, policy.list_warned),)
            steps.append(Step(CaseState.WARNED, MailKind.WARNING, warn, "warn"))
            updates["warned_at"] = NOW
    elif state == CaseState.WARNED and policy.disconnect_unacknowledged_days > 0:
        warned_on = facts.warned_on or today
        due = warned_on + timedelta(days=policy.disconnect_unacknowledged_days)
        if today >= _not_before_exemption(due, facts):
            state = CaseState.DISCONNECTED
            actions = ((ActionKind.LIST_REMOVE, policy.list_warned),
                       (ActionKind.LIST_ADD, policy.list_blocked), (ActionKind.KICK, None))
            steps.append(Step(CaseState.DISCONNECTED, MailKind.DISCONNECTED, actions, "disconnect"))
            updates.update(disconnected_at=NOW, disconnect_due=due)
    elif state == CaseState.ACKNOWLEDGED:
        due = facts.disconnect_due
        if due is None and facts.acknowledged_on is not None:
            due = facts.acknowledged_on + timedelta(days=policy.disconnect_days)
        if due is not None and today >= _not_before_exemption(due, facts):
            state = CaseState.DISCONNECTED
            actions = ((ActionKind.LIST_ADD, policy.list_blocked), (ActionKind.KICK, None))
            steps.append(Step(CaseState.DISCONNECTED, MailKind.DISCONNECTED, actions, "disconnect"))
            updates["disconnected_at"] = NOW
    return Decision(state, tuple(steps), updates)


def _back_to_ok(facts: Facts, policy: Policy) -> Decision:
    """No overdue debt worth chasing: clear whatever the routers were told, say thank you.

    An acknowledged customer is already out of "warned" (the acknowledgement queued that),
    so nothing is sent for them: on RADIUS every removal costs the customer a redial."""
    actions: tuple[tuple[str, str | None], ...] = ()
    if facts.state == CaseState.WARNED:
        actions = ((ActionKind.LIST_REMOVE, policy.list_warned),)
    elif facts.state == CaseState.DISCONNECTED:
        actions = ((ActionKind.LIST_REMOVE, policy.list_blocked),
                   (ActionKind.LIST_REMOVE, policy.list_warned))
    updates = {name: None for name in CYCLE_FIELDS}
    if facts.state == CaseState.DISCONNECTED:
        updates["reconnected_at"] = NOW
    step = Step(CaseState.OK, MailKind.PAYMENT_RECEIVED, actions, "reconnect")
    return Decision(CaseState.OK, (step,), updates)
