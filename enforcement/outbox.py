"""The router-action outbox worker, and reconcile.

``drain`` sends pending :class:`RouterAction` rows through each router's driver:

* **claim**: a short transaction marks due actions as ours for a lease
  (``claimed_until``; ``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so two workers never send
  one action at once, and a worker that dies mid-way only delays its actions by the lease;
* **order**: actions of one customer on one router are applied in id order; an action is
  not claimed while an earlier one of its group waits for a retry or is claimed by another
  worker, and within a batch a failure stops the rest of its group;
* **send, then mark**: each result is written in its own transaction after the router has
  answered. A crash before sending leaves the action pending (sent after the lease); a crash
  after sending but before marking sends it again, which is harmless because drivers are
  idempotent;
* **retry**: a :class:`TemporaryError` (or anything unexpected) reschedules with exponential
  backoff and jitter; after ``max_attempts``, or at once on a :class:`PermanentError`, the
  action is ``failed`` with an audit event for an operator.

``reconcile`` reads the address lists of every router whose driver can list them and queues
the actions that make them agree with the cases (missing entries added, stray ones removed).
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.orm import Session, aliased

from billing.models import Service, ServiceAddress
from core import audit
from core.clock import now
from enforcement import drivers
from enforcement.cases import expired_service
from enforcement.drivers import PermanentError, RouterConfig, SessionRef, TemporaryError
from enforcement.models import (
    ActionKind,
    ActionStatus,
    CaseState,
    EnforcementCase,
    RadiusSession,
    Router,
    RouterAction,
)

ACTOR = "system:outbox"


@dataclass(frozen=True)
class OutboxSettings:
    default_driver: str = "recording"
    default_router: str = "default"
    retry_base_seconds: float = 5
    retry_max_seconds: float = 600
    max_attempts: int = 200
    lease_seconds: int = 120
    list_warned: str = "warned"
    list_blocked: str = "blocked"
    driver_options: dict = field(default_factory=dict)

    @classmethod
    def from_config(cls, config, instance_path: str | None = None) -> OutboxSettings:
        directory = config.get("ENFORCEMENT_RECORDING_DIR") or str(
            Path(instance_path or "instance") / "recording-routers"
        )
        return cls(
            default_driver=config.get("ENFORCEMENT_DEFAULT_DRIVER") or "recording",
            default_router=config.get("ENFORCEMENT_DEFAULT_ROUTER") or "default",
            retry_base_seconds=float(config.get("ENFORCEMENT_RETRY_BASE_SECONDS", 5)),
            retry_max_seconds=float(config.get("ENFORCEMENT_RETRY_MAX_SECONDS", 600)),
            max_attempts=int(config.get("ENFORCEMENT_MAX_ATTEMPTS", 200)),
            lease_seconds=int(config.get("ENFORCEMENT_LEASE_SECONDS", 120)),
            list_warned=config.get("ENFORCEMENT_LIST_WARNED") or "warned",
            list_blocked=config.get("ENFORCEMENT_LIST_BLOCKED") or "blocked",
            driver_options={"directory": directory},
        )


@dataclass
class DrainReport:
    done: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        text = f"router actions: {self.done} done, {self.retried} to retry, {self.failed} failed"
        return text + "".join(f"\n  {e}" for e in self.errors[:20])


def backoff(attempts: int, settings: OutboxSettings, rng=random) -> timedelta:
    """Exponential (base * 2^(n-1), capped), with jitter: a random 50-100 % of it."""
    delay = min(settings.retry_max_seconds, settings.retry_base_seconds * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=delay * rng.uniform(0.5, 1.0))


def routers(session: Session, settings: OutboxSettings) -> dict[str, RouterConfig | None]:
    """Every registered router; None for a disabled one (its actions wait until enabled)."""
    return {r.name: RouterConfig.from_row(r) if r.enabled else None
            for r in session.scalars(select(Router))}


def router_config(known: dict, name: str, settings: OutboxSettings) -> RouterConfig:
    """The router's row, or the default driver for a router nobody registered."""
    if name in known and known[name] is None:
        raise TemporaryError(f"router {name} is disabled")
    return known.get(name) or RouterConfig(name=name, driver=settings.default_driver)


