"""Jobs: long work cut into units that worker processes take from one table (migration 0020).

A job row is one unit (the monthly run's chunk of customers, later a statement upload...):
``kind`` says which handler runs it, ``key`` names it uniquely (enqueueing twice is a no-op),
``run_key`` groups the units of one run (the run's progress is the sum of theirs), ``params``
is JSON, ``step`` is the handler's own progress marker (the phase it has committed), and
``progress`` JSON counters with ``total`` feed the progress bars.

Taking a job (:func:`claim`): PostgreSQL ``SELECT ... FOR UPDATE SKIP LOCKED`` (any number
of workers on any number of machines; each sees only rows nobody else is claiming), then the
lease is written and committed: ``locked_by`` (host:pid:token), ``lease_until``. A worker
renews its lease with every commit it makes for the job (:func:`touch`, a conditional
UPDATE: a worker whose job was taken over finds 0 rows and stops). A job whose lease ran out,
or whose holder is a process of this host that no longer exists, is taken over. SQLite has
one writer at a time: the same statements without SKIP LOCKED (the single-worker fallback).

Failures: an exception in a handler puts the job back in the queue with a growing pause
(``run_after``); after ``MAX_ATTEMPTS`` claims it is ``failed`` with its error, until an
operator retries the run (:func:`retry_failed`). No Flask here.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import Integer, String, Text, func, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from core.clock import now
from core.db import Base

QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
MAX_ATTEMPTS = 5
DEFAULT_LEASE = timedelta(seconds=120)


class Job(Base):
    """One unit of long work (see the module's docstring)."""

    __tablename__ = "job"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(120), unique=True)
    run_key: Mapped[str | None] = mapped_column(String(80), index=True)
    params: Mapped[str] = mapped_column(Text, default="{}")
    state: Mapped[str] = mapped_column(String(10), index=True, default=QUEUED)
    step: Mapped[str | None] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    run_after: Mapped[datetime] = mapped_column(default=now)
    locked_by: Mapped[str | None] = mapped_column(String(120))
    lease_until: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    total: Mapped[int] = mapped_column(Integer, default=0)
    progress: Mapped[str] = mapped_column(Text, default="{}")
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=now)
    finished_at: Mapped[datetime | None] = mapped_column()

    @property
    def args(self) -> dict:
        return json.loads(self.params or "{}")

    @property
    def counters(self) -> dict[str, int]:
        return json.loads(self.progress or "{}")


# -- fault injection -------------------------------------------------------------------------
#
# Named points in long jobs call :func:`fault` ("after_issue_chunk", "after_smtp_accept"...).
# Normally nothing happens; a test installs a hook that raises at the points it picks, which
# is what a kill -9 there would leave behind (the uncommitted work is lost, nothing else).

_fault_hook: Callable[[str], None] | None = None


class InjectedFault(BaseException):
    """Raised by a test's fault hook: not an Exception, so no handler catches it as a
    job's ordinary failure; it leaves like a killed process."""


def set_fault_hook(hook: Callable[[str], None] | None) -> None:
    global _fault_hook
    _fault_hook = hook


def fault(point: str) -> None:
    if _fault_hook is not None:
        _fault_hook(point)


# -- the queue -------------------------------------------------------------------------------


