"""The monthly run as jobs (docs/monthly-run.md): plan, then issue, render and mail in chunks.

* :func:`plan` (``ispzone invoices issue --month``, the console's run page): one statement
  selects the month's customers (:func:`billing.invoicing.recurring.month_customer_ids`);
  those without the month's invoice and not yet in a chunk are cut into chunks, each a job
  (core.jobs) of kind ``monthly_run.chunk``, written in one transaction with the run's own
  job (kind ``monthly_run``, key ``monthly_run:YYYY-MM``) whose row lock serializes planners.
  Planning again (a restart) adds only customers that no chunk holds, and queues failed
  chunks again.
* :func:`process_chunk` (a worker, any number of them): step ``issue`` issues the chunk's
  invoices set-based (billing.invoicing.issue_batch; lines by ``month_lines``, as the
  preview shows them) and moves the chunk to step ``mail`` in the same transaction; step
  ``mail`` renders each invoice's PDF and sends it through the worker's one SMTP connection,
  committing the invoice's ``invoice_mail`` row (with its deterministic Message-ID) right
  after the server accepted the message; then the chunk is done.
* :func:`settle_if_issued`: once no chunk is left in step ``issue``, the paid advances are
  settled (billing.invoicing.settlement.settle_paid_advances), once per run (the run job's
  step moves to ``settled`` in that transaction).
* :func:`work`: the worker loop; :func:`run_status`: the progress of a run.

Killed anywhere, started again, every customer ends with one invoice (the chunk's step and
its invoices commit together; the unique constraint stands behind it) and one e-mail (the
mail row commits right after the SMTP server's 250; the window between the two is the one
place a message can go twice, with the same Message-ID). Fault points (core.jobs.fault)
mark where the tests kill the run. No Flask here: the caller passes the mailer.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from billing.invoicing.recurring import (
    invoiced_customers,
    issue_customers,
    issue_date_of,
    month_customer_ids,
    parse_month,
)
from billing.invoicing.settlement import settle_paid_advances
from billing.invoicing.supplier import Supplier
from billing.models import (
    CreditServiceSettings,
    Customer,
    Invoice,
    InvoiceKind,
    InvoiceMail,
    MailState,
)
from core import jobs
from core.clock import now, today
from core.db import is_in
from core.errors import DomainError
from core.i18n import _l
from core.jobs import DONE, FAILED, QUEUED, RUNNING, Job, fault
from core.mail import MailError

log = logging.getLogger(__name__)

RUN_KIND = "monthly_run"
CHUNK_KIND = "monthly_run.chunk"
KINDS = (CHUNK_KIND,)
CHUNK_SIZE = 1000
MAIL_ATTEMPTS = 3  # an invoice's e-mail is tried this often before it waits for an operator
MAIL_BATCH = 50  # invoices loaded (with their lines) at a time in the mail step
SMTP_FAILURES_IN_A_ROW = 3  # then the server is taken to be down: the chunk waits, retried


class RunError(DomainError, ValueError):
    pass


def run_key(month: str) -> str:
    return f"{RUN_KIND}:{month}"


def message_id(number: str, domain: str) -> str:
    """The invoice's e-mail's Message-ID: the same on every attempt (the receiving side can
    tell a message sent twice, docs/monthly-run.md)."""
    return f"<invoice-{number}@{domain}>"


# -- the plan --------------------------------------------------------------------------------


@dataclass
class PlanReport:
    month: str
    customers: int = 0  # with a service in force in the month
    already: int = 0  # of them with the month's invoice before this plan
    new_chunks: int = 0
    new_customers: int = 0  # put in the new chunks
    chunks: int = 0  # of the run, in all
    requeued: int = 0  # failed (or pausing) chunks queued again


def plan(session: Session, month: str, *, actor: str = "system", on: date | None = None,
         email: bool = True, chunk_size: int = CHUNK_SIZE) -> PlanReport:
    """Plan the month's run, or resume it: chunks for the customers who need the month's
    invoice and are in no chunk yet. Flushes; the caller commits (the plan is all or
    nothing)."""
    first, last = parse_month(month)
    if chunk_size < 1:
        raise RunError(_l("the chunk size must be at least 1"))
    key = run_key(month)
    params = {"month": month, "actor": actor, "on": on.isoformat() if on else None,
              "email": email}
    jobs.enqueue(session, RUN_KIND, key, params, run_key=key, step="issuing")
    parent = session.scalar(select(Job).where(Job.key == key).with_for_update())
    report = PlanReport(month)
    report.requeued = jobs.retry_failed(session, key, KINDS)
    chunk_rows = session.scalars(select(Job).where(Job.run_key == key, Job.kind == CHUNK_KIND)
                                 .order_by(Job.id)).all()
    covered: set[int] = set()
    for chunk in chunk_rows:
        covered.update(chunk.args["customers"])
    ids = month_customer_ids(session, first, last)
    already = invoiced_customers(session, month)
    report.customers, report.already = len(ids), len(already.intersection(ids))
    new = [i for i in ids if i not in covered and i not in already]
    seq = len(chunk_rows)
    for start in range(0, len(new), chunk_size):
        part = new[start:start + chunk_size]
        seq += 1
        jobs.enqueue(session, CHUNK_KIND, f"{key}:{seq:05d}", {**params, "customers": part},
                     run_key=key, total=len(part), step="issue")
        report.new_chunks += 1
    report.new_customers = len(new)
    report.chunks = seq
    if report.new_chunks and parent.step == "settled":
        parent.step, parent.state = "issuing", QUEUED
    session.flush()
    fault("after_plan")
    return report


# -- a chunk ---------------------------------------------------------------------------------


@dataclass
class Mailer:
    """How a worker mails: ``compose(invoice, to, lang, pdf, open_amount, message_id)``
    builds the message (the web layer renders the template), ``transport.send(msg)`` sends
    it through the worker's persistent SMTP connection (core.mail.SmtpConnection),
    ``domain`` is the Message-IDs' domain."""

    compose: Callable[..., EmailMessage]
    transport: object
    domain: str
    render: Callable[[Invoice, Decimal], bytes] | None = None  # the PDF; default: ours


