"""Reminders by e-mail: rendered in the customer's language with the open invoices, VS/SS and
a QR Platba that a banking app can read; each sent once; cancelled when no longer true."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from sqlalchemy import select

from billing.models import Invoice
from core.clock import today
from core.db import make_session_factory
from core.mail import MailSettings
from enforcement import mailq, service
from enforcement.cli import flask_renderer
from enforcement.config import Policy
from enforcement.models import EnforcementMail

P = Policy()


@pytest.fixture
def send_mails(app, engine):
    factory = make_session_factory(engine)

    def run(settings: MailSettings | None = None):
        settings = settings or MailSettings.from_config(app.config)
        return mailq.drain(factory, settings, flask_renderer(app), retry_base_seconds=5)

    return run


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_reminder_in_czech_with_invoices_and_qr_platba(need, app, session, debtor, send_mails, outbox):
    customer = debtor("7101", "10.31.0.1", today() - timedelta(days=5), amount="605.00")
    invoice = session.scalar(select(Invoice).where(Invoice.customer_id == customer.id))
    service.sweep(session, today(), P)
    session.commit()

    report = send_mails()
    assert report.sent == 1
    (msg,) = outbox.messages()
    assert msg["To"] == "jana@example.cz"
    assert msg["Subject"] == "Upomínka: faktura je po splatnosti"
    text = body(msg)
    assert f"Faktura {invoice.number}" in text
    assert "605,00\xa0Kč" in text
    assert f"variabilní symbol {invoice.variable_symbol}" in text
    assert f"specifický symbol {invoice.specific_symbol}" in text
    (qr,) = [part for part in msg.iter_attachments() if part.get_content_type() == "image/png"]
    assert qr.get_filename() == f"qr-platba-{invoice.number}.png"

    have_zbar = shutil.which("zbarimg") is not None
    need(have_zbar, "zbarimg (zbar-tools) is not installed")
    decoded = subprocess.run(["zbarimg", "--raw", "-q", "-"], input=qr.get_content(),
                             capture_output=True, check=True).stdout.decode().strip()
    assert decoded.startswith("SPD*1.0*ACC:CZ6220100000002001234588*AM:605.00*CC:CZK")
    assert f"X-VS:{invoice.variable_symbol}" in decoded


def test_english_customer_gets_english(app, session, debtor, send_mails, outbox):
    debtor("7102", "10.31.0.2", today() - timedelta(days=30), language="en")
    service.sweep(session, today(), P)
    session.commit()
    assert send_mails().sent == 3
    subjects = [m["Subject"] for m in outbox.messages()]
    assert subjects == ["Payment reminder: an invoice is past due",
                        "Second payment reminder: invoices still unpaid",
                        "Warning: your internet connection will be suspended"]
    assert "CZK\xa0605.00" in body(outbox.messages()[2])


def test_each_notice_is_sent_once(app, session, debtor, send_mails, outbox):
    debtor("7103", "10.31.0.3", today() - timedelta(days=5))
    for _ in range(3):
        service.sweep(session, today(), P)
        session.commit()
        send_mails()
    assert len(outbox.messages()) == 1
    service.sweep(session, today() + timedelta(days=7), P)  # reminder 2 is due a week later
    session.commit()
    send_mails()
    send_mails()
    assert [m["Subject"] for m in outbox.messages()] == [
        "Upomínka: faktura je po splatnosti", "Druhá upomínka: faktury stále nejsou uhrazeny"]


def test_reminder_for_a_case_paid_meanwhile_is_cancelled(pay, app, session, debtor, send_mails, outbox):
    debtor("7104", "10.31.0.4", today() - timedelta(days=5))
    service.sweep(session, today(), P)
    session.commit()
    pay(session, [("7104", "605.00", today())])  # before the worker got to the reminder
    report = send_mails()
    assert (report.sent, report.cancelled) == (1, 1)
    (msg,) = outbox.messages()
    assert msg["Subject"] == "Platba přijata, děkujeme"
    kinds = {m.kind: m.status for m in session.scalars(select(EnforcementMail))}
    assert kinds == {"reminder1": "cancelled", "payment_received": "sent"}


def test_customer_without_email_is_recorded_not_retried(app, session, debtor, send_mails):
    debtor("7105", "10.31.0.5", today() - timedelta(days=5), email=None)
    service.sweep(session, today(), P)
    session.commit()
    (mail,) = session.scalars(select(EnforcementMail)).all()
    assert mail.status == "cancelled" and "no e-mail" in mail.last_error
    assert send_mails().sent == 0
