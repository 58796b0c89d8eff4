"""A statement upload's progress in the console (docs/bank-statements.md, "Upload in the
console"): its page (refreshing itself while the import goes on: no JavaScript needed) and
the same figures as JSON. The upload form's POST (console/views_payments.py) stores the
file and queues the job; who runs the job is the setting STATEMENT_UPLOAD_WORKERS:
``inline`` (default: a thread of the web app's process, started after the upload's commit,
what the demo and small installs need) or ``external`` (``ispzone jobs worker`` processes).
The work is billing.bank.upload_jobs'."""

from __future__ import annotations

import threading

from flask import Flask, abort, current_app, jsonify, render_template
from flask_babel import gettext

from billing.bank import upload_jobs
from console.auth import ALL, allow
from console.blueprint import bp
from core.i18n import translate
from web.database import db
from web.door import after_commit

_STATE = "ispzone.upload_worker"


def inline(app: Flask) -> bool:
    return app.config.get("STATEMENT_UPLOAD_WORKERS", "inline") != "external"


def _state(app: Flask) -> dict:
    return app.extensions.setdefault(_STATE, {"lock": threading.Lock(), "thread": None})


def ensure_worker(app: Flask) -> None:
    """STATEMENT_UPLOAD_WORKERS=inline: make sure one thread of this process imports the
    queued uploads (it ends when none is left; under the lock, so that an upload committed
    while it ends starts a new one)."""
    if not inline(app):
        return
    state = _state(app)
    sessions = app.extensions["ispzone.sessions"]
    with state["lock"]:
        if state["thread"] is not None and state["thread"].is_alive():
            return

        def run() -> None:
            from billing.jobs import issue_receipts_after_pairing
            from core.jobs import worker_id

            def receipts(actor: str) -> None:
                issue_receipts_after_pairing(sessions, actor=actor)

            while True:
                upload_jobs.work(sessions, worker_id(), until_idle=True, after_import=receipts)
                with state["lock"], sessions() as session:
                    if not upload_jobs.waiting(session):
                        state["thread"] = None
                        return

        thread = threading.Thread(target=run, name="statement-upload", daemon=True)
        state["thread"] = thread
        thread.start()


def join_worker(app: Flask, timeout: float = 60.0) -> None:
    """Wait for the inline worker thread (tests; a clean shutdown)."""
    thread = _state(app)["thread"]
    if thread is not None:
        thread.join(timeout)


def start_after_commit() -> None:
    """Once the upload is committed, the inline worker takes it (unless workers do)."""
    app = current_app._get_current_object()
    if inline(app):
        after_commit(lambda: ensure_worker(app))


def _write_nothing_on_sqlite() -> None:
    """SQLite has one writer at a time, and the import holds the write lock until it
    commits (a minute or more for a big statement): this page, polled meanwhile, must not
    wait for it (the busy timeout would end in a 500). So it leaves the login's last-seen
    touch (billing.operators.load_session, once a minute) to the operator's next page."""
    from console.auth import session_row

    session = db()
    if session.get_bind().dialect.name != "sqlite":
        return
    row = session_row()
    if row is not None and row in session.dirty:
        session.expire(row, ["last_seen_at"])


def _status_or_404(upload_id: int) -> upload_jobs.UploadStatus:
    _write_nothing_on_sqlite()
    status = upload_jobs.upload_status(db(), upload_id)
    if status is None:
        abort(404)
    if not status.finished:  # e.g. its worker thread died with its process: taken over
        ensure_worker(current_app._get_current_object())
    return status


@bp.get("/payments/upload/<int:upload_id>")
@allow(*ALL)
def statement_upload_progress(upload_id: int):
    status = _status_or_404(upload_id)
    error = translate(status.error_message, gettext) if status.error_message else None
    return render_template("console/money/upload_progress.html", status=status, error=error,
                           external=not inline(current_app))


@bp.get("/payments/upload/<int:upload_id>/status.json")
@allow(*ALL)
def statement_upload_status_json(upload_id: int):
    return jsonify(_status_or_404(upload_id).as_dict())