@dataclass
class WorkContext:
    sessions: sessionmaker[Session]
    supplier: Supplier
    worker: str
    mailer: Mailer | None = None
    lease: timedelta = jobs.DEFAULT_LEASE
    # called after each commit of progress (the CLI's progress bar); may be None
    on_progress: Callable[[], None] | None = None
    # called with (worker, invoice id) when a PDF was rendered (the tests' witness)
    on_render: Callable[[str, int], None] | None = None


def process_chunk(ctx: WorkContext, job: Job) -> bool:
    """Run a claimed chunk from the step it has reached: ``issue`` (then the chunk goes
    back to the queue at step ``mail``: workers issue every chunk before they mail any, so
    the whole month is issued, and its advances settled, first), or ``mail`` (then done)."""
    params = job.args
    month = params["month"]
    if job.step == "issue":
        _issue_step(ctx, job, params)
        settle_if_issued(ctx.sessions, month, ctx.supplier)
        return not params.get("email", True)  # without e-mails the chunk is done
    if job.step == "mail":
        if ctx.mailer is None:
            raise RunError(_l("this worker has no mailer; the chunk's e-mails wait"))
        _mail_step(ctx, job, params)
    with ctx.sessions() as session:
        jobs.touch(session, job.id, ctx.worker, lease=ctx.lease, step="done", done=True)
        session.commit()
    _progress(ctx)
    return True


def _on(params: dict) -> date | None:
    return date.fromisoformat(params["on"]) if params.get("on") else None


def _issue_step(ctx: WorkContext, job: Job, params: dict) -> None:
    month = params["month"]
    customers = params["customers"]
    with ctx.sessions() as session:
        fault("before_issue")
        issue_customers(session, ctx.supplier, customers, month,
                        issue_date_of(month, _on(params) or today()), params["actor"])
        issued = session.scalar(select(func.count(Invoice.id)).where(
            is_in(session, Invoice.customer_id, customers), Invoice.period_key == month,
            Invoice.kind == InvoiceKind.REGULAR))
        email = params.get("email", True)
        jobs.touch(session, job.id, ctx.worker, lease=ctx.lease, progress={"issued": issued},
                   step="mail" if email else "done", done=not email, requeue=email)
        fault("before_commit")
        session.commit()
    fault("after_issue_chunk")
    _progress(ctx)


@dataclass
class _Target:
    invoice_id: int
    number: str
    email: str | None
    language: str | None
    emails_on: bool
    mail_state: str | None
    mail_attempts: int
    message_id: str = ""


