"""The daily credit job (``ispzone credit daily [--date]``): a list of steps, each a
function ``step(session, ctx) -> dict`` run in the order below, each in a transaction of its
own (one step's refusal is reported and the others still run). Every step is set-based
where it can be: the number of SQL statements does not grow with the customers
(bench/credit.py).

Adding a step (credit-services' renewals and notices): write ``def step(session, ctx)`` in
its module and add one line to :data:`STEPS`. ``ctx`` is a :class:`DailyContext`: the day,
the settings, the actor. What a step wants e-mailed it queues (billing.credit.mail); the
job sends the outbox after the steps.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy.orm import Session, sessionmaker

from billing.credit.accounts import CreditSettings
from billing.invoicing.supplier import Supplier
from core.db import run_in_transaction
from core.errors import DomainError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DailyContext:
    on: date
    settings: CreditSettings
    actor: str = "system:credit-daily"
    supplier: Supplier = field(default_factory=Supplier)


Step = Callable[[Session, DailyContext], dict]


def _steps() -> list[tuple[str, Step]]:
    """The steps in order (imported here: a step's module may import this one)."""
    from billing.credit import (  # credit-services
        autopay,
        closing,
        notices,
        renewals,
        statements,
        topups,
    )

    return [
        ("topups", topups.daily_step),  # payments to permanent VS, receipts -> credit
        ("renewals", renewals.daily_step),  # credit-services: auto-renew 11 days ahead
        ("autopay", autopay.daily_step),  # requests N days old paid from credit
        ("notices", notices.daily_step),  # credit-services: low credit, expiry
        ("statements", statements.daily_step),  # the month's statements on its first days
        ("closing", closing.daily_step),  # accounts whose closing was asked for
    ]


@dataclass
class DailyReport:
    on: date
    steps: dict[str, dict] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # each step's wall time


def run_daily(sessions: sessionmaker[Session], ctx: DailyContext,
              only: list[str] | None = None) -> DailyReport:
    """Run the steps (``only``: those named), each in a transaction of its own."""
    report = DailyReport(ctx.on)
    for name, step in _steps():
        if only and name not in only:
            continue
        started = time.perf_counter()
        try:
            report.steps[name] = run_in_transaction(sessions, lambda s, step=step: step(s, ctx))
        except DomainError as exc:
            log.warning("credit daily step %s refused: %s", name, exc)
            report.refused[name] = exc.message
        report.seconds[name] = time.perf_counter() - started
    return report