# -- claim ------------------------------------------------------------------------------------


def claim(session_factory, settings: OutboxSettings, limit: int = 500) -> list[RouterAction]:
    moment = now()
    ra, earlier = RouterAction, aliased(RouterAction)
    same_group = or_(
        and_(ra.customer_id.is_not(None), earlier.customer_id == ra.customer_id),
        and_(ra.customer_id.is_(None), earlier.customer_id.is_(None), earlier.address == ra.address),
    )
    waiting_before = exists().where(
        earlier.status == ActionStatus.PENDING,
        earlier.router_name == ra.router_name,
        earlier.id < ra.id,
        same_group,
        or_(earlier.next_attempt_at > moment, earlier.claimed_until > moment),
    )
    stmt = (
        select(ra)
        .where(
            ra.status == ActionStatus.PENDING,
            ra.next_attempt_at <= moment,
            or_(ra.claimed_until.is_(None), ra.claimed_until <= moment),
            ~waiting_before,
        )
        .order_by(ra.id)
        .limit(limit)
    )
    with session_factory() as session, session.begin():
        if session.get_bind().dialect.name == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=ra)
        actions = list(session.scalars(stmt))
        lease = moment + timedelta(seconds=settings.lease_seconds)
        for action in actions:
            action.claimed_until = lease
        session.flush()
        session.expunge_all()
    return actions


def session_ref(session: Session, action: RouterAction) -> SessionRef | None:
    """The customer's live RADIUS session (latest open one, by username, else by IP)."""
    for column, value in ((RadiusSession.username, action.username),
                          (RadiusSession.framed_ip, action.address)):
        if not value:
            continue
        row = session.scalars(
            select(RadiusSession)
            .where(column == value, RadiusSession.stopped_at.is_(None))
            .order_by(RadiusSession.updated_at.desc(), RadiusSession.id.desc())
            .limit(1)
        ).first()
        if row is not None:
            return SessionRef(row.username, row.acct_session_id, row.framed_ip, row.nas_ip)
    return None


# -- drain ------------------------------------------------------------------------------------


def drain(session_factory, settings: OutboxSettings, *, limit: int = 500, rng=random,
          max_rounds: int = 1000) -> DrainReport:
    """Send everything that is due now (in rounds of ``limit``); returns what happened."""
    report = DrainReport()
    opened: dict[str, drivers.Driver] = {}
    down: dict[str, str] = {}  # routers that failed in this drain: not tried again
    try:
        with session_factory() as session:
            known = routers(session, settings)
        for _ in range(max_rounds):
            batch = claim(session_factory, settings, limit)
            if not batch:
                break
            _send_batch(session_factory, settings, batch, known, opened, down, report, rng)
    finally:
        for driver in opened.values():
            try:
                driver.close()
            except Exception:  # noqa: BLE001 - closing must not hide the real outcome
                pass
    return report


def _group_key(action: RouterAction):
    return (action.router_name, action.customer_id if action.customer_id is not None else action.address)