def _targets(session: Session, customers: Sequence[int], month: str) -> list[_Target]:
    rows = session.execute(
        select(Invoice.id, Invoice.number, Customer.email, Customer.language,
               CreditServiceSettings.payment_request_emails, InvoiceMail.state,
               InvoiceMail.attempts)
        .join(Customer, Customer.id == Invoice.customer_id)
        .outerjoin(InvoiceMail, InvoiceMail.invoice_id == Invoice.id)
        .outerjoin(CreditServiceSettings, CreditServiceSettings.customer_id == Customer.id)
        .where(is_in(session, Invoice.customer_id, list(customers)),
               Invoice.period_key == month, Invoice.kind == InvoiceKind.REGULAR)
        .order_by(Invoice.id)
    ).all()
    return [_Target(r[0], r[1], r[2], r[3], r[4] is None or bool(r[4]), r[5], r[6] or 0)
            for r in rows]


def _mail_step(ctx: WorkContext, job: Job, params: dict) -> None:
    from billing.documents.pdf import render_invoice_pdf
    from billing.ledger.balances import states_for

    month = params["month"]
    mailer = ctx.mailer
    render = mailer.render or render_invoice_pdf
    with ctx.sessions() as session:
        targets = _targets(session, params["customers"], month)
        counters = job.counters
        counters.update(
            issued=len(targets),
            without_email=sum(1 for t in targets if not t.email),
            switched_off=sum(1 for t in targets if t.email and not t.emails_on),
        )
        mailable = [t for t in targets if t.email and t.emails_on]
        counters["to_mail"] = len(mailable)
        counters["mailed"] = sum(1 for t in mailable if t.mail_state == MailState.SENT)
        todo = [t for t in mailable if t.mail_state != MailState.SENT
                and t.mail_attempts < MAIL_ATTEMPTS]
        counters["mail_failed"] = sum(1 for t in mailable if t.mail_state == MailState.FAILED)
        counters["rendered"] = counters["mailed"]
        jobs.touch(session, job.id, ctx.worker, lease=ctx.lease, progress=counters)
        session.commit()
        failures_in_a_row = 0
        on = today()
        beat = _Heartbeat(ctx, job.id)
        record = _mail_record_statement(session)
        for start in range(0, len(todo), MAIL_BATCH):
            batch = todo[start:start + MAIL_BATCH]
            invoices = {inv.id: inv for inv in session.scalars(
                select(Invoice).where(Invoice.id.in_([t.invoice_id for t in batch]))
                .options(selectinload(Invoice.lines), selectinload(Invoice.vat_recap)))}
            opened = {s.invoice.id: s.open_amount
                      for s in states_for(session, list(invoices.values()), on)}
            session.commit()  # ends the read (no expiry): each e-mail commits on its own
            for t in batch:
                invoice = invoices[t.invoice_id]
                pdf = render(invoice, opened[t.invoice_id])
                counters["rendered"] += 1
                if ctx.on_render:
                    ctx.on_render(ctx.worker, t.invoice_id)
                fault("after_render")
                t.message_id = message_id(t.number, mailer.domain)
                msg = mailer.compose(invoice, t.email, t.language or "cs", pdf,
                                     opened[t.invoice_id], t.message_id)
                try:
                    mailer.transport.send(msg)
                except MailError as exc:
                    _record_mail(session, record, t, MailState.FAILED, str(exc), counters)
                    beat(session, counters, force=True)
                    session.commit()
                    failures_in_a_row += 1
                    if failures_in_a_row >= SMTP_FAILURES_IN_A_ROW:
                        raise
                    continue
                failures_in_a_row = 0
                fault("after_smtp_accept")
                _record_mail(session, record, t, MailState.SENT, None, counters)
                beat(session, counters)
                session.commit()
                fault("after_mail_commit")
                _progress(ctx, every=2.0)
            session.expunge_all()
        beat(session, counters, force=True)  # the chunk's final counters
        session.commit()


class _Heartbeat:
    """The chunk's lease and counters (core.jobs.touch), written with an e-mail's commit
    at most once a second (or a quarter of the lease, if shorter) instead of with every
    one: the counters are recomputed from invoice_mail when a chunk is taken up again, and
    a lease can only be lost after it ran out, i.e. after a longer pause than this, so the
    commit right after a takeover still touches and finds it (LeaseLost)."""

    def __init__(self, ctx: WorkContext, job_id: int) -> None:
        self.ctx, self.job_id = ctx, job_id
        self.every = min(1.0, ctx.lease.total_seconds() / 4)
        self.last = time.monotonic()

    def __call__(self, session: Session, counters: dict, force: bool = False) -> None:
        moment = time.monotonic()
        if force or moment - self.last >= self.every:
            jobs.touch(session, self.job_id, self.ctx.worker, lease=self.ctx.lease,
                       progress=counters)
            self.last = moment


