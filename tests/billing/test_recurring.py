from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from billing.invoicing.recurring import issue_month
from billing.models import Invoice, Service


def add_service(session, customer, name, price, valid_from, valid_to=None):
    s = Service(
        customer_id=customer.id,
        contract_id=customer.contracts[0].id,
        kind="internet",
        name=name,
        price=Decimal(price),
        valid_from=valid_from,
        valid_to=valid_to,
    )
    session.add(s)
    session.flush()
    return s


def test_month_run_prorates_and_is_idempotent(session, make_customer, supplier):
    full = make_customer(number="4001")
    add_service(session, full, "Internet 100", "450.00", date(2025, 1, 1))
    starts = make_customer(number="4002")
    add_service(session, starts, "Internet 50", "300.00", date(2026, 11, 16))  # 15 of 30 days
    ends = make_customer(number="4003")
    add_service(session, ends, "Internet 50", "310.00", date(2025, 1, 1), date(2026, 11, 10))
    gone = make_customer(number="4004")
    add_service(session, gone, "Internet 50", "300.00", date(2025, 1, 1), date(2026, 10, 31))

    report = issue_month(session, supplier, "2026-11")
    totals = {i.customer_id: i.total for i in report.issued}
    assert totals == {
        full.id: Decimal("450.00"),
        starts.id: Decimal("150.00"),
        ends.id: Decimal("103.33"),  # 310 * 10 / 30
    }
    again = issue_month(session, supplier, "2026-11")
    assert again.issued == [] and again.skipped_existing == 3
    assert session.scalar(select(func.count(Invoice.id))) == 3
    inv = next(i for i in report.issued if i.customer_id == full.id)
    assert inv.variable_symbol == "4001" and inv.specific_symbol == inv.number


def test_issue_date_is_the_first_of_the_month_or_the_day_of_a_late_run(
    session, make_customer, supplier
):
    """DUZP is the first of the month. Run on time (or ahead), the invoice is dated the first
    and due 14 days later; run late, it is dated the day it is really issued and still gets
    its 14 days: an invoice must not be overdue (and start enforcement) the day it is sent."""
    customer = make_customer(number="4011")
    add_service(session, customer, "Internet 100", "450.00", date(2025, 1, 1))
    on_time = issue_month(session, supplier, "2026-10", on=date(2026, 10, 1)).issued[0]
    ahead = issue_month(session, supplier, "2026-11", on=date(2026, 10, 28)).issued[0]
    late = issue_month(session, supplier, "2026-12", on=date(2026, 12, 20)).issued[0]
    dates = [(i.taxable_date, i.issue_date, i.due_date) for i in (on_time, ahead, late)]
    assert dates == [
        (date(2026, 10, 1), date(2026, 10, 1), date(2026, 10, 15)),
        (date(2026, 11, 1), date(2026, 11, 1), date(2026, 11, 15)),
        (date(2026, 12, 1), date(2026, 12, 20), date(2027, 1, 3)),
    ]


def test_the_month_run_emails_each_invoice_in_the_customers_language(
    app, session, make_customer, outbox
):
    czech = make_customer(number="4101", email="jana@example.cz")
    add_service(session, czech, "Internet 100", "1234.50", date(2025, 1, 1))
    english = make_customer(number="4102", email="john@example.com", language="en")
    add_service(session, english, "Internet 100", "450.00", date(2025, 1, 1))
    silent = make_customer(number="4103", email=None)
    add_service(session, silent, "Internet 100", "450.00", date(2025, 1, 1))
    session.commit()

    result = app.test_cli_runner().invoke(args=["invoices", "issue", "--month", "2026-11"])
    assert result.exit_code == 0, result.output
    assert "2 of 3 invoices e-mailed (1 customers have no e-mail address)" in result.output
    mails = {m["To"]: m for m in outbox.messages()}
    assert set(mails) == {"jana@example.cz", "john@example.com"}
    cz = session.scalars(select(Invoice).where(Invoice.customer_id == czech.id)).one()
    body = mails["jana@example.cz"].get_body(("plain",)).get_content()
    assert mails["jana@example.cz"]["Subject"].startswith(f"Faktura {cz.number} od ")
    assert "na 1\u00a0234,50\u00a0Kč" in body and f"specifickým symbolem {cz.number}" in body
    pdf = next(mails["jana@example.cz"].iter_attachments())
    assert pdf.get_filename() == f"faktura-{cz.number}.pdf"
    assert pdf.get_content().startswith(b"%PDF")
    en_body = mails["john@example.com"].get_body(("plain",)).get_content()
    assert "please find attached invoice" in en_body and "CZK\u00a0450.00" in en_body

    again = app.test_cli_runner().invoke(args=["invoices", "issue", "--month", "2026-11"])
    assert again.exit_code == 0 and len(outbox.messages()) == 2  # nothing new, nothing sent