def worker_id() -> str:
    """``host:pid:token``: who holds a lease (the token tells two workers of one process
    apart, and a restarted process from its dead predecessor of the same pid)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _holder_gone(locked_by: str | None) -> bool:
    """The lease holder is a process of this host that no longer runs (killed): its lease
    need not run out before another worker takes the job over."""
    if not locked_by:
        return True
    host, _, rest = locked_by.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname()[:60] or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def enqueue(session: Session, kind: str, key: str, params: dict, *, run_key: str | None = None,
            total: int = 0, step: str | None = None) -> Job:
    """A new queued job (flushed); an existing job of that key is returned unchanged."""
    job = session.scalar(select(Job).where(Job.key == key))
    if job is None:
        job = Job(kind=kind, key=key, params=json.dumps(params), run_key=run_key, total=total,
                  step=step, state=QUEUED, attempts=0, run_after=now(), progress="{}",
                  created_at=now())
        session.add(job)
        session.flush()
    return job


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def claim(session: Session, kinds: Iterable[str], worker: str, *,
          lease: timedelta = DEFAULT_LEASE, run_key: str | None = None,
          prefer_step: str | None = None) -> Job | None:
    """Take the next job of ``kinds`` (optionally of one run): queued and due, or running
    under a lease that ran out or a holder that is gone; jobs at ``prefer_step`` first,
    then by id. The lease is committed before the job is returned (the caller's session is
    committed)."""
    kinds = list(kinds)
    moment = now()
    skip = {"skip_locked": True} if _is_postgresql(session) else {}
    base = select(Job).where(Job.kind.in_(kinds))
    if run_key is not None:
        base = base.where(Job.run_key == run_key)
    job = session.scalar(
        base.where(((Job.state == QUEUED) & (Job.run_after <= moment))
                   | ((Job.state == RUNNING) & (Job.lease_until < moment)))
        .order_by(*([(Job.step == prefer_step).desc()] if prefer_step else []), Job.id)
        .limit(1).with_for_update(**skip)
    )
    if job is None:  # a holder of this host that was killed: no need to wait for its lease
        running = session.execute(
            base.with_only_columns(Job.id, Job.locked_by).where(Job.state == RUNNING)
            .order_by(Job.id)).all()
        for job_id, holder in running:
            if _holder_gone(holder):
                job = session.scalar(select(Job).where(Job.id == job_id, Job.state == RUNNING,
                                                       Job.locked_by == holder)
                                     .with_for_update(**skip))
                if job is not None:
                    break
    if job is None:
        session.rollback()
        return None
    # conditional on what was read: on SQLite (no row locks) a second claimer finds 0 rows
    taken = session.execute(
        update(Job).where(Job.id == job.id, Job.state == job.state, Job.attempts == job.attempts,
                          Job.locked_by.is_(None) if job.locked_by is None
                          else Job.locked_by == job.locked_by)
        .values(state=RUNNING, locked_by=worker, attempts=job.attempts + 1,
                lease_until=moment + lease, heartbeat_at=moment)
        .execution_options(synchronize_session=False)
    ).rowcount
    session.commit()
    if taken != 1:
        return None
    session.refresh(job)
    return job


def touch(session: Session, job_id: int, worker: str, *, lease: timedelta = DEFAULT_LEASE,
          progress: dict[str, int] | None = None, step: str | None = None,
          done: bool = False, requeue: bool = False) -> None:
    """Renew the lease (and set progress, step, done; or ``requeue``: back to the queue,
    for whoever comes next) in the caller's transaction; raises
    :class:`LeaseLost` when another worker holds the job now (the caller rolls back)."""
    moment = now()
    values: dict = {"lease_until": moment + lease, "heartbeat_at": moment}
    if progress is not None:
        values["progress"] = json.dumps(progress, sort_keys=True)
    if step is not None:
        values["step"] = step
    if done:
        values.update(state=DONE, finished_at=moment, locked_by=None, lease_until=None,
                      error=None)
    if requeue:
        values.update(state=QUEUED, locked_by=None, lease_until=None, run_after=moment)
    result = session.execute(
        update(Job).where(Job.id == job_id, Job.locked_by == worker, Job.state == RUNNING)
        .values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise LeaseLost(f"job {job_id} is no longer held by {worker}")


class LeaseLost(RuntimeError):
    """Another worker took the job over (this one was too slow); stop working on it."""


def release_failed(session: Session, job_id: int, worker: str, error: str) -> None:
    """After a handler's failure (the caller rolled back): back to the queue with a pause
    growing with the attempts, or ``failed`` after ``MAX_ATTEMPTS``. Committed."""
    job = session.get(Job, job_id)
    if job is None or job.locked_by != worker:
        session.rollback()
        return
    job.error = error[:2000]
    job.locked_by = None
    job.lease_until = None
    if job.attempts >= MAX_ATTEMPTS:
        job.state = FAILED
        job.finished_at = now()
    else:
        job.state = QUEUED
        job.run_after = now() + timedelta(seconds=5 * job.attempts**2)
    session.commit()


def retry_failed(session: Session, run_key: str, kinds: Iterable[str]) -> int:
    """An operator starts the run again: its failed jobs of ``kinds`` (and those waiting
    out a pause) are queued anew with their attempts reset. Flushes."""
    result = session.execute(
        update(Job).where(Job.run_key == run_key, Job.kind.in_(list(kinds)),
                          (Job.state == FAILED) | ((Job.state == QUEUED) & (Job.run_after > now())))
        .values(state=QUEUED, attempts=0, run_after=now(), finished_at=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def run_jobs(session: Session, run_key: str) -> list[Job]:
    return list(session.scalars(select(Job).where(Job.run_key == run_key).order_by(Job.id)))


def states(session: Session, run_key: str) -> dict[str, int]:
    """How many of a run's jobs are in each state."""
    return dict(session.execute(
        select(Job.state, func.count()).where(Job.run_key == run_key).group_by(Job.state)).all())
