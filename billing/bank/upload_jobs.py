"""Statement uploads as jobs (docs/bank-statements.md, "Upload in the console").

* :func:`accept_upload` (the console's upload form): the file is checked as the importer
  would check it, without the database (:func:`billing.bank.importing.check_statement`:
  size, format, every line, the account), so that a broken file is refused at once with
  its line number and nothing is stored; then it is stored (``statement_upload``, the bytes
  in the database: a worker on another machine can read them) and one job of kind
  ``statement_upload`` is queued (core.jobs), in the caller's transaction, with the audit
  event ``statement.uploaded`` naming the operator.
* :func:`process` (a worker): the job's step goes ``queued`` -> ``parsing`` (committed when
  taken) -> ``pairing`` (committed once the file is parsed, before the import writes) ->
  ``done``; the import is :func:`billing.bank.importing.import_statement`, the function of
  ``ispzone payments import``, in one transaction with the job's ``done`` and its summary
  (the report's counters) and the emptying of the stored file. A refusal of the importer
  (a :class:`core.errors.DomainError`: the file is not what it was, an account no longer
  ours) fails the job at once with its message (kept translatable); any other error puts it
  back in the queue with a pause (core.jobs.release_failed). The caller's ``after_import``
  issues the tax documents for payments of advance invoices after the commit, as after any
  pairing (billing.jobs).
* :func:`work`: the worker loop (``ispzone jobs worker``, or a thread of the web app);
  :func:`upload_status`: the progress page's figures.

A file uploaded twice is imported twice by the same importer: the second finds every
movement stored and reports them as already imported (duplicates), nothing is booked twice.
No Flask here.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from billing.bank.importing import (
    MAX_BYTES,
    StatementError,
    check_statement,
    import_statement,
)
from billing.models import StatementUpload
from core import audit, jobs
from core.clock import now
from core.errors import DomainError
from core.i18n import Message, _l
from core.jobs import DONE, FAILED, QUEUED, RUNNING, Job

log = logging.getLogger(__name__)

KIND = "statement_upload"
KINDS = (KIND,)
# one import is one transaction without heartbeats: the lease covers the longest (a 50 MB
# statement); a worker that dies is taken over at once on its own host (core.jobs)
LEASE = timedelta(minutes=30)
COUNTERS = ("total", "new", "duplicates", "matched", "unmatched", "outgoing", "held")


def job_key(upload_id: int) -> str:
    return f"{KIND}:{upload_id}"


def _too_deep() -> StatementError:
    return StatementError(_l("nested too deeply to be a bank statement"))


def accept_upload(session: Session, path: Path, filename: str, fmt: str | None, actor: str, *,
                  bank_code: str | None = None, own_accounts: Sequence[str] | None = None,
                  max_bytes: int | None = MAX_BYTES) -> StatementUpload:
    """Check the file at ``path`` (StatementError: nothing stored), store it and queue its
    import. Flushes; the caller commits (and then starts a worker, or leaves it to them)."""
    try:
        check = check_statement(path, fmt, bank_code, own_accounts, max_bytes)
    except RecursionError:
        raise _too_deep() from None
    content = path.read_bytes()
    upload = StatementUpload(
        filename=filename[-300:], requested_format=fmt, file_format=check.file_format,
        account=check.account, movements=check.movements, size=len(content),
        sha256=check.sha256, content=content, uploaded_by=actor, uploaded_at=now())
    session.add(upload)
    session.flush()
    key = job_key(upload.id)
    jobs.enqueue(session, KIND, key, {
        "upload": upload.id, "format": check.file_format, "actor": actor,
        "bank_code": bank_code, "max_bytes": max_bytes,
        "own_accounts": list(own_accounts) if own_accounts is not None else None,
    }, run_key=key, total=check.movements, step="queued")
    audit.record(session, "statement.uploaded", actor=actor, new_value=filename[-200:],
                 details={"upload": upload.id, "format": check.file_format,
                          "account": check.account, "movements": check.movements,
                          "size": upload.size, "sha256": check.sha256})
    session.flush()
    return upload


# -- the job ---------------------------------------------------------------------------------


AfterImport = Callable[[str], object]  # called with the uploader after the import's commit


def process(sessions: sessionmaker[Session], job: Job, worker: str, *,
            lease: timedelta = LEASE, after_import: AfterImport | None = None) -> bool:
    """Import a claimed upload job (see the module's docstring). True: done; False: the
    importer refused the file (the job is failed with its message). ``after_import(actor)``
    runs after the import's commit (the callers issue the tax documents of paid advances
    there: billing.jobs.issue_receipts_after_pairing); its failure is logged."""
    params = job.args
    with sessions() as session:
        upload = session.get(StatementUpload, params["upload"])
        if upload is None or upload.content is None:
            raise RuntimeError(f"statement upload {params['upload']} has no file to import")
        filename, content = upload.filename, upload.content
        jobs.touch(session, job.id, worker, lease=lease, step="parsing")
        session.commit()

    def on_parsed(parsed) -> None:  # before the import writes: a commit of its own
        with sessions() as phase:
            jobs.touch(phase, job.id, worker, lease=lease, step="pairing",
                       progress={"total": len(parsed.transactions)})
            phase.commit()

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "statement"
        path.write_bytes(content)
        del content
        with sessions() as session:
            try:
                try:
                    report = import_statement(
                        session, path, filename, params["format"], params["actor"],
                        bank_code=params.get("bank_code"),
                        own_accounts=params.get("own_accounts"),
                        max_bytes=params.get("max_bytes"), on_parsed=on_parsed)
                except RecursionError:
                    raise _too_deep() from None
            except DomainError as exc:
                session.rollback()
                _refuse(sessions, job.id, worker, exc, params["upload"])
                return False
            session.execute(update(StatementUpload).where(StatementUpload.id == params["upload"])
                            .values(content=None))
            counters = {name: int(getattr(report, name)) for name in COUNTERS}
            jobs.touch(session, job.id, worker, lease=lease, step="done", done=True,
                       progress=counters)
            session.commit()
    if after_import is not None:
        try:
            after_import(params["actor"])
        except Exception:  # noqa: BLE001 - the payments stand; logged
            log.exception("after the import of statement upload %s", params["upload"])
    return True


def _encode(value):
    if isinstance(value, Message):
        return {"msgid": value.msgid, "params": {k: _encode(v) for k, v in value.params.items()}}
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    return str(value)


def _decode(value):
    if isinstance(value, dict) and "msgid" in value:
        return Message(value["msgid"], {k: _decode(v) for k, v in value.get("params", {}).items()})
    return value


def _refuse(sessions: sessionmaker[Session], job_id: int, worker: str, exc: DomainError,
            upload_id: int) -> None:
    """The importer refused the file: the job is failed now (trying again would not help),
    its message kept with its msgid so that the page shows it in the reader's language.
    The stored bytes are emptied with it, as after an import: nothing reads them again
    (the upload's row keeps the name, size and SHA-256)."""
    first = exc.args[0] if len(exc.args) == 1 else exc.message
    error = json.dumps({"message": str(first), "translatable": _encode(first)})
    with sessions() as session:
        failed = session.execute(
            update(Job).where(Job.id == job_id, Job.locked_by == worker, Job.state == RUNNING)
            .values(state=FAILED, step="failed", error=error, finished_at=now(),
                    locked_by=None, lease_until=None)
            .execution_options(synchronize_session=False))
        if failed.rowcount:  # still this worker's job (not taken over meanwhile)
            session.execute(update(StatementUpload).where(StatementUpload.id == upload_id)
                            .values(content=None).execution_options(synchronize_session=False))
        session.commit()


def work(sessions: sessionmaker[Session], worker: str, *, until_idle: bool = False,
         stop: Callable[[], bool] = lambda: False, poll: float = 1.0,
         lease: timedelta = LEASE, after_import: AfterImport | None = None) -> int:
    """Take upload jobs and import them until ``stop()`` (or, ``until_idle``, until none is
    due). Returns how many this worker finished (done or refused)."""
    finished = 0
    while not stop():
        with sessions() as session:
            job = jobs.claim(session, KINDS, worker, lease=lease)
        if job is None:
            if until_idle:
                return finished
            time.sleep(poll)
            continue
        try:
            process(sessions, job, worker, lease=lease, after_import=after_import)
            finished += 1
        except jobs.LeaseLost as exc:
            log.warning("%s", exc)
        except Exception as exc:  # noqa: BLE001 - the job waits and is retried; logged
            log.exception("job %s failed", job.key)
            with sessions() as session:
                jobs.release_failed(session, job.id, worker, f"{type(exc).__name__}: {exc}")
    return finished


def waiting(session: Session) -> int:
    """Upload jobs due for a worker now (queued, or held under a lease that ran out)."""
    moment = now()
    return session.scalar(select(func.count(Job.id)).where(
        Job.kind == KIND,
        ((Job.state == QUEUED) & (Job.run_after <= moment))
        | ((Job.state == RUNNING) & (Job.lease_until < moment)))) or 0


# -- progress --------------------------------------------------------------------------------


@dataclass
class UploadStatus:
    """An upload's import as its page shows it. ``phase``: queued | parsing | pairing |
    done | failed (``retrying``: a failure that is tried again after a pause)."""

    id: int
    filename: str
    file_format: str
    account: str | None
    size: int
    movements: int
    uploaded_by: str
    uploaded_at: object
    phase: str
    attempts: int = 0
    counters: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # English; ``error_message`` translatable
    error_message: Message | str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in ("done", "failed")

    def as_dict(self) -> dict:
        return {"id": self.id, "filename": self.filename, "format": self.file_format,
                "account": self.account, "size": self.size, "movements": self.movements,
                "uploaded_by": self.uploaded_by,
                "uploaded_at": self.uploaded_at.isoformat() if self.uploaded_at else None,
                "phase": self.phase, "finished": self.finished, "attempts": self.attempts,
                **{name: self.counters.get(name) for name in COUNTERS}, "error": self.error}


def upload_status(session: Session, upload_id: int) -> UploadStatus | None:
    """The upload's phase and, once done, its summary (None: no such upload)."""
    row = session.execute(
        select(StatementUpload.id, StatementUpload.filename, StatementUpload.file_format,
               StatementUpload.account, StatementUpload.size, StatementUpload.movements,
               StatementUpload.uploaded_by, StatementUpload.uploaded_at,
               Job.state, Job.step, Job.attempts, Job.progress, Job.error)
        .outerjoin(Job, Job.key == job_key(upload_id))
        .where(StatementUpload.id == upload_id)).first()
    if row is None:
        return None
    (_id, name, fmt, account, size, movements, by, at, state, step, attempts, progress,
     error) = row
    if state == DONE:
        phase = "done"
    elif state == FAILED:
        phase = "failed"
    elif state == RUNNING and step in ("parsing", "pairing"):
        phase = step
    elif error:
        phase = "retrying"
    else:
        phase = "queued"
    status = UploadStatus(_id, name, fmt, account, size, movements, by, at, phase,
                          attempts or 0, json.loads(progress or "{}"))
    if error:
        try:
            stored = json.loads(error)
        except ValueError:
            stored = None
        if isinstance(stored, dict) and "message" in stored:
            status.error = stored["message"]
            status.error_message = _decode(stored.get("translatable")) or stored["message"]
        else:
            status.error = status.error_message = error
    return status


def latest_uploads(session: Session, limit: int = 10) -> list[UploadStatus]:
    """The newest uploads with their phase (the upload page's list)."""
    ids = session.scalars(select(StatementUpload.id).order_by(StatementUpload.id.desc())
                          .limit(limit)).all()
    return [s for s in (upload_status(session, i) for i in ids) if s is not None]
