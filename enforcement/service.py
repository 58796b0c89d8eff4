"""Applies the policy: the daily sweep, reconnect on payment, operators' commands.

The sweep is set-based: one query gathers every customer's facts (overdue debt = open
amounts of past-due invoices, i.e. totals minus allocations of payments and credit notes, as
billing settles them), the pure :func:`enforcement.policy.decide` runs in Python, and the
results are written with bulk statements: the number of SQL statements does not grow with the
number of customers. Everything is written in the caller's transaction (cases, audit events,
router actions, e-mails); the caller commits, the outbox worker sends.

On PostgreSQL a case is only changed if nobody changed it since it was read (the customer
acknowledging at that very moment wins; the next sweep looks again).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import and_, exists, func, insert, or_, select, text, type_coerce, update
from sqlalchemy.orm import Session

from billing.models import Allocation, AuditEvent, Customer, Invoice
from billing.models.credit import CreditTopUp
from core import audit, events
from core.clock import now, prague_date
from core.clock import today as prague_today
from core.db import Money, bulk_insert, is_in
from enforcement import cases
from enforcement.config import Policy
from enforcement.models import (
    CaseState,
    EnforcementCase,
    EnforcementMail,
    MailKind,
    MailStatus,
    RouterAction,
)
from enforcement.policy import NOW, Decision, Facts, decide

if TYPE_CHECKING:
    from collections.abc import Mapping

CASE_COLUMNS = (
    "state", "state_since", "overdue_since", "reminder1_sent_at", "reminder2_sent_at",
    "warned_at", "acknowledged_at", "acknowledged_ip", "acknowledged_by", "disconnect_due",
    "disconnected_at", "reconnected_at", "updated_at",
)
SYSTEM = "system:enforcement"


@dataclass
class Change:
    customer_id: int
    customer_number: str
    old: str
    new: str
    mails: list[str]
    actions: list[tuple[str, str | None]]

    def __str__(self) -> str:
        what = [f"{self.old} -> {self.new}" if self.old != self.new else self.new]
        what += [f"mail {m}" for m in self.mails]
        what += [f"{k} {n}" if n else k for k, n in self.actions]
        return f"{self.customer_number}: " + ", ".join(what)


@dataclass
class SweepReport:
    day: date
    debtors: int = 0
    changes: list[Change] = field(default_factory=list)
    skipped: int = 0  # changed concurrently; the next sweep looks again
    dry_run: bool = False

    def __str__(self) -> str:
        head = "would change" if self.dry_run else "changed"
        lines = [f"sweep {self.day}: {self.debtors} customers with a case or overdue debt, "
                 f"{head} {len(self.changes)}"
                 + (f", {self.skipped} skipped (changed meanwhile)" if self.skipped else "")]
        lines += [f"  {c}" for c in self.changes]
        return "\n".join(lines)


# -- facts ------------------------------------------------------------------------------------


def _debt_cte(today: date):
    """Per customer: the open amount of invoices due before ``today`` and the oldest due date."""
    # a credit top-up request (billing/credit/) is an offer to pay in advance, not a debt
    overdue = and_(Invoice.kind != "credit_note", Invoice.due_date < today,
                   ~exists().where(CreditTopUp.invoice_id == Invoice.id))
    paid = (
        select(Allocation.invoice_id, func.sum(Allocation.amount).label("paid"))
        .join(Invoice, Invoice.id == Allocation.invoice_id)
        .where(overdue)
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    left = Invoice.total - func.coalesce(paid.c.paid, 0)
    return (
        select(
            Invoice.customer_id.label("customer_id"),
            type_coerce(func.sum(left), Money()).label("debt"),
            func.min(Invoice.due_date).label("oldest"),
        )
        .outerjoin(paid, paid.c.invoice_id == Invoice.id)
        .where(overdue, left > 0)
        .group_by(Invoice.customer_id)
        .cte("debt")
    )


def gather(session: Session, today: date, customer_ids=None) -> list:
    """One row per customer who owes something overdue or whose case is not ``ok``."""
    debt = _debt_cte(today)
    case = EnforcementCase
    stmt = (
        select(
            Customer.id.label("customer_id"),
            Customer.customer_number,
            Customer.email,
            Customer.language,
            Customer.enforcement_exempt,
            Customer.enforcement_exempt_until,
            case.customer_id.label("case_id"),
            *(getattr(case, name) for name in CASE_COLUMNS),
            debt.c.debt,
            debt.c.oldest,
        )
        .select_from(Customer)
        .outerjoin(debt, debt.c.customer_id == Customer.id)
        .outerjoin(case, case.customer_id == Customer.id)
        .where(or_(debt.c.customer_id.is_not(None), and_(case.state.is_not(None), case.state != CaseState.OK)))
        .order_by(Customer.id)
    )
    if customer_ids is not None:
        stmt = stmt.where(is_in(session, Customer.id, list(customer_ids)))
    return list(session.execute(stmt))


def _day(moment: datetime | None) -> date | None:
    return prague_date(moment) if moment else None


def facts_of(row) -> Facts:
    return Facts(
        state=row.state or CaseState.OK,
        overdue_debt=row.debt if row.debt is not None else Facts.overdue_debt,
        oldest_overdue_due=row.oldest,
        overdue_since=row.overdue_since,
        exempt=bool(row.enforcement_exempt),
        exempt_until=row.enforcement_exempt_until,
        reminder1_on=_day(row.reminder1_sent_at),
        reminder2_on=_day(row.reminder2_sent_at),
        warned_on=_day(row.warned_at),
        acknowledged_on=_day(row.acknowledged_at),
        disconnect_due=row.disconnect_due,
    )


# -- the sweep --------------------------------------------------------------------------------


def sweep(
    session: Session,
    today: date | None = None,
    policy: Policy | None = None,
    *,
    default_router: str = "default",
    actor: str = SYSTEM,
    dry_run: bool = False,
    customer_ids=None,
) -> SweepReport:
    """Bring every case (or those of ``customer_ids``) to where the policy says it must be on
    ``today`` (Prague day)."""
    today = today or prague_today()
    policy = policy or Policy()
    _lock(session)
    rows = gather(session, today, customer_ids)
    report = SweepReport(today, debtors=len(rows), dry_run=dry_run)
    decided = [(row, decide(facts_of(row), today, policy)) for row in rows]
    apply(session, [(r, d) for r, d in decided if d.changed], report,
          default_router=default_router, actor=actor, dry_run=dry_run)
    return report


def _lock(session: Session) -> None:
    """One sweep at a time (PostgreSQL; SQLite serialises writers anyway)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext('ispzone.enforcement.sweep'))"))