def _mail_record_statement(session: Session):
    """An e-mail's invoice_mail row as one INSERT … ON CONFLICT DO UPDATE (Core: no ORM
    object, no identity map, one round trip)."""
    table = InvoiceMail.__table__
    if session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(table)
    return stmt.on_conflict_do_update(
        index_elements=[table.c.invoice_id],
        set_={"message_id": stmt.excluded.message_id, "address": stmt.excluded.address,
              "state": stmt.excluded.state, "attempts": table.c.attempts + 1,
              "sent_at": func.coalesce(stmt.excluded.sent_at, table.c.sent_at),
              "last_error": stmt.excluded.last_error, "updated_at": stmt.excluded.updated_at})


def _record_mail(session: Session, record, t: _Target, state: MailState, error: str | None,
                 counters: dict) -> None:
    moment = now()
    sent = state == MailState.SENT
    session.connection().execute(record, {
        "invoice_id": t.invoice_id, "message_id": t.message_id, "address": t.email,
        "state": state.value, "attempts": 1, "sent_at": moment if sent else None,
        "last_error": None if sent else (error or "")[:2000], "updated_at": moment})
    if sent:
        counters["mailed"] += 1
        if t.mail_state == MailState.FAILED:
            counters["mail_failed"] -= 1
    elif t.mail_state != MailState.FAILED:
        counters["mail_failed"] += 1
    t.mail_state, t.mail_attempts = state.value, t.mail_attempts + 1


# -- the end of the run ----------------------------------------------------------------------


def settle_if_issued(sessions: sessionmaker[Session], month: str, supplier: Supplier) -> bool:
    """Once every chunk of the run is past its issue step: settle the paid advances (once
    per run: the run job's step becomes ``settled`` in the same transaction). True when
    this call settled them."""
    key = run_key(month)
    with sessions() as session:
        step = session.scalar(select(Job.step).where(Job.key == key))
        if step != "issuing":
            return False
        parent = session.scalar(select(Job).where(Job.key == key).with_for_update())
        if parent.step != "issuing":
            session.rollback()
            return False
        waiting = session.scalar(select(func.count(Job.id)).where(
            Job.run_key == key, Job.kind == CHUNK_KIND, Job.step == "issue"))
        if waiting:
            session.rollback()
            return False
        params = parent.args
        settled = settle_paid_advances(session, supplier, on=issue_date_of(month, _on(params)),
                                       actor=params["actor"])
        parent.step, parent.state, parent.finished_at = "settled", DONE, now()
        parent.progress = f'{{"settled": {len(settled)}}}'
        session.commit()
        return True


# -- the worker loop -------------------------------------------------------------------------


def work(ctx: WorkContext, *, month: str | None = None, until_idle: bool = False,
         stop: Callable[[], bool] = lambda: False, poll: float = 1.0,
         wait_paused: bool = True) -> int:
    """Take chunks and process them until ``stop()`` (or, ``until_idle``, until no chunk of
    the run (``month``; of any run without one) is left to anyone; with ``wait_paused``
    False, chunks waiting out a pause after a failure are left to a later start). Returns
    how many chunks this worker finished. A chunk's failure puts it back in the queue with a
    pause (after ``core.jobs.MAX_ATTEMPTS`` it is failed, until the run is started again)."""
    finished = 0
    key = run_key(month) if month else None
    while not stop():
        with ctx.sessions() as session:
            job = jobs.claim(session, KINDS, ctx.worker, lease=ctx.lease, run_key=key,
                             prefer_step="issue")
        if job is None:
            if month:
                settle_if_issued(ctx.sessions, month, ctx.supplier)
            if until_idle and not _others_busy(ctx.sessions, key, wait_paused):
                return finished
            time.sleep(poll)
            continue
        try:
            finished += process_chunk(ctx, job)
        except jobs.LeaseLost as exc:
            log.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - the chunk waits and is retried; logged
            log.exception("job %s failed", job.key)
            with ctx.sessions() as session:
                jobs.release_failed(session, job.id, ctx.worker, f"{type(exc).__name__}: {exc}")
            _progress(ctx)
    return finished


