"""Services with an expiry and their renewals (issue 15 item 4, billing/credit/renewals.py),
and the credit notices (item 5, billing/credit/notices.py)."""

from __future__ import annotations

import json
from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from billing.credit import credit_balance, open_account
from billing.credit.notices import low_credit, run_notices, set_preferences
from billing.credit.renewals import (
    RenewalError,
    ShortCredit,
    add_months,
    complete_paid_orders,
    order_renewal,
    renew,
    run_renewals,
    set_auto_renew_kinds,
)
from billing.invoicing.recurring import issue_month, service_line
from billing.ledger import postings
from billing.ledger.balances import open_invoices
from billing.models import (
    AuditEvent,
    BankTransaction,
    CreditNotice,
    Invoice,
    RenewalSource,
    RenewalTariff,
    Service,
    ServiceRenewal,
)
from billing.models import TransactionKind as TK
from billing.models.credit import CreditMail
from core import events

D = Decimal
DAY = date(2026, 12, 6)


@pytest.fixture
def fund(session):
    """Put ``amount`` (without VAT) on the customer's credit account (an opening balance:
    the top-up path is credit-core's and is tested there)."""

    def put(customer, amount):
        postings.record(session, [postings.Posting(
            TK.OPENING, [(postings.account_key("credit", customer.id), -D(amount)),
                         (postings.account_key("opening_balance"), D(amount))],
            customer_id=customer.id, description="test credit")])
        session.flush()

    return put


@pytest.fixture
def yearly(session):
    def make(customer, *, expires_on, price="1210.00", kind="internet", months=None,
             auto_renew=None, period="year"):
        service = Service(customer_id=customer.id, contract_id=customer.contracts[0].id,
                          kind=kind, name=f"Hosting {kind}", price=D(price), period=period,
                          valid_from=date(2025, 1, 1), expires_on=expires_on,
                          renewal_months=months, auto_renew=auto_renew)
        session.add(service)
        session.flush()
        return service

    return make


def credit_customer(session, make_customer, number, currency="CZK"):
    customer = make_customer(number=number)
    open_account(session, customer, currency, actor="operator:test")
    return customer


def test_add_months_keeps_the_day_or_takes_the_months_last():
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2026, 12, 15), 12) == date(2027, 12, 15)
    assert add_months(date(2024, 2, 29), 24) == date(2026, 2, 28)


@pytest.mark.parametrize("paid_on", [DAY - timedelta(days=40), DAY + timedelta(days=30)],
                         ids=["early", "late"])
def test_a_renewal_extends_from_the_previous_expiry_early_or_late(
        session, make_customer, supplier, fund, yearly, paid_on):
    customer = credit_customer(session, make_customer, "8101")
    fund(customer, "5000.00")
    service = yearly(customer, expires_on=DAY)
    renewal = renew(session, service, supplier, paid_from=RenewalSource.CREDIT,
                    actor="customer:8101", on=paid_on)
    assert (renewal.previous_expiry, renewal.new_expiry) == (DAY, date(2027, 12, 6))
    assert service.expires_on == date(2027, 12, 6)
    invoice = session.get(Invoice, renewal.invoice_id)
    assert invoice.total == D("1210.00") and invoice.lines[0].description.startswith(
        "Hosting internet – prodloužení 7. 12. 2026 – 6. 12. 2027")
    assert open_invoices(session, customer.id, paid_on) == []  # paid from credit
    assert credit_balance(session, customer.id) == D("4000.00")  # 1000.00 without VAT taken
    again = renew(session, service, supplier, paid_from=RenewalSource.CREDIT,
                  actor="customer:8101", on=paid_on)
    assert (again.previous_expiry, again.new_expiry) == (date(2027, 12, 6), date(2028, 12, 6))


def test_short_credit_issues_nothing_and_refuses(session, make_customer, supplier, fund, yearly):
    customer = credit_customer(session, make_customer, "8102")
    fund(customer, "999.99")
    service = yearly(customer, expires_on=DAY)
    invoices = session.scalar(select(func.count()).select_from(Invoice))
    with pytest.raises(ShortCredit):
        renew(session, service, supplier, paid_from=RenewalSource.CREDIT, actor="system", on=DAY)
    assert session.scalar(select(func.count()).select_from(Invoice)) == invoices
    assert service.expires_on == DAY and credit_balance(session, customer.id) == D("999.99")