def apply(
    session: Session,
    decided: list[tuple[object, Decision]],
    report: SweepReport,
    *,
    default_router: str,
    actor: str,
    dry_run: bool = False,
    details: dict | None = None,
) -> None:
    """Write the decisions: cases, then (for the cases really changed) audit, actions, mails."""
    if not decided:
        return
    if dry_run:
        report.changes += [_change(row, d) for row, d in decided]
        return
    session.flush()
    moment = now()
    applied = _write_cases(session, decided, moment)
    report.skipped += sum(1 for row, _ in decided if row.customer_id not in applied)
    decided = [(row, d) for row, d in decided if row.customer_id in applied]
    needs_targets = [row.customer_id for row, d in decided if d.actions]
    targets = cases.customer_targets_many(session, needs_targets, default_router) if needs_targets else {}
    audits, actions, mails = [], [], []
    for row, decision in decided:
        old = row.state or CaseState.OK
        for step in decision.steps:
            if step.state is not None:
                audits.append(cases.transition_audit_row(
                    row.customer_id, old, step.state, actor=actor, at=moment,
                    details={"reason": step.reason, **(details or {})}))
                old = step.state
            elif step.mail:
                audits.append({**cases.transition_audit_row(
                    row.customer_id, old, old, actor=actor, at=moment), "action":
                    f"enforcement.{step.mail}", "field": None})
            if step.actions:
                actions += cases.action_rows(row.customer_id, step.actions,
                                             targets.get(row.customer_id, []),
                                             reason=step.reason, at=moment)
            if step.mail:
                mails.append(_mail_row(row, step.mail, decision, moment, report.day))
        report.changes.append(_change(row, decision))
    bulk_insert(session, AuditEvent.__table__, audits)
    bulk_insert(session, RouterAction.__table__, actions)
    bulk_insert(session, EnforcementMail.__table__, mails)
    for obj in list(session.identity_map.values()):  # cases were written behind the ORM's back
        if isinstance(obj, EnforcementCase):
            session.expire(obj)