def _others_busy(sessions: sessionmaker[Session], key: str | None,
                 wait_paused: bool = True) -> bool:
    """Chunks that another worker holds or that wait (out a pause): not idle yet."""
    with sessions() as session:
        waiting = Job.state == QUEUED
        if not wait_paused:
            waiting &= Job.run_after <= now()
        query = select(func.count(Job.id)).where(Job.kind.in_(KINDS),
                                                 (Job.state == RUNNING) | waiting)
        if key:
            query = query.where(Job.run_key == key)
        return bool(session.scalar(query))


_last_progress = [0.0]


def _progress(ctx: WorkContext, every: float = 0.0) -> None:
    if ctx.on_progress is None:
        return
    moment = time.monotonic()
    if moment - _last_progress[0] >= every:
        _last_progress[0] = moment
        ctx.on_progress()


# -- progress --------------------------------------------------------------------------------


@dataclass
class RunStatus:
    month: str
    step: str  # issuing | settled (the run's own step)
    customers: int = 0  # planned (in chunks)
    chunks: int = 0
    chunks_issued: int = 0  # past their issue step
    chunks_done: int = 0
    chunks_failed: int = 0
    issued: int = 0
    to_mail: int = 0
    rendered: int = 0
    mailed: int = 0
    mail_failed: int = 0
    without_email: int = 0
    errors: list[str] = field(default_factory=list)
    email: bool = True

    @property
    def finished(self) -> bool:
        return self.step == "settled" and self.chunks_done + self.chunks_failed == self.chunks

    def as_dict(self) -> dict:
        return {**{k: v for k, v in self.__dict__.items()}, "finished": self.finished}


def latest_run_month(session: Session) -> str | None:
    """The month of the newest run planned (None: never)."""
    key = session.scalar(select(Job.key).where(Job.kind == RUN_KIND)
                         .order_by(Job.id.desc()).limit(1))
    return key.split(":", 1)[1] if key else None


def run_status(session: Session, month: str) -> RunStatus | None:
    """The run's progress: its chunks' counters summed (None: never planned)."""
    key = run_key(month)
    parent = session.execute(select(Job.step, Job.params).where(Job.key == key)).first()
    if parent is None:
        return None
    import json

    status = RunStatus(month, parent.step or "issuing",
                       email=json.loads(parent.params).get("email", True))
    rows = session.execute(select(Job.state, Job.step, Job.total, Job.progress, Job.error)
                           .where(Job.run_key == key, Job.kind == CHUNK_KIND)).all()
    for state, step, total, progress, error in rows:
        counters = json.loads(progress or "{}")
        status.chunks += 1
        status.customers += total
        status.chunks_issued += step != "issue"
        status.chunks_done += state == DONE
        status.chunks_failed += state == FAILED
        for name in ("issued", "to_mail", "rendered", "mailed", "mail_failed", "without_email"):
            setattr(status, name, getattr(status, name) + int(counters.get(name, 0)))
        if error and state != DONE:
            status.errors.append(error)
    return status


# -- failed e-mails (the console's dashboard) --------------------------------------------------


@dataclass(frozen=True)
class FailedMail:
    invoice_id: int
    number: str
    customer_number: str
    address: str
    attempts: int
    last_error: str | None
    updated_at: object


def failed_mail_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(InvoiceMail)
                          .where(InvoiceMail.state == MailState.FAILED)) or 0


def failed_mails(session: Session, limit: int = 500) -> list[FailedMail]:
    """Invoice e-mails the SMTP server refused (or could not be reached for), newest first."""
    rows = session.execute(
        select(Invoice.id, Invoice.number, Customer.customer_number, InvoiceMail.address,
               InvoiceMail.attempts, InvoiceMail.last_error, InvoiceMail.updated_at)
        .join(Invoice, Invoice.id == InvoiceMail.invoice_id)
        .join(Customer, Customer.id == Invoice.customer_id)
        .where(InvoiceMail.state == MailState.FAILED)
        .order_by(InvoiceMail.updated_at.desc()).limit(limit)).all()
    return [FailedMail(*row) for row in rows]


def mark_mail_sent(session: Session, invoice_id: int) -> None:
    """An operator's "send again" went: the invoice's failed e-mail is sent now. Flushes."""
    row = session.get(InvoiceMail, invoice_id)
    if row is not None and row.state != MailState.SENT:
        row.state, row.sent_at, row.last_error, row.updated_at = (
            MailState.SENT.value, now(), None, now())
        row.attempts += 1
        session.flush()