def test_eur_credit_never_renews_a_czk_service(session, make_customer, supplier, fund, yearly):
    customer = credit_customer(session, make_customer, "8103", currency="EUR")
    fund(customer, "5000.00")
    service = yearly(customer, expires_on=DAY)
    with pytest.raises(ShortCredit, match="EUR"):
        renew(session, service, supplier, paid_from=RenewalSource.CREDIT, actor="system", on=DAY)


def test_daily_auto_renewal_retry_notice_and_expiry(session, make_customer, supplier, fund, yearly):
    customer = credit_customer(session, make_customer, "8104")
    set_auto_renew_kinds(session, customer.id, ["insurance"], actor="customer:8104")
    insured = yearly(customer, expires_on=DAY + timedelta(days=11), kind="insurance",
                     price="605.00", months=24)
    not_auto = yearly(customer, expires_on=DAY + timedelta(days=5), kind="internet")
    later = yearly(customer, expires_on=DAY + timedelta(days=12), kind="other", auto_renew=True)
    seen = []

    def on_expired(_session, **payload):
        seen.append(payload["service_id"])

    events.subscribe(events.SERVICE_EXPIRED, on_expired)
    try:
        # short: nothing renewed, the customer told once that day, tried again the next
        report = run_renewals(session, supplier, DAY)
        assert report.short == [insured.id] and report.renewed == []
        assert run_renewals(session, supplier, DAY).short == [insured.id]
        short = session.scalars(select(CreditNotice.key).where(CreditNotice.kind == "renewal_short")).all()
        assert short == [f"renewal_short:{insured.id}:{DAY}"]
        fund(customer, "1000.00")
        report = run_renewals(session, supplier, DAY + timedelta(days=1))
        assert report.renewed == [insured.id]
        # two years at 605.00 a year, from the previous expiry; insurance's paid-until moves
        assert insured.expires_on == date(2028, 12, 17) == insured.paid_until
        assert credit_balance(session, customer.id) == D("0.00")
        # the one not renewing itself expires the day after its expiry, once
        report = run_renewals(session, supplier, DAY + timedelta(days=6))
        assert report.expired == [not_auto.id] and not_auto.valid_to == not_auto.expires_on
        assert seen == [not_auto.id]
        assert run_renewals(session, supplier, DAY + timedelta(days=7)).expired == []
        assert later.valid_to is None
    finally:
        events.unsubscribe(events.SERVICE_EXPIRED, on_expired)
    # a late manual renewal continues from the old expiry and reopens the service
    fund(customer, "1000.00")
    renewal = renew(session, not_auto, supplier, paid_from=RenewalSource.CREDIT,
                    actor="customer:8104", on=DAY + timedelta(days=20))
    assert renewal.previous_expiry == DAY + timedelta(days=5)
    assert not_auto.valid_to is None and not_auto.expires_on == date(2027, 12, 11)
    assert session.scalar(select(func.count()).select_from(AuditEvent)
                          .where(AuditEvent.action == "service.expired")) == 1


def test_renewal_by_transfer_waits_for_the_payment(session, make_customer, supplier, yearly):
    customer = make_customer(number="8105")
    service = yearly(customer, expires_on=DAY, price="2420.00")
    order = order_renewal(session, service, supplier, actor="customer:8105", on=DAY)
    with pytest.raises(RenewalError, match="already ordered"):
        order_renewal(session, service, supplier, actor="customer:8105", on=DAY)
    assert complete_paid_orders(session, actor="system") == []
    invoice = session.get(Invoice, order.invoice_id)
    tx = BankTransaction(source_account="2001234588/2010", bank_tx_id="R8105", booked_on=DAY,
                         amount=D("2420.00"), variable_symbol=invoice.variable_symbol,
                         specific_symbol=invoice.specific_symbol)
    session.add(tx)
    session.flush()
    from billing.bank.pairing import pair
    assert pair(session, tx) == "matched"
    (renewal,) = complete_paid_orders(session, actor="system")
    assert renewal.paid_from == "transfer" and renewal.invoice_id == invoice.id
    assert service.expires_on == date(2027, 12, 6)
    assert session.scalar(select(func.count()).select_from(ServiceRenewal)) == 1


