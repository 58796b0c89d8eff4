"""A bank statement uploaded in the console, waiting for (or past) its import job
(migration 0023, docs/bank-statements.md "Upload in the console").

The file is kept in the database (``content``), so that a worker on any machine sharing
the database can import it; it is emptied once the import has committed (the movements and
``statement_import`` keep what the file said; ``sha256`` and ``size`` stay). The import
job is ``core.jobs.Job`` of kind ``statement_upload`` with key ``statement_upload:<id>``."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from core.clock import now
from core.db import Base


class StatementUpload(Base):
    __tablename__ = "statement_upload"

    id: Mapped[int] = mapped_column(primary_key=True)
    filename: Mapped[str] = mapped_column(String(300))
    # the format the operator chose (None: detected from the content) and the one found
    requested_format: Mapped[str | None] = mapped_column(String(16))
    file_format: Mapped[str] = mapped_column(String(16))
    account: Mapped[str | None] = mapped_column(String(40))
    movements: Mapped[int] = mapped_column(Integer, default=0)  # counted by the check
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)  # None once imported
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(default=now)