def _send_batch(session_factory, settings, batch, known, opened, down, report, rng) -> None:
    groups: dict[tuple, list[RouterAction]] = defaultdict(list)
    for action in batch:
        groups[_group_key(action)].append(action)
    for group in groups.values():
        stopped = False
        sent: dict = {}  # request key -> the action whose request was answered
        for action in group:
            if stopped:
                _release(session_factory, action)
                continue
            if action.router_name in down:
                _retry(session_factory, settings, action, down[action.router_name], report, rng)
                stopped = True
                continue
            try:
                driver = opened.get(action.router_name)
                if driver is None:
                    config = router_config(known, action.router_name, settings)
                    driver = drivers.driver_for(config, **settings.driver_options)
                    opened[action.router_name] = driver
                with session_factory() as session:
                    ref = session_ref(session, action)
                key = driver.request_key(action, ref)
                if key is not None and key in sent:
                    _done(session_factory, action,
                          f"the same request as action #{sent[key]}: not sent again", report,
                          sent=False)
                    continue
                result = driver.apply(action, ref)
                if key is not None:
                    sent[key] = action.id
            except PermanentError as exc:
                _fail(session_factory, action, f"permanent: {exc}", report)
            except Exception as exc:  # noqa: BLE001 - TemporaryError and the unexpected: retry
                error = f"{type(exc).__name__}: {exc}"
                if isinstance(exc, TemporaryError):
                    down[action.router_name] = error
                _retry(session_factory, settings, action, error, report, rng)
                stopped = True
            else:
                _done(session_factory, action, result, report)


def _done(session_factory, action: RouterAction, result: str, report: DrainReport,
          *, sent: bool = True) -> None:
    with session_factory() as session, session.begin():
        session.execute(
            update(RouterAction)
            .where(RouterAction.id == action.id, RouterAction.status == ActionStatus.PENDING)
            .values(status=ActionStatus.DONE, done_at=now(), claimed_until=None, result=result[:2000],
                    attempts=RouterAction.attempts + (1 if sent else 0), last_error=None)
        )
    report.done += 1


def _release(session_factory, action: RouterAction) -> None:
    with session_factory() as session, session.begin():
        session.execute(
            update(RouterAction).where(RouterAction.id == action.id).values(claimed_until=None)
        )


def _retry(session_factory, settings, action, error: str, report: DrainReport, rng) -> None:
    attempts = action.attempts + 1
    if attempts >= settings.max_attempts:
        _fail(session_factory, action, f"gave up after {attempts} attempts: {error}", report,
              attempts=attempts)
        return
    with session_factory() as session, session.begin():
        session.execute(
            update(RouterAction)
            .where(RouterAction.id == action.id, RouterAction.status == ActionStatus.PENDING)
            .values(attempts=attempts, last_error=error[:2000], claimed_until=None,
                    next_attempt_at=now() + backoff(attempts, settings, rng))
        )
    report.retried += 1
    report.errors.append(f"#{action.id} {action.router_name} {action.kind}: {error}")


def _fail(session_factory, action, error: str, report: DrainReport, attempts: int | None = None):
    with session_factory() as session, session.begin():
        session.execute(
            update(RouterAction)
            .where(RouterAction.id == action.id, RouterAction.status == ActionStatus.PENDING)
            .values(status=ActionStatus.FAILED, last_error=error[:2000], claimed_until=None,
                    attempts=attempts if attempts is not None else action.attempts + 1)
        )
        audit.record(
            session, "enforcement.action_failed", actor=ACTOR, customer_id=action.customer_id,
            new_value=str(action.id),
            details={"router": action.router_name, "kind": action.kind, "list": action.list_name,
                     "address": action.address, "error": error[:500]},
        )
    report.failed += 1
    report.errors.append(f"#{action.id} {action.router_name} {action.kind}: {error}")


# -- reconcile --------------------------------------------------------------------------------


@dataclass
class ReconcileReport:
    checked: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # drivers that cannot list
    added: list[tuple[str, str, str]] = field(default_factory=list)
    removed: list[tuple[str, str, str]] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [f"reconcile: checked {', '.join(self.checked) or 'no router'}"
                 + (f"; cannot list: {', '.join(self.skipped)}" if self.skipped else "")]
        lines += [f"  {r}: add {a} to {n}" for r, n, a in self.added]
        lines += [f"  {r}: remove {a} from {n}" for r, n, a in self.removed]
        if not self.added and not self.removed:
            lines.append("  everything agrees")
        return "\n".join(lines)


