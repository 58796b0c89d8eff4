"""The network and mail side of the console's dashboard (read only): the router actions
waiting to be sent (and those already retrying) and those that failed for good, the notices
(e-mails) waiting and failed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from enforcement.models import ActionStatus, EnforcementMail, MailStatus, RouterAction


@dataclass(frozen=True)
class RouterBacklog:
    pending: int
    retrying: int  # pending actions that failed at least once and wait for another attempt
    oldest_pending: datetime | None
    failed: int  # given up on (the outbox's attempts are spent): the operator must look


@dataclass(frozen=True)
class MailBacklog:
    pending: int
    failed: int


def router_backlog(session: Session) -> RouterBacklog:
    pending, retrying, oldest = session.execute(select(
        func.count(), func.coalesce(func.sum(case((RouterAction.attempts > 0, 1), else_=0)), 0),
        func.min(RouterAction.created_at),
    ).where(RouterAction.status == ActionStatus.PENDING.value)).one()
    failed = session.scalar(select(func.count()).where(
        RouterAction.status == ActionStatus.FAILED.value))
    return RouterBacklog(pending=int(pending), retrying=int(retrying), oldest_pending=oldest,
                         failed=int(failed or 0))


def mail_backlog(session: Session) -> MailBacklog:
    rows = dict(session.execute(select(EnforcementMail.status, func.count()).where(
        EnforcementMail.status.in_((MailStatus.PENDING.value, MailStatus.FAILED.value))
    ).group_by(EnforcementMail.status)).all())
    return MailBacklog(pending=int(rows.get(MailStatus.PENDING.value, 0)),
                       failed=int(rows.get(MailStatus.FAILED.value, 0)))
