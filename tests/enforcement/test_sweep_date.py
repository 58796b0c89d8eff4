"""``enforcement run --date``: the notices of a sweep speak of the sweep's day (issue 13,
item 11). They were rendered with today's date: a reminder for an invoice that is overdue on
the swept day said "Celkem po splatnosti: 0,00 Kč" with an empty list."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select

from billing.models import Invoice
from core.clock import today
from enforcement import mailq
from enforcement.models import EnforcementMail
from tests.enforcement.test_enforcement_cli import invoke


def body(msg) -> str:
    return msg.get_body(preferencelist=("plain",)).get_content()


def test_reminder_of_a_future_sweep_lists_the_invoices_overdue_that_day(app, session, debtor,
                                                                        outbox):
    customer = debtor("9301", "10.53.0.1", today() + timedelta(days=5), amount="605.00")
    invoice = session.scalar(select(Invoice).where(Invoice.customer_id == customer.id))
    day = today() + timedelta(days=9)  # 4 days past due then; not yet due today
    output = invoke(app, "enforcement", "run", "--date", day.isoformat())
    assert "9301: ok -> reminded, mail reminder1" in output and "1 sent" in output

    (msg,) = outbox.messages()
    text = body(msg)
    assert "Celkem po splatnosti: 605,00\xa0Kč" in text
    assert f"Faktura {invoice.number}" in text
    assert "605,00\xa0Kč k úhradě" in text or "605,00\xa0Kč" in text.split("Faktura", 1)[1]
    assert [p.get_filename() for p in msg.iter_attachments()] == [f"qr-platba-{invoice.number}.png"]
    session.rollback()
    mail = session.scalars(select(EnforcementMail)).one()
    assert json.loads(mail.context)["as_of"] == day.isoformat()


def test_every_notice_of_a_sweep_carries_its_day(app, session, debtor, outbox):
    debtor("9302", "10.53.0.2", today() + timedelta(days=1), amount="300.00", language="en")
    day = today() + timedelta(days=30)
    invoke(app, "enforcement", "run", "--date", day.isoformat())
    messages = outbox.messages()
    assert [m["Subject"] for m in messages] == [
        "Payment reminder: an invoice is past due",
        "Second payment reminder: invoices still unpaid",
        "Warning: your internet connection will be suspended"]
    for msg in messages:
        assert "Overdue in total: CZK\xa0300.00" in body(msg)
    session.rollback()
    for mail in session.scalars(select(EnforcementMail)):
        assert mailq.as_of(mail, today()) == day


def test_notices_queued_without_a_day_render_as_of_today(session):
    mail = EnforcementMail(context=None)
    assert mailq.as_of(mail, today()) == today()
    mail.context = json.dumps({"previous_state": "warned"})
    assert mailq.as_of(mail, today()) == today()
    mail.context = json.dumps({"as_of": "nonsense"})
    assert mailq.as_of(mail, today()) == today()