def _change(row, decision: Decision) -> Change:
    return Change(row.customer_id, row.customer_number, row.state or CaseState.OK, decision.state,
                  decision.mails, decision.actions)


def _mail_row(row, kind: str, decision: Decision, moment: datetime, day: date) -> dict:
    """A notice of the sweep of ``day``: it is rendered as of that day (``as_of``), whenever
    it is sent, so ``enforcement run --date`` mails the totals and lists of that day."""
    context = {"as_of": day.isoformat()}
    if kind == MailKind.DISCONNECTED:
        context["disconnected_on"] = day.isoformat()
    if kind == MailKind.PAYMENT_RECEIVED:
        context["previous_state"] = row.state or CaseState.OK
    return {
        "customer_id": row.customer_id,
        "kind": kind,
        "to_address": row.email,
        "lang": row.language if row.language in ("cs", "en") else "cs",
        "context": json.dumps(context),
        "status": MailStatus.PENDING if row.email else MailStatus.CANCELLED,
        "attempts": 0,
        "next_attempt_at": moment,
        "claimed_until": None,
        "last_error": None if row.email else "the customer has no e-mail address",
        "created_at": moment,
        "sent_at": None,
    }


def _new_case_values(row, decision: Decision, moment: datetime) -> dict:
    values = {name: getattr(row, name) for name in CASE_COLUMNS}
    for name, value in decision.updates.items():
        values[name] = moment if value == NOW else value
    values["state"] = decision.state
    if decision.state != (row.state or CaseState.OK):
        values["state_since"] = moment
    values["updated_at"] = moment
    values["customer_id"] = row.customer_id
    return values


def _write_cases(session: Session, decided, moment: datetime) -> set[int]:
    """Insert missing cases and update the others; returns the customers really changed."""
    rows = [_new_case_values(row, d, moment) for row, d in decided]
    fresh = [r for (row, _), r in zip(decided, rows, strict=True) if row.case_id is None]
    if session.get_bind().dialect.name == "postgresql":
        return _write_cases_pg(session, decided, rows)
    table = EnforcementCase.__table__
    if fresh:
        session.execute(insert(table), fresh)
    old = [r for (row, _), r in zip(decided, rows, strict=True) if row.case_id is not None]
    if old:
        from sqlalchemy import bindparam

        stmt = (
            update(table)
            .where(table.c.customer_id == bindparam("_cid"))
            .values({name: bindparam(f"_{name}") for name in CASE_COLUMNS})
        )
        session.connection().execute(
            stmt, [{"_cid": r["customer_id"], **{f"_{n}": r[n] for n in CASE_COLUMNS}} for r in old]
        )
    return {r["customer_id"] for r in rows}


def _write_cases_pg(session: Session, decided, rows: list[dict]) -> set[int]:
    """COPY into a temporary table, create missing cases, update those still as read."""
    session.execute(text(
        "CREATE TEMP TABLE IF NOT EXISTS enforcement_case_new ON COMMIT DROP AS "
        "SELECT *, state AS old_state, updated_at AS old_updated_at FROM enforcement_case "
        "WITH NO DATA"))
    session.execute(text("TRUNCATE enforcement_case_new"))
    staged = []
    for (row, _), values in zip(decided, rows, strict=True):
        staged.append({**values, "old_state": row.state or CaseState.OK,
                       "old_updated_at": row.updated_at or values["updated_at"]})
    bulk_insert(session, "enforcement_case_new", staged)
    session.execute(text(
        "INSERT INTO enforcement_case (customer_id, state, state_since, updated_at) "
        "SELECT customer_id, 'ok', old_updated_at, old_updated_at FROM enforcement_case_new "
        "ON CONFLICT (customer_id) DO NOTHING"))
    assignments = ", ".join(f"{name} = t.{name}" for name in CASE_COLUMNS)
    result = session.execute(text(
        f"UPDATE enforcement_case AS c SET {assignments} FROM enforcement_case_new AS t "
        "WHERE c.customer_id = t.customer_id AND c.state = t.old_state "
        "AND c.updated_at = t.old_updated_at RETURNING c.customer_id"))
    return set(result.scalars())