def desired_lists(session: Session, settings: OutboxSettings) -> dict[tuple[str, str], dict[str, int]]:
    """(router, list) -> {address: customer_id} that the cases (and the expired prepaid
    services, enforcement/expiry.py) say must be there."""
    state_list = {CaseState.WARNED: settings.list_warned, CaseState.DISCONNECTED: settings.list_blocked}
    rows = session.execute(
        select(Service.router_name, ServiceAddress.address, Service.customer_id,
               EnforcementCase.state)
        .join(ServiceAddress, ServiceAddress.service_id == Service.id)
        .join(EnforcementCase, EnforcementCase.customer_id == Service.customer_id)
        .where(Service.kind == "internet", EnforcementCase.state.in_(list(state_list)))
    )
    wanted: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    expired = set()
    for router, address, customer_id in session.execute(  # expired prepaid services: blocked
        select(Service.router_name, ServiceAddress.address, Service.customer_id)
        .join(ServiceAddress, ServiceAddress.service_id == Service.id)
        .where(Service.kind == "internet", expired_service())
    ):
        wanted[(router or settings.default_router, settings.list_blocked)][address] = customer_id
        expired.add((router or settings.default_router, address))
    for router, address, customer_id, state in rows:
        if (router or settings.default_router, address) in expired:
            continue  # blocked for its expiry, not listed by the case
        wanted[(router or settings.default_router, state_list[state])][address] = customer_id
    return wanted


def reconcile(session: Session, settings: OutboxSettings, *, actor: str = ACTOR) -> ReconcileReport:
    """Compare each listable router with the cases and queue the fixes (caller commits);
    audited as ``actor`` (an operator's "reconcile now", or the system)."""
    report = ReconcileReport()
    wanted = desired_lists(session, settings)
    known = routers(session, settings)
    names = set(known) | {router for router, _ in wanted}
    names |= {n or settings.default_router for n in session.scalars(
        select(Service.router_name).where(Service.kind == "internet").distinct())}
    owners = {address: customer_id for address, customer_id in session.execute(
        select(ServiceAddress.address, Service.customer_id)
        .join(Service, Service.id == ServiceAddress.service_id))}
    pending = {(a.router_name, a.list_name, a.address) for a in session.scalars(
        select(RouterAction).where(RouterAction.status == ActionStatus.PENDING))}
    moment = now()
    for name in sorted(names):
        try:
            driver = drivers.driver_for(router_config(known, name, settings),
                                        **settings.driver_options)
            try:
                lists = {n: driver.list_addresses(n)
                         for n in (settings.list_warned, settings.list_blocked)}
            finally:
                driver.close()
        except drivers.DriverError as exc:  # down, or misconfigured: the next run tries again
            report.skipped.append(f"{name} ({exc})")
            continue
        if any(actual is None for actual in lists.values()):
            report.skipped.append(name)
            continue
        report.checked.append(name)
        for list_name, actual in lists.items():
            should = wanted.get((name, list_name), {})
            for kind, address, customer_id, changes in (
                *((ActionKind.LIST_ADD, a, should[a], report.added) for a in sorted(set(should) - actual)),
                *((ActionKind.LIST_REMOVE, a, owners.get(a), report.removed)
                  for a in sorted(actual - set(should))),
            ):
                if (name, list_name, address) in pending:
                    continue  # already on its way
                _queue(session, customer_id, name, kind, list_name, address, moment)
                changes.append((name, list_name, address))
    if report.added or report.removed:
        audit.record(session, "enforcement.reconcile", actor=actor,
                     details={"added": report.added, "removed": report.removed})
    session.flush()
    return report


def _queue(session, customer_id, router, kind, list_name, address, moment) -> None:
    session.add(RouterAction(customer_id=customer_id, router_name=router, kind=kind,
                             list_name=list_name, address=address, reason="reconcile",
                             status=ActionStatus.PENDING, attempts=0, next_attempt_at=moment,
                             created_at=moment))
