from datetime import date
from decimal import Decimal

from sqlalchemy import func, select

from billing.models import Invoice, Service
from billing.recurring import issue_month


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
    assert inv.issue_date == date(2026, 11, 1) and inv.due_date == date(2026, 11, 15)