# -- reconnect the moment a payment is paired ---------------------------------------------------

_settings = {"policy": Policy(), "default_router": "default"}


def reconnect_if_paid(
    session: Session, customer_id: int, policy: Policy | None = None, *,
    default_router: str | None = None, actor: str = SYSTEM,
) -> Change | None:
    """Back to ``ok`` (lists cleared, "payment received" queued) when no overdue debt worth
    chasing remains; in the caller's transaction. Nothing else moves here: reminders and
    disconnections wait for the sweep."""
    policy = policy or _settings["policy"]
    rows = gather(session, prague_today(), [customer_id])
    if not rows:
        return None
    row = rows[0]
    decision = decide(facts_of(row), prague_today(), policy)
    if decision.state != CaseState.OK or not decision.changed:
        return None
    report = SweepReport(prague_today())
    apply(session, [(row, decision)], report,
          default_router=default_router or _settings["default_router"], actor=actor)
    return report.changes[0] if report.changes else None


_OPEN_CASES = "enforcement.open_cases"


def _open_case_ids(session: Session) -> set[int]:
    """Customers whose case is not ``ok``, read once per transaction: a statement of 100,000
    payments emits 100,000 events, and nearly all of them concern customers in good standing,
    who must not cost a query each."""
    transaction = session.get_transaction()
    cached = session.info.get(_OPEN_CASES)
    if cached is None or cached[0] is not transaction:
        ids = set(session.scalars(
            select(EnforcementCase.customer_id).where(EnforcementCase.state != CaseState.OK)))
        cached = session.info[_OPEN_CASES] = (transaction, ids)
    return cached[1]


def _on_overdue_debt_changed(session: Session, customer_id: int, **_payload) -> None:
    open_cases = _open_case_ids(session)
    if customer_id in open_cases and reconnect_if_paid(session, customer_id) is not None:
        open_cases.discard(customer_id)


def install(config: Mapping) -> None:
    """Subscribe the payment handler (with the app's policy, from its ``config``; the last
    app configured wins)."""
    _settings["policy"] = Policy.from_config(config)
    _settings["default_router"] = config.get("ENFORCEMENT_DEFAULT_ROUTER") or "default"
    events.subscribe(events.OVERDUE_DEBT_CHANGED, _on_overdue_debt_changed)


# -- operators ----------------------------------------------------------------------------------


def force_reconnect(session: Session, customer_id: int, *, actor: str, policy: Policy | None = None,
                    default_router: str = "default") -> Change | None:
    """Back to ``ok`` whatever the debt (audited with ``forced``). Unless the customer is also
    exempted, the next sweep starts the reminders again."""
    from enforcement.policy import _back_to_ok

    policy = policy or _settings["policy"]
    rows = gather(session, prague_today(), [customer_id])
    if not rows or (rows[0].state or CaseState.OK) == CaseState.OK:
        return None
    row = rows[0]
    decision = _back_to_ok(facts_of(row), policy)
    # no "payment received, thank you" notice: nothing was paid (the debt stays)
    decision = replace(decision, steps=tuple(replace(step, mail=None)
                                             for step in decision.steps))
    report = SweepReport(prague_today())
    apply(session, [(row, decision)], report, default_router=default_router, actor=actor,
          details={"forced": True})
    return report.changes[0] if report.changes else None


def set_exemption(session: Session, customer: Customer, *, never: bool = False,
                  until: date | None = None, actor: str, reason: str | None = None) -> None:
    """Exempt a customer (``never`` = for good, or ``until`` a day); neither clears it. The
    ``reason`` (why the operator exempts them) goes into the audit event."""
    old = "never" if customer.enforcement_exempt else customer.enforcement_exempt_until
    customer.enforcement_exempt = bool(never)
    customer.enforcement_exempt_until = None if never else until
    new = "never" if never else until
    audit.record(session, "enforcement.exempt", actor=actor, customer_id=customer.id,
                 field="enforcement_exempt", old_value=old, new_value=new,
                 details={"reason": reason} if reason else None)
    session.flush()