def test_the_monthly_run_leaves_prepaid_services_to_renewals_and_prorates_years(
        session, make_customer, supplier, yearly):
    customer = make_customer(number="8106")
    prepaid = yearly(customer, expires_on=DAY)
    assert service_line(prepaid, date(2025, 1, 1), date(2025, 1, 31)) is None
    ending = Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind="other",
                     name="Doména", price=D("365.00"), period="year", valid_from=date(2025, 3, 1),
                     valid_to=date(2026, 5, 31))
    line = service_line(ending, date(2026, 3, 1), date(2026, 3, 31))
    assert line.unit_price == D("92.00") and "92/365 dní" in line.description  # 1.3.-31.5.
    monthly = Service(customer_id=customer.id, contract_id=customer.contracts[0].id, kind="other",
                      name="Roční tarif", price=D("1200.00"), period="year",
                      valid_from=date(2025, 1, 1), billed_monthly=True)
    session.add_all([ending, monthly, RenewalTariff(name="Roční tarif",
                                                    monthly_surcharge_percent=D("10"))])
    session.flush()
    report = issue_month(session, supplier, "2026-03", on=date(2026, 3, 1))
    (invoice,) = report.issued
    assert sorted(ln.gross for ln in invoice.lines) == [D("92.00"), D("110.00")]


def test_low_credit_notice_repeats_daily_while_low(session, make_customer, fund):
    customer = credit_customer(session, make_customer, "8107")
    fund(customer, "150.00")
    assert low_credit(session, DAY) == 0  # off by default
    set_preferences(session, customer.id, low_credit_notices=True,
                    low_credit_threshold=D("200"), actor="customer:8107")
    assert low_credit(session, DAY) == 1
    assert low_credit(session, DAY) == 0  # once in 24 h
    assert low_credit(session, DAY + timedelta(days=1)) == 1  # again the next day
    fund(customer, "100.00")
    assert low_credit(session, DAY + timedelta(days=2)) == 0  # above the threshold
    mails = session.scalars(select(CreditMail).where(CreditMail.customer_id == customer.id)).all()
    assert [m.template for m in mails] == ["credit_low_credit", "credit_low_credit"]
    assert json.loads(mails[0].context)["balance"] == "150.00"


def test_expiry_notices_fifteen_days_before_and_on_the_day(session, make_customer, yearly):
    customer = make_customer(number="8108")
    service = yearly(customer, expires_on=DAY + timedelta(days=15))
    assert run_notices(session, DAY - timedelta(days=1)).expiry_soon == 0
    assert run_notices(session, DAY).expiry_soon == 1
    assert run_notices(session, DAY + timedelta(days=1)).expiry_soon == 0  # once
    report = run_notices(session, service.expires_on)
    assert (report.expiry_soon, report.expiry_today) == (0, 1)
    assert run_notices(session, service.expires_on).expiry_today == 0


def test_the_renewals_command_renews_expires_and_mails(app, session, make_customer, fund,
                                                         yearly, outbox):
    customer = credit_customer(session, make_customer, "8109")
    fund(customer, "1000.00")
    set_preferences(session, customer.id, low_credit_notices=True,
                    low_credit_threshold=D("500"), actor="customer:8109")
    renewing = yearly(customer, expires_on=DAY + timedelta(days=10), auto_renew=True)
    lapsed = yearly(customer, expires_on=DAY - timedelta(days=1), kind="other")
    session.commit()
    result = app.test_cli_runner().invoke(args=["renewals", "run", "--date", DAY.isoformat()])
    assert result.exit_code == 0, result.output
    assert "'renewed': 1" in result.output and "'expired': 1" in result.output
    session.expire_all()
    assert session.get(Service, renewing.id).expires_on == date(2027, 12, 16)
    assert session.get(Service, lapsed.id).valid_to == lapsed.expires_on
    subjects = sorted(m["Subject"] for m in outbox.messages())
    # in the customer's language (Czech): renewed (a year away: no expiry notice), the
    # lapsed one expired, and the credit is now under the threshold
    assert subjects == ["Nízký kredit na vašem účtu", "Vaše služba Hosting internet je prodloužena",
                        "Vaše služba Hosting other vypršela"]
    body = next(m for m in outbox.messages() if "prodloužena" in m["Subject"]).get_content()
    assert "zaplacena do 16. 12. 2027 (1 210,00" in body.replace("\xa0", " ")
