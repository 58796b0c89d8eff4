"""credit-core's state machine (tests/credit/test_credit_machine.py) extended with services
that have an expiry, renewals early and late (by hand and the daily automatic ones), expiry,
and VoIP calls authorized before they start and rated after (issue 15). On top of its
invariants (legs sum to zero, the credit is the model and never negative, no request paid
twice):

* a renewal always extends from the previous expiry: per service, the first renewal starts
  at the expiry it was given, each next one where the last ended, each by its months, and
  the service's expiry is the last renewal's end;
* a service whose expiry passed without a renewal has ended (``valid_to`` = its expiry);
* a VoIP line's credit never goes below zero by more than one call increment, whatever the
  calls (cut at the allowance, or running over it).
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule
from sqlalchemy import select

from billing.credit import open_account
from billing.credit.renewals import RenewalError, add_months, renew, run_renewals
from billing.ledger import postings
from billing.ledger.balances import line_credit
from billing.models import RenewalSource, Service, ServiceRenewal
from core.db import make_session_factory
from voip.authorize import Authorizer
from voip.cdr import import_cdr
from voip.tariff_import import import_tariff_csv

from .test_credit_machine import START, CreditMachine, ids, run_machine

TARIFF = """prefix;destination;price_per_minute;connect_fee;increments;vat_rate
420;Česko;0,4000;0;60/1;21
4915;Německo – mobilní;3,5000;0,5000;60/1;21
"""
# the dearest increment of that tariff: 1 s at 3,50 Kč/min with 21 % VAT, rounded up
ONE_INCREMENT = Decimal("0.08")
DESTINATIONS = ["212345678", "004915123456789"]


def cdr_line(uid: str, src: str, dst: str, start: datetime, billsec: int) -> str:
    """One Asterisk Master.csv line (17 columns, local time), as cdr-csv writes it."""
    stop = start + timedelta(seconds=billsec + 5)
    cells = ["", src, dst, "from-internal", f'"Test" <{src}>', f"PJSIP/{src}-0001",
             "PJSIP/trunk-0001", "Dial", f"PJSIP/{dst}@trunk", f"{start:%Y-%m-%d %H:%M:%S}",
             f"{start:%Y-%m-%d %H:%M:%S}", f"{stop:%Y-%m-%d %H:%M:%S}", str(billsec + 5),
             str(billsec), "ANSWERED", "DOCUMENTATION", uid]
    return ",".join(f'"{c}"' for c in cells) + "\n"


class CreditServicesMachine(CreditMachine):
    def _services(self) -> list[Service]:
        return list(self.s.scalars(select(Service).where(
            Service.customer_id.in_(self.customer_ids), Service.expires_on.is_not(None))
            .order_by(Service.id)))

    # -- services with an expiry ----------------------------------------------------------

    @rule(i=st.integers(0, 2), in_days=st.integers(-3, 30), months=st.sampled_from([1, 12, 24]),
          price=st.integers(100, 2500), auto=st.sampled_from([None, True, False]))
    def add_service(self, i, in_days, months, price, auto):
        c = self.customer(i)
        service = Service(customer_id=c.id, contract_id=c.contracts[0].id, kind="other",
                          name=f"Služba {next(ids)}", price=Decimal(price),
                          period="year" if months >= 12 else "month", valid_from=START,
                          expires_on=self.day + timedelta(days=in_days), renewal_months=months,
                          auto_renew=auto)
        self.s.add(service)
        self.s.flush()
        self.first_expiry = getattr(self, "first_expiry", {})
        self.first_expiry[service.id] = service.expires_on

    @rule(pick=st.integers(0, 50), late=st.booleans(), days=st.integers(0, 60))
    def renew_by_hand(self, pick, late, days):
        services = self._services()
        if not services:
            return
        service = services[pick % len(services)]
        before = service.expires_on
        # early: some days before the expiry; late: some days after it
        on = before + timedelta(days=days) if late else before - timedelta(days=days)
        day, self.day = self.day, max(self.day, on)
        try:
            with self.travel():
                renewal = renew(self.s, service, self.supplier, paid_from=RenewalSource.CREDIT,
                                actor="customer:x", on=self.day)
        except RenewalError:  # short credit (or no account): nothing changed
            assert service.expires_on == before
            self.day = max(self.day, day)
            return
        assert renewal.previous_expiry == before
        assert service.expires_on == add_months(before, service.renewal_months)

    @rule(n=st.integers(1, 15))
    def renewal_days(self, n):
        for _ in range(n):
            self.day += timedelta(days=1)
            with self.travel():
                run_renewals(self.s, self.supplier, self.day, actor="system:test")
        # what the daily run leaves: a service past its expiry has ended, the rest run on
        for service in self._services():
            if service.expires_on < self.day:
                assert service.valid_to == service.expires_on
            else:
                assert service.valid_to is None

    # -- VoIP calls -----------------------------------------------------------------------

    def _line(self) -> Service:
        line = getattr(self, "line", None)
        if line is None:
            import_tariff_csv(self.s, io.StringIO(TARIFF), valid_from=START - timedelta(days=30),
                              name="Test", actor="test")
            c = self.customer(0)
            line = Service(customer_id=c.id, contract_id=c.contracts[0].id, kind="voip",
                           name="VoIP", price=Decimal("0"), valid_from=START,
                           phone_number=f"+420601{next(ids):06d}")
            self.s.add(line)
            self.s.flush()
            postings.post_opening_credit(self.s, line.id, Decimal("20.00"), customer_id=c.id)
            self.line = line
        return line

    @rule(to=st.sampled_from(DESTINATIONS), over=st.integers(0, 900), obey=st.booleans(),
          top_up=st.integers(0, 30))
    def call(self, to, over, obey, top_up):
        line = self._line()
        if top_up:
            postings.post_opening_credit(self.s, line.id, Decimal(top_up), customer_id=line.customer_id)
        decision = Authorizer(tariff_ttl=0).authorize(self.s, line.phone_number, to, on=self.day)
        if obey and not decision.allowed:
            return  # the PBX refused the call
        # a PBX that cuts at the allowance talks at most that long; one that does not obey
        # (or a late hang-up) runs over by up to 15 minutes
        billsec = min(over, decision.seconds) if obey else decision.seconds + over
        if billsec <= 0:
            return
        start = datetime(self.day.year, self.day.month, self.day.day, 10, 0, 0)
        with self.travel():
            import_cdr(self.s, io.StringIO(cdr_line(f"m{next(ids)}", line.phone_number[4:], to,
                                                    start, billsec)), actor="test")
        if obey:  # a call within its allowance never costs more than the credit had
            assert line_credit(self.s, line.id) >= 0

    # -- invariants -----------------------------------------------------------------------

    @invariant()
    def renewals_extend_from_the_previous_expiry(self):
        if not hasattr(self, "s"):
            return
        for service in self._services():
            renewals = self.s.scalars(select(ServiceRenewal).where(
                ServiceRenewal.service_id == service.id).order_by(ServiceRenewal.id)).all()
            expiry = self.first_expiry[service.id]
            for renewal in renewals:
                assert renewal.previous_expiry == expiry
                assert renewal.new_expiry == add_months(expiry, renewal.months)
                expiry = renewal.new_expiry
            assert service.expires_on == expiry

    @invariant()
    def line_credit_within_one_increment(self):
        line = getattr(self, "line", None)
        if line is not None:
            assert line_credit(self.s, line.id) >= -ONE_INCREMENT


@pytest.fixture
def services_machine(engine, session, make_customer):
    """As credit-core's ``credit_machine``: three customers with CZK credit accounts (one
    paying automatically), committed; the session factory and their ids."""
    customers = [make_customer(number=str(8201 + i)) for i in range(3)]
    for index, customer in enumerate(customers):
        open_account(session, customer, "CZK", actor="operator:test", auto_pay=index == 0)
    session.commit()
    return make_session_factory(engine), [c.id for c in customers]


def test_credit_services_invariants(services_machine):
    factory, customer_ids = services_machine
    run_machine(CreditServicesMachine, factory, customer_ids, max_examples=15)
